// line_server: prints every line its clients send, with the sender's address,
// until one of them sends "exit" (the seeds' line server).
//
//   build/examples/line_server 127.0.0.1:0       # prints: listening on 127.0.0.1:41377
//   printf 'hello\nexit\n' | socat - TCP:127.0.0.1:41377
//
// stdout gets `listening on <address>`, then `<peer address>: <line>` for each
// line (flushed as it comes; clients are served concurrently, one task each).
// A line is at most --max-line bytes (default 1024, without its newline); a
// longer one gets "error: line longer than N bytes" back and that connection
// is closed. When a client sends the line "exit", the server does what the
// seed does: that connection closes and the server stops — it prints
// `exiting`, closes the other connections and the listener, and exits 0.
// SIGINT or SIGTERM stop it the same way (without the `exiting` line): idle
// connections close at once, a line being received is read and printed first.
// A client that sends nothing for --idle-timeout (default 60 s), takes
// longer than --read-timeout (120 s) for one line, or stops reading a reply
// for --write-timeout (60 s) is closed; beyond --max-connections (10,000)
// a new client is reset at once.
// Exit 2 means a bad argument, 1 that it could not listen.
#include "example_support.hpp"

using namespace example;

namespace {

constexpr const char* usage = R"(usage: line_server ADDRESS [--max-line N] [limits]

Prints each line clients send (with their address) until one sends "exit".

  ADDRESS       where to listen: 127.0.0.1:7777, [::1]:7777, localhost:7777
                (port 0: any free port)
  --max-line N  longest line accepted, without its newline (default: 1024)
  --help        this text

Prints "listening on <address>" once it accepts connections.
)";

struct options {
    std::string address;
    std::size_t max_line = 1024;
    server_limits limits;
};

options parse_args(int argc, char** argv) {
    options out;
    out.address = tcp_server_arguments("line_server", usage, "line_server", argc, argv,
                                       {{"--max-line", out.max_line, 1, 1 << 20}}, out.limits, line_limit_options);
    return out;
}

/// Prints `conn`'s lines; on "exit" stops the whole server (`server`).
task<void> print_lines(tcp::stream conn, task_group& server, std::size_t max_line, timeout line_limit) {
    auto peer_address = conn.peer_address();
    const std::string peer = peer_address ? peer_address->to_string() : "(unknown)";
    net::buffered_reader in{conn};
    for (;;) {
        // Idle (no byte) and write timeouts are the connection's; the line's own limit is here.
        // An idle connection (no line begun) ends at once at a graceful stop.
        auto line = co_await read_line_until_drain(in, max_line + 2, line_limit);  // counts the "\r\n"
        const bool too_long = line ? line->size() > max_line : line.error() == errc::message_too_long;
        if (too_long || !line) {
            if (too_long) {
                std::fprintf(stderr, "line_server: %s sent a line longer than %zu bytes; closing it\n", peer.c_str(),
                             max_line);
                const std::string reply = "error: line longer than " + std::to_string(max_line) + " bytes\n";
                (void)co_await conn.write_all(reply, 5s);
                co_await linger_before_close(conn);
            }
            if (!line && line.error() == errc::timed_out) {
                std::fprintf(stderr, "line_server: %s timed out; closing it\n", peer.c_str());
            }
            break;  // too long, end of stream, reset, timed out, or the server stopping or draining
        }
        if (*line == "exit") {
            std::printf("exiting\n");
            std::fflush(stdout);
            server.request_stop();  // the accept loop and every connection
            break;
        }
        std::printf("%s: %s\n", peer.c_str(), line->c_str());
        std::fflush(stdout);
    }
    (void)co_await conn.close();
}

task<int> serve(const options& opts) {
    auto lst = co_await listen_and_announce("line_server", opts.address);
    if (!lst) co_return 1;

    // The accept loop runs inside the group too, so that "exit" (a
    // request_stop on the group) ends it along with the connections.
    net::connection_gate gate{opts.limits.connection()};
    task_group server;
    const std::size_t max_line = opts.max_line;
    const timeout line_limit = opts.limits.line_timeout();
    server.spawn(accept_each(*lst, server, gate, [&server, max_line, line_limit](tcp::stream conn) {
        return print_lines(std::move(conn), server, max_line, line_limit);
    }));
    co_await server.wait();
    (void)co_await lst->close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("line_server", [&]() { return serve(opts); });
}

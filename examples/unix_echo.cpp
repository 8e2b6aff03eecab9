// unix_echo: an echo server and its client over a unix socket, in one
// program or as two (--server, --client).
//
//   build/examples/unix_echo                    # both, on @ringlet-unix-echo-<pid>
//   build/examples/unix_echo @my-echo           # both, on a name of your choice
//   build/examples/unix_echo unix:/tmp/e.sock   # a path works too (removed on exit)
//   build/examples/unix_echo --server @my-echo  # only the server, until Ctrl-C / SIGTERM
//   build/examples/unix_echo --client @my-echo  # only the client, against that server
//
// An abstract name (@…) puts nothing in the file system. Without a mode it
// prints `listening on @…`, then one line per message the client sends
// (lines of text and a 256 KiB block) and gets back intact, and the peer's
// credentials as the server saw them; it exits 0. --server prints the
// `listening on` line and each client's credentials, and echoes every
// client until stopped, within server_limits (--idle-timeout,
// --write-timeout, --max-connections; see --help); --client prints the
// client's lines and exits 0 when all came back intact. Exit 1 names what
// failed; 2 means a bad argument.
#include "example_support.hpp"

#include <ringlet/net/buffered_reader.hpp>

#include <unistd.h>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: unix_echo [--server | --client] [ADDRESS] [limits]

Runs an echo server on a unix socket and a client that talks to it; with
--server only the server (until SIGINT or SIGTERM), with --client only the
client (against a server already running at ADDRESS).

  ADDRESS   @abstract-name or unix:/path (default: @ringlet-unix-echo-<pid>;
            required with --server and --client)
  --server  serve echo at ADDRESS until stopped
  --client  talk to the server at ADDRESS, check every echo, exit
  --help    this text
)";

enum class mode { both, server, client };

struct options {
    mode run = mode::both;
    net::address where;
    server_limits limits;  // an echo has no requests: the idle timeout bounds each read
};

options parse_args(int argc, char** argv) {
    const char* me = "unix_echo";
    options out;
    std::string text;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") print_usage(usage, connection_limit_options);
        if (take_limit_option(me, argc, argv, i, out.limits)) continue;
        if (arg == "--server" || arg == "--client") {
            if (out.run != mode::both) usage_error(me, "give one of --server and --client");
            out.run = arg == "--server" ? mode::server : mode::client;
            continue;
        }
        take_operand(me, arg, text);
    }
    if (text.empty()) {
        if (out.run != mode::both) usage_error(me, "--server and --client need the ADDRESS");
        text = "@ringlet-unix-echo-" + std::to_string(::getpid());
    }
    auto where = net::address::parse(text);
    if (!where) usage_error(me, net::address::describe_parse_error(text));
    if (!is_unix(*where)) usage_error(me, "address \"" + text + "\" is not a unix path or abstract name");
    out.where = *where;
    return out;
}

/// Line-oriented client: each line must come back as sent, then a binary block.
task<int> client(const net::address& where) {
    auto conn = co_await local::connect(where, {.timeout = 5s});
    if (!conn) {
        std::fprintf(stderr, "unix_echo: %s\n", net::describe_error("connect", where, conn.error()).c_str());
        co_return 1;
    }
    net::buffered_reader in{*conn};
    static constexpr std::string_view lines[] = {"hello over a unix socket", "abstract names need no file", "bye"};
    for (std::string_view line : lines) {
        const std::string sent = std::string(line) + "\n";
        auto w = co_await conn->write_all(sent, 5s);
        if (!w) {
            std::fprintf(stderr, "unix_echo: write: %s\n", w.error().message().c_str());
            co_return 1;
        }
        auto back = co_await in.read_line(1024, 5s);
        if (!back || *back != line) {
            std::fprintf(stderr, "unix_echo: line \"%s\" came back as %s\n", std::string(line).c_str(),
                         back ? ("\"" + *back + "\"").c_str() : back.error().message().c_str());
            co_return 1;
        }
        std::printf("echoed line: %s\n", back->c_str());
    }
    std::string block(256 * 1024, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131 + i / 7);
    std::string echo(block.size(), '\0');
    auto [sent, received] = co_await when_all(conn->write_all(block, 5s),
                                              in.read_exact(std::as_writable_bytes(std::span{echo}), 5s));
    if (!sent || !received || echo != block) {
        std::fprintf(stderr, "unix_echo: the 256 KiB block did not come back intact\n");
        co_return 1;
    }
    std::printf("echoed block: %zu bytes intact\n", block.size());
    (void)co_await conn->close();
    co_return 0;
}

/// The first connection's peer, as the server saw it.
void print_credentials(const local::stream& conn) {
    if (auto who = conn.peer_credentials()) {
        std::printf("server: client is pid %d, uid %d\n", static_cast<int>(who->pid), static_cast<int>(who->uid));
        std::fflush(stdout);
    }
}

/// --server: echoes every client within `limits` until the runtime stops.
task<int> serve(const net::address& where, net::connection_limits limits) {
    auto lst = local::listen(where);
    if (!lst) {
        std::fprintf(stderr, "unix_echo: %s\n", net::describe_error("listen", where, lst.error()).c_str());
        co_return 1;
    }
    print_listening(where);
    net::connection_gate gate{limits};
    task_group connections;
    co_await accept_each(*lst, connections, gate, [](local::stream conn) {
        print_credentials(conn);
        return echo_connection(std::move(conn));
    });
    co_await connections.wait();
    (void)co_await lst->close();
    co_return 0;
}

/// Both in one process: the first connection is inspected, then echoed.
task<int> run(const net::address& where, net::connection_limits limits) {
    auto lst = local::listen(where);
    if (!lst) {
        std::fprintf(stderr, "unix_echo: %s\n", net::describe_error("listen", where, lst.error()).c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", where.to_string().c_str());
    std::fflush(stdout);

    // The server: the first connection is inspected, then echoed.
    task_group server;
    net::connection_gate gate{limits};
    server.spawn([](local::listener& l, net::connection_gate& g, task_group& group) -> task<void> {
        auto conn = co_await l.accept(5s);
        if (!conn) co_return;
        print_credentials(*conn);
        group.spawn(g.admit(std::move(*conn), [](local::stream c) { return echo_connection(std::move(c)); }));
    }(*lst, gate, server));
    const int code = co_await client(where);
    server.request_stop();
    co_await server.wait();
    (void)co_await lst->close();
    co_return code;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("unix_echo", [&]() -> task<int> {
        // (ifs, not ?: — GCC 12 evaluates a co_await in both arms of a conditional.)
        if (opts.run == mode::server) co_return co_await serve(opts.where, opts.limits.connection());
        if (opts.run == mode::client) co_return co_await client(opts.where);
        co_return co_await run(opts.where, opts.limits.connection());
    });
}

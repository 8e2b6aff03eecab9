// chat_server: a chat room (the seeds' chatserver). Every line a client sends
// goes to every other client, prefixed with the sender's address.
//
//   build/examples/chat_server 127.0.0.1:0          # prints: listening on 127.0.0.1:41377
//   build/examples/chat_server [::1]:7000 --max-line 200 --queue-limit 65536
//
// Then, from two or more terminals: `socat - TCP:127.0.0.1:41377` (or nc).
// Each client first gets "* welcome, you are <address>; N others here"; the
// others get "* <address> joined", then "[<address>] <line>" for each line
// it sends, and "* <address> left" when it goes. A line longer than
// --max-line bytes (default 1024, without the newline) is not sent: its
// author gets "* error: line longer than N bytes, not sent" and stays
// connected. Ctrl-C or SIGTERM stops the server gracefully (exit 0: every
// client gets what the room had queued for it, then is closed); exit 2
// means a bad argument, 1 that it could not listen.
//
// A slow client (one that does not read what the room sends it) gets a
// bounded outbound queue (--queue-limit bytes, default 256 KiB, counted on
// top of what the kernel's socket buffer holds). When a line would overflow
// it, that client is DISCONNECTED, not fed with gaps: dropping lines would
// leave it a conversation with silent holes, while a disconnect is visible
// and it can rejoin. The others see "* <address> left (too slow)". Either
// way the room never waits for one client and never buffers without bound.
//
// Limits (see --help): a client silent for --idle-timeout (default 10 min),
// or whose line takes longer than --read-timeout (10 min), leaves with
// " (timed out)"; one that takes no byte of what the room sends for
// --write-timeout (60 s) leaves with " (not reading)"; beyond
// --max-connections (10,000) a new client is reset at once.
//
// One shard, on purpose: the room is one shared list of members, and keeping
// every connection on the shard that owns it needs no locks and no
// cross-shard messages (submit_to per broadcast). Chat traffic is small; one
// core relays far more lines than people type. Each connection is a task
// spawned from tcp::listen's accept loop, with a reader task and, while
// there is something to send, a flusher task.
#include "example_support.hpp"

#include <algorithm>
#include <deque>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: chat_server ADDRESS [--max-line N] [--queue-limit BYTES] [limits]

A chat room: every line a client sends goes to all the other clients.

  ADDRESS              where to listen: 127.0.0.1:7000, [::1]:7000, localhost:7000
                       (port 0: any free port)
  --max-line N         longest line accepted, without its newline (default: 1024)
  --queue-limit BYTES  outbound bytes a client may fall behind before it is
                       disconnected (default: 262144)
  --help               this text

Prints "listening on <address>" once it accepts connections.
)";

struct options {
    std::string address;
    std::size_t max_line = 1024;
    std::size_t queue_limit = 256 * 1024;
    // People pause: a chat connection may be silent for 10 minutes (not
    // nginx's 60 s); a line, once the server waits for it, as long.
    server_limits limits{.idle_timeout = std::chrono::minutes{10}, .read_timeout = std::chrono::minutes{10}};
};

options parse_args(int argc, char** argv) {
    options out;
    out.address = tcp_server_arguments("chat_server", usage, "the chat room", argc, argv,
                                       {{"--max-line", out.max_line, 1, 1 << 20},
                                        {"--queue-limit", out.queue_limit, 1024, 1ul << 30}},
                                       out.limits, line_limit_options);
    return out;
}

/// One connected client. Lives in its session's coroutine frame; the room
/// holds a pointer to it from join to leave.
struct member {
    std::string name;                // the peer's address
    tcp::stream conn;
    task_group tasks;                // the reader and, while flushing, the flusher
    std::deque<std::string> outbox;  // lines not yet handed to the socket
    std::size_t queued = 0;          // bytes in outbox
    bool flushing = false;           // a flusher task is running
    bool leaving = false;            // no more lines are queued for it
    const char* why_left = "";       // "", " (too slow)", " (timed out)", " (not reading)"
};

class room {
public:
    explicit room(const options& opts) : opts_(opts) {}

    [[nodiscard]] std::size_t max_line() const noexcept { return opts_.max_line; }
    [[nodiscard]] timeout line_limit() const noexcept { return opts_.limits.line_timeout(); }

    void join(member& m) {
        send(m, "* welcome, you are " + m.name + "; " + std::to_string(members_.size()) + " others here\n");
        broadcast(&m, "* " + m.name + " joined\n");
        members_.push_back(&m);
        std::fprintf(stderr, "chat_server: %s joined (%zu here)\n", m.name.c_str(), members_.size());
    }

    void leave(member& m) {
        std::erase(members_, &m);
        broadcast(nullptr, "* " + m.name + " left" + m.why_left + "\n");
        std::fprintf(stderr, "chat_server: %s left%s (%zu here)\n", m.name.c_str(), m.why_left, members_.size());
    }

    /// Queues `line` for every member except `from`.
    void broadcast(const member* from, const std::string& line) {
        for (member* m : members_) {
            if (m != from) send(*m, line);
        }
    }

    /// Queues `line` for `to` and starts its flusher if none runs. Never
    /// waits; a member whose queue would pass the limit is disconnected.
    void send(member& to, std::string line) {
        if (to.leaving) return;
        if (to.queued + line.size() > opts_.queue_limit) {
            to.why_left = " (too slow)";
            disconnect(to);
            return;
        }
        to.queued += line.size();
        to.outbox.push_back(std::move(line));
        if (!to.flushing) {
            to.flushing = true;
            to.tasks.spawn(flush(to));
        }
    }

    /// Stops `m`'s reader and flusher; its session then leaves the room.
    static void disconnect(member& m) {
        m.leaving = true;
        m.outbox.clear();
        m.queued = 0;
        m.tasks.request_stop();
    }

private:
    /// Writes what is queued, in batches (one write for all lines queued
    /// meanwhile), until the queue is empty.
    static task<void> flush(member& m) {
        while (!m.outbox.empty()) {
            std::string batch;
            batch.reserve(m.queued);
            for (std::string& line : m.outbox) batch += line;
            m.outbox.clear();
            m.queued = 0;
            auto written = co_await m.conn.write_all(batch);  // within the write timeout
            if (!written) {
                if (written.error() == errc::timed_out) m.why_left = " (not reading)";
                disconnect(m);  // reset, broken pipe, or stopped
                break;
            }
        }
        m.flushing = false;
    }

    const options& opts_;
    std::vector<member*> members_;
};

/// Drops the buffered bytes up to and including the first newline (all of
/// them if there is none); true when it found one.
bool drop_through_newline(net::buffered_reader<tcp::stream>& in) {
    const auto bytes = in.buffered();
    const auto newline = std::find(bytes.begin(), bytes.end(), std::byte{'\n'});
    const bool found = newline != bytes.end();
    in.consume(static_cast<std::size_t>(newline - bytes.begin()) + (found ? 1 : 0));
    return found;
}

/// Relays `m`'s lines to the room until it leaves or is disconnected.
task<void> read_lines(room& r, member& m) {
    net::buffered_reader in{m.conn};
    const std::size_t limit = r.max_line() + 2;  // read_line counts the "\r\n"
    bool skipping = false;                       // inside a too-long line
    for (;;) {
        // Idle (no byte) and write timeouts are the connection's; the line's own limit is here.
        // Between lines a graceful stop ends the wait (a line begun is read first).
        auto line = co_await read_line_until_drain(in, limit, r.line_limit());
        const bool too_long = line ? line->size() > r.max_line() : line.error() == errc::message_too_long;
        if (too_long) {
            if (!skipping) {
                r.send(m, "* error: line longer than " + std::to_string(r.max_line()) + " bytes, not sent\n");
            }
            // A line read whole is gone; of a longer one, drop what is buffered up to its newline.
            skipping = line ? false : !drop_through_newline(in);
            continue;
        }
        if (!line) {
            if (line.error() == errc::timed_out) m.why_left = " (timed out)";
            if (line.error() == errc::operation_canceled && draining()) {
                m.leaving = true;  // no more lines for it; its flusher still writes what is queued
                co_return;
            }
            break;  // end of stream, reset, timed out, or stopped
        }
        if (skipping) {
            skipping = false;  // the tail of the too-long line
        } else if (!line->empty()) {
            r.broadcast(&m, "[" + m.name + "] " + *line + "\n");
        }
    }
    room::disconnect(m);  // ends the flusher too
}

task<void> session(room& r, tcp::stream conn) {
    member m;
    auto peer = conn.peer_address();
    m.name = peer ? peer->to_string() : "(unknown)";
    m.conn = std::move(conn);
    r.join(m);
    m.tasks.spawn(read_lines(r, m));
    co_await m.tasks.wait();
    r.leave(m);
    (void)co_await m.conn.close();
}

task<int> serve(const options& opts) {
    auto lst = co_await listen_and_announce("chat_server", opts.address);
    if (!lst) co_return 1;

    room r{opts};
    net::connection_gate gate{opts.limits.connection()};
    task_group sessions;
    co_await accept_each(*lst, sessions, gate, [&r](tcp::stream conn) { return session(r, std::move(conn)); });
    co_await sessions.wait();  // stopping: each session's reads are cancelled, it leaves and closes
    (void)co_await lst->close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("chat_server", [&]() { return serve(opts); });
}

// What the example programs share: the address argument (DESIGN.md's
// conventions), the one-line usage errors, a TCP server's command line and
// listening socket, the connection limits every server applies (idle, read
// and write timeouts, connection and handshake caps: server_limits), and
// the echo loop itself.
#pragma once

#include <ringlet/ringlet.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/connection_limits.hpp>
#include <ringlet/net/local.hpp>
#include <ringlet/net/resolve.hpp>
#include <ringlet/net/tcp.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace example {

using namespace ringlet;
using namespace std::chrono_literals;

/// Prints "<program>: <message>" on stderr and exits 2 (a bad argument).
[[noreturn]] inline void usage_error(const char* program, const std::string& message) {
    std::fprintf(stderr, "%s: %s (try --help)\n", program, message.c_str());
    std::exit(2);
}

/// The value after option argv[i] (advancing i); exits 2 when it is missing.
inline std::string option_value(const char* program, int argc, char** argv, int& i) {
    if (i + 1 == argc) usage_error(program, std::string(argv[i]) + " needs a value");
    return argv[++i];
}

/// The whole number after option argv[i] (advancing i); exits 2 naming the
/// option and the text unless it is a decimal number from `low` to `high`.
inline unsigned long number_value(const char* program, int argc, char** argv, int& i, unsigned long low,
                                  unsigned long high) {
    const std::string option = argv[i];
    const std::string text = option_value(program, argc, argv, i);
    char* end = nullptr;
    errno = 0;
    const unsigned long n = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || text[0] == '-' || *end != '\0' || errno == ERANGE || n < low || n > high) {
        usage_error(program, option + " \"" + text + "\" is not a number from " + std::to_string(low) + " to " +
                                 std::to_string(high));
    }
    return n;
}

/// Takes `arg`, which is none of the program's options, as its one operand
/// (stored in `operand`); exits 2 when it looks like an option or when the
/// operand was already given.
inline void take_operand(const char* program, std::string_view arg, std::string& operand) {
    if (arg.size() > 1 && arg[0] == '-') usage_error(program, "unknown option \"" + std::string(arg) + "\"");
    if (!operand.empty()) usage_error(program, "unexpected argument \"" + std::string(arg) + "\"");
    operand = arg;
}

/// Checks the syntax of an address argument without resolving anything:
/// "" when fine, otherwise the reason quoting the text.
inline std::string check_address_syntax(std::string_view text) {
    if (net::address::parse(text)) return {};
    if (net::parse_host_port(text)) return {};  // a host name: resolved later, on a shard
    return net::address::describe_parse_error(text);
}

/// A duration argument: "90" or "90s" (seconds), "500ms", "2m"; "0" turns
/// the limit off. Nothing when malformed.
inline std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 9) return std::nullopt;
    const auto n = std::stoll(std::string(text.substr(0, digits)));
    const std::string_view unit = text.substr(digits);
    if (unit.empty() || unit == "s") return std::chrono::milliseconds{n * 1000};
    if (unit == "ms") return std::chrono::milliseconds{n};
    if (unit == "m") return std::chrono::milliseconds{n * 60'000};
    return std::nullopt;
}

/// The duration after option argv[i] (advancing i); exits 2 naming the
/// option and the text when it is not one.
inline std::chrono::milliseconds duration_value(const char* program, int argc, char** argv, int& i) {
    const std::string option = argv[i];
    const std::string text = option_value(program, argc, argv, i);
    auto d = parse_duration(text);
    if (!d) usage_error(program, option + " \"" + text + "\" is not a duration (90, 90s, 500ms, 2m; 0: off)");
    return *d;
}

/// The limits every example server puts on its connections, so that a copy
/// of an example survives hostile peers (slowloris, clients that never
/// read, connection and handshake floods). Command-line options, parsed by
/// take_limit_option; the defaults are nginx's where it has one.
struct server_limits {
    /// No byte received for this long: the read fails, the connection closes.
    std::chrono::milliseconds idle_timeout{60'000};
    /// A line (request) must arrive complete within this long of the server
    /// starting to wait for it: a client that trickles bytes to stay under
    /// the idle timeout is closed too. Line-based servers only.
    std::chrono::milliseconds read_timeout{120'000};
    /// The peer takes no byte of a reply for this long: the write fails.
    std::chrono::milliseconds write_timeout{60'000};
    /// Connections served at once per shard; more are reset at once.
    std::size_t max_connections = 10'000;
    /// TLS servers: the longest a handshake may take, and how many may run at once per shard.
    std::chrono::milliseconds handshake_timeout{10'000};
    std::size_t max_handshakes = 256;

    [[nodiscard]] net::connection_limits connection() const noexcept {
        return {.idle_timeout = idle_timeout, .write_timeout = write_timeout, .max_connections = max_connections};
    }
    /// The per-line limit to pass to read_line (none when turned off).
    [[nodiscard]] timeout line_timeout() const noexcept {
        return read_timeout.count() > 0 ? timeout{read_timeout} : timeout{};
    }
    [[nodiscard]] timeout handshake() const noexcept {
        return handshake_timeout.count() > 0 ? timeout{handshake_timeout} : timeout{};
    }
};

/// Which of the limit options a server offers.
enum limit_set : unsigned { connection_limit_options = 0, line_limit_options = 1, tls_limit_options = 2 };

/// The usage lines of the limit options in `which`.
inline std::string limits_usage(unsigned which) {
    std::string out =
        "\nConnection limits (durations: 90, 90s, 500ms, 2m; 0 turns a limit off):\n"
        "  --idle-timeout T     close a connection that sends nothing for T (default 60s)\n";
    if (which & line_limit_options) {
        out += "  --read-timeout T     a line must arrive complete within T (default 120s)\n";
    }
    out += "  --write-timeout T    close a connection that takes no byte of a reply for T (default 60s)\n"
           "  --max-connections N  connections at once per shard; more are reset (default 10000)\n";
    if (which & tls_limit_options) {
        out += "  --handshake-timeout T  the longest a TLS handshake may take (default 10s)\n"
               "  --max-handshakes N   TLS handshakes at once per shard; more are reset (default 256)\n";
    }
    return out;
}

/// When argv[i] is one of the limit options in `which`, stores its value in
/// `limits` (advancing i) and returns true; exits 2 on a bad value.
inline bool take_limit_option(const char* program, int argc, char** argv, int& i, server_limits& limits,
                              unsigned which = connection_limit_options) {
    const std::string_view arg = argv[i];
    if (arg == "--idle-timeout") {
        limits.idle_timeout = duration_value(program, argc, argv, i);
    } else if (arg == "--read-timeout" && (which & line_limit_options)) {
        limits.read_timeout = duration_value(program, argc, argv, i);
    } else if (arg == "--write-timeout") {
        limits.write_timeout = duration_value(program, argc, argv, i);
    } else if (arg == "--max-connections") {
        limits.max_connections = number_value(program, argc, argv, i, 0, 10'000'000);
    } else if (arg == "--handshake-timeout" && (which & tls_limit_options)) {
        limits.handshake_timeout = duration_value(program, argc, argv, i);
    } else if (arg == "--max-handshakes" && (which & tls_limit_options)) {
        limits.max_handshakes = number_value(program, argc, argv, i, 0, 10'000'000);
    } else {
        return false;
    }
    return true;
}

/// Prints `usage` and the limit options in `which`, and exits 0 (--help).
[[noreturn]] inline void print_usage(const char* usage, unsigned which) {
    std::fputs(usage, stdout);
    std::fputs(limits_usage(which).c_str(), stdout);
    std::exit(0);
}

inline bool is_unix(const net::address& a) {
    return a.family() == net::address_family::unix_path || a.family() == net::address_family::unix_abstract;
}

/// A numeric option of a server: `--name N`, N from `low` to `high`, stored in `value`.
struct number_option {
    std::string_view name;
    std::size_t& value;
    unsigned long low;
    unsigned long high;
};

/// Parses the command line `program ADDRESS [options]` of a TCP server and
/// returns ADDRESS: --help (or -h) prints `usage` and the limit options of
/// `which` and exits 0; `options` are the server's own, the limit options
/// go to `limits`. ADDRESS is checked for syntax only (host names are
/// resolved later, on a shard) and must not be a unix socket, which
/// `server` (what that message calls the program) does not serve. Exits 2
/// on a bad argument.
inline std::string tcp_server_arguments(const char* program, const char* usage, std::string_view server, int argc,
                                        char** argv, std::initializer_list<number_option> options,
                                        server_limits& limits, unsigned which) {
    std::string address;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") print_usage(usage, which);
        if (take_limit_option(program, argc, argv, i, limits, which)) continue;
        const auto option = std::ranges::find(options, arg, &number_option::name);
        if (option != options.end()) {
            option->value = number_value(program, argc, argv, i, option->low, option->high);
        } else {
            take_operand(program, arg, address);
        }
    }
    if (address.empty()) usage_error(program, "missing the address to listen on");
    if (auto why = check_address_syntax(address); !why.empty()) usage_error(program, why);
    if (auto a = net::address::parse(address); a && is_unix(*a)) {
        usage_error(program, "address \"" + address + "\" is a unix socket; " + std::string(server) + " serves TCP");
    }
    return address;
}

/// The addresses an argument stands for, in the order to try them: the
/// address itself, or what its host name resolves to. On failure, `error`
/// says why, naming the text.
inline task<std::vector<net::address>> addresses_of(std::string text, std::string& error) {
    if (auto a = net::address::parse(text)) co_return std::vector<net::address>{*a};
    auto target = net::parse_host_port(text);
    if (!target) {
        error = net::address::describe_parse_error(text);
        co_return std::vector<net::address>{};
    }
    auto found = co_await net::resolve(*target, {.timeout = 10s});
    if (!found) {
        error = net::describe_resolve_error(target->host, found.error());
        co_return std::vector<net::address>{};
    }
    co_return std::move(*found);
}

/// Echoes everything a connection sends until it ends, errs, or the task is stopped.
template <class Stream>
task<void> echo_connection(Stream conn) {
    // receive() leases a buffer of the shard's only while bytes are in hand
    // (an idle connection holds none) and reads up to 260 KiB at once.
    for (;;) {
        auto got = co_await conn.receive();
        if (!got || got->empty()) break;  // end of stream, reset, or cancelled by the stop
        auto written = co_await conn.write_all(got->bytes());
        if (!written) break;
    }
    (void)co_await conn.close();
}

/// Before closing a connection whose peer may still be sending: a close
/// with unread bytes in the socket makes the kernel answer with a reset,
/// which can destroy what was just written (an error reply) before the peer
/// reads it. So: send a FIN, then read and drop what comes until the peer's
/// FIN, at most `limit` or 16 MiB.
template <class Stream>
task<void> linger_before_close(Stream& conn, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
    (void)co_await conn.shutdown(net::shutdown_how::write);
    const timeout until{clock::now() + limit};
    std::array<char, 16 * 1024> sink;
    for (int i = 0; i < 1024; ++i) {
        auto n = co_await conn.read_some(std::span<char>{sink}, until);
        if (!n || *n == 0) break;
    }
}

/// Prints the one `listening on <address>` line DESIGN.md asks of servers,
/// flushed at once so that a script waiting for it sees it.
inline void print_listening(const net::address& where) {
    std::printf("listening on %s\n", where.to_string().c_str());
    std::fflush(stdout);
}

/// accept_each's loop, without the drain.
template <class Listener, class Handler>
task<void> accept_until_stopped(Listener& lst, task_group& connections, net::connection_gate& gate, Handler handle) {
    auto last_complaint = clock::time_point{};
    for (;;) {
        auto conn = co_await lst.accept();
        if (conn) {
            connections.spawn(gate.admit(std::move(*conn), handle));
            continue;
        }
        if (conn.error() == errc::operation_canceled) break;  // stopping or draining
        if (clock::now() - last_complaint >= 1s) {
            std::fprintf(stderr, "accept: %s; retrying\n", conn.error().message().c_str());
            last_complaint = clock::now();
        }
        const auto pause = conn.error() == std::errc::too_many_files_open ? 100ms : 10ms;
        auto slept = co_await sleep_for(pause);
        if (!slept) break;  // stopping or draining
    }
}

/// Accepts connections and spawns `handle(conn)` (a task<void>) for each into
/// `connections` through `gate` (which applies the connection limits:
/// timeouts, and a reset above the cap), until the accept is cancelled (the
/// awaiting task or the group is stopped, or the runtime is stopping) or the
/// runtime begins a graceful stop (until_drain: the connections then go on,
/// and the runtime gives them its drain timeout). Out of descriptors
/// (EMFILE/ENFILE), it says so at most once a second, backs off and keeps
/// serving the connections it has. It neither waits for the connections nor
/// closes the listener: the caller owns both, and the gate, which must
/// outlive the connections.
template <class Listener, class Handler>
task<void> accept_each(Listener& lst, task_group& connections, net::connection_gate& gate, Handler handle) {
    co_await until_drain(accept_until_stopped(lst, connections, gate, std::move(handle)));
}

/// Whether this shard has begun a graceful stop (SIGTERM, runtime::request_stop()).
inline bool draining() { return this_shard::drain_token().stop_requested(); }

/// The next line from `in`, as in.read_line(max_length, limit); while none
/// of it is buffered (the session is idle between lines) the wait also ends
/// when the shard begins a graceful stop, with errc::operation_canceled and
/// draining() true, so that idle sessions end at once at a SIGTERM instead
/// of at the drain timeout. A line already begun is read to its end.
template <class Reader>
task<result<std::string>> read_line_until_drain(Reader& in, std::size_t max_length, timeout limit) {
    if (!in.buffered().empty()) co_return co_await in.read_line(max_length, limit);
    co_return co_await until_drain(in.read_line(max_length, limit));
}

/// Accepts connections and echoes each in its own task, within `limits`,
/// until the runtime begins a graceful stop or stops (see accept_each); then
/// closes the listener (removing a unix socket file) and lets the
/// connections end.
template <class Listener>
task<void> serve_echo(Listener& lst, net::connection_limits limits) {
    net::connection_gate gate{limits};
    task_group connections;
    co_await accept_each(lst, connections, gate, [](auto conn) { return echo_connection(std::move(conn)); });
    (void)co_await lst.close();
    co_await connections.wait();
}

/// main()'s body for a program on one shard: runs `work` (a callable that
/// returns task<int>, the exit status); 1 with "<program>: <why>" on stderr
/// when the runtime itself fails (no io_uring, say).
template <class Work>
int run_on_one_shard(const char* program, Work work) {
    try {
        runtime rt{{.shards = 1}};
        return rt.run(std::move(work));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return 1;
    }
}

/// The one address a TCP server argument stands for (resolving a host name
/// first); empty with `error` set when there is none or it is a unix address.
inline task<std::optional<net::address>> tcp_address_of(std::string text, std::string& error) {
    auto candidates = co_await addresses_of(text, error);
    if (candidates.empty()) co_return std::nullopt;
    if (is_unix(candidates.front())) {
        error = "address \"" + text + "\" is a unix socket; this program serves TCP only";
        co_return std::nullopt;
    }
    co_return candidates.front();
}

/// Listens where a TCP server's address argument says (resolving a host
/// name first) and prints the `listening on` line with the bound port. On
/// failure it prints "<program>: <why>" on stderr and returns nothing.
inline task<std::optional<tcp::listener>> listen_and_announce(const char* program, std::string text) {
    std::string error;
    auto where = co_await tcp_address_of(text, error);
    if (!where) {
        std::fprintf(stderr, "%s: %s\n", program, error.c_str());
        co_return std::nullopt;
    }
    auto lst = tcp::listen(*where);
    if (!lst) {
        std::fprintf(stderr, "%s: %s\n", program, net::describe_error("listen", *where, lst.error()).c_str());
        co_return std::nullopt;
    }
    auto bound = lst->local_address();
    print_listening(bound ? *bound : *where);
    co_return std::move(*lst);
}

}  // namespace example

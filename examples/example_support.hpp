// What the example programs share: the address argument (DESIGN.md's
// conventions), the one-line usage errors, and the echo loop itself.
#pragma once

#include <ringlet/ringlet.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/local.hpp>
#include <ringlet/net/resolve.hpp>
#include <ringlet/net/tcp.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

/// Checks the syntax of an address argument without resolving anything:
/// "" when fine, otherwise the reason quoting the text.
inline std::string check_address_syntax(std::string_view text) {
    if (net::address::parse(text)) return {};
    if (net::parse_host_port(text)) return {};  // a host name: resolved later, on a shard
    return net::address::describe_parse_error(text);
}

inline bool is_unix(const net::address& a) {
    return a.family() == net::address_family::unix_path || a.family() == net::address_family::unix_abstract;
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
    // (an idle connection holds none) and reads up to 64 KiB at once.
    for (;;) {
        auto got = co_await conn.receive();
        if (!got || got->empty()) break;  // end of stream, reset, or cancelled by the stop
        auto written = co_await conn.write_all(got->bytes());
        if (!written) break;
    }
    (void)co_await conn.close();
}

/// Accepts connections and echoes each in its own task until the runtime
/// stops; then lets the connections end and closes the listener. Out of
/// descriptors (EMFILE/ENFILE), it says so at most once a second, backs off
/// and keeps serving the connections it has.
template <class Listener>
task<void> serve_echo(Listener& lst) {
    task_group connections;
    auto last_complaint = clock::time_point{};
    for (;;) {
        auto conn = co_await lst.accept();
        if (conn) {
            connections.spawn(echo_connection(std::move(*conn)));
            continue;
        }
        if (conn.error() == errc::operation_canceled) break;  // stopping
        if (clock::now() - last_complaint >= 1s) {
            std::fprintf(stderr, "accept: %s; retrying\n", conn.error().message().c_str());
            last_complaint = clock::now();
        }
        const auto pause = conn.error() == std::errc::too_many_files_open ? 100ms : 10ms;
        auto slept = co_await sleep_for(pause);
        if (!slept) break;  // stopping
    }
    co_await connections.wait();
    (void)co_await lst.close();
}

}  // namespace example

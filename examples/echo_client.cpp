// echo_client: sends messages to an echo server and checks every byte that
// comes back.
//
//   build/examples/echo_server 127.0.0.1:0 &          # prints: listening on 127.0.0.1:41377
//   build/examples/echo_client 127.0.0.1:41377
//   build/examples/echo_client unix:/tmp/echo.sock    # or @echo, [::1]:8000, localhost:8000
//
// It connects, sends five messages of 1 B, 100 B, 4 KiB, 68 KiB and 1 MiB
// (pseudo-random bytes; the larger ones cross many socket buffers, so it
// writes and reads at the same time), compares each echo byte for byte,
// half-closes and expects the server to close too. One line per step on
// stdout; exit 0 when every echo matched, 1 with a message naming what
// failed otherwise, 2 for a bad argument.
#include "example_support.hpp"

#include <cstring>
#include <random>
#include <tuple>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: echo_client ADDRESS [--timeout SECONDS]

Sends messages of several sizes (up to 1 MiB) to an echo server at ADDRESS
and checks that each comes back byte for byte.

  ADDRESS          the server: 127.0.0.1:8000, [::1]:8000, localhost:8000,
                   unix:/path/to.sock or @abstract-name
  --timeout S      limit for connecting and for each message (default: 10)
  --help           this text
)";

struct options {
    std::string address;
    std::chrono::seconds limit{10};
};

options parse_args(int argc, char** argv) {
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--timeout") {
            out.limit = std::chrono::seconds{number_value("echo_client", argc, argv, i, 1, 3600)};
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error("echo_client", "unknown option \"" + std::string(arg) + "\"");
        } else if (out.address.empty()) {
            out.address = arg;
        } else {
            usage_error("echo_client", "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (out.address.empty()) usage_error("echo_client", "missing the server address");
    if (auto why = check_address_syntax(out.address); !why.empty()) usage_error("echo_client", why);
    return out;
}

std::string size_text(std::size_t n) {
    if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
    if (n >= 1024) return std::to_string(n) + " B (" + std::to_string(n / 1024) + " KiB)";
    return std::to_string(n) + " B";
}

/// Sends `message` and reads its echo concurrently (a large message would
/// otherwise fill both sockets' buffers and stall both sides).
template <class Stream>
task<std::string> exchange(Stream& conn, const std::string& message, timeout limit) {
    std::string echo(message.size(), '\0');
    auto [sent, received] = co_await when_all(conn.write_all(message, limit), conn.read_exact(std::span{echo}, limit));
    if (!sent) co_return "sending failed: " + sent.error().message();
    if (!received) co_return "reading the echo failed: " + received.error().message();
    if (echo != message) {
        const auto at = std::mismatch(echo.begin(), echo.end(), message.begin()).first - echo.begin();
        co_return "the echo differs from what was sent, first at byte " + std::to_string(at);
    }
    co_return std::string{};
}

template <class Stream>
task<int> talk(Stream conn, const net::address& server, timeout limit) {
    auto mine = conn.local_address();
    std::printf("connected to %s from %s\n", server.to_string().c_str(),
                mine ? mine->to_string().c_str() : "(unknown)");
    const std::size_t sizes[] = {1, 100, 4096, 68 * 1024 + 7, 1 << 20};
    std::mt19937 rng{20240601};
    std::size_t total = 0;
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        std::string message(sizes[i], '\0');
        for (char& c : message) c = static_cast<char>(rng());
        const auto start = clock::now();
        const std::string failure = co_await exchange(conn, message, limit);
        if (!failure.empty()) {
            std::fprintf(stderr, "echo_client: message %zu (%s): %s\n", i + 1, size_text(sizes[i]).c_str(),
                         failure.c_str());
            co_return 1;
        }
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
        std::printf("message %zu: %s echoed intact in %lld us\n", i + 1, size_text(sizes[i]).c_str(),
                    static_cast<long long>(us));
        total += sizes[i];
    }
    // Half-close: the server sees the end of the stream and closes its side.
    auto half_closed = co_await conn.shutdown(net::shutdown_how::write);
    if (!half_closed) {
        std::fprintf(stderr, "echo_client: shutdown: %s\n", half_closed.error().message().c_str());
        co_return 1;
    }
    char extra;
    auto end = co_await conn.read_some(std::span{&extra, 1}, limit);
    if (!end || *end != 0) {
        std::fprintf(stderr, "echo_client: expected the server to close after our FIN, got %s\n",
                     end ? "more bytes" : end.error().message().c_str());
        co_return 1;
    }
    std::printf("done: %zu messages, %zu bytes, every byte echoed; the server closed after our FIN\n",
                std::size(sizes), total);
    co_return 0;
}

/// Connects to the first address that answers.
task<int> run_client(const options& opts) {
    std::string error;
    const auto candidates = co_await addresses_of(opts.address, error);
    if (candidates.empty()) {
        std::fprintf(stderr, "echo_client: %s\n", error.c_str());
        co_return 1;
    }
    for (const net::address& server : candidates) {
        if (is_unix(server)) {
            auto conn = co_await local::connect(server, {.timeout = opts.limit});
            if (conn) co_return co_await talk(std::move(*conn), server, opts.limit);
            error = net::describe_error("connect", server, conn.error());
        } else {
            auto conn = co_await tcp::connect(server, {.timeout = opts.limit});
            if (conn) co_return co_await talk(std::move(*conn), server, opts.limit);
            error = net::describe_error("connect", server, conn.error());
        }
    }
    std::fprintf(stderr, "echo_client: %s\n", error.c_str());
    co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("echo_client", [&]() { return run_client(opts); });
}

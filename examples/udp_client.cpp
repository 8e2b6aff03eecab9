// udp_client: sends datagrams to an echo server over a connected ("fake
// connection") socket and checks each reply — the seeds' datagram client.
//
//   build/examples/udp_echo_server 127.0.0.1:0 &          # prints: listening on 127.0.0.1:50123
//   build/examples/udp_client 127.0.0.1:50123             # three default messages
//   build/examples/udp_client 127.0.0.1:50123 hello world # one datagram per argument
//   build/examples/udp_client @udp-echo hi                # a unix datagram server (or unix:/path)
//
// One line per reply on stdout ("reply from 127.0.0.1:50123: \"hello\" in 85 us").
// Exit 0 when every datagram came back intact; 1 when one did not — no
// reply within --timeout (UDP may drop it), or "Connection refused" when
// nothing listens on the port (the ICMP error arrives on the next receive);
// 2 for a bad argument.
#include "example_support.hpp"

#include <ringlet/net/local_datagram.hpp>
#include <ringlet/net/udp.hpp>

#include <cstring>
#include <random>
#include <vector>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: udp_client ADDRESS [MESSAGE...] [--timeout SECONDS]

Sends each MESSAGE as one datagram to the echo server at ADDRESS (default:
"hello", 16 random bytes and a 1400-byte datagram) and checks each reply.

  ADDRESS          the server: 127.0.0.1:9000, [::1]:9000, localhost:9000,
                   unix:/path/to.dgram or @abstract-name
  --timeout S      how long to wait for each reply (default: 2)
  --help           this text
)";

struct options {
    std::string address;
    std::vector<std::string> messages;
    std::chrono::seconds limit{2};
};

options parse_args(int argc, char** argv) {
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--timeout") {
            out.limit = std::chrono::seconds{number_value("udp_client", argc, argv, i, 1, 3600)};
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error("udp_client", "unknown option \"" + std::string(arg) + "\"");
        } else if (out.address.empty()) {
            out.address = arg;
        } else {
            out.messages.emplace_back(arg);
        }
    }
    if (out.address.empty()) usage_error("udp_client", "missing the server address");
    if (auto why = check_address_syntax(out.address); !why.empty()) usage_error("udp_client", why);
    if (out.messages.empty()) {
        std::mt19937 rng{std::random_device{}()};
        std::string random(16, '\0');
        for (char& c : random) c = static_cast<char>(rng());
        out.messages = {"hello", random, std::string(1400, 'u')};
    }
    return out;
}

/// The message as printable text: short ones quoted, others by size.
std::string shown(const std::string& m) {
    const bool printable = std::all_of(m.begin(), m.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (printable && m.size() <= 40) return "\"" + m + "\"";
    return std::to_string(m.size()) + " bytes";
}

template <class Socket>
task<int> talk(Socket& conn, const net::address& server, const options& opts) {
    std::vector<std::byte> buffer(65536);
    for (const std::string& message : opts.messages) {
        const auto start = clock::now();
        auto sent = co_await conn.send(message, opts.limit);
        if (!sent) {
            std::fprintf(stderr, "udp_client: %s\n", net::describe_error("send", server, sent.error()).c_str());
            co_return 1;
        }
        auto reply = co_await conn.recv(buffer, opts.limit);
        if (!reply) {
            std::fprintf(stderr, "udp_client: %s%s\n", net::describe_error("recv", server, reply.error()).c_str(),
                         reply.error() == errc::timed_out ? " (no reply; UDP may have dropped it)" : "");
            co_return 1;
        }
        const std::string got(reinterpret_cast<const char*>(buffer.data()), reply->size);
        if (reply->truncated || got != message) {
            std::fprintf(stderr, "udp_client: the reply to %s differs (%zu bytes%s)\n", shown(message).c_str(),
                         reply->size, reply->truncated ? ", truncated" : "");
            co_return 1;
        }
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
        std::printf("reply from %s: %s in %lld us\n", server.to_string().c_str(), shown(got).c_str(),
                    static_cast<long long>(us));
    }
    std::fflush(stdout);
    (void)co_await conn.close();
    co_return 0;
}

task<int> run_client(const options& opts) {
    std::string error;
    const auto candidates = co_await addresses_of(opts.address, error);
    if (candidates.empty()) {
        std::fprintf(stderr, "udp_client: %s\n", error.c_str());
        co_return 1;
    }
    const net::address& server = candidates.front();
    if (is_unix(server)) {
        auto conn = co_await local::connect_datagram(server);  // autobound, so the server can reply
        if (!conn) {
            std::fprintf(stderr, "udp_client: %s\n", net::describe_error("connect", server, conn.error()).c_str());
            co_return 1;
        }
        co_return co_await talk(*conn, server, opts);
    }
    auto conn = co_await udp::connect(server);
    if (!conn) {
        std::fprintf(stderr, "udp_client: %s\n", net::describe_error("connect", server, conn.error()).c_str());
        co_return 1;
    }
    co_return co_await talk(*conn, server, opts);
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("udp_client", [&]() { return run_client(opts); });
}

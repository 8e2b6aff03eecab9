// tls_bench: a TLS load probe on one shard — echo throughput with fixed-size
// messages, or full handshakes per second — against any TLS echo server.
//
//   build/examples/tls_echo_server 127.0.0.1:8443 --cert server.pem --key server.key --shards 1
//   build/examples/tls_bench 127.0.0.1:8443 --ca ca.pem --name localhost --mode echo --size 16384 --seconds 5
//   build/examples/tls_bench 127.0.0.1:8443 --ca ca.pem --name localhost --mode handshake --seconds 5
//
// Against an OpenSSL peer, in the same run, for a ratio:
//   socat OPENSSL-LISTEN:8444,reuseaddr,fork,cert=server.pem,key=server.key,verify=0 PIPE   (echo)
//   openssl s_server -accept 8444 -cert server.pem -key server.key -quiet            (handshakes)
//
// Prints one line: "echo: <MiB/s> MiB/s each way (<n> messages of <size> B)" or
// "handshake: <n>/s (<version> <cipher>)". Exit 1 when the server fails, 2 for
// a bad argument. Not a test: numbers depend on the machine and placement.
#include "tls_example_support.hpp"

using namespace example;

namespace {

constexpr const char* usage = R"(usage: tls_bench ADDRESS [--ca FILE] [--name HOST] [--mode echo|handshake] [--size N] [--seconds N]

  ADDRESS          the TLS server (an echo server for --mode echo)
  --ca FILE        trust these CAs (default: the system's); --name the host name to verify
  --insecure       do not verify
  --mode M         echo (default): one connection, messages of --size bytes (16384);
                   handshake: new connection + full handshake + close, repeatedly
  --seconds N      how long to measure (default 5)
  --help           this text
)";

struct options {
    std::string address, ca, name;
    bool insecure = false, handshake = false;
    std::size_t size = 16384;
    int seconds = 5;
};

task<int> bench(const options& o, tls::context ctx) {
    std::string error;
    auto candidates = co_await addresses_of(o.address, error);
    if (candidates.empty()) {
        std::fprintf(stderr, "tls_bench: %s\n", error.c_str());
        co_return 1;
    }
    const net::address where = candidates.front();
    const auto until = clock::now() + std::chrono::seconds{o.seconds};
    tls::client_handshake_options hs;
    hs.server_name = o.name;
    if (o.handshake) {
        std::size_t done = 0;
        std::string params;
        while (clock::now() < until) {
            auto conn = co_await tcp::connect(where, {.timeout = 5s});
            if (!conn) co_return 1;
            auto secure = co_await tls::client_handshake(std::move(*conn), ctx, hs);
            if (!secure) {
                std::fprintf(stderr, "tls_bench: %s\n", tls::describe_error("handshake", secure.error()).c_str());
                co_return 1;
            }
            if (params.empty()) params = secure->version() + " " + secure->cipher();
            (void)co_await secure->close(0ms);
            ++done;
        }
        std::printf("handshake: %.0f/s (%s)\n", static_cast<double>(done) / o.seconds, params.c_str());
        co_return 0;
    }
    auto conn = co_await tcp::connect(where, {.timeout = 5s});
    if (!conn) co_return 1;
    (void)conn->set_nodelay(true);
    auto secure = co_await tls::client_handshake(std::move(*conn), ctx, hs);
    if (!secure) {
        std::fprintf(stderr, "tls_bench: %s\n", tls::describe_error("handshake", secure.error()).c_str());
        co_return 1;
    }
    std::vector<std::byte> out(o.size, std::byte{'x'}), in(o.size);
    std::size_t messages = 0;
    const auto start = clock::now();
    while (clock::now() < until) {
        auto w = co_await secure->write_all(std::span<const std::byte>{out}, 10s);
        if (!w) co_return 1;
        auto r = co_await secure->read_exact(in, 10s);
        if (!r) co_return 1;
        ++messages;
    }
    const double secs = std::chrono::duration<double>(clock::now() - start).count();
    std::printf("echo: %.1f MiB/s each way (%zu messages of %zu B, %s %s)\n",
                static_cast<double>(messages * o.size) / secs / (1 << 20), messages, o.size,
                secure->version().c_str(), secure->cipher().c_str());
    (void)co_await secure->close(1s);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const char* me = "tls_bench";
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else if (arg == "--ca") {
            o.ca = option_value(me, argc, argv, i);
        } else if (arg == "--name") {
            o.name = option_value(me, argc, argv, i);
        } else if (arg == "--insecure") {
            o.insecure = true;
        } else if (arg == "--mode") {
            const std::string m = option_value(me, argc, argv, i);
            if (m != "echo" && m != "handshake") usage_error(me, "--mode is echo or handshake, not \"" + m + "\"");
            o.handshake = m == "handshake";
        } else if (arg == "--size" || arg == "--seconds") {
            const unsigned long n = number_value(me, argc, argv, i, 1, 1u << 26);
            if (arg == "--size") o.size = n;
            else o.seconds = static_cast<int>(n);
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error(me, "unknown option \"" + std::string(arg) + "\"");
        } else if (o.address.empty()) {
            o.address = arg;
        } else {
            usage_error(me, "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (o.address.empty()) usage_error(me, "missing the server address");
    if (auto why = check_address_syntax(o.address); !why.empty()) usage_error(me, why);
    if (o.name.empty()) {
        if (auto hp = net::parse_host_port(o.address)) o.name = hp->host;
    }
    const tls::context ctx = load_context(me, [&] {
        tls::client_options c;
        c.ca_file = o.ca;
        c.verify_peer = !o.insecure;
        return tls::context::client(c);
    });
    return run_on_one_shard(me, [&]() { return bench(o, ctx); });
}

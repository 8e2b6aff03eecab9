// tls_echo_server: echoes every byte each TLS client sends back to it.
//
//   build/examples/tls_echo_server 127.0.0.1:0 --cert server.pem --key server.key
//       # prints: listening on 127.0.0.1:41377
//   openssl s_client -connect 127.0.0.1:41377 -alpn echo     # type lines, see them back
//   build/examples/tls_echo_server [::1]:8443 --cert c.pem --key k.pem --client-ca ca.pem --shards 2
//
// A certificate for trying it out (one command line):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost
//       -addext subjectAltName=DNS:localhost -keyout server.key -out server.pem -days 30
//
// TLS 1.2 and 1.3, ALPN "echo" (or --alpn's list) accepted, session tickets whose keys every
// shard shares (a client may resume on any shard). --client-ca turns on
// mutual TLS. Each connection gets server_limits (--help): a handshake
// must finish within --handshake-timeout (10 s) and at most
// --max-handshakes (256) run at once per shard; then the idle and write
// timeouts (60 s each) and --max-connections (10,000 per shard). Ctrl-C or SIGTERM stops it gracefully (each connection ends
// with close_notify) and it exits 0; 2 means a bad argument, 1 that it could
// not load the certificate or listen.
#include "tls_example_support.hpp"

#include <cstring>
#include <vector>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: tls_echo_server ADDRESS --cert FILE --key FILE [--client-ca FILE] [--alpn LIST]
                       [--ciphers LIST] [--shards N] [limits]

Echoes every byte each TLS client sends back to it, until SIGINT or SIGTERM.

  ADDRESS          where to listen: 127.0.0.1:8443, [::1]:8443, localhost:8443 (port 0: any free port)
  --cert FILE      the certificate chain (PEM)
  --key FILE       its private key (PEM)
  --client-ca FILE require client certificates signed by these CAs (mutual TLS)
  --alpn LIST      ALPN protocols to accept, ',' separated, in order of preference
                   (default: echo; a client offering none of them is refused)
  --ciphers LIST   allowed cipher suites, ':' separated (e.g. TLS13-CHACHA20-POLY1305-SHA256)
  --shards N       serve on N shards, one listener each (default: all cores)
  --help           this text

Prints "listening on <address>" once it accepts connections.
)";

struct options {
    std::string address, cert, key, client_ca, ciphers;
    std::vector<std::string> alpn{"echo"};
    unsigned shards = 0;
    server_limits limits;  // an echo has no requests: the idle timeout bounds each read
};

/// "h2,http/1.1" as {"h2", "http/1.1"}; exits 2 on an empty name.
std::vector<std::string> alpn_list(const char* me, const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = text.find(',', start);
        std::string name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (name.empty() || name.size() > 255) usage_error(me, "--alpn \"" + text + "\" has an empty or over-long name");
        out.push_back(std::move(name));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

options parse_args(int argc, char** argv) {
    const char* me = "tls_echo_server";
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            print_usage(usage, tls_limit_options);
        } else if (take_limit_option(me, argc, argv, i, out.limits, tls_limit_options)) {
            continue;
        } else if (arg == "--alpn") {
            out.alpn = alpn_list(me, option_value(me, argc, argv, i));
        } else if (arg == "--cert") {
            out.cert = option_value(me, argc, argv, i);
        } else if (arg == "--key") {
            out.key = option_value(me, argc, argv, i);
        } else if (arg == "--client-ca") {
            out.client_ca = option_value(me, argc, argv, i);
        } else if (arg == "--ciphers") {
            out.ciphers = option_value(me, argc, argv, i);
        } else if (arg == "--shards") {
            out.shards = static_cast<unsigned>(number_value(me, argc, argv, i, 1, 1024));
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error(me, "unknown option \"" + std::string(arg) + "\"");
        } else if (out.address.empty()) {
            out.address = arg;
        } else {
            usage_error(me, "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (out.address.empty()) usage_error(me, "missing the address to listen on");
    if (out.cert.empty() || out.key.empty()) usage_error(me, "--cert and --key are required");
    if (auto why = check_address_syntax(out.address); !why.empty()) usage_error(me, why);
    return out;
}

task<void> echo(tls::stream conn) {
    std::array<char, 16 * 1024> buffer;
    for (;;) {
        auto n = co_await conn.read_some(buffer);
        if (!n || *n == 0) break;
        auto written = co_await conn.write_all(std::string_view{buffer.data(), *n});
        if (!written) break;
    }
    (void)co_await conn.close(1s);
}

task<int> serve(const options& opts, const tls::context& ctx) {
    std::string error;
    auto candidates = co_await addresses_of(opts.address, error);
    if (candidates.empty()) {
        std::fprintf(stderr, "tls_echo_server: %s\n", error.c_str());
        co_return 1;
    }
    const unsigned shards = this_shard::count();
    std::vector<tls::listener> listeners;
    net::address where = candidates.front();
    for (unsigned i = 0; i < shards; ++i) {
        auto lst = tls::listen(where, ctx, {.reuse_port = shards > 1},
                               {.handshake_timeout = opts.limits.handshake()});
        if (!lst) {
            std::fprintf(stderr, "tls_echo_server: %s\n", net::describe_error("listen", where, lst.error()).c_str());
            co_return 1;
        }
        if (i == 0) where = *lst->local_address();
        listeners.push_back(std::move(*lst));
    }
    std::printf("listening on %s\n", where.to_string().c_str());
    std::fflush(stdout);
    std::vector<task<void>> servers;
    for (unsigned i = 0; i < shards; ++i) {
        const tls::serve_options limits{.limits = opts.limits.connection(), .max_handshakes = opts.limits.max_handshakes};
        servers.push_back(submit_to(i, [lst = &listeners[i], limits]() -> task<void> {
            (void)co_await tls::serve(*lst, echo, limits);
        }));
    }
    co_await when_all(std::move(servers));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    const tls::context ctx = load_context("tls_echo_server", [&] {
        tls::server_options o;
        o.certificate_chain_file = opts.cert;
        o.private_key_file = opts.key;
        o.alpn = opts.alpn;
        o.cipher_list = opts.ciphers;
        if (!opts.client_ca.empty()) {
            o.request_client_certificate = true;
            o.client_ca_file = opts.client_ca;
        }
        return tls::context::server(o);
    });
    try {
        runtime rt{{.shards = opts.shards}};
        return rt.run([&]() { return serve(opts, ctx); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tls_echo_server: %s\n", e.what());
        return 1;
    }
}

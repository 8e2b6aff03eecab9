// http_server: the TechEmpower-style HTTP/1.1 test server on ringlet::http.
//
//   build/examples/http_server 127.0.0.1:8080                 # prints: listening on 127.0.0.1:8080
//   build/examples/http_server 127.0.0.1:0 --shards 1
//   build/examples/http_server 127.0.0.1:8443 --cert cert.pem --key key.pem   # HTTPS (ALPN http/1.1)
//   build/examples/http_server 127.0.0.1:8443 --cert cert.pem --key key.pem --no-session-tickets
//
// Then: curl http://127.0.0.1:8080/plaintext       → Hello, World!
//       curl http://127.0.0.1:8080/json            → {"message":"Hello, World!"}
//       curl http://127.0.0.1:8080/bytes/1048576   → 1 MiB of 'x' (N ≤ 64 MiB, one shared buffer)
//       curl --data-binary @file http://127.0.0.1:8080/echo   → the body back
//       anything else                              → 404
//       wrk -c50 -d10s http://127.0.0.1:8080/plaintext
//
// Serves on every shard (`--shards N`, default: one per core), one
// SO_REUSEPORT listener each. Prints `listening on <address>` once it accepts
// connections; SIGINT/SIGTERM stop it gracefully (exit 0). Exit 2: a bad
// argument; 1: it could not listen or load the certificate.
#include "example_support.hpp"

#include <ringlet/http/server.hpp>
#if RINGLET_EXAMPLE_TLS
#include <ringlet/http/tls_server.hpp>
#include <ringlet/tls/context.hpp>
#endif

#include <charconv>
#include <memory>

using namespace example;

namespace {

constexpr const char* me = "http_server";

constexpr const char* usage = R"(usage: http_server ADDRESS [--shards N] [--cert FILE --key FILE [--no-session-tickets]]

Serves HTTP/1.1 until SIGINT or SIGTERM:
  GET /plaintext   Hello, World! (text/plain)
  GET /json        {"message":"Hello, World!"}
  GET /bytes/N     N bytes (N at most 67108864)
  POST /echo       the request body back
  anything else    404

  ADDRESS        where to listen: 127.0.0.1:8080, [::1]:8080, localhost:8080 (port 0: any free port)
  --shards N     serve on N shards, one listener each (default: all cores)
  --cert FILE    certificate chain (PEM): serve HTTPS
  --key FILE     its private key (PEM)
  --no-session-tickets
                 issue no session tickets: every HTTPS connection makes a full handshake
  --help         this text

Prints "listening on <address>" once it accepts connections.
)";

constexpr std::size_t kMaxBytes = 64 * 1024 * 1024;

struct options {
    std::string address;
    unsigned shards = 0;
    std::string cert;
    std::string key;
    bool session_tickets = true;
};

options parse_args(int argc, char** argv) {
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--shards") {
            out.shards = static_cast<unsigned>(number_value(me, argc, argv, i, 1, 1024));
        } else if (arg == "--cert") {
            out.cert = option_value(me, argc, argv, i);
        } else if (arg == "--key") {
            out.key = option_value(me, argc, argv, i);
        } else if (arg == "--no-session-tickets") {
            out.session_tickets = false;
        } else {
            take_operand(me, arg, out.address);
        }
    }
    if (out.address.empty()) usage_error(me, "missing the address to listen on");
    if (auto why = check_address_syntax(out.address); !why.empty()) usage_error(me, why);
    if (out.cert.empty() != out.key.empty()) usage_error(me, "--cert and --key go together");
#if !RINGLET_EXAMPLE_TLS
    if (!out.cert.empty()) usage_error(me, "this build has no TLS: --cert is not available");
#endif
    return out;
}

/// The buffer /bytes/N is served from: shared by every shard, never written after start.
const std::string& shared_bytes() {
    static const std::string bytes(kMaxBytes, 'x');
    return bytes;
}

task<void> handle(http::request& req, http::response& res) {
    const std::string_view path = req.path();
    if (req.method() == "GET" || req.method() == "HEAD") {
        if (path == "/plaintext") {
            res.add_header("Content-Type", "text/plain");
            res.set_body("Hello, World!");
            co_return;
        }
        if (path == "/json") {
            res.add_header("Content-Type", "application/json");
            res.set_body(R"({"message":"Hello, World!"})");
            co_return;
        }
        if (path.starts_with("/bytes/")) {
            const std::string_view digits = path.substr(7);
            std::size_t n = 0;
            const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
            if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || n > kMaxBytes) {
                res.set_status(400);
                res.set_body("N must be a number from 0 to 67108864\n");
                co_return;
            }
            res.add_header("Content-Type", "application/octet-stream");
            res.set_body_view(std::as_bytes(std::span{shared_bytes().data(), n}));
            co_return;
        }
    } else if (req.method() == "POST" && path == "/echo") {
        auto body = co_await req.read_body();
        if (!body) co_return;  // the server answers 400/413 and closes
        res.add_header("Content-Type", "application/octet-stream");
        res.set_body_view(std::as_bytes(std::span{body->data(), body->size()}));
        co_return;
    }
    res.set_status(404);
    res.add_header("Content-Type", "text/plain");
    res.set_body("Not Found\n");
}

task<int> serve(const options& opts) {
    std::string error;
    auto where = co_await tcp_address_of(opts.address, error);
    if (!where) {
        std::fprintf(stderr, "%s: %s\n", me, error.c_str());
        co_return 1;
    }
    result<http::server> server = unexpected{errc::invalid_argument};
#if RINGLET_EXAMPLE_TLS
    if (!opts.cert.empty()) {
        tls::context ctx;
        try {
            const tls::server_options tls_options{
                .certificate_chain_file = opts.cert,
                .private_key_file = opts.key,
                .alpn = {"http/1.1"},
                .session_tickets = opts.session_tickets};
            ctx = tls::context::server(tls_options);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", me, e.what());
            co_return 1;
        }
        server = http::bind(*where, ctx);
    } else {
        server = http::server::bind(*where);
    }
#else
    server = http::server::bind(*where);
#endif
    if (!server) {
        std::fprintf(stderr, "%s: %s\n", me, net::describe_error("listen", *where, server.error()).c_str());
        co_return 1;
    }
    (void)shared_bytes();  // made before the first request, not by one of them
    print_listening(server->local_address());
    http::handler routes = handle;  // a named local: see server.cpp on GCC 12 and temporaries in co_await
    co_await server->serve(std::move(routes));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    try {
        runtime rt{{.shards = opts.shards}};
        return rt.run([&]() { return serve(opts); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", me, e.what());
        return 1;
    }
}

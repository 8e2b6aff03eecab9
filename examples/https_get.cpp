// https_get: fetches one URL over HTTPS with certificate verification and
// prints the response body on stdout (the seeds' TLS HTTP client).
//
//   build/examples/https_get https://example.com/                  # system CAs
//   build/examples/https_get https://localhost:8443/index.html --ca ca.pem
//   build/examples/https_get https://localhost:8443/ --insecure -v  # no verification, headers on stderr
//
// Exit 0 for a 2xx response, 1 when the connection, the handshake or the
// server failed (the message names why: "certificate is for another host
// name", "certificate has expired", ...), 2 for a bad argument. It speaks
// HTTP/1.1 with "Connection: close" and reads until the server's
// close_notify; a response cut without one is reported as truncated.
#include "http_support.hpp"
#include "tls_example_support.hpp"

using namespace example;

namespace {

constexpr const char* usage = R"(usage: https_get URL [--ca FILE] [--insecure] [-v]

Fetches URL (https://host[:port]/path) and prints the body on stdout.

  --ca FILE    trust these CAs (default: the system's, /etc/ssl/certs)
  --insecure   do not verify the certificate or host name
  -v           print the TLS parameters and response headers on stderr
  --help       this text
)";

task<int> fetch(url target, tls::context ctx, bool verbose) {
    auto conn = co_await tls::connect(target.host, target.port, ctx);
    if (!conn) {
        std::fprintf(stderr, "https_get: %s\n",
                     tls::describe_error("connecting to " + target.host + ":" + std::to_string(target.port),
                                         conn.error()).c_str());
        co_return 1;
    }
    if (verbose) {
        std::fprintf(stderr, "* %s %s, peer %s\n", conn->version().c_str(), conn->cipher().c_str(),
                     conn->peer_subject().c_str());
    }
    const std::string request = "GET " + target.path + " HTTP/1.1\r\nHost: " + target.host +
                                "\r\nUser-Agent: ringlet-https_get\r\nConnection: close\r\n\r\n";
    auto sent = co_await conn->write_all(request, 30s);
    if (!sent) {
        std::fprintf(stderr, "https_get: %s\n", tls::describe_error("sending the request", sent.error()).c_str());
        co_return 1;
    }
    net::buffered_reader<tls::stream> in{*conn};
    auto status = co_await in.read_line(8192, 30s);
    if (!status) {
        std::fprintf(stderr, "https_get: %s\n", tls::describe_error("reading the status line", status.error()).c_str());
        co_return 1;
    }
    if (verbose) std::fprintf(stderr, "< %s\n", status->c_str());
    for (int headers = 0; headers < 1000; ++headers) {
        auto line = co_await in.read_line(16384, 30s);
        if (!line) co_return 1;
        if (line->empty()) break;
        if (verbose) std::fprintf(stderr, "< %s\n", line->c_str());
    }
    std::array<std::byte, 16384> buf;
    for (;;) {
        auto n = co_await in.read_some(buf, 30s);
        if (!n) {
            std::fprintf(stderr, "https_get: %s\n", tls::describe_error("reading the body", n.error()).c_str());
            co_return 1;
        }
        if (*n == 0) break;
        std::fwrite(buf.data(), 1, *n, stdout);
    }
    std::fflush(stdout);
    (void)co_await conn->close(1s);
    const bool ok = status->size() >= 10 && status->compare(9, 1, "2") == 0;
    co_return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const char* me = "https_get";
    std::string ca, text;
    bool insecure = false, verbose = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else if (arg == "--ca") {
            ca = option_value(me, argc, argv, i);
        } else if (arg == "--insecure") {
            insecure = true;
        } else if (arg == "-v") {
            verbose = true;
        } else {
            take_operand(me, arg, text);
        }
    }
    const url target = url_argument(me, text, "https://", 443);
    const tls::context ctx = load_context(me, [&] {
        tls::client_options o;
        o.ca_file = ca;
        o.verify_peer = !insecure;
        o.alpn = {"http/1.1"};
        return tls::context::client(o);
    });
    try {
        runtime rt{{.shards = 1, .handle_signals = true}};
        return rt.run([&]() { return fetch(target, ctx, verbose); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", me, e.what());
        return 1;
    }
}

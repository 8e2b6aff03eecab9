// http_get: fetches one URL over plain HTTP/1.1 and writes the response body
// to stdout (the seeds' HTTP GET client; https_get is its TLS twin).
//
//   build/examples/http_get http://127.0.0.1:8000/index.html > index.html
//   build/examples/http_get http://localhost:8080/ --timeout 5
//   build/examples/http_get http://[::1]:8000/big.iso -q > big.iso   # no headers on stderr
//
// It resolves and connects with tcp::connect(host, port), sends GET with
// Host, User-Agent and "Connection: close", and reads the response with
// http::response_reader (ringlet's HTTP/1.1 client side: heads up to 32 KiB
// and 100 fields, interim 1xx responses skipped). The status line and
// headers are echoed to stderr ("< HTTP/1.1 200 OK"); the body goes to
// stdout byte for byte, delimited by Content-Length, by chunked transfer
// encoding (decoded; trailers are read and dropped), or by the end of the
// connection. --timeout limits the whole fetch (default 30 s).
//
// Exit 0 for a status below 400; 1 for a status of 400 or more (the body is
// still written), for a response that is malformed or cut short (the message
// says what was wrong: "malformed chunk size", "body ended after 10 of 20
// bytes", ...), and when resolving, connecting or the timeout failed; 2 for
// a bad argument. Only http:// URLs: https_get does TLS.
#include "http_support.hpp"

#include <ringlet/http/client.hpp>

using namespace example;

namespace {

constexpr const char* me = "http_get";

constexpr const char* usage = R"(usage: http_get URL [--timeout SECONDS] [-q]

Fetches URL (http://host[:port]/path) and writes the body to stdout; the
status line and headers go to stderr.

  --timeout S  limit for the whole fetch, connecting included (default: 30)
  -q           do not print the status line and headers
  --help       this text

Exits 1 when the status is 400 or more or the response is malformed.
)";

/// The Host header's value: the authority as the URL gave it.
std::string host_header(const url& u) {
    std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    if (u.port != 80) host += ":" + std::to_string(u.port);
    return host;
}

/// What went wrong while `doing` something, for people.
std::string failure(const std::string& doing, std::error_code error, std::string_view reason) {
    if (error == errc::end_of_stream) return "the connection ended while " + doing;
    if (error == errc::message_too_long) return doing + ": the head is longer than the limit";
    if (error == errc::timed_out) return doing + ": timed out";
    if (error == std::errc::bad_message) return doing + ": " + std::string(reason);
    return doing + ": " + error.message();
}

/// Reads one response with http::response_reader: the head (echoed to stderr
/// unless `quiet`), then the body to stdout. Yields "" or what went wrong.
template <class Stream>
task<std::string> read_response(Stream& conn, bool quiet, int& status) {
    http::response_reader<Stream> in{conn};
    auto head = co_await in.read_head();
    if (!head) co_return failure("reading the response head", head.error(), in.last_error_reason());
    const http::response_head& h = **head;
    status = h.status();
    if (!quiet) {
        std::fprintf(stderr, "< HTTP/1.%d %d %.*s\n", h.version_minor(), h.status(), static_cast<int>(h.reason().size()),
                     h.reason().data());
        for (std::size_t i = 0; i < h.headers().size(); ++i) {
            const auto f = h.headers()[i];
            std::fprintf(stderr, "< %.*s: %.*s\n", static_cast<int>(f.name.size()), f.name.data(),
                         static_cast<int>(f.value.size()), f.value.data());
        }
    }
    std::uint64_t done = 0;
    for (;;) {
        auto piece = co_await in.read_body_some();
        if (!piece) {
            if (piece.error() == errc::end_of_stream && h.framing() == http::body_framing::length) {
                co_return "body ended after " + std::to_string(done) + " of " + std::to_string(h.content_length()) +
                          " bytes";
            }
            co_return failure("reading the body", piece.error(), in.last_error_reason());
        }
        if (piece->empty()) co_return std::string{};
        std::fwrite(piece->data(), 1, piece->size(), stdout);
        done += piece->size();
    }
}

task<int> fetch(const url& target, std::chrono::seconds limit, bool quiet) {
    const clock::time_point deadline = clock::now() + limit;
    const tcp::connect_options how{.timeout = deadline};
    auto conn = co_await tcp::connect(target.host, target.port, how);
    if (!conn) {
        std::fprintf(stderr, "%s: connecting to %s: %s\n", me, net::host_port{target.host, target.port}.to_string().c_str(),
                     conn.error() == errc::timed_out ? "timed out" : conn.error().message().c_str());
        co_return 1;
    }
    conn->set_deadline(deadline);  // every later read and write: the whole fetch shares one limit
    const std::string request = "GET " + target.path + " HTTP/1.1\r\nHost: " + host_header(target) +
                                "\r\nUser-Agent: ringlet-http_get\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    auto sent = co_await conn->write_all(request);
    if (!sent) {
        std::fprintf(stderr, "%s: sending the request: %s\n", me, sent.error().message().c_str());
        co_return 1;
    }
    int status = 0;
    std::string problem = co_await read_response(*conn, quiet, status);
    std::fflush(stdout);
    (void)co_await conn->close();
    if (!problem.empty()) {
        std::fprintf(stderr, "%s: %s\n", me, problem.c_str());
        co_return 1;
    }
    if (status >= 400) {
        std::fprintf(stderr, "%s: the server answered %d\n", me, status);
        co_return 1;
    }
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string text;
    std::chrono::seconds limit{30};
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else if (arg == "--timeout") {
            limit = std::chrono::seconds{number_value(me, argc, argv, i, 1, 3600)};
        } else if (arg == "-q") {
            quiet = true;
        } else {
            take_operand(me, arg, text);
        }
    }
    if (text.substr(0, 8) == "https://") usage_error(me, "\"" + text + "\" is https: use https_get");
    const url target = url_argument(me, text, "http://", 80);
    return run_on_one_shard(me, [&]() { return fetch(target, limit, quiet); });
}

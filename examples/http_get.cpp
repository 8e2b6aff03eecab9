// http_get: fetches one URL over plain HTTP/1.1 and writes the response body
// to stdout (the seeds' HTTP GET client; https_get is its TLS twin).
//
//   build/examples/http_get http://127.0.0.1:8000/index.html > index.html
//   build/examples/http_get http://localhost:8080/ --timeout 5
//   build/examples/http_get http://[::1]:8000/big.iso -q > big.iso   # no headers on stderr
//
// It resolves and connects with tcp::connect(host, port), sends GET with
// Host, User-Agent and "Connection: close", and reads the status line and
// headers with read_line (at most 8 KiB each, 100 headers). The status line
// and headers are echoed to stderr ("< HTTP/1.1 200 OK"); the body goes to
// stdout byte for byte, delimited by Content-Length, by chunked transfer
// encoding (decoded; trailers are read and dropped), or by the end of the
// connection. --timeout limits the whole fetch (default 30 s).
//
// Exit 0 for a status below 400; 1 for a status of 400 or more (the body is
// still written), for a response that is malformed or cut short (the message
// says what was wrong: "bad chunk size line", "body ended after 10 of 20
// bytes", ...), and when resolving, connecting or the timeout failed; 2 for
// a bad argument. Only http:// URLs: https_get does TLS.
#include "http_support.hpp"

#include <ringlet/net/buffered_reader.hpp>

#include <charconv>
#include <optional>

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

constexpr std::size_t max_header_line = 8192;
constexpr std::size_t max_headers = 100;

/// The Host header's value: the authority as the URL gave it.
std::string host_header(const url& u) {
    std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    if (u.port != 80) host += ":" + std::to_string(u.port);
    return host;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Parses all of `text` as a number in `base`; nullopt otherwise.
std::optional<std::uint64_t> number(std::string_view text, int base) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return n;
}

/// What the headers say about the body.
struct response_head {
    int status = 0;
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
};

/// Reads one response: status line and headers, then the body to stdout.
/// Errors are messages for people ("" on success).
template <class Stream>
class response_reader {
public:
    response_reader(Stream& conn, bool quiet) : in_(conn), quiet_(quiet) {}

    task<std::string> read_head(response_head& head) {
        // Interim 1xx responses (100 Continue, ...) precede the real one.
        for (;;) {
            auto status = co_await in_.read_line(max_header_line);
            if (!status) co_return failure("reading the status line", status.error());
            if (!quiet_) std::fprintf(stderr, "< %s\n", status->c_str());
            const std::string_view s = *status;
            // "HTTP/1.1 200 OK": a version, a space, three digits, then a space or the end.
            const bool shaped = s.size() >= 12 && s.substr(0, 7) == "HTTP/1." && s[8] == ' ' &&
                                (s.size() == 12 || s[12] == ' ');
            auto code = shaped ? number(s.substr(9, 3), 10) : std::nullopt;
            if (!code || *code < 100 || *code > 599) co_return "malformed status line \"" + *status + "\"";
            head.status = static_cast<int>(*code);
            std::string problem = co_await read_headers(head);
            if (!problem.empty()) co_return problem;
            if (head.status >= 200) co_return std::string{};
            head = response_head{};
        }
    }

    task<std::string> read_body(const response_head& head) {
        if (head.status == 204 || head.status == 304) co_return std::string{};
        if (head.chunked) co_return co_await read_chunked();
        if (head.content_length) co_return co_await copy_exactly(*head.content_length, "body");
        co_return co_await copy_to_end();
    }

private:
    task<std::string> read_headers(response_head& head) {
        for (std::size_t count = 0;; ++count) {
            auto line = co_await in_.read_line(max_header_line);
            if (!line) co_return failure("reading the headers", line.error());
            if (line->empty()) co_return std::string{};
            if (count == max_headers) co_return "more than " + std::to_string(max_headers) + " header lines";
            if (!quiet_) std::fprintf(stderr, "< %s\n", line->c_str());
            const std::size_t colon = line->find(':');
            if (colon == std::string::npos || colon == 0) co_return "malformed header line \"" + *line + "\"";
            const std::string_view name = std::string_view{*line}.substr(0, colon);
            const std::string_view value = trim(std::string_view{*line}.substr(colon + 1));
            if (iequals(name, "Content-Length")) {
                auto n = number(value, 10);
                if (!n) co_return "bad Content-Length \"" + std::string(value) + "\"";
                if (head.content_length && *head.content_length != *n) co_return "conflicting Content-Length headers";
                head.content_length = n;
            } else if (iequals(name, "Transfer-Encoding")) {
                // Only "chunked" (last, as RFC 9112 requires) is understood.
                const std::size_t comma = value.rfind(',');
                const std::string_view last = trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
                if (!iequals(last, "chunked")) co_return "unsupported Transfer-Encoding \"" + std::string(value) + "\"";
                head.chunked = true;
            }
        }
    }

    task<std::string> read_chunked() {
        for (std::uint64_t index = 0;; ++index) {
            auto line = co_await in_.read_line(1024);
            if (!line) co_return failure("reading chunk " + std::to_string(index) + "'s size", line.error());
            const std::string_view text = *line;
            const std::string_view digits = trim(text.substr(0, text.find(';')));  // drop chunk extensions
            auto size = digits.size() <= 15 ? number(digits, 16) : std::nullopt;
            if (!size) co_return "bad chunk size line \"" + *line + "\"";
            if (*size == 0) break;
            std::string problem = co_await copy_exactly(*size, "chunk " + std::to_string(index));
            if (!problem.empty()) co_return problem;
            auto end = co_await in_.read_line(2);  // just "\r\n"
            const bool overlong = (end && !end->empty()) || (!end && end.error() == errc::message_too_long);
            if (overlong) co_return "chunk " + std::to_string(index) + " is longer than its size line says";
            if (!end) co_return failure("reading the end of chunk " + std::to_string(index), end.error());
        }
        // Trailer fields, up to the empty line that ends the message.
        for (std::size_t count = 0;; ++count) {
            auto line = co_await in_.read_line(max_header_line);
            if (!line) co_return failure("reading the trailers", line.error());
            if (line->empty()) co_return std::string{};
            if (count == max_headers) co_return "more than " + std::to_string(max_headers) + " trailer lines";
        }
    }

    task<std::string> copy_exactly(std::uint64_t size, std::string what) {
        std::uint64_t done = 0;
        while (done < size) {
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), size - done));
            const std::span<std::byte> piece = std::span{buf_}.first(want);
            auto n = co_await in_.read_some(piece);
            if (!n) co_return failure("reading the " + what, n.error());
            if (*n == 0) {
                co_return what + " ended after " + std::to_string(done) + " of " + std::to_string(size) + " bytes";
            }
            std::fwrite(buf_.data(), 1, *n, stdout);
            done += *n;
        }
        co_return std::string{};
    }

    task<std::string> copy_to_end() {
        for (;;) {
            auto n = co_await in_.read_some(buf_);
            if (!n) co_return failure("reading the body", n.error());
            if (*n == 0) co_return std::string{};
            std::fwrite(buf_.data(), 1, *n, stdout);
        }
    }

    static std::string failure(const std::string& doing, std::error_code error) {
        if (error == errc::end_of_stream) return "the connection ended while " + doing;
        if (error == errc::message_too_long) return doing + ": the line is longer than the limit";
        if (error == errc::timed_out) return doing + ": timed out";
        return doing + ": " + error.message();
    }

    net::buffered_reader<Stream> in_;
    bool quiet_;
    std::array<std::byte, 16384> buf_{};
};

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
    response_reader<tcp::stream> reader{*conn, quiet};
    response_head head;
    std::string problem = co_await reader.read_head(head);
    if (problem.empty()) problem = co_await reader.read_body(head);
    std::fflush(stdout);
    (void)co_await conn->close();
    if (!problem.empty()) {
        std::fprintf(stderr, "%s: %s\n", me, problem.c_str());
        co_return 1;
    }
    if (head.status >= 400) {
        std::fprintf(stderr, "%s: the server answered %d\n", me, head.status);
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

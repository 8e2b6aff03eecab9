// HTTP/1.1 message parsing (RFC 9110 / RFC 9112) over byte buffers: the
// request head a server reads, the response head a client reads, and the
// chunked transfer coding both use. No I/O and no allocation per header:
// heads are parsed in place and their fields are views into the caller's
// buffer (stored as offsets, so a head can be moved with its bytes).
//
//     http::request_parser parser;                 // limits: http::limits{}
//     http::request_head head;
//     auto r = parser.parse(bytes_so_far, head);   // same start each call, more bytes each time
//     if (r.state == http::parse_state::complete) { use head; consume r.consumed bytes; parser.reset(); }
//     if (r.state == http::parse_state::failed)   { answer r.status (400, 414, 431, 413, ...) and close; }
//
// Strictness (RFC 9112 section 6 and 11, request smuggling): a request is
// refused (400) for Transfer-Encoding together with Content-Length,
// differing Content-Length values, a Transfer-Encoding whose last coding is
// not chunked, obs-fold (a field line starting with whitespace), whitespace
// between a field name and its colon, a bare CR or a bare LF, a missing or
// repeated Host in HTTP/1.1, and bytes outside the grammar in the request
// line or a field. A coding other than chunked is 501, an HTTP major version
// other than 1 is 505, an Expect other than 100-continue is 417.
//
// Thread safety: plain values; one thread at a time per object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlet::http {

/// Limits of one request, with nginx-like defaults. The status each one
/// answers is in brackets; the connection is closed after it.
struct limits {
    std::size_t max_request_line = 8 * 1024;   ///< request line with its CRLF [414]
    std::size_t max_header_bytes = 32 * 1024;  ///< the whole head, request line included [431]
    std::size_t max_headers = 100;             ///< field lines in the head (and in chunked trailers) [431]
    std::uint64_t max_body = 1024 * 1024;      ///< request body, declared or chunked [413]
};

/// How a message's body is delimited.
enum class body_framing : std::uint8_t {
    none,         ///< no body (no Content-Length / Transfer-Encoding; or a 1xx/204/304/HEAD response)
    length,       ///< Content-Length bytes
    chunked,      ///< Transfer-Encoding: chunked (see chunked_decoder)
    until_close,  ///< responses only: the body runs to the end of the connection
};

/// True when `a` and `b` are equal ignoring ASCII case.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// Decodes %XX escapes in `text` (a request target's path or query) into
/// `out` (cleared first); with `plus_as_space`, '+' becomes ' ' (HTML form
/// queries). Returns false for a '%' not followed by two hex digits (`out`
/// then holds an unspecified prefix).
bool percent_decode(std::string_view text, std::string& out, bool plus_as_space = false);

/// One field line of a head: offsets into the head's bytes.
struct field_span {
    std::uint32_t name_at = 0;
    std::uint32_t name_size = 0;
    std::uint32_t value_at = 0;
    std::uint32_t value_size = 0;
};

/// The field lines of a parsed head, in order, as views into the bytes the
/// head was parsed from (they stay valid as long as those bytes do).
/// Lookup ignores the case of names.
class fields {
public:
    struct field {
        std::string_view name;
        std::string_view value;  ///< without leading and trailing whitespace
    };

    [[nodiscard]] std::size_t size() const noexcept { return spans_.size(); }
    [[nodiscard]] field operator[](std::size_t i) const noexcept {
        const field_span& s = spans_[i];
        return {{base_ + s.name_at, s.name_size}, {base_ + s.value_at, s.value_size}};
    }
    /// The value of the first field named `name` (any case), if there is one.
    [[nodiscard]] std::optional<std::string_view> find(std::string_view name) const noexcept;
    /// How many fields are named `name`.
    [[nodiscard]] std::size_t count(std::string_view name) const noexcept;
    /// True when a field named `name` lists `token` (comma-separated, any case),
    /// e.g. contains("Connection", "close").
    [[nodiscard]] bool contains(std::string_view name, std::string_view token) const noexcept;

    /// Points the views at a copy of the head's bytes (moved to `base`).
    void rebase(const char* base) noexcept { base_ = base; }
    void clear() noexcept { spans_.clear(); }
    void add(field_span s) { spans_.push_back(s); }
    [[nodiscard]] const char* base() const noexcept { return base_; }

private:
    const char* base_ = nullptr;
    std::vector<field_span> spans_;  // capacity kept across requests
};

/// Where a parse stands.
enum class parse_state : std::uint8_t { incomplete, complete, failed };

/// The outcome of one parse call.
struct parse_result {
    parse_state state = parse_state::incomplete;
    std::size_t consumed = 0;    ///< complete: the head's length (the body starts there)
    int status = 0;              ///< failed: the status to answer (400, 413, 414, 417, 431, 501, 505)
    const char* reason = "";     ///< failed: what was wrong, for logs and tests
};

/// A parsed request line and header fields (views into the parsed bytes).
class request_head {
public:
    [[nodiscard]] std::string_view method() const noexcept { return view(method_); }
    /// The request target as sent ("/search?q=a%20b").
    [[nodiscard]] std::string_view target() const noexcept { return view(target_); }
    /// The target up to '?' (still percent-encoded; see percent_decode).
    [[nodiscard]] std::string_view path() const noexcept;
    /// The target after '?' (empty when there is none).
    [[nodiscard]] std::string_view query() const noexcept;
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    [[nodiscard]] int version_minor() const noexcept { return minor_; }
    [[nodiscard]] const http::fields& headers() const noexcept { return fields_; }
    /// The first header named `name` (any case).
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept {
        return fields_.find(name);
    }
    [[nodiscard]] body_framing framing() const noexcept { return framing_; }
    /// The declared body length (framing() == length).
    [[nodiscard]] std::uint64_t content_length() const noexcept { return content_length_; }
    /// Whether the client lets the connection stay open after this request
    /// (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive").
    [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
    /// "Expect: 100-continue" was sent.
    [[nodiscard]] bool expects_continue() const noexcept { return expect_continue_; }
    [[nodiscard]] bool is_head() const noexcept { return method() == "HEAD"; }

    /// Points the views at a copy of the head's bytes (moved to `base`).
    void rebase(const char* base) noexcept { fields_.rebase(base); }

private:
    friend class request_parser;
    struct span32 {
        std::uint32_t at = 0;
        std::uint32_t size = 0;
    };
    [[nodiscard]] std::string_view view(span32 s) const noexcept { return {fields_.base() + s.at, s.size}; }

    http::fields fields_;
    span32 method_;
    span32 target_;
    std::uint64_t content_length_ = 0;
    int minor_ = 1;
    body_framing framing_ = body_framing::none;
    bool keep_alive_ = true;
    bool expect_continue_ = false;
};

/// Incremental request-head parser. Call parse() with the bytes received so
/// far (always from the same start); it scans only what is new for the end of
/// the head, so a head trickling in byte by byte costs linear time. Empty
/// lines before a request line are skipped (RFC 9112 section 2.2) and counted
/// in `consumed`.
class request_parser {
public:
    explicit request_parser(limits l = {}) noexcept : limits_(l) {}

    /// Parses `bytes` into `head` (its views point into `bytes`). complete:
    /// `consumed` is the head's length; failed: `status` is what to answer.
    parse_result parse(std::span<const char> bytes, request_head& head);
    /// Forgets the scan state: call before the next request's bytes.
    void reset() noexcept { scan_ = {}; }
    [[nodiscard]] const http::limits& parse_limits() const noexcept { return limits_; }

private:
    struct scan_state {
        std::size_t scanned = 0;     // bytes searched for line ends so far
        std::size_t line_start = 0;  // start of the current line
        std::size_t head_start = 0;  // after skipped empty lines
        std::size_t lines = 0;       // complete lines of the head
    };
    parse_result parse_complete(std::string_view head, std::size_t start, request_head& out) const;

    http::limits limits_;
    scan_state scan_;
};

/// A parsed status line and header fields (views into the parsed bytes).
class response_head {
public:
    [[nodiscard]] int status() const noexcept { return status_; }
    [[nodiscard]] int version_minor() const noexcept { return minor_; }
    [[nodiscard]] std::string_view reason() const noexcept { return {fields_.base() + reason_at_, reason_size_}; }
    [[nodiscard]] const http::fields& headers() const noexcept { return fields_; }
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept {
        return fields_.find(name);
    }
    [[nodiscard]] body_framing framing() const noexcept { return framing_; }
    [[nodiscard]] std::uint64_t content_length() const noexcept { return content_length_; }
    /// Whether the server keeps the connection open after this response.
    [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
    void rebase(const char* base) noexcept { fields_.rebase(base); }

private:
    friend class response_parser;
    http::fields fields_;
    std::uint64_t content_length_ = 0;
    std::uint32_t reason_at_ = 0;
    std::uint32_t reason_size_ = 0;
    int status_ = 0;
    int minor_ = 1;
    body_framing framing_ = body_framing::until_close;
    bool keep_alive_ = true;
};

/// Incremental response-head parser for clients (as request_parser).
/// Interim 1xx responses come out as complete heads of their own: parse
/// again after them. For the response to a HEAD request pass
/// `to_head_request`: it has no body whatever its fields say.
class response_parser {
public:
    explicit response_parser(limits l = {}) noexcept : limits_(l) {}
    parse_result parse(std::span<const char> bytes, response_head& head, bool to_head_request = false);
    void reset() noexcept { scanned_ = 0; }

private:
    http::limits limits_;
    std::size_t scanned_ = 0;
};

/// Decodes the chunked transfer coding incrementally (RFC 9112 section 7.1):
/// chunk sizes (overflow refused), extensions (skipped), data, and trailer
/// fields (consumed and dropped, bounded by the limits).
///
///     http::chunked_decoder d{limits};
///     auto step = d.decode(bytes);   // consume step.consumed; step.data is body bytes
///     if (step.failed) ...; if (d.done()) ...;
class chunked_decoder {
public:
    struct step {
        std::size_t consumed = 0;      ///< input bytes used (data included)
        std::span<const char> data;    ///< body bytes found (a view into the input)
        bool failed = false;
        int status = 0;                ///< failed: 400, or 413 past max_body, 431 for too many trailers
        const char* reason = "";
    };

    explicit chunked_decoder(limits l = {}) noexcept : limits_(l) {}
    /// Decodes from `in` until it has one piece of body data, needs more input,
    /// or the message ended (done()). Never returns data past the final chunk.
    step decode(std::span<const char> in) noexcept;
    [[nodiscard]] bool done() const noexcept { return state_ == state::done; }
    /// Body bytes decoded so far.
    [[nodiscard]] std::uint64_t total() const noexcept { return total_; }
    void reset() noexcept { *this = chunked_decoder{limits_}; }

private:
    enum class state : std::uint8_t {
        size, extension, size_lf, data, data_cr, data_lf, trailer_start, trailer, trailer_lf, final_lf, done
    };
    limits limits_;
    state state_ = state::size;
    bool size_digits_ = false;
    std::uint64_t remaining_ = 0;  // size being read, then data left in the chunk
    std::uint64_t total_ = 0;
    std::size_t trailer_bytes_ = 0;
    std::size_t trailers_ = 0;
};

/// The reason phrase of a status code ("OK", "Not Found"); "Unknown" when unlisted.
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

}  // namespace ringlet::http

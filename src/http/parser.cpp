// HTTP/1.1 head parsing.
//
// Design notes
// - Two passes, both linear: the incremental scan looks only at new bytes
//   for the CRLF CRLF that ends the head (checking the line limits and bare
//   LF as it goes); once the head is complete it is parsed in one pass. A
//   head that trickles in byte by byte therefore costs O(n), not O(n^2).
// - Field lines are stored as offsets from the head's start (no allocation
//   per header: the vector's capacity is kept across requests), which also
//   lets a server move an incomplete head's bytes without re-parsing.
// - The smuggling rules (RFC 9112 section 6.3 and 11.2) are applied after
//   the fields are collected: every refusal carries its own reason string.
#include <ringlet/http/parser.hpp>

#include <algorithm>
#include <cstring>

namespace ringlet::http {
namespace {

constexpr char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 section 5.6.2 tchar.
constexpr bool is_tchar(unsigned char c) noexcept {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}
// field-vchar plus SP/HTAB (obs-text allowed).
constexpr bool is_value_char(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); }
// request-target: visible ASCII.
constexpr bool is_target_char(unsigned char c) noexcept { return c > 0x20 && c < 0x7f; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

parse_result fail(int status, const char* reason) noexcept {
    return {.state = parse_state::failed, .consumed = 0, .status = status, .reason = reason};
}

/// Parses a whole decimal number, refusing anything that would overflow.
bool parse_decimal(std::string_view text, std::uint64_t& out) noexcept {
    if (text.empty() || text.size() > 19) return false;
    std::uint64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = n;
    return true;
}

/// Calls fn(token) for each comma-separated element of `list` (trimmed, empty ones skipped).
template <class F>
void for_each_token(std::string_view list, F&& fn) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        const std::string_view token = trim(list.substr(0, comma));
        if (!token.empty()) fn(token);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

/// Parses the field lines of [at, end) in `head` into `out`, one "name: value\r\n"
/// at a time. Returns nullptr or the refusal's reason.
const char* parse_fields(std::string_view head, std::size_t at, std::size_t end, fields& out,
                         std::size_t max_headers, int& status) {
    status = 400;
    while (at < end) {
        const std::size_t eol = head.find('\r', at);  // the scan guarantees a CRLF before `end`
        if (eol == std::string_view::npos || eol + 1 >= head.size() || head[eol + 1] != '\n') return "bare CR";
        if (eol == at) return nullptr;  // the empty line: end of the head
        const unsigned char first = static_cast<unsigned char>(head[at]);
        if (first == ' ' || first == '\t') return "obs-fold (a field line starting with whitespace)";
        std::size_t i = at;
        while (i < eol && is_tchar(static_cast<unsigned char>(head[i]))) ++i;
        if (i == eol) return "field line without a colon";
        if (head[i] != ':') {
            if (head[i] == ' ' || head[i] == '\t') return "whitespace between field name and colon";
            return "invalid character in field name";
        }
        if (i == at) return "empty field name";
        for (std::size_t j = i + 1; j < eol; ++j) {
            if (!is_value_char(static_cast<unsigned char>(head[j]))) return "invalid character in field value";
        }
        if (out.size() == max_headers) {
            status = 431;
            return "too many header fields";
        }
        std::size_t vb = i + 1;
        std::size_t ve = eol;
        while (vb < ve && (head[vb] == ' ' || head[vb] == '\t')) ++vb;
        while (ve > vb && (head[ve - 1] == ' ' || head[ve - 1] == '\t')) --ve;
        out.add({static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(i - at), static_cast<std::uint32_t>(vb),
                 static_cast<std::uint32_t>(ve - vb)});
        at = eol + 2;
    }
    return nullptr;
}

/// The Content-Length of `f`: every value (and every list element) must agree.
/// Returns nullptr or the reason.
const char* content_length_of(const fields& f, std::optional<std::uint64_t>& out) {
    const char* problem = nullptr;
    for (std::size_t i = 0; i < f.size() && !problem; ++i) {
        const auto field = f[i];
        if (!iequals(field.name, "content-length")) continue;
        if (field.value.empty()) return "empty Content-Length";
        for_each_token(field.value, [&](std::string_view token) {
            std::uint64_t n = 0;
            if (!parse_decimal(token, n)) problem = "Content-Length is not a number";
            else if (out && *out != n) problem = "differing Content-Length values";
            else out = n;
        });
    }
    return problem;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool percent_decode(std::string_view text, std::string& out, bool plus_as_space) {
    out.clear();
    out.reserve(text.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return false;
            const int hi = hex(text[i + 1]);
            const int lo = hex(text[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_as_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

std::optional<std::string_view> fields::find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < spans_.size(); ++i) {
        const field f = (*this)[i];
        if (iequals(f.name, name)) return f.value;
    }
    return std::nullopt;
}

std::size_t fields::count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < spans_.size(); ++i) n += iequals((*this)[i].name, name) ? 1 : 0;
    return n;
}

bool fields::contains(std::string_view name, std::string_view token) const noexcept {
    bool found = false;
    for (std::size_t i = 0; i < spans_.size() && !found; ++i) {
        const field f = (*this)[i];
        if (!iequals(f.name, name)) continue;
        for_each_token(f.value, [&](std::string_view t) { found = found || iequals(t, token); });
    }
    return found;
}

std::string_view request_head::path() const noexcept {
    const std::string_view t = target();
    return t.substr(0, t.find('?'));
}

std::string_view request_head::query() const noexcept {
    const std::string_view t = target();
    const std::size_t q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

// --- request_parser ------------------------------------------------------------

parse_result request_parser::parse(std::span<const char> bytes, request_head& head) {
    const std::string_view in{bytes.data(), bytes.size()};
    scan_state& s = scan_;
    while (s.scanned < in.size()) {
        const std::size_t lf = in.find('\n', s.scanned);
        if (lf == std::string_view::npos) {
            s.scanned = in.size();
            break;
        }
        s.scanned = lf + 1;
        if (lf == s.line_start || in[lf - 1] != '\r') return fail(400, "bare LF");
        const std::size_t length = lf + 1 - s.line_start;  // with CRLF
        if (length == 2) {
            if (s.lines == 0) {  // an empty line before the request line: skipped
                if (s.line_start - s.head_start >= 8) return fail(400, "too many empty lines before the request");
                s.line_start = s.head_start = lf + 1;
                continue;
            }
            return parse_complete(in.substr(0, lf + 1), s.head_start, head);
        }
        if (s.lines == 0 && length > limits_.max_request_line) return fail(414, "request line too long");
        ++s.lines;
        if (s.lines > limits_.max_headers + 1) return fail(431, "too many header fields");
        if (lf + 1 - s.head_start > limits_.max_header_bytes) return fail(431, "header block too large");
        s.line_start = lf + 1;
    }
    if (s.lines == 0 && in.size() - s.line_start > limits_.max_request_line) {
        return fail(414, "request line too long");
    }
    if (in.size() - s.head_start > limits_.max_header_bytes) return fail(431, "header block too large");
    return {};
}

parse_result request_parser::parse_complete(std::string_view head, std::size_t start, request_head& out) const {
    if (head.size() - start > limits_.max_header_bytes) return fail(431, "header block too large");
    out.fields_.clear();
    out.fields_.rebase(head.data());
    // request-line = method SP request-target SP HTTP-version CRLF
    std::size_t i = start;
    while (i < head.size() && is_tchar(static_cast<unsigned char>(head[i]))) ++i;
    if (i == start || head[i] != ' ') return fail(400, "malformed method");
    out.method_ = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(i - start)};
    const std::size_t target_at = ++i;
    while (i < head.size() && is_target_char(static_cast<unsigned char>(head[i]))) ++i;
    if (i == target_at || head[i] != ' ') return fail(400, "malformed request target");
    out.target_ = {static_cast<std::uint32_t>(target_at), static_cast<std::uint32_t>(i - target_at)};
    const std::string_view version = head.substr(i + 1, 10);  // "HTTP/1.1\r\n"
    if (version.size() < 10 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[8] != '\r' ||
        version[9] != '\n' || version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        return fail(400, "malformed HTTP version");
    }
    if (version[5] != '1') return fail(505, "HTTP version not supported");
    out.minor_ = version[7] == '0' ? 0 : 1;
    if (head[target_at] != '/' && head.substr(start, target_at - 1 - start) != "OPTIONS" &&
        head.substr(start, target_at - 1 - start) != "CONNECT" && head.substr(target_at, 7) != "http://" &&
        head.substr(target_at, 8) != "https://") {
        return fail(400, "malformed request target");
    }

    int status = 400;
    if (const char* why = parse_fields(head, i + 11, head.size(), out.fields_, limits_.max_headers, status)) {
        return fail(status, why);
    }
    const fields& f = out.fields_;
    if (out.minor_ == 1 && f.count("host") != 1) return fail(400, f.count("host") ? "repeated Host" : "missing Host");
    if (out.minor_ == 0 && f.count("host") > 1) return fail(400, "repeated Host");

    std::optional<std::uint64_t> length;
    if (const char* why = content_length_of(f, length)) return fail(400, why);
    const std::size_t te_fields = f.count("transfer-encoding");
    out.framing_ = body_framing::none;
    out.content_length_ = 0;
    if (te_fields > 0) {
        if (length) return fail(400, "Transfer-Encoding together with Content-Length");
        if (out.minor_ == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        std::string_view last;
        std::size_t chunked = 0;
        bool other = false;
        for (std::size_t k = 0; k < f.size(); ++k) {
            if (!iequals(f[k].name, "transfer-encoding")) continue;
            for_each_token(f[k].value, [&](std::string_view token) {
                last = token;
                if (iequals(token, "chunked")) ++chunked;
                else other = true;
            });
        }
        if (!iequals(last, "chunked")) return fail(400, "Transfer-Encoding whose last coding is not chunked");
        if (chunked > 1) return fail(400, "chunked applied more than once");
        if (other) return fail(501, "unsupported transfer coding");
        out.framing_ = body_framing::chunked;
    } else if (length) {
        if (*length > limits_.max_body) return fail(413, "Content-Length above the body limit");
        out.content_length_ = *length;
        out.framing_ = *length > 0 ? body_framing::length : body_framing::none;
    }
    out.keep_alive_ = out.minor_ == 1 ? !f.contains("connection", "close") : f.contains("connection", "keep-alive");
    out.expect_continue_ = false;
    if (auto expect = f.find("expect")) {
        if (!iequals(*expect, "100-continue")) return fail(417, "unsupported expectation");
        out.expect_continue_ = out.minor_ == 1;
    }
    return {.state = parse_state::complete, .consumed = head.size(), .status = 0, .reason = ""};
}

// --- response_parser -----------------------------------------------------------

parse_result response_parser::parse(std::span<const char> bytes, response_head& head, bool to_head_request) {
    const std::string_view in{bytes.data(), bytes.size()};
    std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    const std::size_t end = in.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
        scanned_ = in.size();
        if (in.size() > limits_.max_header_bytes) return fail(431, "response head too large");
        return {};
    }
    const std::string_view h = in.substr(0, end + 4);
    if (h.size() > limits_.max_header_bytes) return fail(431, "response head too large");
    // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
    if (h.size() < 14 || h.substr(0, 7) != "HTTP/1." || (h[7] != '0' && h[7] != '1') || h[8] != ' ') {
        return fail(400, "malformed status line");
    }
    int code = 0;
    for (std::size_t k = 9; k < 12; ++k) {
        if (h[k] < '0' || h[k] > '9') return fail(400, "malformed status code");
        code = code * 10 + (h[k] - '0');
    }
    if (code < 100 || code > 599) return fail(400, "status code out of range");
    const std::size_t eol = h.find("\r\n");
    if (eol != 12 && h[12] != ' ') return fail(400, "malformed status line");
    head.fields_.clear();
    head.fields_.rebase(h.data());
    head.status_ = code;
    head.minor_ = h[7] - '0';
    head.reason_at_ = eol > 13 ? 13 : static_cast<std::uint32_t>(eol);
    head.reason_size_ = static_cast<std::uint32_t>(eol - head.reason_at_);
    for (std::size_t k = head.reason_at_; k < eol; ++k) {
        if (!is_value_char(static_cast<unsigned char>(h[k]))) return fail(400, "invalid character in reason phrase");
    }
    int status = 400;
    if (const char* why = parse_fields(h, eol + 2, h.size(), head.fields_, limits_.max_headers, status)) {
        return fail(status, why);
    }
    const fields& f = head.fields_;
    std::optional<std::uint64_t> length;
    if (const char* why = content_length_of(f, length)) return fail(400, why);
    head.content_length_ = 0;
    if (to_head_request || code < 200 || code == 204 || code == 304) {
        head.framing_ = body_framing::none;
    } else if (f.count("transfer-encoding") > 0) {
        std::string_view last;
        for (std::size_t k = 0; k < f.size(); ++k) {
            if (iequals(f[k].name, "transfer-encoding")) for_each_token(f[k].value, [&](std::string_view t) { last = t; });
        }
        // RFC 9112 section 6.3: chunked last → chunked; otherwise read to close.
        head.framing_ = iequals(last, "chunked") ? body_framing::chunked : body_framing::until_close;
    } else if (length) {
        head.content_length_ = *length;
        head.framing_ = body_framing::length;
    } else {
        head.framing_ = body_framing::until_close;
    }
    head.keep_alive_ = head.minor_ == 1 ? !f.contains("connection", "close") : f.contains("connection", "keep-alive");
    if (head.framing_ == body_framing::until_close) head.keep_alive_ = false;
    scanned_ = 0;
    return {.state = parse_state::complete, .consumed = h.size(), .status = 0, .reason = ""};
}

// --- chunked_decoder -------------------------------------------------------------

chunked_decoder::step chunked_decoder::decode(std::span<const char> in) noexcept {
    step out;
    auto failed = [&](int status, const char* reason) {
        out.failed = true;
        out.status = status;
        out.reason = reason;
        return out;
    };
    std::size_t i = 0;
    while (i < in.size() && state_ != state::done) {
        const char c = in[i];
        switch (state_) {
            case state::size: {
                int digit = -1;
                if (c >= '0' && c <= '9') digit = c - '0';
                else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') digit = (c | 0x20) - 'a' + 10;
                if (digit >= 0) {
                    if (remaining_ > (UINT64_MAX >> 4)) return failed(400, "chunk size overflows");
                    remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
                    size_digits_ = true;
                } else if (!size_digits_) {
                    return failed(400, "malformed chunk size");
                } else if (c == ';' || c == ' ' || c == '\t') {
                    state_ = state::extension;
                } else if (c == '\r') {
                    state_ = state::size_lf;
                } else {
                    return failed(400, "malformed chunk size");
                }
                ++i;
                break;
            }
            case state::extension:
                if (c == '\r') state_ = state::size_lf;
                else if (c == '\n' || (!is_value_char(static_cast<unsigned char>(c)))) {
                    return failed(400, "malformed chunk extension");
                }
                ++i;
                break;
            case state::size_lf:
                if (c != '\n') return failed(400, "bare CR in chunk size line");
                ++i;
                if (remaining_ == 0) {
                    state_ = state::trailer_start;
                } else {
                    if (remaining_ > limits_.max_body - std::min(total_, limits_.max_body)) {
                        return failed(413, "chunked body above the body limit");
                    }
                    state_ = state::data;
                }
                size_digits_ = false;
                break;
            case state::data: {
                const std::size_t take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
                out.data = in.subspan(i, take);
                i += take;
                remaining_ -= take;
                total_ += take;
                if (remaining_ == 0) state_ = state::data_cr;
                out.consumed = i;
                return out;  // one piece of data per call
            }
            case state::data_cr:
                if (c != '\r') return failed(400, "chunk data longer than its size");
                state_ = state::data_lf;
                ++i;
                break;
            case state::data_lf:
                if (c != '\n') return failed(400, "bare CR after chunk data");
                state_ = state::size;
                ++i;
                break;
            case state::trailer_start:
                if (c == '\r') {
                    state_ = state::final_lf;
                } else {
                    if (++trailers_ > limits_.max_headers) return failed(431, "too many trailer fields");
                    state_ = state::trailer;
                }
                ++trailer_bytes_;
                ++i;
                break;
            case state::trailer:
                if (c == '\r') state_ = state::trailer_lf;
                else if (c == '\n') return failed(400, "bare LF in trailer");
                if (++trailer_bytes_ > limits_.max_header_bytes) return failed(431, "trailers too large");
                ++i;
                break;
            case state::trailer_lf:
                if (c != '\n') return failed(400, "bare CR in trailer");
                state_ = state::trailer_start;
                ++i;
                break;
            case state::final_lf:
                if (c != '\n') return failed(400, "bare CR at the end of the chunked body");
                state_ = state::done;
                ++i;
                break;
            case state::done: break;
        }
    }
    out.consumed = i;
    return out;
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

}  // namespace ringlet::http

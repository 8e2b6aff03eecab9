// Unit tests of the HTTP/1.1 parsers: request heads (limits and every
// request-smuggling shape of RFC 9112 section 6 and 11), response heads, the
// chunked decoder, percent-decoding.
#include <ringlet/http/parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace http = ringlet::http;

namespace {

std::span<const char> bytes(std::string_view s) { return {s.data(), s.size()}; }

struct parsed {
    http::parse_result result;
    http::request_head head;
};

parsed parse(std::string_view text, http::limits l = {}) {
    parsed out;
    http::request_parser p{l};
    out.result = p.parse(bytes(text), out.head);
    return out;
}

void expect_refused(std::string_view text, int status, std::string_view reason) {
    const parsed p = parse(text);
    EXPECT_EQ(p.result.state, http::parse_state::failed) << text;
    EXPECT_EQ(p.result.status, status) << text;
    EXPECT_EQ(std::string_view{p.result.reason}, reason) << text;
}

TEST(RequestParser, ParsesRequestLineAndFieldsAsViews) {
    const std::string text = "GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example\r\nX-Thing:  spaced value \t\r\n\r\nBODY";
    const parsed p = parse(text);
    ASSERT_EQ(p.result.state, http::parse_state::complete);
    EXPECT_EQ(p.result.consumed, text.size() - 4);
    EXPECT_EQ(p.head.method(), "GET");
    EXPECT_EQ(p.head.target(), "/a/b%20c?x=1&y=2");
    EXPECT_EQ(p.head.path(), "/a/b%20c");
    EXPECT_EQ(p.head.query(), "x=1&y=2");
    EXPECT_EQ(p.head.version_minor(), 1);
    ASSERT_EQ(p.head.headers().size(), 2u);
    EXPECT_EQ(p.head.header("HOST"), "example");
    EXPECT_EQ(p.head.header("x-thing"), "spaced value");
    EXPECT_EQ(p.head.header("missing"), std::nullopt);
    // Views point into the input, not into copies.
    EXPECT_EQ(p.head.method().data(), text.data());
    EXPECT_TRUE(p.head.keep_alive());
    EXPECT_EQ(p.head.framing(), http::body_framing::none);
}

TEST(RequestParser, IncrementalByteByByte) {
    const std::string text = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    http::request_parser p;
    http::request_head head;
    http::parse_result r;
    std::size_t n = 0;
    for (n = 1; n <= text.size(); ++n) {
        r = p.parse(bytes(std::string_view{text}.substr(0, n)), head);
        if (r.state != http::parse_state::incomplete) break;
    }
    ASSERT_EQ(r.state, http::parse_state::complete);
    EXPECT_EQ(n, text.size() - 5);
    EXPECT_EQ(r.consumed, text.size() - 5);
    EXPECT_EQ(head.framing(), http::body_framing::length);
    EXPECT_EQ(head.content_length(), 5u);
}

TEST(RequestParser, KeepAliveRules) {
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").head.keep_alive());
    EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive());
    EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive());
    EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, keep-alive\r\n\r\n").head.keep_alive());
}

TEST(RequestParser, SkipsEmptyLinesBeforeTheRequestLine) {
    const parsed p = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(p.result.state, http::parse_state::complete);
    EXPECT_EQ(p.head.method(), "GET");
    EXPECT_EQ(p.result.consumed, 4u + 27u);
}

TEST(RequestParser, ExpectContinueAndChunked) {
    const parsed p = parse("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n");
    ASSERT_EQ(p.result.state, http::parse_state::complete);
    EXPECT_TRUE(p.head.expects_continue());
    EXPECT_EQ(p.head.framing(), http::body_framing::chunked);
    expect_refused("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417, "unsupported expectation");
}

// --- limits -------------------------------------------------------------------------

TEST(RequestParser, RequestLineLimitIs414) {
    const std::string line = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
    expect_refused(line, 414, "request line too long");
    // Also before the line is complete.
    expect_refused(std::string_view{line}.substr(0, 8300), 414, "request line too long");
}

TEST(RequestParser, HeaderBlockLimitIs431) {
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 40; ++i) head += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
    expect_refused(head + "\r\n", 431, "header block too large");
}

TEST(RequestParser, HeaderCountLimitIs431) {
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 100; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
    expect_refused(head + "\r\n", 431, "too many header fields");
    http::limits small;
    small.max_headers = 2;
    const parsed p = parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n", small);
    EXPECT_EQ(p.result.state, http::parse_state::complete);
}

TEST(RequestParser, BodyLimitIs413) {
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", 413,
                   "Content-Length above the body limit");
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n").result.state,
              http::parse_state::complete);
}

// --- malformed input and request smuggling (RFC 9112 section 6 and 11) -------------

TEST(RequestSmuggling, TransferEncodingWithContentLength) {
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                   "Transfer-Encoding together with Content-Length");
}

TEST(RequestSmuggling, DifferingDuplicateContentLength) {
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", 400,
                   "differing Content-Length values");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 5\r\n\r\n", 400, "differing Content-Length values");
    // Identical duplicates are one value (RFC 9110 section 8.6).
    const parsed same = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n");
    EXPECT_EQ(same.result.state, http::parse_state::complete);
    EXPECT_EQ(same.head.content_length(), 4u);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\n", 400, "Content-Length is not a number");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
                   "Content-Length is not a number");
}

TEST(RequestSmuggling, TransferEncodingNotEndingInChunked) {
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
                   "Transfer-Encoding whose last coding is not chunked");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400,
                   "Transfer-Encoding whose last coding is not chunked");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                   "unsupported transfer coding");
    expect_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                   "Transfer-Encoding in an HTTP/1.0 request");
}

TEST(RequestSmuggling, ObsFold) {
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n", 400,
                   "obs-fold (a field line starting with whitespace)");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n", 400,
                   "obs-fold (a field line starting with whitespace)");
}

TEST(RequestSmuggling, WhitespaceBeforeColon) {
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n", 400,
                   "whitespace between field name and colon");
}

TEST(RequestSmuggling, BareCR) {
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400, "bare CR");
}

TEST(RequestSmuggling, BareLF) {
    expect_refused("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF");
    expect_refused("GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "bare LF");
}

TEST(RequestParser, MalformedInputIs400) {
    expect_refused("GET / HTTP/1.1\r\n\r\n", 400, "missing Host");
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "repeated Host");
    expect_refused("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed method");
    expect_refused("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target");
    expect_refused("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400, "malformed HTTP version");
    expect_refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP version not supported");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, "field line without a colon");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400, "empty field name");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", 400, "invalid character in field value");
    expect_refused("GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target");
}

// --- chunked ------------------------------------------------------------------------

std::string decode_all(http::chunked_decoder& d, std::string_view in, http::chunked_decoder::step& last,
                       std::size_t piece = 1 << 20) {
    std::string body;
    while (!in.empty() && !d.done()) {
        const std::string_view window = in.substr(0, piece);
        last = d.decode(bytes(window));
        if (last.failed) break;
        body.append(last.data.data(), last.data.size());
        in.remove_prefix(last.consumed);
    }
    return body;
}

TEST(ChunkedDecoder, DecodesWithExtensionsAndTrailers) {
    const std::string_view wire = "5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{1000}}) {
        http::chunked_decoder d;
        http::chunked_decoder::step last;
        std::string_view in = wire;
        std::string body;
        std::size_t used = 0;
        while (!d.done()) {
            last = d.decode(bytes(in.substr(0, piece)));
            ASSERT_FALSE(last.failed) << last.reason;
            body.append(last.data.data(), last.data.size());
            in.remove_prefix(last.consumed);
            used += last.consumed;
        }
        EXPECT_EQ(body, "hello world");
        EXPECT_EQ(used, wire.size() - 4) << "the decoder must stop at the end of the message";
        EXPECT_EQ(d.total(), 11u);
    }
}

TEST(ChunkedDecoder, RefusesOverflowAndMalformedSizes) {
    struct bad {
        std::string_view wire;
        int status;
        std::string_view reason;
    };
    for (const bad& b : {bad{"fffffffffffffffff\r\n", 400, "chunk size overflows"},
                         bad{"xyz\r\n", 400, "malformed chunk size"},
                         bad{"5\r\nhelloX\r\n", 400, "chunk data longer than its size"},
                         bad{"5\rhello", 400, "bare CR in chunk size line"},
                         bad{"0\r\nX: a\nb", 400, "bare LF in trailer"},
                         bad{"100001\r\n", 413, "chunked body above the body limit"}}) {
        http::chunked_decoder d;
        http::chunked_decoder::step last;
        (void)decode_all(d, b.wire, last);
        EXPECT_TRUE(last.failed) << b.wire;
        EXPECT_EQ(last.status, b.status) << b.wire;
        EXPECT_EQ(std::string_view{last.reason}, b.reason) << b.wire;
    }
}

// --- responses ------------------------------------------------------------------------

TEST(ResponseParser, FramingRules) {
    struct want {
        std::string_view wire;
        bool head_request;
        int status;
        http::body_framing framing;
        std::uint64_t length;
        bool keep_alive;
    };
    for (const want& w : {
             want{"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", false, 200, http::body_framing::length, 12, true},
             want{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 200, http::body_framing::chunked, 0,
                  true},
             want{"HTTP/1.1 200 OK\r\n\r\n", false, 200, http::body_framing::until_close, 0, false},
             want{"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", false, 204, http::body_framing::none, 0, true},
             want{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true, 200, http::body_framing::none, 0, true},
             want{"HTTP/1.1 100 Continue\r\n\r\n", false, 100, http::body_framing::none, 0, true},
             want{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, 200, http::body_framing::length, 1, false},
             want{"HTTP/1.1 404\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false, 404,
                  http::body_framing::length, 0, false},
         }) {
        http::response_parser p;
        http::response_head h;
        const auto r = p.parse(bytes(w.wire), h, w.head_request);
        ASSERT_EQ(r.state, http::parse_state::complete) << w.wire << r.reason;
        EXPECT_EQ(r.consumed, w.wire.size());
        EXPECT_EQ(h.status(), w.status) << w.wire;
        EXPECT_EQ(h.framing(), w.framing) << w.wire;
        EXPECT_EQ(h.content_length(), w.length) << w.wire;
        EXPECT_EQ(h.keep_alive(), w.keep_alive) << w.wire;
    }
}

TEST(ResponseParser, IncrementalAndErrors) {
    const std::string_view wire = "HTTP/1.1 200 Fine Thanks\r\nServer: x\r\n\r\n";
    http::response_parser p;
    http::response_head h;
    for (std::size_t n = 1; n < wire.size(); ++n) {
        EXPECT_EQ(p.parse(bytes(wire.substr(0, n)), h).state, http::parse_state::incomplete);
    }
    ASSERT_EQ(p.parse(bytes(wire), h).state, http::parse_state::complete);
    EXPECT_EQ(h.reason(), "Fine Thanks");
    EXPECT_EQ(h.header("server"), "x");
    http::response_parser q;
    EXPECT_EQ(q.parse(bytes("HTTP/1.1 2x0 OK\r\n\r\n"), h).state, http::parse_state::failed);
    http::response_parser c;
    EXPECT_EQ(c.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), h).state,
              http::parse_state::failed);
}

TEST(PercentDecode, DecodesAndRefusesBrokenEscapes) {
    std::string out;
    EXPECT_TRUE(http::percent_decode("/a%20b%2Fc", out));
    EXPECT_EQ(out, "/a b/c");
    EXPECT_TRUE(http::percent_decode("q=a+b", out, true));
    EXPECT_EQ(out, "q=a b");
    EXPECT_TRUE(http::percent_decode("q=a+b", out));
    EXPECT_EQ(out, "q=a+b");
    EXPECT_FALSE(http::percent_decode("%4", out));
    EXPECT_FALSE(http::percent_decode("%zz", out));
    EXPECT_TRUE(http::iequals("Content-LENGTH", "content-length"));
    EXPECT_FALSE(http::iequals("Content-Length", "Content-Lengt"));
}

TEST(ReasonPhrase, KnownAndUnknown) {
    EXPECT_EQ(http::reason_phrase(200), "OK");
    EXPECT_EQ(http::reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(http::reason_phrase(299), "Unknown");
}

}  // namespace

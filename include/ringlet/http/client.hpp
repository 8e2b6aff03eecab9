// The client side of HTTP/1.1: reading responses from any byte stream
// (tcp::stream, tls::stream, local::stream).
//
//     co_await conn.write_all("GET / HTTP/1.1\r\nHost: example\r\n\r\n");
//     http::response_reader<tcp::stream> in{conn};
//     auto head = co_await in.read_head();              // result<const http::response_head*>
//     if (!head) ...;                                    // (*head)->status(), ->header("Content-Type")
//     for (;;) {
//         auto piece = co_await in.read_body_some();    // result<std::string_view>, empty at the end
//         if (!piece || piece->empty()) break;
//         consume(*piece);
//     }
//
// Bodies are delimited by Content-Length, by the chunked coding (decoded;
// trailers dropped) or by the end of the connection, and never read past:
// the next response on a keep-alive connection starts where this one ended.
// Interim 1xx responses (100 Continue, ...) are skipped by read_head.
// Load generators that keep their own buffers use response_parser and
// chunked_decoder (parser.hpp) directly.
//
// Errors: std::errc::bad_message for a malformed response (the message is
// in last_error_reason()), errc::message_too_long for a head above
// limits.max_header_bytes, errc::end_of_stream when the connection ends
// before the head or a delimited body does, and the stream's errors
// (errc::timed_out, errc::operation_canceled, ...).
//
// Thread safety: one task reads through a reader at a time.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/http/parser.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ringlet::http {

template <class Stream>
class response_reader {
public:
    /// Reads from `source` (which must outlive the reader), `read_size` bytes at a time.
    explicit response_reader(Stream& source, http::limits l = {}, std::size_t read_size = 16 * 1024)
        : stream_(&source), parser_(l), decoder_(l), limits_(l), read_size_(read_size ? read_size : 1) {}

    /// Reads the next final response's status line and headers (skipping 1xx
    /// responses). `to_head_request`: the response has no body. The head lives
    /// until the next read_head. The timeout covers the whole call. Errors: see
    /// the file comment.
    [[nodiscard]] task<result<const response_head*>> read_head(bool to_head_request = false, timeout limit = {}) {
        const timeout until = limit.is_set() ? timeout{limit.deadline()} : limit;
        for (;;) {
            parser_.reset();
            for (;;) {
                const auto r = parser_.parse(unread(), head_, to_head_request);
                if (r.state == parse_state::complete) {
                    head_bytes_.assign(buffer_.data() + begin_, r.consumed);  // so that body reads may move the buffer
                    head_.rebase(head_bytes_.data());
                    begin_ += r.consumed;
                    break;
                }
                if (r.state == parse_state::failed) co_return fail(r.status == 431, r.reason);
                auto n = co_await fill(until);
                if (!n) co_return unexpected{n.error()};
                if (*n == 0) co_return unexpected{errc::end_of_stream};
            }
            if (head_.status() >= 200 || head_.status() == 101) break;
        }
        decoder_.reset();
        left_ = head_.content_length();
        body_done_ = head_.framing() == body_framing::none ||
                     (head_.framing() == body_framing::length && left_ == 0);
        co_return &head_;
    }

    /// The next bytes of the current body (a view valid until the next call);
    /// empty at its end. Errors: see the file comment.
    [[nodiscard]] task<result<std::string_view>> read_body_some(timeout limit = {}) {
        const timeout until = limit.is_set() ? timeout{limit.deadline()} : limit;
        while (!body_done_) {
            if (begin_ == end_) {
                auto n = co_await fill(until);
                if (!n) co_return unexpected{n.error()};
                if (*n == 0) {
                    body_done_ = true;
                    if (head_.framing() == body_framing::until_close) break;
                    co_return unexpected{errc::end_of_stream};
                }
            }
            const std::span<const char> in = unread();
            if (head_.framing() == body_framing::length) {
                const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size()));
                begin_ += n;
                left_ -= n;
                body_done_ = left_ == 0;
                co_return std::string_view{in.data(), n};
            }
            if (head_.framing() == body_framing::until_close) {
                begin_ = end_;
                co_return std::string_view{in.data(), in.size()};
            }
            const auto step = decoder_.decode(in);
            if (step.failed) co_return fail(false, step.reason);
            begin_ += step.consumed;
            body_done_ = decoder_.done();
            if (!step.data.empty()) co_return std::string_view{step.data.data(), step.data.size()};
        }
        co_return std::string_view{};
    }

    /// The whole current body, at most `max_bytes` (errc::message_too_long above).
    [[nodiscard]] task<result<std::string>> read_body(std::size_t max_bytes, timeout limit = {}) {
        const timeout until = limit.is_set() ? timeout{limit.deadline()} : limit;
        std::string body;
        for (;;) {
            auto piece = co_await read_body_some(until);
            if (!piece) co_return unexpected{piece.error()};
            if (piece->empty()) co_return body;
            if (body.size() + piece->size() > max_bytes) co_return unexpected{errc::message_too_long};
            body.append(*piece);
        }
    }

    /// The head of the last response read_head returned.
    [[nodiscard]] const response_head& head() const noexcept { return head_; }
    /// What was wrong with the last malformed response ("" when none was).
    [[nodiscard]] std::string_view last_error_reason() const noexcept { return reason_; }
    /// Bytes received past the current response (the next pipelined one's).
    [[nodiscard]] std::span<const char> buffered() const noexcept { return unread(); }

private:
    [[nodiscard]] std::span<const char> unread() const noexcept {
        return {buffer_.data() + begin_, end_ - begin_};
    }

    unexpected fail(bool too_long, const char* reason) {
        reason_ = reason;
        if (too_long) return unexpected{errc::message_too_long};
        return unexpected{std::make_error_code(std::errc::bad_message)};
    }

    /// Reads more bytes after the unread ones (moving them to the front and
    /// growing the buffer as needed). Yields the count, 0 at end of stream.
    task<result<std::size_t>> fill(timeout until) {
        if (begin_ == end_) begin_ = end_ = 0;
        if (buffer_.size() - end_ < read_size_) {
            if (begin_ > 0 && end_ > begin_) std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
            if (buffer_.size() - end_ < read_size_) buffer_.resize(end_ + read_size_);
        }
        auto n = co_await stream_->read_some(std::as_writable_bytes(std::span{buffer_}.subspan(end_)), until);
        if (!n) co_return unexpected{n.error()};
        end_ += *n;
        co_return *n;
    }

    Stream* stream_;
    response_parser parser_;
    chunked_decoder decoder_;
    http::limits limits_;
    std::size_t read_size_;
    response_head head_;
    std::string head_bytes_;
    std::vector<char> buffer_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::uint64_t left_ = 0;
    bool body_done_ = true;
    std::string_view reason_;
};

}  // namespace ringlet::http

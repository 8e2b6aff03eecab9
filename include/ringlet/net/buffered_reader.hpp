// net::buffered_reader: line- and delimiter-oriented reading over any byte
// stream, without ever losing the bytes that arrive past a delimiter.
//
//     net::buffered_reader in{conn};
//     while (true) {
//         auto line = co_await in.read_line(8192, 30s);   // result<std::string>
//         if (!line) break;                                // end_of_stream, message_too_long, ...
//         ...
//     }
//
// Reads go into the reader's buffer; read_until / read_line return one
// delimited piece and keep the rest for the next call. read_some and
// read_exact drain the buffer before touching the stream, so line-based and
// binary reads can be mixed. Once a reader is in use, read through it only:
// bytes it has buffered are no longer in the socket.
//
// One named reader per stream, for as long as the stream is read. A reader
// reads ahead: "a\nb\n" arriving in one segment is one read_some, and after
// read_line yields "a" the "b\n" is in the reader's buffer, not the socket.
// A reader made per call — `co_await net::buffered_reader{s}.read_line(…)` —
// would take "b\n" with it when it is destroyed, and the next line would
// never arrive. So the reading operations are for named readers only: on a
// temporary they are deleted and that line does not compile.
//
// Limits: every delimited read has a maximum length, so a peer cannot make the
// buffer grow without bound; the buffer never holds much more than that
// maximum plus one read's worth.
//
// Stream requirements: `s.read_some(std::span<std::byte>, timeout)` awaitable,
// yielding result<std::size_t> with 0 at end of stream (net::stream,
// tcp::stream, local::stream, and later TLS streams).
//
// Thread safety: one task reads through a reader at a time.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlet::net {

namespace detail {

/// The buffer behind buffered_reader: the unread bytes are [begin_, end_).
class read_buffer {
public:
    explicit read_buffer(std::size_t read_size) noexcept : read_size_(read_size ? read_size : 1) {}

    [[nodiscard]] std::span<const std::byte> data() const noexcept {
        return std::span<const std::byte>{bytes_}.subspan(begin_, end_ - begin_);
    }
    [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
    void consume(std::size_t n) noexcept;
    /// Writable space for the next read: at least one read's worth, at most
    /// `at_most` bytes (when non-zero). Compacts or grows the storage.
    [[nodiscard]] std::span<std::byte> prepare(std::size_t at_most);
    void commit(std::size_t n) noexcept { end_ += n; }
    /// Puts `bytes` back in front of the unread data.
    void unread(std::span<const std::byte> bytes);
    /// Copies up to out.size() unread bytes into `out` and consumes them.
    std::size_t take(std::span<std::byte> out) noexcept;
    /// Offset of `delimiter` in the unread data at or after `from`, or npos.
    [[nodiscard]] std::size_t find(std::string_view delimiter, std::size_t from) const noexcept;
    /// The first `n` unread bytes as a string, consumed.
    [[nodiscard]] std::string take_string(std::size_t n);

private:
    std::vector<std::byte> bytes_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t read_size_;
};

}  // namespace detail

template <class Stream>
class buffered_reader {
public:
    /// Reads through `source`, which must outlive the reader; each read from
    /// the stream asks for up to `read_size` bytes.
    explicit buffered_reader(Stream& source, std::size_t read_size = 8192) noexcept
        : stream_(&source), buffer_(read_size) {}

    /// Yields the bytes up to and including the first `delimiter`, which must
    /// end within the first `max_length` bytes.
    /// Errors: errc::message_too_long when it does not (nothing is consumed:
    /// the bytes stay buffered; consume() them or close the stream);
    /// errc::end_of_stream when the stream ends first (nothing is consumed);
    /// errc::invalid_argument for an empty delimiter; and the stream's errors.
    /// The timeout covers the whole call.
    [[nodiscard]] task<result<std::string>> read_until(std::string_view delimiter, std::size_t max_length,
                                                       timeout limit = {}) & {
        co_return co_await scan(delimiter, max_length, as_deadline(limit), false);
    }

    /// Yields one line without its "\n" or "\r\n". A last line that the
    /// stream ends without a newline is returned too; errc::end_of_stream
    /// comes only when nothing is left. `max_length` counts the terminator.
    /// Errors: as read_until.
    [[nodiscard]] task<result<std::string>> read_line(std::size_t max_length, timeout limit = {}) & {
        auto line = co_await scan("\n", max_length, as_deadline(limit), true);
        if (line && !line->empty() && line->back() == '\n') {
            line->pop_back();
            if (!line->empty() && line->back() == '\r') line->pop_back();
        }
        co_return line;
    }

    /// Like Stream::read_some, served from the buffer first.
    [[nodiscard]] task<result<std::size_t>> read_some(std::span<std::byte> out, timeout limit = {}) & {
        if (buffer_.size() > 0 || out.empty()) co_return buffer_.take(out);
        co_return co_await stream_->read_some(out, limit);
    }

    /// Fills `out` completely, from the buffer first. On any error nothing is
    /// consumed: what was read so far is put back into the buffer, so the call
    /// can be retried (e.g. after errc::timed_out). Errors: errc::end_of_stream
    /// when the stream ends first, and the stream's errors.
    [[nodiscard]] task<result<void>> read_exact(std::span<std::byte> out, timeout limit = {}) & {
        const timeout until = as_deadline(limit);
        std::size_t done = buffer_.take(out);
        while (done < out.size()) {
            auto n = co_await stream_->read_some(out.subspan(done), until);
            if (!n || *n == 0) {
                buffer_.unread(out.first(done));
                if (!n) co_return unexpected{n.error()};
                co_return unexpected{errc::end_of_stream};
            }
            done += *n;
        }
        co_return result<void>{};
    }

    // On a temporary reader the bytes read past what is returned would be
    // lost with it (see the file comment): name the reader.
    task<result<std::string>> read_until(std::string_view, std::size_t, timeout = {}) && = delete;
    task<result<std::string>> read_line(std::size_t, timeout = {}) && = delete;
    task<result<std::size_t>> read_some(std::span<std::byte>, timeout = {}) && = delete;
    task<result<void>> read_exact(std::span<std::byte>, timeout = {}) && = delete;

    /// The bytes read from the stream and not yet returned.
    [[nodiscard]] std::span<const std::byte> buffered() const noexcept { return buffer_.data(); }
    /// Drops the first `n` buffered bytes (at most buffered().size()).
    void consume(std::size_t n) noexcept { buffer_.consume(n); }
    [[nodiscard]] Stream& stream() noexcept { return *stream_; }

private:
    static timeout as_deadline(timeout t) noexcept { return t.is_set() ? timeout{t.deadline()} : t; }

    task<result<std::string>> scan(std::string_view delimiter, std::size_t max_length, timeout until,
                                   bool eof_ends_piece) {
        if (delimiter.empty()) co_return unexpected{errc::invalid_argument};
        std::size_t searched = 0;  // offsets before this cannot start a match
        for (;;) {
            const std::size_t at = buffer_.find(delimiter, searched);
            if (at != npos) {
                const std::size_t length = at + delimiter.size();
                if (length > max_length) co_return unexpected{errc::message_too_long};
                co_return buffer_.take_string(length);
            }
            if (buffer_.size() >= max_length) co_return unexpected{errc::message_too_long};
            searched = buffer_.size() >= delimiter.size() ? buffer_.size() - delimiter.size() + 1 : 0;
            auto n = co_await stream_->read_some(buffer_.prepare(0), until);
            if (!n) co_return unexpected{n.error()};
            if (*n == 0) {
                if (eof_ends_piece && buffer_.size() > 0) co_return buffer_.take_string(buffer_.size());
                co_return unexpected{errc::end_of_stream};
            }
            buffer_.commit(*n);
        }
    }

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    Stream* stream_;
    detail::read_buffer buffer_;
};

}  // namespace ringlet::net

// resp::reply_writer: RESP2 replies appended to one buffer, so that the
// replies to every command of one pipelined read leave in one write.
//
//     resp::reply_writer out;
//     out.simple("OK");            // +OK\r\n
//     out.bulk(value);             // $5\r\nhello\r\n
//     out.null();                  // $-1\r\n
//     out.array(2); out.integer(1); out.error("ERR syntax error");
//     co_await conn.write_all(out.view());
//     out.clear();                 // keeps the capacity for the next batch
//
// Thread safety: none; one writer per connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringlet::resp {

/// Appends RESP2 replies to a buffer it owns (see the file comment).
class reply_writer {
public:
    /// `+text\r\n`. CR and LF in `text` become spaces (they would end the line).
    void simple(std::string_view text);
    /// `-text\r\n`; `text` starts with the error code ("ERR ...", "WRONGTYPE
    /// ...", "OOM ..."). CR and LF become spaces, as Redis does.
    void error(std::string_view text);
    /// `:n\r\n`.
    void integer(long long n);
    /// `$len\r\nbytes\r\n`: any bytes.
    void bulk(std::string_view bytes);
    /// The null bulk string, `$-1\r\n` (a missing key).
    void null();
    /// The null array, `*-1\r\n`.
    void null_array();
    /// `*count\r\n`: the header of an array whose `count` elements follow.
    void array(std::size_t count);
    /// Appends bytes that are already RESP (a reply formatted elsewhere).
    void raw(std::string_view resp) { buffer_.append(resp); }

    /// Everything written since the last clear().
    [[nodiscard]] std::string_view view() const noexcept { return buffer_; }
    [[nodiscard]] std::size_t size() const noexcept { return buffer_.size(); }
    [[nodiscard]] bool empty() const noexcept { return buffer_.empty(); }
    /// Empties the buffer and keeps its capacity, up to `keep` bytes (a
    /// larger buffer, left by one large reply, is given back).
    void clear(std::size_t keep = 1024 * 1024);
    /// The buffer itself, for callers that format into it directly.
    [[nodiscard]] std::string& buffer() noexcept { return buffer_; }

private:
    void line(char type, std::string_view text);
    void number_line(char type, long long n);

    std::string buffer_;
};

}  // namespace ringlet::resp

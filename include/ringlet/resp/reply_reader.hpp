// resp::reply_reader: the client side of RESP2 — parses the replies a Redis
// server sends (simple string, error, integer, bulk string, null, array,
// nested), for clients and the load generator.
//
//     resp::reply_reader reader;
//     auto status = reader.parse(pending);          // one reply at the start
//     if (status == resp::parse_status::complete) {
//         const resp::reply& r = reader.value();    // views into `pending`
//         pending.remove_prefix(reader.consumed());
//     }
//     // Or only find where the next reply ends (no values built):
//     auto status = reader.frame(pending);          // then reader.consumed()
//
// A reply that is incomplete is scanned again from its start on the next
// call: the headers are re-read, bulk contents are skipped by their length,
// so the cost of waiting is proportional to the number of elements, not to
// the bytes.
//
// Errors (error() after parse_status::error): "Protocol error: ..." naming
// what was wrong — an unknown type byte, a bad length or integer, a missing
// CRLF after bulk data, an array deeper than max_depth or longer than
// max_elements, a bulk longer than max_bulk_length.
//
// Thread safety: none; one reader per connection.
#pragma once

#include <ringlet/resp/request_parser.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringlet::resp {

/// The type of a reply (RESP2's five, with the two nulls told apart).
enum class reply_kind : std::uint8_t { simple, error, integer, bulk, null, array, null_array };

/// One parsed reply. `text` is the simple string, the error (with its code:
/// "ERR ...") or the bulk's bytes; `integer` the integer or, for an array,
/// its element count; `elements` an array's elements.
struct reply {
    reply_kind kind = reply_kind::null;
    std::string_view text;
    long long integer = 0;
    std::vector<reply> elements;
};

/// Limits for replies; the defaults are Redis's request limits.
struct reply_reader_options {
    std::size_t max_bulk_length = std::size_t{512} * 1024 * 1024;
    std::size_t max_elements = 1024 * 1024;  ///< per array
    std::size_t max_depth = 64;             ///< nested arrays
    std::size_t max_line_length = 64 * 1024;
};

/// Parses RESP2 replies (see the file comment).
class reply_reader {
public:
    explicit reply_reader(reply_reader_options options = {}) : options_(options) {}

    /// Parses the reply at the start of `input` and builds value(). Yields
    /// complete, incomplete (call again with more bytes) or error.
    parse_status parse(std::string_view input);
    /// As parse(), but only finds the reply's end (consumed()); builds no value.
    parse_status frame(std::string_view input);

    /// The reply parse() completed: views into its input, valid while those bytes are.
    [[nodiscard]] const reply& value() const noexcept { return value_; }
    /// Bytes the completed reply took.
    [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }
    /// What was wrong after parse_status::error.
    [[nodiscard]] std::string_view error() const noexcept { return error_; }

private:
    parse_status walk(std::string_view input, std::size_t& pos, reply* into, std::size_t depth);
    parse_status fail(std::string message);

    reply_reader_options options_;
    reply value_;
    std::size_t consumed_ = 0;
    std::string error_;
};

}  // namespace ringlet::resp

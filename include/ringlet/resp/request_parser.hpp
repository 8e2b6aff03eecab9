// resp::request_parser: the server side of RESP2 (the Redis protocol) —
// commands as arrays of bulk strings, and inline commands as typed into
// telnet or `redis-cli` without a server, parsed incrementally with Redis's
// limits and error wordings.
//
//     resp::request_parser parser;
//     for (;;) {                                    // `pending`: unparsed bytes
//         auto status = parser.parse(pending);
//         if (status == resp::parse_status::incomplete) break;   // read more
//         if (status == resp::parse_status::error) {             // reply, then close
//             writer.error(parser.error());        // "ERR Protocol error: ..."
//             ...
//         }
//         execute(parser.arguments());             // views into `pending`
//         pending.remove_prefix(parser.consumed());
//     }
//
// Incremental: parse() is handed the bytes from the start of the command
// being parsed; when it answers `incomplete` it remembers how far it got (the
// array header and the arguments already complete), so the next call, with
// the same bytes and more behind them, resumes there instead of starting
// over. The buffer may move between calls (only offsets are remembered); its
// prefix must not change. The bytes of an argument are not copied: the views
// point into the input, except for inline commands with quotes or escapes,
// whose unescaped arguments live in the parser.
//
// As Redis (networking.c, processMultibulkBuffer / processInlineBuffer):
// - a command that starts with '*' is an array of bulk strings, anything
//   else an inline command: one line, split like sdssplitargs (spaces,
//   "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes'
//   with \' only; a closing quote must be followed by a space or the end);
// - `*0\r\n`, `*-1\r\n` and an empty inline line are complete commands with no
//   arguments, which a server skips;
// - the two bytes after a bulk string's data are skipped, not checked (Redis
//   does the same); header lines end at '\r' followed by any byte.
//
// Errors (error() after parse_status::error; reply with them and close):
//   "Protocol error: too big inline request"        inline line > max_inline_length
//   "Protocol error: unbalanced quotes in request"  inline quoting
//   "Protocol error: too big mbulk count string"    array header line > max_inline_length
//   "Protocol error: invalid multibulk length"      not a number, or > max_arguments
//   "Protocol error: too big bulk count string"     bulk header line > max_inline_length
//   "Protocol error: expected '$', got 'x'"         an array element that is not a bulk string
//   "Protocol error: invalid bulk length"           not a number, < 0 or > max_bulk_length
//
// Thread safety: none; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringlet::resp {

/// The limits of a request, as Redis has them.
struct parser_options {
    /// Longest bulk string (an argument): Redis's proto-max-bulk-len, 512 MiB.
    std::size_t max_bulk_length = std::size_t{512} * 1024 * 1024;
    /// Longest inline command line, and longest array or bulk header line:
    /// Redis's PROTO_INLINE_MAX_SIZE, 64 KiB.
    std::size_t max_inline_length = 64 * 1024;
    /// Most arguments in one command: 1,048,576 (Redis's limit for
    /// unauthenticated clients and before 6.0; later Redis allows INT_MAX).
    std::size_t max_arguments = 1024 * 1024;
};

/// What one parse() found.
enum class parse_status : std::uint8_t {
    complete,    ///< a whole command: arguments() and consumed() are set
    incomplete,  ///< needs more bytes; call again with the same bytes and more
    error,       ///< a protocol error: error() says which; the connection must close
};

/// Parses RESP2 requests (see the file comment). Move-only in spirit
/// (copying copies the scratch state); one per connection.
class request_parser {
public:
    explicit request_parser(parser_options options = {}) : options_(options) {}

    /// Parses the command at the start of `input`. Yields complete (then
    /// arguments() and consumed() describe it), incomplete (nothing to do
    /// until more bytes arrive; wanted() says how many at least), or error.
    /// After complete or error the next call starts a new command.
    parse_status parse(std::string_view input);

    /// The arguments of the command parse() just completed, the name first;
    /// empty for an empty command (skip it). Views into parse()'s input (or
    /// into the parser for unescaped inline arguments), valid until the next
    /// parse() or until the input's bytes change.
    [[nodiscard]] std::span<const std::string_view> arguments() const noexcept { return views_; }
    /// Bytes of the input the completed command took.
    [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }
    /// The protocol error after parse_status::error, e.g.
    /// "Protocol error: invalid bulk length" (reply "-ERR " + this).
    [[nodiscard]] std::string_view error() const noexcept { return error_; }
    /// After incomplete: the input size at which the next step can complete
    /// (the end of the bulk string being read), or input size + 1 when
    /// unknown. Lets a caller size its buffer for a large argument once.
    [[nodiscard]] std::size_t wanted() const noexcept { return wanted_; }
    /// Forgets a partly parsed command.
    void reset() noexcept;

    [[nodiscard]] const parser_options& options() const noexcept { return options_; }

private:
    parse_status parse_multibulk(std::string_view input);
    parse_status parse_inline(std::string_view input);
    parse_status fail(std::string message);
    void finish(std::string_view input, std::size_t consumed);

    parser_options options_;
    // State of a command that is not complete yet.
    bool in_command_ = false;
    std::size_t expected_ = 0;           // arguments the array header announced
    std::int64_t bulk_length_ = -1;      // length of the bulk being read; -1: its header is next
    std::size_t position_ = 0;           // where parsing resumes, from the start of the input
    std::vector<std::pair<std::size_t, std::size_t>> offsets_;  // complete arguments: offset, length
    // Results.
    std::vector<std::string_view> views_;
    std::string scratch_;  // unescaped inline arguments
    std::size_t consumed_ = 0;
    std::size_t wanted_ = 0;
    std::string error_;
};

/// Parses a whole decimal integer as Redis's string2ll does: an optional '-',
/// no '+', no spaces, no leading zeros ("0" itself is fine), within long
/// long. Nothing for anything else.
[[nodiscard]] std::optional<long long> parse_integer(std::string_view text) noexcept;

}  // namespace ringlet::resp

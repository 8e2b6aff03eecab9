// RESP2 request parsing, following Redis 7's networking.c
// (processMultibulkBuffer, processInlineBuffer) and sds.c (sdssplitargs,
// string2ll) so that what Redis accepts is accepted and what it refuses gets
// the same words.
//
// Design notes: an incomplete array keeps its progress as offsets (position_,
// offsets_), never pointers, so the caller may move or grow its buffer between
// calls; a command that arrives one byte at a time costs O(bytes) in all, not
// O(bytes²). Inline commands are rare (telnet, health checks) and short
// (64 KiB at most): they are re-split from the line start once the whole
// line is there, into scratch_, reserved to the line's length first so that
// the views into it stay valid while it fills.
#include <ringlet/resp/request_parser.hpp>

#include <cstring>
#include <limits>

namespace ringlet::resp {

std::optional<long long> parse_integer(std::string_view text) noexcept {
    if (text.empty() || text.size() > 20) return std::nullopt;
    if (text == "0") return 0;
    std::size_t i = 0;
    const bool negative = text[0] == '-';
    if (negative) i = 1;
    if (i == text.size() || text[i] < '1' || text[i] > '9') return std::nullopt;
    unsigned long long v = 0;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c < '0' || c > '9') return std::nullopt;
        const unsigned d = static_cast<unsigned>(c - '0');
        if (v > (std::numeric_limits<unsigned long long>::max() - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    constexpr auto max = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
    if (negative) {
        if (v > max + 1) return std::nullopt;
        return v == max + 1 ? std::numeric_limits<long long>::min() : -static_cast<long long>(v);
    }
    if (v > max) return std::nullopt;
    return static_cast<long long>(v);
}

void request_parser::reset() noexcept {
    in_command_ = false;
    expected_ = 0;
    bulk_length_ = -1;
    position_ = 0;
    offsets_.clear();
}

parse_status request_parser::fail(std::string message) {
    error_ = "Protocol error: " + std::move(message);
    reset();
    return parse_status::error;
}

void request_parser::finish(std::string_view input, std::size_t consumed) {
    views_.clear();
    for (auto [offset, length] : offsets_) views_.push_back(input.substr(offset, length));
    consumed_ = consumed;
    reset();
}

parse_status request_parser::parse(std::string_view input) {
    views_.clear();
    consumed_ = 0;
    wanted_ = input.size() + 1;
    if (input.empty()) return parse_status::incomplete;
    if (in_command_ || input[0] == '*') return parse_multibulk(input);
    return parse_inline(input);
}

parse_status request_parser::parse_multibulk(std::string_view input) {
    const auto line_end = [&](std::size_t from) -> std::size_t {
        const void* cr = std::memchr(input.data() + from, '\r', input.size() - from);
        return cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - input.data()) : std::string_view::npos;
    };
    if (!in_command_) {
        const std::size_t cr = line_end(1);
        if (cr == std::string_view::npos) {
            if (input.size() > options_.max_inline_length) return fail("too big mbulk count string");
            return parse_status::incomplete;
        }
        if (cr + 1 >= input.size()) return parse_status::incomplete;  // the '\n' is still to come
        const auto count = parse_integer(input.substr(1, cr - 1));
        if (!count || (*count > 0 && static_cast<unsigned long long>(*count) > options_.max_arguments)) {
            return fail("invalid multibulk length");
        }
        if (*count <= 0) {  // `*0`, `*-1`: an empty command
            finish(input, cr + 2);
            return parse_status::complete;
        }
        in_command_ = true;
        expected_ = static_cast<std::size_t>(*count);
        position_ = cr + 2;
        bulk_length_ = -1;
        offsets_.clear();
        // Reserve for short commands only: a header cannot make us allocate much.
        offsets_.reserve(expected_ < 64 ? expected_ : 64);
    }
    while (offsets_.size() < expected_) {
        if (bulk_length_ < 0) {
            if (position_ >= input.size()) return parse_status::incomplete;
            const std::size_t cr = line_end(position_);
            if (cr == std::string_view::npos) {
                if (input.size() - position_ > options_.max_inline_length) return fail("too big bulk count string");
                return parse_status::incomplete;
            }
            if (cr + 1 >= input.size()) return parse_status::incomplete;
            if (input[position_] != '$') {
                char got = input[position_];
                if (got == '\r' || got == '\n') got = ' ';  // as Redis's addReplyErrorFormat
                return fail(std::string("expected '$', got '") + got + "'");
            }
            const auto length = parse_integer(input.substr(position_ + 1, cr - position_ - 1));
            if (!length || *length < 0 || static_cast<unsigned long long>(*length) > options_.max_bulk_length) {
                return fail("invalid bulk length");
            }
            bulk_length_ = *length;
            position_ = cr + 2;
        }
        const std::size_t needed = position_ + static_cast<std::size_t>(bulk_length_) + 2;
        if (input.size() < needed) {
            wanted_ = needed;
            return parse_status::incomplete;
        }
        offsets_.emplace_back(position_, static_cast<std::size_t>(bulk_length_));
        position_ = needed;
        bulk_length_ = -1;
    }
    finish(input, position_);
    return parse_status::complete;
}

namespace {

bool is_space(char c) noexcept {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

}  // namespace

parse_status request_parser::parse_inline(std::string_view input) {
    const void* nl = std::memchr(input.data(), '\n', input.size());
    if (!nl) {
        if (input.size() > options_.max_inline_length) return fail("too big inline request");
        return parse_status::incomplete;
    }
    const auto newline = static_cast<std::size_t>(static_cast<const char*>(nl) - input.data());
    std::string_view line = input.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // sdssplitargs works on a C string: a NUL ends the line.
    if (auto nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);

    // sdssplitargs, with p[i] past the end reading as the NUL it would see.
    scratch_.clear();
    scratch_.reserve(line.size());
    views_.clear();
    const auto at = [&](std::size_t i) -> char { return i < line.size() ? line[i] : '\0'; };
    std::size_t p = 0;
    for (;;) {
        while (p < line.size() && is_space(line[p])) ++p;
        if (p >= line.size()) break;
        const std::size_t start = scratch_.size();
        bool in_double = false, in_single = false, done = false;
        while (!done) {
            const char c = at(p);
            if (in_double) {
                if (c == '\\' && at(p + 1) == 'x' && is_hex(at(p + 2)) && is_hex(at(p + 3))) {
                    scratch_.push_back(static_cast<char>(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3))));
                    p += 3;
                } else if (c == '\\' && at(p + 1) != '\0') {
                    ++p;
                    switch (at(p)) {
                    case 'n': scratch_.push_back('\n'); break;
                    case 'r': scratch_.push_back('\r'); break;
                    case 't': scratch_.push_back('\t'); break;
                    case 'b': scratch_.push_back('\b'); break;
                    case 'a': scratch_.push_back('\a'); break;
                    default: scratch_.push_back(at(p)); break;
                    }
                } else if (c == '"') {
                    if (at(p + 1) != '\0' && !is_space(at(p + 1))) return fail("unbalanced quotes in request");
                    done = true;
                } else if (c == '\0') {
                    return fail("unbalanced quotes in request");
                } else {
                    scratch_.push_back(c);
                }
            } else if (in_single) {
                if (c == '\\' && at(p + 1) == '\'') {
                    ++p;
                    scratch_.push_back('\'');
                } else if (c == '\'') {
                    if (at(p + 1) != '\0' && !is_space(at(p + 1))) return fail("unbalanced quotes in request");
                    done = true;
                } else if (c == '\0') {
                    return fail("unbalanced quotes in request");
                } else {
                    scratch_.push_back(c);
                }
            } else {
                switch (c) {
                case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
                case '"': in_double = true; break;
                case '\'': in_single = true; break;
                default: scratch_.push_back(c); break;
                }
            }
            if (at(p) != '\0') ++p;
        }
        views_.emplace_back(scratch_.data() + start, scratch_.size() - start);
    }
    consumed_ = newline + 1;
    reset();
    return parse_status::complete;
}

}  // namespace ringlet::resp

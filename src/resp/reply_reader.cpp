#include <ringlet/resp/reply_reader.hpp>

#include <cstring>

namespace ringlet::resp {

parse_status reply_reader::fail(std::string message) {
    error_ = "Protocol error: " + std::move(message);
    return parse_status::error;
}

parse_status reply_reader::parse(std::string_view input) {
    consumed_ = 0;
    value_ = reply{};
    std::size_t pos = 0;
    const auto status = walk(input, pos, &value_, 0);
    if (status == parse_status::complete) consumed_ = pos;
    return status;
}

parse_status reply_reader::frame(std::string_view input) {
    consumed_ = 0;
    std::size_t pos = 0;
    const auto status = walk(input, pos, nullptr, 0);
    if (status == parse_status::complete) consumed_ = pos;
    return status;
}

parse_status reply_reader::walk(std::string_view input, std::size_t& pos, reply* into, std::size_t depth) {
    if (pos >= input.size()) return parse_status::incomplete;
    const void* cr = std::memchr(input.data() + pos, '\r', input.size() - pos);
    if (!cr) {
        if (input.size() - pos > options_.max_line_length) return fail("reply line too long");
        return parse_status::incomplete;
    }
    const auto end = static_cast<std::size_t>(static_cast<const char*>(cr) - input.data());
    if (end + 1 >= input.size()) return parse_status::incomplete;
    if (input[end + 1] != '\n') return fail("expected CRLF after a reply line");
    const char type = input[pos];
    const std::string_view text = input.substr(pos + 1, end - pos - 1);
    const std::size_t next = end + 2;
    switch (type) {
    case '+':
    case '-':
        if (into) {
            into->kind = type == '+' ? reply_kind::simple : reply_kind::error;
            into->text = text;
        }
        pos = next;
        return parse_status::complete;
    case ':': {
        const auto n = parse_integer(text);
        if (!n) return fail("invalid integer reply '" + std::string(text.substr(0, 32)) + "'");
        if (into) {
            into->kind = reply_kind::integer;
            into->integer = *n;
        }
        pos = next;
        return parse_status::complete;
    }
    case '$': {
        const auto n = parse_integer(text);
        if (!n || *n < -1 || (*n >= 0 && static_cast<unsigned long long>(*n) > options_.max_bulk_length)) {
            return fail("invalid bulk length");
        }
        if (*n == -1) {
            if (into) into->kind = reply_kind::null;
            pos = next;
            return parse_status::complete;
        }
        const std::size_t length = static_cast<std::size_t>(*n);
        if (input.size() - next < length + 2) return parse_status::incomplete;
        if (input[next + length] != '\r' || input[next + length + 1] != '\n') {
            return fail("expected CRLF after bulk data");
        }
        if (into) {
            into->kind = reply_kind::bulk;
            into->text = input.substr(next, length);
        }
        pos = next + length + 2;
        return parse_status::complete;
    }
    case '*': {
        const auto n = parse_integer(text);
        if (!n || *n < -1 || (*n >= 0 && static_cast<unsigned long long>(*n) > options_.max_elements)) {
            return fail("invalid multibulk length");
        }
        if (*n == -1) {
            if (into) into->kind = reply_kind::null_array;
            pos = next;
            return parse_status::complete;
        }
        if (depth + 1 > options_.max_depth) return fail("arrays nested too deeply");
        const std::size_t count = static_cast<std::size_t>(*n);
        if (into) {
            into->kind = reply_kind::array;
            into->integer = *n;
            into->elements.clear();
        }
        std::size_t at = next;
        for (std::size_t i = 0; i < count; ++i) {
            reply* element = nullptr;
            if (into) element = &into->elements.emplace_back();
            const auto status = walk(input, at, element, depth + 1);
            if (status != parse_status::complete) return status;
        }
        pos = at;
        return parse_status::complete;
    }
    default: {
        char got = type;
        if (got == '\r' || got == '\n') got = ' ';
        return fail(std::string("unknown reply type '") + got + "'");
    }
    }
}

}  // namespace ringlet::resp

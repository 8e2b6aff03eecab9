#include <ringlet/resp/reply_writer.hpp>

#include <charconv>

namespace ringlet::resp {

void reply_writer::line(char type, std::string_view text) {
    const std::size_t start = buffer_.size();
    buffer_.reserve(start + text.size() + 3);
    buffer_.push_back(type);
    buffer_.append(text);
    for (std::size_t i = start + 1; i < buffer_.size(); ++i) {
        if (buffer_[i] == '\r' || buffer_[i] == '\n') buffer_[i] = ' ';
    }
    buffer_.append("\r\n", 2);
}

void reply_writer::number_line(char type, long long n) {
    char digits[24];
    digits[0] = type;
    auto [end, ec] = std::to_chars(digits + 1, digits + sizeof digits - 2, n);
    (void)ec;  // 20 digits and a sign always fit
    *end++ = '\r';
    *end++ = '\n';
    buffer_.append(digits, static_cast<std::size_t>(end - digits));
}

void reply_writer::simple(std::string_view text) { line('+', text); }
void reply_writer::error(std::string_view text) { line('-', text); }
void reply_writer::integer(long long n) { number_line(':', n); }

void reply_writer::bulk(std::string_view bytes) {
    number_line('$', static_cast<long long>(bytes.size()));
    buffer_.append(bytes);
    buffer_.append("\r\n", 2);
}

void reply_writer::null() { buffer_.append("$-1\r\n", 5); }
void reply_writer::null_array() { buffer_.append("*-1\r\n", 5); }
void reply_writer::array(std::size_t count) { number_line('*', static_cast<long long>(count)); }

void reply_writer::clear(std::size_t keep) {
    if (buffer_.capacity() > keep) {
        std::string{}.swap(buffer_);
    } else {
        buffer_.clear();
    }
}

}  // namespace ringlet::resp

// The byte buffer behind net::buffered_reader.
//
// Design notes: one contiguous vector; unread bytes are [begin_, end_). Space
// for the next read is made by sliding the unread bytes to the front when
// that frees enough room, and by growing only when the unread bytes
// themselves need it — which the reader bounds by its maximum line length.
#include <ringlet/net/buffered_reader.hpp>

#include <algorithm>
#include <cstring>

namespace ringlet::net::detail {

void read_buffer::consume(std::size_t n) noexcept {
    begin_ += std::min(n, size());
    if (begin_ == end_) begin_ = end_ = 0;
}

std::span<std::byte> read_buffer::prepare(std::size_t at_most) {
    if (bytes_.size() - end_ < read_size_ && begin_ > 0) {
        std::memmove(bytes_.data(), bytes_.data() + begin_, size());
        end_ -= begin_;
        begin_ = 0;
    }
    if (bytes_.size() - end_ < read_size_) bytes_.resize(end_ + read_size_);
    std::span<std::byte> space = std::span{bytes_}.subspan(end_);
    if (at_most != 0 && space.size() > at_most) space = space.first(at_most);
    return space;
}

void read_buffer::unread(std::span<const std::byte> bytes) {
    if (bytes.empty()) return;
    if (begin_ >= bytes.size()) {
        begin_ -= bytes.size();
        std::memcpy(bytes_.data() + begin_, bytes.data(), bytes.size());
        return;
    }
    std::vector<std::byte> joined;
    joined.reserve(bytes.size() + size() + read_size_);
    joined.insert(joined.end(), bytes.begin(), bytes.end());
    joined.insert(joined.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(begin_),
                  bytes_.begin() + static_cast<std::ptrdiff_t>(end_));
    end_ = joined.size();
    begin_ = 0;
    bytes_ = std::move(joined);
}

std::size_t read_buffer::take(std::span<std::byte> out) noexcept {
    const std::size_t n = std::min(out.size(), size());
    if (n > 0) std::memcpy(out.data(), bytes_.data() + begin_, n);
    consume(n);
    return n;
}

std::size_t read_buffer::find(std::string_view delimiter, std::size_t from) const noexcept {
    const std::string_view unread{reinterpret_cast<const char*>(bytes_.data()) + begin_, size()};
    const std::size_t at = unread.find(delimiter, from);
    return at == std::string_view::npos ? static_cast<std::size_t>(-1) : at;
}

std::string read_buffer::take_string(std::size_t n) {
    n = std::min(n, size());
    std::string out(reinterpret_cast<const char*>(bytes_.data()) + begin_, n);
    consume(n);
    return out;
}

}  // namespace ringlet::net::detail

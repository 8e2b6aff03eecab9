// net::datagram_socket: single-datagram operations, the receive_batch()
// receiver's lifetime, and close.
//
// Design notes
// - The receiver lives on the heap and is created by the first
//   receive_batch(), so a socket that never batches pays nothing, and the
//   handle stays movable while the kernel holds a pointer to the receiver's
//   operation.
// - The receiver's operation does not count itself in the net::socket (it is
//   not a socket_op): close() ends it first, then closes the socket like any
//   other. A socket destroyed while the operation is armed orphans the
//   receiver, whose last completion frees it (see abandon()).
#include "net/datagram_receiver.hpp"

#include <ringlet/net/datagram.hpp>

#include <utility>

namespace ringlet::net {
namespace {

std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::span<std::byte> as_writable_bytes(std::span<char> s) noexcept {
    return {reinterpret_cast<std::byte*>(s.data()), s.size()};
}

bool valid(const batch_options& o) noexcept {
    const bool power_of_two = o.buffers != 0 && (o.buffers & (o.buffers - 1)) == 0;
    return power_of_two && o.buffers <= 32768 && o.max_datagram_size > 0 && o.max_datagram_size <= 65535 &&
           o.max_batch > 0;
}

}  // namespace

datagram_socket::datagram_socket(datagram_socket&& other) noexcept
    : socket_(std::move(other.socket_)),
      receiver_(std::exchange(other.receiver_, nullptr)),
      send_slots_(std::exchange(other.send_slots_, nullptr)),
      batch_options_(other.batch_options_),
      receiver_error_(other.receiver_error_) {}

datagram_socket& datagram_socket::operator=(datagram_socket&& other) noexcept {
    if (this != &other) {
        if (receiver_) detail::abandon(std::exchange(receiver_, nullptr));
        detail::free_send_slots(std::exchange(send_slots_, nullptr));
        socket_ = std::move(other.socket_);
        receiver_ = std::exchange(other.receiver_, nullptr);
        send_slots_ = std::exchange(other.send_slots_, nullptr);
        batch_options_ = other.batch_options_;
        receiver_error_ = other.receiver_error_;
    }
    return *this;
}

datagram_socket::~datagram_socket() {
    if (receiver_) detail::abandon(receiver_);
    detail::free_send_slots(send_slots_);
}

send_to_op datagram_socket::send_to(const address& to, std::span<const std::byte> data, timeout limit) noexcept {
    return send_to_op{socket_, to, data, limit};
}

send_to_op datagram_socket::send_to(const address& to, std::string_view data, timeout limit) noexcept {
    return send_to_op{socket_, to, as_bytes(data), limit};
}

recv_from_op datagram_socket::recv_from(std::span<std::byte> buffer, timeout limit) noexcept {
    return recv_from_op{socket_, buffer, limit};
}

recv_from_op datagram_socket::recv_from(std::span<char> buffer, timeout limit) noexcept {
    return recv_from_op{socket_, as_writable_bytes(buffer), limit};
}

send_op datagram_socket::send(std::span<const std::byte> data, timeout limit) noexcept {
    return socket_.send(data, limit);
}

send_op datagram_socket::send(std::string_view data, timeout limit) noexcept {
    return socket_.send(as_bytes(data), limit);
}

recv_message_op datagram_socket::recv(std::span<std::byte> buffer, timeout limit) noexcept {
    return recv_message_op{socket_, buffer, limit};
}

recv_message_op datagram_socket::recv(std::span<char> buffer, timeout limit) noexcept {
    return recv_message_op{socket_, as_writable_bytes(buffer), limit};
}

result<void> datagram_socket::set_batch_options(const batch_options& options) noexcept {
    if (!valid(options)) return unexpected{errc::invalid_argument};
    if (receiver_) return unexpected{std::errc::device_or_resource_busy};
    batch_options_ = options;
    return {};
}

detail::datagram_receiver* datagram_socket::receiver() noexcept {
    if (receiver_ || !socket_.is_open()) return receiver_;
    auto local = socket_.local_address();
    const int family = local ? local->data()->sa_family : AF_INET6;
    try {
        receiver_ = new detail::datagram_receiver(socket_.fd(), family, batch_options_);
    } catch (...) {
        receiver_error_ = std::make_error_code(std::errc::not_enough_memory);
    }
    return receiver_;
}

receive_batch_op datagram_socket::receive_batch(timeout limit) noexcept {
    detail::datagram_receiver* r = receiver();
    std::error_code refused;
    if (!socket_.is_open()) refused = std::make_error_code(std::errc::bad_file_descriptor);
    else if (!r) refused = receiver_error_;
    return receive_batch_op{r, refused, limit};
}

bool datagram_socket::batch_multishot() const noexcept {
    if (!receiver_) return batch_options_.multishot;
    return receiver_->how == detail::datagram_receiver::mode::multishot ||
           (receiver_->how == detail::datagram_receiver::mode::unset && batch_options_.multishot);
}

task<result<void>> datagram_socket::close() {
    if (detail::datagram_receiver* r = receiver_) {
        if (r->closing) co_return unexpected{std::errc::connection_already_in_progress};
        r->closing = true;
        if (r->waiter) r->waiter->wake(make_error_code(errc::operation_canceled));
        if (r->lifecycle.armed()) {
            r->cancel();
            co_await r->lifecycle.until_final();
        }
        receiver_ = nullptr;
        r->release();
        delete r;
    }
    co_return co_await socket_.close();
}

}  // namespace ringlet::net

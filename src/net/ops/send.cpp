// Prepare steps of send_op (IORING_OP_SEND) and sendmsg_op (IORING_OP_SENDMSG).
// MSG_NOSIGNAL is added here, in the one place every send passes, so that a
// peer that has gone away is EPIPE and never SIGPIPE.
#include "core/backend.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

void prepare_send(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<send_op&>(op);
    io_uring_prep_send(sqe, self.fd(), self.data.data(), self.data.size(), self.flags | MSG_NOSIGNAL);
}

constexpr ringlet::detail::op_steps send_steps{&prepare_send, nullptr, nullptr};

void prepare_sendmsg(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<sendmsg_op&>(op);
    io_uring_prep_sendmsg(sqe, self.fd(), &self.message, static_cast<unsigned>(self.flags | MSG_NOSIGNAL));
}

constexpr ringlet::detail::op_steps sendmsg_steps{&prepare_sendmsg, nullptr, nullptr};

result<std::size_t> as_size(result<int> r) noexcept {
    if (!r) return unexpected{r.error()};
    return static_cast<std::size_t>(*r);
}

}  // namespace

send_op::send_op(socket& owner, std::span<const std::byte> data_, int flags_, timeout limit) noexcept
    : socket_op(send_steps, owner, limit), data(data_), flags(flags_) {}

result<std::size_t> send_op::await_resume() noexcept { return as_size(finish()); }

sendmsg_op::sendmsg_op(socket& owner, std::span<const iovec> parts, int flags_, timeout limit) noexcept
    : socket_op(sendmsg_steps, owner, limit), flags(flags_) {
    // sendmsg(2) never writes through msg_iov; the kernel API is just not const.
    message.msg_iov = const_cast<iovec*>(parts.data());
    message.msg_iovlen = parts.size();
}

result<std::size_t> sendmsg_op::await_resume() noexcept { return as_size(finish()); }

}  // namespace ringlet::net

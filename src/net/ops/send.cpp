// send_op and sendmsg_op (steps: src/core/ops/recv_send.cpp and msg.cpp,
// which add MSG_NOSIGNAL to every send).
#include "core/ops/ops.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

namespace ops = ringlet::detail::ops;

ops::buffer_args send_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<send_op&>(op);
    // send(2) only reads the buffer; the args are shared with recv.
    return {self.fd(), const_cast<std::byte*>(self.data.data()), self.data.size(), self.flags};
}

ops::message_args sendmsg_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<sendmsg_op&>(op);
    return {self.fd(), &self.message, self.flags};
}

result<std::size_t> as_size(result<int> r) noexcept {
    if (!r) return unexpected{r.error()};
    return static_cast<std::size_t>(*r);
}

}  // namespace

send_op::send_op(socket& owner, std::span<const std::byte> data_, int flags_, timeout limit) noexcept
    : socket_op(ops::send_steps<&send_view>, owner, limit), data(data_), flags(flags_) {}

result<std::size_t> send_op::await_resume() noexcept { return as_size(finish()); }

sendmsg_op::sendmsg_op(socket& owner, std::span<const iovec> parts, int flags_, timeout limit) noexcept
    : socket_op(ops::sendmsg_steps<&sendmsg_view>, owner, limit), flags(flags_) {
    // sendmsg(2) never writes through msg_iov; the kernel API is just not const.
    message.msg_iov = const_cast<iovec*>(parts.data());
    message.msg_iovlen = parts.size();
}

result<std::size_t> sendmsg_op::await_resume() noexcept { return as_size(finish()); }

}  // namespace ringlet::net

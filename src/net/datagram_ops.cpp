// The datagram operations (steps: src/core/ops/msg.cpp).
//
// The msghdr points into the operation object, so its pointers are filled by
// the view, at submission (and at each readiness attempt), once the object
// sits at its final address in the awaiting frame. The kernel writes
// msg_flags (MSG_TRUNC) and msg_namelen back into it, which is how
// truncation and the sender are reported.
#include "core/ops/ops.hpp"

#include <ringlet/net/datagram_ops.hpp>
#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

namespace ops = ringlet::detail::ops;

ops::message_args recvmsg_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<detail::recvmsg_base&>(op);
    self.part = {self.buffer.data(), self.buffer.size()};
    self.message = {};
    self.message.msg_iov = &self.part;
    self.message.msg_iovlen = 1;
    if (self.want_sender) {
        self.message.msg_name = &self.sender;
        self.message.msg_namelen = sizeof self.sender;
    }
    return {self.fd(), &self.message, 0};
}

ops::message_args send_to_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<send_to_op&>(op);
    // sendmsg(2) only reads through these pointers; the kernel API is not const.
    self.part = {const_cast<std::byte*>(self.data.data()), self.data.size()};
    self.message = {};
    self.message.msg_name = const_cast<sockaddr*>(self.to.data());
    self.message.msg_namelen = self.to.size();
    self.message.msg_iov = &self.part;
    self.message.msg_iovlen = 1;
    return {self.fd(), &self.message, 0};
}

}  // namespace

namespace detail {

recvmsg_base::recvmsg_base(socket& owner, std::span<std::byte> buffer_, bool want_sender_, timeout limit) noexcept
    : socket_op(ops::recvmsg_steps<&recvmsg_view>, owner, limit), buffer(buffer_), want_sender(want_sender_) {}

}  // namespace detail

result<received_message> recv_message_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    return received_message{static_cast<std::size_t>(*r), (message.msg_flags & MSG_TRUNC) != 0};
}

result<received_from> recv_from_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    received_from out;
    out.size = static_cast<std::size_t>(*r);
    out.truncated = (message.msg_flags & MSG_TRUNC) != 0;
    // An unbound unix sender has no name at all (msg_namelen 0).
    const sa_family_t unnamed = AF_UNIX;
    const bool has_name = message.msg_namelen > 0;
    auto from = has_name ? address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sender), message.msg_namelen)
                         : address::from_sockaddr(reinterpret_cast<const sockaddr*>(&unnamed), sizeof unnamed);
    if (!from) return unexpected{from.error()};
    out.from = *from;
    return out;
}

send_to_op::send_to_op(socket& owner, const address& to_, std::span<const std::byte> data_, timeout limit) noexcept
    : socket_op(ops::sendmsg_steps<&send_to_view>, owner, limit), to(to_), data(data_) {}

result<std::size_t> send_to_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    return static_cast<std::size_t>(*r);
}

}  // namespace ringlet::net

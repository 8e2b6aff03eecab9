// The message family: recvmsg(2), sendmsg(2) and the multishot recvmsg on a
// buffer ring, whose buffers hold an io_uring_recvmsg_out header, the
// sender's address and the payload (parsed with liburing's
// io_uring_recvmsg_validate / _payload / _payload_length, present in 2.3).
#include "core/ops/ops.hpp"
#include "core/socket_calls.hpp"

#include <liburing.h>

#include <algorithm>
#include <cerrno>

namespace ringlet::detail::ops {
void prepare_recvmsg(io_uring_sqe* sqe, const message_args& a) noexcept {
    io_uring_prep_recvmsg(sqe, a.fd, a.message, static_cast<unsigned>(a.flags));
}

int perform_recvmsg(const message_args& a) noexcept {
    return attempt([&] { return sys::recvmsg(a.fd, a.message, a.flags | MSG_DONTWAIT); });
}

void prepare_sendmsg(io_uring_sqe* sqe, const message_args& a) noexcept {
    io_uring_prep_sendmsg(sqe, a.fd, a.message, static_cast<unsigned>(a.flags | MSG_NOSIGNAL));
}

int perform_sendmsg(const message_args& a) noexcept {
    return attempt([&] { return sys::sendmsg(a.fd, a.message, a.flags | MSG_NOSIGNAL | MSG_DONTWAIT); });
}

void prepare_recvmsg_selected(io_uring_sqe* sqe, const selected_args& a) noexcept {
    io_uring_prep_recvmsg_multishot(sqe, a.fd, a.layout, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = a.group;
}

std::size_t selected_datagram_header() noexcept { return sizeof(io_uring_recvmsg_out); }

bool parse_selected_datagram(const void* data, int res, const msghdr& layout, selected_datagram& out) noexcept {
    // liburing's parsers take non-const pointers but only read.
    auto* header = const_cast<msghdr*>(&layout);
    io_uring_recvmsg_out* o = io_uring_recvmsg_validate(const_cast<void*>(data), res, header);
    if (!o) return false;
    const auto length = io_uring_recvmsg_payload_length(o, res, header);
    out.payload = {static_cast<const std::byte*>(io_uring_recvmsg_payload(o, header)), length};
    out.truncated = (o->flags & MSG_TRUNC) != 0;
    out.name = static_cast<const sockaddr*>(io_uring_recvmsg_name(o));
    out.name_size = std::min<socklen_t>(o->namelen, layout.msg_namelen);
    return true;
}

}  // namespace ringlet::detail::ops

// The recv/send family: recv(2), send(2) and the multishot recv on a buffer
// ring. MSG_NOSIGNAL is added here, in the one place every send passes, so
// a peer that has gone away is EPIPE and never SIGPIPE.
#include "core/ops/ops.hpp"
#include "core/socket_calls.hpp"

#include <liburing.h>

#include <cerrno>

namespace ringlet::detail::ops {
void prepare_recv(io_uring_sqe* sqe, const buffer_args& a) noexcept {
    io_uring_prep_recv(sqe, a.fd, a.data, a.size, a.flags);
}

int perform_recv(const buffer_args& a) noexcept {
    return attempt([&] { return sys::recv(a.fd, a.data, a.size, a.flags | MSG_DONTWAIT); });
}

void prepare_send(io_uring_sqe* sqe, const buffer_args& a) noexcept {
    io_uring_prep_send(sqe, a.fd, a.data, a.size, a.flags | MSG_NOSIGNAL);
}

int perform_send(const buffer_args& a) noexcept {
    return attempt([&] { return sys::send(a.fd, a.data, a.size, a.flags | MSG_NOSIGNAL | MSG_DONTWAIT); });
}

void prepare_recv_selected(io_uring_sqe* sqe, const selected_args& a) noexcept {
    io_uring_prep_recv_multishot(sqe, a.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = a.group;
}

int perform_unsupported(const selected_args&) noexcept { return -EINVAL; }

bool has_selected_buffer(std::uint32_t flags) noexcept { return (flags & IORING_CQE_F_BUFFER) != 0; }

std::uint16_t selected_buffer(std::uint32_t flags) noexcept {
    return static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
}

bool socket_nonempty(std::uint32_t flags) noexcept { return (flags & IORING_CQE_F_SOCK_NONEMPTY) != 0; }

}  // namespace ringlet::detail::ops

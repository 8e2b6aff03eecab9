// The shutdown / close / cancel-by-descriptor family. shutdown(2) and
// close(2) never wait, so their readiness attempt is the call itself.
// Cancelling by descriptor is the backend's own business: io_uring's
// ASYNC_CANCEL with CANCEL_FD, and the epoll backend's own walk of the
// descriptor's waiters (op_steps::effect). The readiness attempt is never
// run by a backend that knows the effect; it answers -EINVAL, as a kernel
// before 5.19 does, and the caller (socket::close) falls back to
// shutdown(SHUT_RDWR).
#include "core/ops/ops.hpp"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>

namespace ringlet::detail::ops {

void prepare_shutdown(io_uring_sqe* sqe, const fd_args& a) noexcept { io_uring_prep_shutdown(sqe, a.fd, a.value); }

int perform_shutdown(const fd_args& a) noexcept { return ::shutdown(a.fd, a.value) == 0 ? 0 : -errno; }

void prepare_close(io_uring_sqe* sqe, const fd_args& a) noexcept { io_uring_prep_close(sqe, a.fd); }

int perform_close(const fd_args& a) noexcept {
    // EINTR from close(2) still released the descriptor (Linux): never retry.
    return ::close(a.fd) == 0 || errno == EINTR ? 0 : -errno;
}

void prepare_cancel_fd(io_uring_sqe* sqe, const fd_args& a) noexcept {
    io_uring_prep_cancel_fd(sqe, a.fd, IORING_ASYNC_CANCEL_ALL);
}

int perform_cancel_fd(const fd_args&) noexcept { return -EINVAL; }

}  // namespace ringlet::detail::ops

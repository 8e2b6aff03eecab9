// The accept family: accept4(2) of one connection, and the multishot accept
// that posts one completion per connection. SOCK_CLOEXEC always; no peer
// address (a multishot accept has nowhere to put one per connection;
// getpeername supplies it on demand). The readiness attempt also asks for
// SOCK_NONBLOCK: on a readiness backend every socket is non-blocking.
#include "core/ops/ops.hpp"

#include <liburing.h>

#include <cerrno>

namespace ringlet::detail::ops {

void prepare_accept(io_uring_sqe* sqe, const fd_args& a) noexcept {
    io_uring_prep_accept(sqe, a.fd, nullptr, nullptr, SOCK_CLOEXEC);
}

void prepare_accept_multishot(io_uring_sqe* sqe, const fd_args& a) noexcept {
    io_uring_prep_multishot_accept(sqe, a.fd, nullptr, nullptr, SOCK_CLOEXEC);
}

int perform_accept(const fd_args& a) noexcept {
    const int fd = ::accept4(a.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) return fd;
    // ECONNABORTED: the connection went away while queued; try the next one later.
    return errno == EWOULDBLOCK || errno == ECONNABORTED ? -EAGAIN : -errno;
}

}  // namespace ringlet::detail::ops

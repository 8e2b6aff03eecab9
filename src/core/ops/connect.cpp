// The connect family. The readiness attempt starts a non-blocking connect(2)
// once; EINPROGRESS (or EINTR, after which the connect goes on) becomes
// -EAGAIN, waiting for POLLOUT, and the next attempt, once the socket is
// writable, reads the outcome from SO_ERROR.
#include "core/ops/ops.hpp"

#include <liburing.h>

#include <cerrno>

namespace ringlet::detail::ops {

void prepare_connect(io_uring_sqe* sqe, const connect_args& a) noexcept {
    io_uring_prep_connect(sqe, a.fd, a.peer, a.size);
}

int perform_connect(const connect_args& a) noexcept {
    if (!*a.in_progress) {
        if (::connect(a.fd, a.peer, a.size) == 0) return 0;
        if (errno == EAGAIN) return -EAGAIN;  // a unix listener's backlog is full: connect again later
        if (errno != EINPROGRESS && errno != EINTR) return -errno;
        *a.in_progress = true;
        return -EAGAIN;
    }
    pollfd p{a.fd, POLLOUT, 0};
    if (::poll(&p, 1, 0) == 0) return -EAGAIN;  // not writable yet: SO_ERROR would still say 0
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(a.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return -errno;
    *a.in_progress = false;
    return -error;
}

}  // namespace ringlet::detail::ops

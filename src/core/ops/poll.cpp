// The poll family: wait for readiness of one descriptor, once or multishot
// (one completion per edge). The readiness attempt is poll(2) with timeout 0.
#include "core/ops/ops.hpp"

#include <liburing.h>

#include <cerrno>

namespace ringlet::detail::ops {

void prepare_poll(io_uring_sqe* sqe, const fd_args& a) noexcept {
    io_uring_prep_poll_add(sqe, a.fd, static_cast<unsigned>(a.value));
}

void prepare_poll_multishot(io_uring_sqe* sqe, const fd_args& a) noexcept {
    io_uring_prep_poll_multishot(sqe, a.fd, static_cast<unsigned>(a.value));
}

int perform_poll(const fd_args& a) noexcept {
    pollfd p{a.fd, static_cast<short>(a.value), 0};
    const int n = ::poll(&p, 1, 0);
    if (n < 0) return errno == EINTR ? -EAGAIN : -errno;
    if (n == 0) return -EAGAIN;
    return p.revents;
}

}  // namespace ringlet::detail::ops

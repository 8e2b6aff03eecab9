// The read/write family on any descriptor (pipes, eventfds, signalfds,
// files), and the no-op round trip. Offset -1: use (and advance) the file
// position, as read(2) does; pipes and sockets ignore it.
#include "core/ops/ops.hpp"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>

namespace ringlet::detail::ops {
namespace {

int result_of(ssize_t n) noexcept {
    if (n >= 0) return static_cast<int>(n);
    return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
}

}  // namespace

void prepare_read(io_uring_sqe* sqe, const buffer_args& a) noexcept {
    io_uring_prep_read(sqe, a.fd, a.data, static_cast<unsigned>(a.size), ~0ULL);
}

int perform_read(const buffer_args& a) noexcept { return result_of(::read(a.fd, a.data, a.size)); }

void prepare_write(io_uring_sqe* sqe, const buffer_args& a) noexcept {
    io_uring_prep_write(sqe, a.fd, a.data, static_cast<unsigned>(a.size), ~0ULL);
}

int perform_write(const buffer_args& a) noexcept { return result_of(::write(a.fd, a.data, a.size)); }

const op_steps nop_steps{[](io_op&, io_uring_sqe* sqe) noexcept { io_uring_prep_nop(sqe); },
                         [](io_op&) noexcept { return 0; }, [](const io_op&) noexcept { return readiness{}; }};

}  // namespace ringlet::detail::ops

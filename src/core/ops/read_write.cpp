// The read/write family on any descriptor (pipes, eventfds, signalfds,
// files), and the no-op round trip. Offset -1: use (and advance) the file
// position, as read(2) does; pipes and sockets ignore it.
#include "core/ops/ops.hpp"

#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace ringlet::detail::ops {
void prepare_read(io_uring_sqe* sqe, const buffer_args& a) noexcept {
    io_uring_prep_read(sqe, a.fd, a.data, static_cast<unsigned>(a.size), ~0ULL);
}

// RWF_NOWAIT: the readiness attempt never blocks the shard, even on a
// descriptor opened blocking (sockets and pipes honour it; -EAGAIN then
// makes the backend wait for readiness).
int perform_read(const buffer_args& a) noexcept {
    iovec v{a.data, a.size};
    return attempt([&] { return ::preadv2(a.fd, &v, 1, -1, RWF_NOWAIT); });
}

void prepare_write(io_uring_sqe* sqe, const buffer_args& a) noexcept {
    io_uring_prep_write(sqe, a.fd, a.data, static_cast<unsigned>(a.size), ~0ULL);
}

int perform_write(const buffer_args& a) noexcept {
    iovec v{const_cast<void*>(static_cast<const void*>(a.data)), a.size};
    return attempt([&] { return ::pwritev2(a.fd, &v, 1, -1, RWF_NOWAIT); });
}

const op_steps nop_steps{[](io_op&, io_uring_sqe* sqe) noexcept { io_uring_prep_nop(sqe); },
                         [](io_op&) noexcept { return 0; }, [](const io_op&) noexcept { return readiness{}; }};

}  // namespace ringlet::detail::ops

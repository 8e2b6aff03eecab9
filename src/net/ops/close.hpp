// The two operations behind socket::close(): cancel everything on a
// descriptor, then close it. Private: only net::socket and the listener use them.
//
// Neither follows the awaiting task's stop token: a close must always run to
// its end, or the descriptor (and the operations still using it) would leak.
#pragma once

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/result.hpp>

#include <coroutine>

namespace ringlet::net::detail {

/// IORING_OP_ASYNC_CANCEL with IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL:
/// yields how many operations were found, or ENOENT when none was, or EINVAL on
/// kernels before 5.19 that cannot cancel by descriptor.
/// @see io_uring_prep_cancel_fd(3)
class [[nodiscard]] cancel_fd_op final : public ringlet::detail::io_op {
public:
    explicit cancel_fd_op(int fd) noexcept;
    bool await_suspend(std::coroutine_handle<> waiter) noexcept { return start(waiter, {}); }
    result<int> await_resume() const noexcept { return outcome(); }

    int fd;
};

/// IORING_OP_CLOSE. @see io_uring_prep_close(3), close(2)
class [[nodiscard]] close_op final : public ringlet::detail::io_op {
public:
    explicit close_op(int fd) noexcept;
    bool await_suspend(std::coroutine_handle<> waiter) noexcept { return start(waiter, {}); }
    result<void> await_resume() const noexcept;

    int fd;
};

}  // namespace ringlet::net::detail

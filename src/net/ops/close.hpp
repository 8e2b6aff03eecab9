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

/// Cancels every operation on the descriptor (src/core/ops/shutdown_close.cpp):
/// yields how many operations were found, or ENOENT when none was, or EINVAL
/// where the backend cannot cancel by descriptor (kernels before 5.19).
class [[nodiscard]] cancel_fd_op final : public ringlet::detail::io_op {
public:
    explicit cancel_fd_op(int fd) noexcept;
    bool await_suspend(std::coroutine_handle<> waiter) noexcept { return start(waiter, {}); }
    result<int> await_resume() const noexcept { return outcome(); }

    int fd;
};

/// close(2) as an operation. @see close(2)
class [[nodiscard]] close_op final : public ringlet::detail::io_op {
public:
    explicit close_op(int fd) noexcept;
    bool await_suspend(std::coroutine_handle<> waiter) noexcept { return start(waiter, {}); }
    result<void> await_resume() const noexcept;

    int fd;
};

}  // namespace ringlet::net::detail

// The cancel-by-descriptor and close operations (steps: src/core/ops/shutdown_close.cpp).
#include "net/ops/close.hpp"

#include "core/ops/ops.hpp"

namespace ringlet::net::detail {
namespace {

namespace ops = ringlet::detail::ops;

ops::fd_args cancel_fd_view(ringlet::detail::io_op& op) noexcept { return {static_cast<cancel_fd_op&>(op).fd, 0}; }

ops::fd_args close_view(ringlet::detail::io_op& op) noexcept { return {static_cast<close_op&>(op).fd, 0}; }

}  // namespace

cancel_fd_op::cancel_fd_op(int fd_) noexcept : io_op(ops::cancel_fd_steps<&cancel_fd_view>), fd(fd_) {}

close_op::close_op(int fd_) noexcept : io_op(ops::close_steps<&close_view>), fd(fd_) {}

result<void> close_op::await_resume() const noexcept {
    if (auto r = outcome(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net::detail

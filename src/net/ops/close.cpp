// Prepare steps of the cancel-by-descriptor and close operations.
#include "net/ops/close.hpp"

#include "core/backend.hpp"
#include "core/uring_backend.hpp"

namespace ringlet::net::detail {
namespace {

void prepare_cancel_fd(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<cancel_fd_op&>(op);
    io_uring_prep_cancel_fd(sqe, self.fd, IORING_ASYNC_CANCEL_ALL);
}

constexpr ringlet::detail::op_steps cancel_fd_steps{&prepare_cancel_fd, nullptr, nullptr};

void prepare_close(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    io_uring_prep_close(sqe, static_cast<close_op&>(op).fd);
}

constexpr ringlet::detail::op_steps close_steps{&prepare_close, nullptr, nullptr};

}  // namespace

cancel_fd_op::cancel_fd_op(int fd_) noexcept : io_op(cancel_fd_steps), fd(fd_) {}

close_op::close_op(int fd_) noexcept : io_op(close_steps), fd(fd_) {}

result<void> close_op::await_resume() const noexcept {
    if (auto r = outcome(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net::detail

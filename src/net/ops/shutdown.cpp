// Prepare step of shutdown_op (IORING_OP_SHUTDOWN).
#include "core/backend.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

void prepare_shutdown(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<shutdown_op&>(op);
    io_uring_prep_shutdown(sqe, self.fd(), self.how);
}

constexpr ringlet::detail::op_steps shutdown_steps{&prepare_shutdown, nullptr, nullptr};

}  // namespace

shutdown_op::shutdown_op(socket& owner, int how_) noexcept : socket_op(shutdown_steps, owner, {}), how(how_) {}

result<void> shutdown_op::await_resume() noexcept {
    if (auto r = finish(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net

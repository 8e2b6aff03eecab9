// shutdown_op (steps: src/core/ops/shutdown_close.cpp).
#include "core/ops/ops.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

ringlet::detail::ops::fd_args shutdown_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<shutdown_op&>(op);
    return {self.fd(), self.how};
}

}  // namespace

shutdown_op::shutdown_op(socket& owner, int how_) noexcept
    : socket_op(ringlet::detail::ops::shutdown_steps<&shutdown_view>, owner, {}), how(how_) {}

result<void> shutdown_op::await_resume() noexcept {
    if (auto r = finish(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net

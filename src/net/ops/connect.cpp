// connect_op (steps: src/core/ops/connect.cpp).
#include "core/ops/ops.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

ringlet::detail::ops::connect_args connect_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<connect_op&>(op);
    return {self.fd(), self.peer.data(), self.peer.size(), &self.started};
}

}  // namespace

connect_op::connect_op(socket& owner, const address& peer_, timeout limit) noexcept
    : socket_op(ringlet::detail::ops::connect_steps<&connect_view>, owner, limit), peer(peer_) {}

result<void> connect_op::await_resume() noexcept {
    if (auto r = finish(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net

// accept_op: one connection per operation (the accept family's steps are in
// src/core/ops/accept.cpp; the listener's multishot accept is in net/listener.cpp).
#include "core/ops/ops.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

ringlet::detail::ops::fd_args accept_view(ringlet::detail::io_op& op) noexcept {
    return {static_cast<accept_op&>(op).fd(), 0};
}

}  // namespace

accept_op::accept_op(socket& owner, timeout limit) noexcept
    : socket_op(ringlet::detail::ops::accept_steps<&accept_view>, owner, limit) {}

result<socket> accept_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    return socket{*r};
}

}  // namespace ringlet::net

// recv_op (steps: src/core/ops/recv_send.cpp).
#include "core/ops/ops.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

ringlet::detail::ops::buffer_args recv_view(ringlet::detail::io_op& op) noexcept {
    auto& self = static_cast<recv_op&>(op);
    return {self.fd(), self.buffer.data(), self.buffer.size(), self.flags};
}

}  // namespace

recv_op::recv_op(socket& owner, std::span<std::byte> buffer_, int flags_, timeout limit, std::error_code refused) noexcept
    : socket_op(ringlet::detail::ops::recv_steps<&recv_view>, owner, limit, refused), buffer(buffer_), flags(flags_) {}

result<std::size_t> recv_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    return static_cast<std::size_t>(*r);
}

}  // namespace ringlet::net

// Prepare step of connect_op (IORING_OP_CONNECT).
#include "core/backend.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

void prepare_connect(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<connect_op&>(op);
    io_uring_prep_connect(sqe, self.fd(), self.peer.data(), self.peer.size());
}

constexpr ringlet::detail::op_steps connect_steps{&prepare_connect, nullptr, nullptr};

}  // namespace

connect_op::connect_op(socket& owner, const address& peer_, timeout limit) noexcept
    : socket_op(connect_steps, owner, limit), peer(peer_) {}

result<void> connect_op::await_resume() noexcept {
    if (auto r = finish(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net

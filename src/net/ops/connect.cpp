// Prepare step of connect_op (IORING_OP_CONNECT).
#include "core/ring.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

void prepare_connect(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<connect_op&>(op);
    io_uring_prep_connect(sqe, self.fd(), self.peer.data(), self.peer.size());
}

}  // namespace

connect_op::connect_op(socket& owner, const address& peer_, timeout limit) noexcept
    : socket_op(&prepare_connect, owner, limit), peer(peer_) {}

result<void> connect_op::await_resume() noexcept {
    if (auto r = finish(); !r) return unexpected{r.error()};
    return {};
}

}  // namespace ringlet::net

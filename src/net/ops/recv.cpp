// Prepare step of recv_op (IORING_OP_RECV).
#include "core/backend.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

void prepare_recv(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<recv_op&>(op);
    io_uring_prep_recv(sqe, self.fd(), self.buffer.data(), self.buffer.size(), self.flags);
}

constexpr ringlet::detail::op_steps recv_steps{&prepare_recv, nullptr, nullptr};

}  // namespace

recv_op::recv_op(socket& owner, std::span<std::byte> buffer_, int flags_, timeout limit, std::error_code refused) noexcept
    : socket_op(recv_steps, owner, limit, refused), buffer(buffer_), flags(flags_) {}

result<std::size_t> recv_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    return static_cast<std::size_t>(*r);
}

}  // namespace ringlet::net

// Prepare steps of IORING_OP_ACCEPT: accept_op (one connection per
// submission) and the listener's multishot accept (state in net/listener.cpp).
#include "net/ops/accept.hpp"

#include "core/backend.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/net/socket.hpp>

namespace ringlet::net {
namespace {

void prepare_accept(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<accept_op&>(op);
    io_uring_prep_accept(sqe, self.fd(), nullptr, nullptr, SOCK_CLOEXEC);
}

constexpr ringlet::detail::op_steps accept_steps{&prepare_accept, nullptr, nullptr};

}  // namespace

namespace detail {

void prepare_listener_accept(io_uring_sqe* sqe, int fd, bool multishot) noexcept {
    if (multishot) io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
    else io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
}

}  // namespace detail

accept_op::accept_op(socket& owner, timeout limit) noexcept : socket_op(accept_steps, owner, limit) {}

result<socket> accept_op::await_resume() noexcept {
    auto r = finish();
    if (!r) return unexpected{r.error()};
    return socket{*r};
}

}  // namespace ringlet::net

// Design notes: the start / complete / cancel steps shared by every
// awaitable operation. Submission, the time limit and the cancel request are
// the shard's backend's business (core/backend.hpp); an op only decides
// whether it may start and how its result reaches its waiter.
#include "core/backend.hpp"
#include "core/shard.hpp"

#include <ringlet/core/io_op.hpp>

namespace ringlet::detail {

bool io_op::start(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    shard* self = shard::current();
    if (!self) {
        not_on_shard_ = true;
        res_ = -EPERM;
        return false;
    }
    if (token.stop_requested()) {
        cancel_requested_ = true;
        res_ = -ECANCELED;
        return false;
    }
    waiter_ = waiter;
    self->io().submit(*this);
    register_with(token);
    return true;
}

void io_op::on_cqe(int res, std::uint32_t flags, bool more) noexcept {
    if (completion_) {
        completion_(*this, res, flags, more);
        return;
    }
    deregister();
    res_ = res;
    cqe_flags_ = flags;
    shard::current()->schedule(waiter_);
}

void io_op::on_stop(stop_callback_base* self) noexcept {
    auto* op = static_cast<io_op*>(self);
    op->cancel_requested_ = true;
    shard::current()->io().cancel(*op);
}

}  // namespace ringlet::detail

// Design notes: the start / complete / cancel steps shared by every
// awaitable operation. Submission, the time limit and the cancel request are
// the shard's backend's business (core/backend.hpp); an op only decides
// whether it may start and how its result reaches its waiter.
#include "core/backend.hpp"
#include "core/shard.hpp"

#include <ringlet/core/io_op.hpp>

#include <fcntl.h>

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

bool in_nonblocking_mode(int fd) noexcept {
    const int flags = fd >= 0 ? ::fcntl(fd, F_GETFL) : -1;
    return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

namespace {

/// A result that says nothing was done: -EINTR (an io-wq worker
/// interrupted), or -EAGAIN on a blocking descriptor. On a descriptor in
/// O_NONBLOCK mode -EAGAIN is what its owner asked for (io_uring answers such
/// a file's empty read with it instead of waiting): it is reported, never
/// retried — a retry would spin.
bool nothing_done(const io_op& op, const op_steps& steps, int res) noexcept {
    if (res == -EINTR) return true;
    return res == -EAGAIN && steps.wait_for && !in_nonblocking_mode(steps.wait_for(op).fd);
}

}  // namespace

void io_op::on_cqe(int res, std::uint32_t flags, bool more) noexcept {
    if ((res == -EINTR || res == -EAGAIN) && !more) [[unlikely]] {
        // Nothing happened (op_steps::retry_transient): do it again, still
        // registered on the stop token, so the waiter never sees it.
        if (steps_->retry_transient && !cancel_requested_ && !(retry_veto_ && retry_veto_(*this)) &&
            nothing_done(*this, *steps_, res)) {
            shard::current()->io().submit(*this);
            return;
        }
    }
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

// Design notes: the submit / complete / cancel steps shared by every
// awaitable operation. A linked timeout needs two SQEs in the same
// io_uring_enter, so both are reserved before either is filled.
#include "core/ring.hpp"
#include "core/shard.hpp"

#include <ringlet/core/io_op.hpp>

namespace ringlet::detail {
namespace {

void fill_timespec(std::int64_t (&ts)[2], std::int64_t ns) noexcept {
    ts[0] = ns / 1'000'000'000;
    ts[1] = ns % 1'000'000'000;
}

}  // namespace

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
    submit();
    register_with(token);
    return true;
}

void io_op::submit() noexcept {
    ring& r = shard::current()->io();
    const bool linked = timeout_.is_set();
    if (linked) r.reserve(2);
    io_uring_sqe* sqe = r.get_sqe();
    prepare(sqe);
    user_data_ = r.track(this);
    io_uring_sqe_set_data64(sqe, user_data_);
    if (linked) {
        sqe->flags |= IOSQE_IO_LINK;
        fill_timespec(timespec_, timeout_.nanoseconds());
        io_uring_sqe* limit = r.get_sqe();
        io_uring_prep_link_timeout(limit, reinterpret_cast<__kernel_timespec*>(timespec_),
                                   timeout_.is_absolute() ? IORING_TIMEOUT_ABS : 0);
        io_uring_sqe_set_data64(limit, static_cast<std::uint64_t>(ring_tag::ignore));
    }
}

void io_op::resubmit() noexcept { submit(); }

void io_op::on_cqe(int res, std::uint32_t flags, bool more) noexcept {
    if (completion_) {
        completion_(*this, res, flags, more);
        return;
    }
    if (retry_ && !cancel_requested_ && retry_(*this, res, flags)) return;
    deregister();
    res_ = res;
    cqe_flags_ = flags;
    shard::current()->schedule(waiter_);
}

void io_op::on_stop(stop_callback_base* self) noexcept {
    auto* op = static_cast<io_op*>(self);
    op->cancel_requested_ = true;
    shard::current()->io().cancel(op->user_data_);
}

}  // namespace ringlet::detail

// detail::timed_wait (see include/ringlet/net/timed_wait.hpp).
#include "core/shard.hpp"

#include <ringlet/net/timed_wait.hpp>

#include <cassert>

namespace ringlet::net::detail {
namespace {

void timer_done(ringlet::detail::io_op& op, int, std::uint32_t, bool more) noexcept {
    if (!more) static_cast<timed_wait::timer&>(op).owner->on_timer();
}

}  // namespace

timed_wait::timer::timer(timed_wait& w) noexcept : owner(&w) { set_completion(&timer_done); }

timed_wait::timed_wait(detach_fn detach, std::error_code refused, timeout limit) noexcept
    : stop_callback_base(&on_stop), error_(refused), limit_(limit), detach_(detach), timer_(*this) {}

timed_wait::~timed_wait() { assert(!waiting_ && !timer_armed_ && "a wait abandoned while in flight"); }

bool timed_wait::deadline_passed() noexcept {
    if (!limit_.is_absolute() || clock::now() < limit_.deadline()) return false;
    error_ = make_error_code(errc::timed_out);  // a passed deadline fails even a ready wait
    return true;
}

bool timed_wait::may_wait(const stop_token& token) noexcept {
    if (!ringlet::detail::shard::current()) error_ = make_error_code(errc::not_on_shard);
    else if (token.stop_requested()) error_ = make_error_code(errc::operation_canceled);
    return !error_;
}

void timed_wait::begin_wait(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    waiter_ = waiter;
    waiting_ = true;
    register_with(token);
    if (!limit_.is_set()) return;
    timer_.set_deadline(limit_.deadline());
    timer_armed_ = timer_.start(std::noop_coroutine(), {});
}

void timed_wait::end(std::error_code error) noexcept {
    if (!waiting_) return;
    waiting_ = false;
    detach_(*this);
    error_ = error;
    deregister();
}

void timed_wait::cancel_timer() noexcept {
    if (!timer_armed_ || timer_cancelled_) return;
    timer_cancelled_ = true;
    ringlet::detail::shard::current()->io().cancel(timer_);
}

void timed_wait::wake(std::error_code error) noexcept {
    if (!waiting_) return;
    end(error);
    cancel_timer();
    resume_if_done();
}

void timed_wait::on_timer() noexcept {
    timer_armed_ = false;
    end(make_error_code(errc::timed_out));
    resume_if_done();
}

void timed_wait::on_stop(stop_callback_base* self) noexcept {
    auto* w = static_cast<timed_wait*>(self);
    w->end(make_error_code(errc::operation_canceled));
    w->cancel_timer();
    w->resume_if_done();
}

void timed_wait::resume_if_done() noexcept {
    if (waiting_ || timer_armed_ || resumed_) return;
    resumed_ = true;
    ringlet::detail::shard::current()->schedule(waiter_);
}

}  // namespace ringlet::net::detail

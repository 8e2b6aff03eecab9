// detail::timed_wait and detail::wait_queue (see include/ringlet/core/timed_wait.hpp).
#include "core/shard.hpp"

#include <ringlet/core/timed_wait.hpp>

#include <cassert>

namespace ringlet::detail {

timed_wait::timed_wait(detach_fn detach, std::error_code refused, timeout limit) noexcept
    : stop_callback_base(&on_stop), timer_entry(&on_deadline), error_(refused), limit_(limit), detach_(detach) {}

timed_wait::~timed_wait() { assert(!waiting_ && !armed() && "a wait abandoned while in flight"); }

bool timed_wait::deadline_passed() noexcept {
    if (!limit_.is_absolute() || clock::now() < limit_.deadline()) return false;
    error_ = make_error_code(errc::timed_out);  // a passed deadline fails even a ready wait
    return true;
}

bool timed_wait::may_wait(const stop_token& token) noexcept {
    if (!shard::current()) error_ = make_error_code(errc::not_on_shard);
    else if (token.stop_requested()) error_ = make_error_code(errc::operation_canceled);
    return !error_;
}

void timed_wait::begin_wait(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    waiter_ = waiter;
    waiting_ = true;
    register_with(token);
    // The backend's next poll sees the earlier deadline (it arms its one
    // kernel timer, or epoll_wait's timeout, from the queue's front).
    // (A stop already requested ends the wait inside register_with.)
    if (waiting_ && limit_.is_set()) shard::current()->timers().insert(limit_, *this);
}

void timed_wait::end(std::error_code error) noexcept {
    if (!waiting_) return;
    waiting_ = false;
    detach_(*this);
    error_ = error;
    deregister();
}

void timed_wait::cancel_timer() noexcept {
    if (armed()) shard::current()->timers().remove(*this);
}

void timed_wait::wake(std::error_code error) noexcept {
    if (!waiting_) return;
    end(error);
    cancel_timer();
    resume();
}

void timed_wait::wake_now() noexcept {
    if (!waiting_) return;
    end({});
    cancel_timer();
    resume(true);
}

void timed_wait::on_deadline(timer_entry& self) noexcept {
    // Runs from the backend's poll(), after the entry left the queue.
    auto& w = static_cast<timed_wait&>(self);
    if (!w.waiting_) return;
    w.end(make_error_code(errc::timed_out));
    w.resume();
}

void timed_wait::on_stop(stop_callback_base* self) noexcept {
    auto* w = static_cast<timed_wait*>(self);
    if (!w->waiting_) return;
    w->end(make_error_code(errc::operation_canceled));
    w->cancel_timer();
    w->resume();
}

void timed_wait::resume(bool here) noexcept {
    if (resumed_) return;
    resumed_ = true;
    if (here) waiter_.resume();
    else shard::current()->schedule(waiter_);
}

void wait_queue::push(timed_wait& w) noexcept {
    w.queue_prev_ = tail_;
    w.queue_next_ = nullptr;
    if (tail_) tail_->queue_next_ = &w;
    else head_ = &w;
    tail_ = &w;
    w.queued_ = true;
}

void wait_queue::remove(timed_wait& w) noexcept {
    if (!w.queued_) return;
    if (w.queue_prev_) w.queue_prev_->queue_next_ = w.queue_next_;
    else head_ = w.queue_next_;
    if (w.queue_next_) w.queue_next_->queue_prev_ = w.queue_prev_;
    else tail_ = w.queue_prev_;
    w.queue_prev_ = w.queue_next_ = nullptr;
    w.queued_ = false;
}

void wait_queue::fail_all(std::error_code error) noexcept {
    while (timed_wait* w = head_) {
        remove(*w);
        w->wake(error);
    }
}

}  // namespace ringlet::detail

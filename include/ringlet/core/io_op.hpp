// The awaitable operation base: one kernel operation awaited by one coroutine.
//
// Every ringlet I/O awaitable derives from detail::io_op. Its steps (an
// op_steps constant defined in src/core, one file per family of operations)
// say how to run it on each kind of backend: describe it to a completion-based
// kernel interface, or try it without blocking and name the readiness to wait
// for. The shard's backend
// (src/core/backend.hpp) runs it and keeps its own bookkeeping for it in the
// op's opaque backend words (e.g. a routing tag — slot plus generation, so a
// stale completion can never resume the wrong waiter). The operation object lives in the awaiting
// coroutine's frame, so it — and the buffer it points at — stays alive until
// the backend's final completion, even after cancellation.
//
// Cancellation: while suspended, the op is registered on the task's stop
// token; a stop asks the backend to cancel it and the waiter resumes only
// when the final completion arrives (which may still carry a real result if
// it won the race). A timeout is a deadline in the shard's timer queue that
// cancels the op when it passes.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>

#include <coroutine>
#include <cstdint>

namespace ringlet::detail {

struct op_steps;  // src/core/backend.hpp
class backend;

class io_op : public stop_callback_base {
public:
    /// Multishot ops handle every completion themselves; `more` is false on the final one.
    using completion_fn = void (*)(io_op& op, int res, std::uint32_t flags, bool more) noexcept;

    /// `steps` must have static storage duration (one constant per kind of op).
    explicit io_op(const op_steps& steps, ringlet::timeout limit = {}) noexcept
        : stop_callback_base(&on_stop), steps_(&steps), timeout_(limit) {}
    io_op(const io_op&) = delete;
    io_op& operator=(const io_op&) = delete;

    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        return start(waiter, token_of(waiter));
    }

    /// Submits the op for `waiter`. Returns false when it finished without
    /// suspending (already cancelled, or not on a shard thread).
    bool start(std::coroutine_handle<> waiter, const stop_token& token) noexcept;

    /// The kernel result mapped to ringlet's outcomes: ECANCELED becomes
    /// errc::operation_canceled after a stop, errc::timed_out after the op's timeout.
    [[nodiscard]] result<int> outcome() const noexcept {
        if (res_ >= 0) return res_;
        if (not_on_shard_) return unexpected{errc::not_on_shard};
        if (res_ == -ECANCELED) {
            if (cancel_requested_) return unexpected{errc::operation_canceled};
            if (timeout_.is_set()) return unexpected{errc::timed_out};
        }
        return unexpected{errno_code(-res_)};
    }
    [[nodiscard]] int raw_result() const noexcept { return res_; }
    [[nodiscard]] std::uint32_t cqe_flags() const noexcept { return cqe_flags_; }
    [[nodiscard]] const ringlet::timeout& time_limit() const noexcept { return timeout_; }

protected:
    void set_completion(completion_fn fn) noexcept { completion_ = fn; }
    /// Changes what the next start() runs (an owner that re-arms one op in
    /// different ways: multishot or single-shot). Not while in flight.
    void set_steps(const op_steps& steps) noexcept { steps_ = &steps; }
    std::coroutine_handle<> waiter_;

private:
    friend class backend;  // submits it, completes it, keeps its words
    static void on_stop(stop_callback_base* self) noexcept;
    void on_cqe(int res, std::uint32_t flags, bool more) noexcept;

    const op_steps* steps_;
    completion_fn completion_ = nullptr;
    /// The backend's bookkeeping while the op is in flight; opaque here.
    std::uint64_t backend_words_[4] = {};
    ringlet::timeout timeout_;
    std::int32_t res_ = 0;
    std::uint32_t cqe_flags_ = 0;
    bool cancel_requested_ = false;
    bool not_on_shard_ = false;
};

/// An io_op whose await yields result<int> (the kernel's non-negative result).
class int_op : public io_op {
public:
    using io_op::io_op;
    result<int> await_resume() const noexcept { return outcome(); }
};

/// A timer on the monotonic clock: completes with -ETIME when `deadline`
/// passes, -ECANCELED when cancelled first. The one timer operation that
/// sleep_op and the waits with a deadline (timed_wait, accept) arm.
class timer_op : public io_op {
public:
    explicit timer_op(clock::time_point deadline = {}) noexcept;
    void set_deadline(clock::time_point t) noexcept { deadline_ = t; }
    [[nodiscard]] clock::time_point deadline() const noexcept { return deadline_; }

private:
    clock::time_point deadline_;
};

}  // namespace ringlet::detail

// detail::timed_wait: the waiting half of an awaitable whose kernel operation
// lives elsewhere — an armed multishot operation that outlives any one wait
// (listener::accept(), stream::receive(), datagram_socket::receive_batch()).
// detail::wait_queue: the FIFO of such waits on one operation.
//
// A deadline attached to the shared operation would cancel it, so a wait
// with a limit puts an entry of its own in the shard's timer queue (no
// kernel operation: the queue is user space, and taking an entry out is
// immediate, so a woken wait resumes in the same loop turn). The
// operation's owner calls wake() when there is something to take (or it
// failed); the deadline and the task's stop end the wait too.
#pragma once

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/core/timer_entry.hpp>

#include <coroutine>
#include <system_error>

namespace ringlet::detail {

class timed_wait : public stop_callback_base, private timer_entry {
public:
    /// Called when the wait ends, so the operation's owner forgets this waiter.
    using detach_fn = void (*)(timed_wait& self) noexcept;

    /// A non-empty `refused` fails the wait with it before it starts.
    timed_wait(detach_fn detach, std::error_code refused, timeout limit) noexcept;
    timed_wait(const timed_wait&) = delete;
    timed_wait& operator=(const timed_wait&) = delete;
    ~timed_wait();

    /// Ends the wait with `error` (none: there is something to take).
    void wake(std::error_code error = {}) noexcept;
    /// wake() with nothing failed, resuming the waiter right here when no
    /// timer completion is outstanding. Only from code the shard's ready
    /// queue runs (shard::schedule_call), never from inside a completion.
    void wake_now() noexcept;
    [[nodiscard]] bool waiting() const noexcept { return waiting_; }

protected:
    /// Starts waiting for `waiter`: registers on `token`, queues the deadline
    /// when there is a limit.
    void begin_wait(std::coroutine_handle<> waiter, const stop_token& token) noexcept;
    /// Sets error_ to errc::timed_out when an absolute limit has already passed.
    bool deadline_passed() noexcept;
    /// False (error_ set) when a wait cannot start: off a shard, or the task is stopped.
    bool may_wait(const stop_token& token) noexcept;

    std::error_code error_;
    timeout limit_;

private:
    friend class wait_queue;
    static void on_stop(stop_callback_base* self) noexcept;
    static void on_deadline(timer_entry& self) noexcept;
    void end(std::error_code error) noexcept;
    void cancel_timer() noexcept;
    void resume(bool here = false) noexcept;

    detach_fn detach_;
    std::coroutine_handle<> waiter_;
    bool waiting_ = false;
    bool resumed_ = false;
    // wait_queue's links
    timed_wait* queue_prev_ = nullptr;
    timed_wait* queue_next_ = nullptr;
    bool queued_ = false;
};

/// A FIFO of waits on one shared operation: served oldest first. Intrusive
/// (no allocation). Thread safety: its shard's thread only.
class wait_queue {
public:
    void push(timed_wait& w) noexcept;
    /// Unlinks `w`; a no-op when it is not queued (a detach callback may run twice).
    void remove(timed_wait& w) noexcept;
    [[nodiscard]] timed_wait* front() const noexcept { return head_; }
    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
    /// Ends every queued wait with `error`, oldest first.
    void fail_all(std::error_code error) noexcept;

private:
    timed_wait* head_ = nullptr;
    timed_wait* tail_ = nullptr;
};

}  // namespace ringlet::detail

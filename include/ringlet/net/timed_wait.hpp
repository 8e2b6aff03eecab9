// detail::timed_wait: the waiting half of an awaitable whose kernel operation
// lives elsewhere — an armed multishot receive that outlives any one wait
// (stream::receive(), datagram_socket::receive_batch()).
//
// A linked timeout would cancel the shared operation, so a wait with a limit
// arms an IORING_OP_TIMEOUT of its own. The operation's owner calls wake()
// when there is something to take (or it failed); the timer and the task's
// stop end the wait too. Whichever ends it, the waiter resumes only after the
// timer's last completion, so nothing the kernel holds points into a frame
// that is gone.
#pragma once

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/time.hpp>

#include <coroutine>
#include <system_error>

namespace ringlet::net::detail {

class timed_wait : public stop_callback_base {
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
    void on_timer() noexcept;
    [[nodiscard]] bool waiting() const noexcept { return waiting_; }

    class timer final : public ringlet::detail::timer_op {
    public:
        explicit timer(timed_wait& owner) noexcept;
        timed_wait* owner;
    };

protected:
    /// Starts waiting for `waiter`: registers on `token`, arms the timer when
    /// there is a limit.
    void begin_wait(std::coroutine_handle<> waiter, const stop_token& token) noexcept;
    /// Sets error_ to errc::timed_out when an absolute limit has already passed.
    bool deadline_passed() noexcept;
    /// False (error_ set) when a wait cannot start: off a shard, or the task is stopped.
    bool may_wait(const stop_token& token) noexcept;

    std::error_code error_;
    timeout limit_;

private:
    static void on_stop(stop_callback_base* self) noexcept;
    void end(std::error_code error) noexcept;
    void cancel_timer() noexcept;
    void resume_if_done() noexcept;

    detach_fn detach_;
    std::coroutine_handle<> waiter_;
    timer timer_;
    bool waiting_ = false;
    bool timer_armed_ = false;
    bool timer_cancelled_ = false;
    bool resumed_ = false;
};

}  // namespace ringlet::net::detail

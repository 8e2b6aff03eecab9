// The awaitable operation base: one io_uring submission awaited by one coroutine.
//
// Every ringlet I/O awaitable derives from detail::io_op. Its prepare function
// (defined in src/, where liburing is visible) fills the SQE; the ring tracks
// the operation by a slot index plus generation in user_data, so a stale
// completion can never resume the wrong waiter. The operation object lives in
// the awaiting coroutine's frame, so it — and the buffer it points at — stays
// alive until the kernel's final completion, even after cancellation.
//
// Cancellation: while suspended, the op is registered on the task's stop
// token; a stop submits IORING_OP_ASYNC_CANCEL for it and the waiter resumes
// only when the kernel's final completion arrives (which may still carry a
// real result if it won the race). A timeout is a linked IORING_OP_LINK_TIMEOUT.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>

#include <coroutine>
#include <cstdint>

struct io_uring_sqe;

namespace ringlet::detail {

class io_op : public stop_callback_base {
public:
    using prepare_fn = void (*)(io_op& op, io_uring_sqe* sqe) noexcept;
    /// Multishot ops handle every CQE themselves; `more` is false on the final one.
    using completion_fn = void (*)(io_op& op, int res, std::uint32_t flags, bool more) noexcept;
    /// Sees a single-shot op's final CQE before its waiter resumes; returns
    /// true when it called resubmit() instead (e.g. a recv that found the
    /// provided-buffer ring empty retries into its own buffer).
    using retry_fn = bool (*)(io_op& op, int res, std::uint32_t flags) noexcept;

    explicit io_op(prepare_fn prepare_step, ringlet::timeout limit = {}) noexcept
        : stop_callback_base(&on_stop), prepare_(prepare_step), timeout_(limit) {}
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

    // --- used by the ring (src/core) ---------------------------------------
    void on_cqe(int res, std::uint32_t flags, bool more) noexcept;
    void prepare(io_uring_sqe* sqe) noexcept { prepare_(*this, sqe); }
    /// Submits the op again for the same waiter, still registered for stop
    /// (from a retry_fn only). A timeout is linked again: a relative one restarts.
    void resubmit() noexcept;
    /// Storage for the linked timeout's __kernel_timespec (read at submit time).
    std::int64_t timespec_[2] = {0, 0};
    std::uint64_t user_data_ = 0;

protected:
    void set_completion(completion_fn fn) noexcept { completion_ = fn; }
    void set_retry(retry_fn fn) noexcept { retry_ = fn; }
    std::coroutine_handle<> waiter_;

private:
    static void on_stop(stop_callback_base* self) noexcept;
    void submit() noexcept;

    prepare_fn prepare_;
    completion_fn completion_ = nullptr;
    retry_fn retry_ = nullptr;
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

}  // namespace ringlet::detail

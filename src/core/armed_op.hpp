// detail::armed_op: the lifecycle of one operation that stays armed across
// the waits on it — a multishot accept, recv or recvmsg (or a single-shot one
// its owner re-arms): armed on its home shard under a stop token (the
// shard's root, so a stopping runtime ends it and the shard can drain), one
// cancel at most per arming, "orphaned" when its owner went away while it
// was armed (the final completion then frees the owner), and close()'s wait
// for the final completion. Used by net::listener, the stream receiver and
// the datagram receiver, which keep only what differs: what a completion
// means. Private to src/.
//
// Thread safety: its home shard's thread only.
#pragma once

#include "core/shard.hpp"

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/result.hpp>
#include <ringlet/core/stop.hpp>

#include <cassert>
#include <coroutine>
#include <system_error>
#include <utility>

namespace ringlet::detail {

class armed_op {
public:
    /// Starts `op` on the calling shard (its home from then on) under
    /// `token`. An error when it cannot: off a shard, or the start refused.
    std::error_code arm(io_op& op, const stop_token& token) noexcept {
        shard* here = shard::current();
        if (!here) return make_error_code(errc::not_on_shard);
        assert((!home_ || home_ == here) && "an armed operation used from two shards");
        home_ = here;
        cancel_sent_ = false;
        if (!op.start(std::noop_coroutine(), token)) return op.outcome().error();
        armed_ = true;
        return {};
    }
    /// Asks the backend to end `op`, once per arming and only on its home
    /// shard (elsewhere the backend cannot be touched: the runtime's stop
    /// ends it). Its final completion still arrives.
    void cancel(io_op& op) noexcept {
        if (!armed_ || cancel_sent_ || shard::current() != home_) return;
        cancel_sent_ = true;
        home_->io().cancel(op);
    }
    /// First thing in the op's completion: the final one (more false) ends the arming.
    void completed(io_op& op, bool more) noexcept {
        if (more) return;
        armed_ = false;
        op.deregister();
    }
    /// After a final completion: resumes a close() waiting for it. True when one was.
    bool resume_closer() noexcept {
        if (!close_waiter_) return false;
        shard::current()->schedule(std::exchange(close_waiter_, {}));
        return true;
    }
    /// The owner went away while armed: its final completion frees it.
    void orphan() noexcept { orphaned_ = true; }

    /// Awaitable of close(): resumes after the final completion (at once when not armed).
    struct final_completion {
        armed_op& a;
        bool await_ready() const noexcept { return !a.armed_; }
        void await_suspend(std::coroutine_handle<> h) noexcept { a.close_waiter_ = h; }
        void await_resume() const noexcept {}
    };
    [[nodiscard]] final_completion until_final() noexcept { return {*this}; }

    [[nodiscard]] bool armed() const noexcept { return armed_; }
    [[nodiscard]] bool orphaned() const noexcept { return orphaned_; }
    [[nodiscard]] bool closer_waiting() const noexcept { return static_cast<bool>(close_waiter_); }
    [[nodiscard]] shard* home() const noexcept { return home_; }

private:
    shard* home_ = nullptr;
    std::coroutine_handle<> close_waiter_;
    bool armed_ = false;
    bool cancel_sent_ = false;
    bool orphaned_ = false;
};

}  // namespace ringlet::detail

// task_group: a structured scope for a dynamic number of child tasks.
//
//     task_group group;
//     for (auto& peer : peers) group.spawn(talk_to(peer));
//     co_await group.wait();      // all children have ended here
//
// Children run concurrently on the current shard under the group's stop
// source. request_stop() cancels them; so does a stop of the task awaiting
// wait() (the group links to it), and so does the first child that fails —
// its exception is rethrown by wait() once every child has ended. A group
// must be waited before it is destroyed if it still has children.
//
// Thread safety: a group belongs to the shard that created it.
#pragma once

#include <ringlet/core/shard.hpp>
#include <ringlet/core/task.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>

namespace ringlet {

class task_group {
public:
    task_group() = default;
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group() { assert(running_ == 0 && "task_group destroyed with children still running: await wait()"); }

    /// Starts `t` as a child (scheduled on the current shard, not run inline).
    template <class T>
    void spawn(task<T> t) {
        ++running_;
        ++spawned_;
        auto body = run_child(std::move(t));
        body.handle().promise().set_token(stop_.get_token());
        detail::spawn_on_current(std::move(body));
    }

    /// Cancels every child (running ones and those spawned later).
    void request_stop() noexcept { stop_.request_stop(); }
    [[nodiscard]] bool stop_requested() const noexcept { return stop_.stop_requested(); }
    [[nodiscard]] std::size_t running() const noexcept { return running_; }
    [[nodiscard]] std::size_t spawned() const noexcept { return spawned_; }

    /// Waits until every child has ended; rethrows the first child's exception.
    [[nodiscard]] task<void> wait() {
        stop_.link(co_await this_task::stop_token());
        if (running_ > 0) co_await waiter{this};
        stop_.link({});
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

private:
    struct waiter {
        task_group* group;
        bool await_ready() const noexcept { return group->running_ == 0; }
        void await_suspend(std::coroutine_handle<> h) noexcept { group->waiter_ = h; }
        void await_resume() const noexcept {}
    };

    template <class T>
    task<void> run_child(task<T> t) {
        try {
            (void)co_await std::move(t);
        } catch (...) {
            if (!error_) error_ = std::current_exception();
            stop_.request_stop();
        }
        if (--running_ == 0 && waiter_) detail::schedule_on_current(std::exchange(waiter_, {}));
    }

    linked_stop_source stop_;
    std::size_t running_ = 0;
    std::size_t spawned_ = 0;
    std::coroutine_handle<> waiter_;
    std::exception_ptr error_;
};

}  // namespace ringlet

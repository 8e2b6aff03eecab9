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
// Memory: each child costs its own task's frame plus one small frame of the
// group's (a 128-byte frame-pool block on x86-64), which starts the child,
// catches its failure, runs its completion hook and counts it out. Nothing
// else per child: the shard does not count a group's children as tasks of
// its own (the task awaiting wait() is one, and outlives them), so a server
// that runs each connection in a group pays for one frame beside the
// handler's, and a counter of children (net::connection_gate) pays none.
//
// Thread safety: a group belongs to the shard that created it.
#pragma once

#include <ringlet/core/shard.hpp>
#include <ringlet/core/task.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

namespace ringlet {

/// What to run once when a task_group child ends, however it ends (it
/// returned, threw, or was stopped): a function and its argument, kept in
/// the group's frame for that child. Runs on the child's shard after the
/// child's own frame is gone, before wait() can see the child as ended.
struct completion_hook {
    void (*call)(void* context) noexcept = nullptr;
    void* context = nullptr;
    void operator()() const noexcept {
        if (call) call(context);
    }
};

/// A task with its completion hook, for task_group::spawn: how something
/// that follows tasks (net::connection_gate counts connections) learns of
/// their end without a coroutine frame of its own around each.
template <class T = void>
struct [[nodiscard]] hooked_task {
    task<T> body;
    completion_hook on_end;
};

class task_group {
public:
    task_group() = default;
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group() { assert(running_ == 0 && "task_group destroyed with children still running: await wait()"); }

    /// Starts `t` as a child (scheduled on the current shard, not run inline).
    /// Throws std::logic_error off a shard thread.
    template <class T>
    void spawn(task<T> t) {
        spawn(hooked_task<T>{std::move(t), {}});
    }

    /// Starts `child.body` as a child, as above, and runs `child.on_end` when
    /// it ends (also when spawn throws: the child is over then).
    template <class T>
    void spawn(hooked_task<T> child) {
        const completion_hook on_end = child.on_end;
        auto frame = run_child(std::move(child.body), on_end).handle;
        frame.promise().set_token(stop_.get_token());
        try {
            detail::schedule_on_current(frame);
        } catch (...) {
            frame.destroy();
            on_end();
            throw;
        }
        ++running_;
        ++spawned_;
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

    /// The group's frame for one child: created suspended, resumed from the
    /// shard's ready queue, freed by its own end. Its promise is a task
    /// promise's base, so the child inherits its stop token when awaited.
    struct child_frame {
        struct promise_type : detail::promise_base {
            child_frame get_return_object() noexcept {
                return {std::coroutine_handle<promise_type>::from_promise(*this)};
            }
            std::suspend_never final_suspend() const noexcept { return {}; }
            void return_void() const noexcept {}
            void unhandled_exception() const noexcept { std::terminate(); }  // the body catches everything
        };
        std::coroutine_handle<promise_type> handle;
    };

    template <class T>
    child_frame run_child(task<T> t, completion_hook on_end) {
        try {
            (void)co_await std::move(t);
        } catch (...) {
            if (!error_) error_ = std::current_exception();
            stop_.request_stop();
        }
        t = task<T>{};  // the child's frame goes first, so that on_end sees its memory freed
        on_end();
        if (--running_ == 0 && waiter_) detail::schedule_on_current(std::exchange(waiter_, {}));
    }

    linked_stop_source stop_;
    std::size_t running_ = 0;
    std::size_t spawned_ = 0;
    std::coroutine_handle<> waiter_;
    std::exception_ptr error_;
};

}  // namespace ringlet

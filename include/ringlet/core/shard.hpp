// Working with shards from inside a task: identity, spawning, yielding and
// cross-shard calls.
//
// Every function here must be called on a shard thread (inside a task run by a
// ringlet::runtime); the ones that return awaitables report errc::not_on_shard
// or throw std::logic_error otherwise, as documented.
#pragma once

#include <ringlet/core/task.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace ringlet {

namespace detail {

/// An intrusive message between shards; `run` executes on the receiving shard.
struct shard_message {
    void (*run)(shard_message* self) noexcept = nullptr;
    shard_message* next = nullptr;
};

/// Queues `message` for shard `target` and wakes it (MSG_RING or eventfd).
/// Throws std::out_of_range for a bad shard index.
void post_message(unsigned target, shard_message* message);
void spawn_on_current(task<void> t);
void schedule_on_current(std::coroutine_handle<> h);
[[noreturn]] void throw_not_on_shard(const char* what);

template <class T>
task<void> discard_value(task<T> t) {
    (void)co_await std::move(t);
}

template <class R>
struct unwrap_task {
    using type = R;
    static constexpr bool is_task = false;
};
template <class T>
struct unwrap_task<task<T>> {
    using type = T;
    static constexpr bool is_task = true;
};

/// F() as a task, whether F returns a task<R> or a plain R.
template <class F>
struct call_traits {
    using raw = std::invoke_result_t<F&>;
    static constexpr bool returns_task = unwrap_task<raw>::is_task;
    using value = typename unwrap_task<raw>::type;
};

template <class F>
task<typename call_traits<F>::value> call_as_task(F& fn) {
    if constexpr (call_traits<F>::returns_task) {
        co_return co_await fn();
    } else if constexpr (std::is_void_v<typename call_traits<F>::value>) {
        fn();
        co_return;
    } else {
        co_return fn();
    }
}

template <class R>
struct call_outcome {
    std::optional<R> value;
    std::exception_ptr error;
    R take() {
        if (error) std::rethrow_exception(error);
        return std::move(*value);
    }
};
template <>
struct call_outcome<void> {
    std::exception_ptr error;
    void take() const {
        if (error) std::rethrow_exception(error);
    }
};

/// Runs F on another shard and resumes the caller on its own shard afterwards.
template <class F>
class remote_call {
public:
    using value_type = typename call_traits<F>::value;

    remote_call(F fn, unsigned target, unsigned origin) : fn_(std::move(fn)), target_(target), origin_(origin) {
        request_.owner = this;
        request_.run = &run_request;
        reply_.owner = this;
        reply_.run = &run_reply;
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) {
        waiter_ = waiter;
        post_message(target_, &request_);
    }
    value_type await_resume() { return outcome_.take(); }

private:
    struct hop : shard_message {
        remote_call* owner = nullptr;
    };
    static void run_request(shard_message* m) noexcept {
        auto* self = static_cast<hop*>(m)->owner;
        try {
            spawn_on_current(self->execute());
        } catch (...) {
            self->outcome_.error = std::current_exception();
            post_message(self->origin_, &self->reply_);
        }
    }
    static void run_reply(shard_message* m) noexcept {
        schedule_on_current(static_cast<hop*>(m)->owner->waiter_);
    }
    task<void> execute() {
        try {
            if constexpr (std::is_void_v<value_type>) co_await call_as_task(fn_);
            else outcome_.value.emplace(co_await call_as_task(fn_));
        } catch (...) {
            outcome_.error = std::current_exception();
        }
        post_message(origin_, &reply_);
    }

    F fn_;
    unsigned target_;
    unsigned origin_;
    hop request_;
    hop reply_;
    std::coroutine_handle<> waiter_;
    call_outcome<value_type> outcome_;
};

}  // namespace detail

namespace this_shard {

/// Index of the calling shard (0 … count()-1). Throws std::logic_error off-shard.
[[nodiscard]] unsigned id();
/// Number of shards of the running runtime. Throws std::logic_error off-shard.
[[nodiscard]] unsigned count();
/// True on a shard thread.
[[nodiscard]] bool on_shard() noexcept;
/// The shard's root stop token: requested at the runtime's hard stop, when
/// everything still running is to be cancelled (see runtime.hpp).
[[nodiscard]] ringlet::stop_token stop_token();
/// The shard's drain token: requested when a graceful stop begins (and at the
/// latest with stop_token()). Work that should end at a graceful stop — an
/// accept loop, a long poll, an idle keep-alive — watches it (see until_drain);
/// what it has started then gets the runtime's drain_timeout to finish.
/// Throws std::logic_error off-shard.
[[nodiscard]] ringlet::stop_token drain_token();
/// How the shard's backend is set up, one fact per line (io_uring: setup
/// flags, features and supported opcodes; epoll: how it waits, what it emulates).
[[nodiscard]] std::string describe_ring();

}  // namespace this_shard

/// Starts `t` detached on the current shard. It runs with the shard's stop
/// token (cancelled when the runtime stops); the runtime waits for it before
/// returning. An exception escaping it is reported through the runtime's
/// on_task_failure handler (default: a line on stderr), never silently lost.
template <class T>
void spawn(task<T> t) {
    if constexpr (std::is_void_v<T>) detail::spawn_on_current(std::move(t));
    else detail::spawn_on_current(detail::discard_value(std::move(t)));
}

/// Runs `t` under a stop token that is requested when the awaiting task is
/// stopped or when this shard begins to drain (a graceful stop), and yields
/// its result: the shape of an accept loop, which must stop taking new work
/// at a graceful stop while the work it started goes on under the caller's
/// token. Cancellation: as t's, with either stop. Shard thread only.
template <class T>
[[nodiscard]] task<T> until_drain(task<T> t) {
    linked_stop_source scope{co_await this_task::stop_token()};
    stop_callback on_drain{this_shard::drain_token(), [&scope]() noexcept { scope.request_stop(); }};
    t.handle().promise().set_token(scope.get_token());
    co_return co_await std::move(t);
}

/// Lets every other ready task on this shard run before continuing.
struct [[nodiscard]] yield_awaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { detail::schedule_on_current(h); }
    void await_resume() const noexcept {}
};
[[nodiscard]] inline yield_awaiter yield() noexcept { return {}; }

/// Runs `fn` (returning R or task<R>) on shard `target` and yields its result
/// (or rethrows its exception) back on the calling shard. The call is a pair
/// of messages, each waking the other shard's loop (without a syscall of the
/// sender's own where the backend can). It is not cancelled when the
/// caller is: the remote side runs under its own shard's stop token.
template <class F>
[[nodiscard]] task<typename detail::call_traits<F>::value> submit_to(unsigned target, F fn) {
    const unsigned origin = this_shard::id();
    if (target == origin) co_return co_await detail::call_as_task(fn);
    co_return co_await detail::remote_call<F>{std::move(fn), target, origin};
}

}  // namespace ringlet

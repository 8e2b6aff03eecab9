// Running tasks concurrently on the current shard: when_all, when_any, and
// invoke_on_all (the same call on every shard).
//
// Children inherit a stop source linked to the awaiting task's token, so
// cancelling the awaiter cancels them. when_all waits for every child; the
// first exception cancels the siblings and is rethrown once all have ended.
// when_any (the seeds' ev/select) yields the first child to finish and
// cancels the rest; it returns only after the losers have ended too, so no
// operation outlives the call.
#pragma once

#include <ringlet/core/shard.hpp>
#include <ringlet/core/task.hpp>

#include <array>
#include <cstddef>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace ringlet {

namespace detail {

/// Shared by the children of one when_all / when_any.
struct fanout {
    enum class mode { all, any };

    fanout(mode m, std::size_t children, const stop_token& parent) : kind(m), remaining(children + 1), stop(parent) {}

    void child_done(std::size_t index, bool failed) noexcept {
        if (kind == mode::any && winner == none) {
            winner = index;
            stop.request_stop();
        }
        if (failed && first_error == none) {
            first_error = index;
            if (kind == mode::all) stop.request_stop();
        }
    }
    bool arrive() noexcept { return --remaining == 0; }

    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
    mode kind;
    std::size_t remaining;  // children still running, plus one for the starter
    std::coroutine_handle<> waiter;
    linked_stop_source stop;
    std::size_t winner = none;
    std::size_t first_error = none;
};

/// The coroutine that runs one child; its end hands control to the waiter
/// when it is the last to finish.
class fanout_child {
public:
    struct promise_type {
        fanout* group = nullptr;
        static void* operator new(std::size_t size) { return allocate_frame(size); }
        static void operator delete(void* frame, std::size_t size) noexcept { deallocate_frame(frame, size); }
        fanout_child get_return_object() noexcept {
            return fanout_child{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        struct last_out {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) const noexcept {
                fanout* g = self.promise().group;
                if (g->arrive()) return g->waiter;
                return std::noop_coroutine();
            }
            void await_resume() const noexcept {}
        };
        last_out final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::terminate(); }  // run_child catches everything
    };

    fanout_child() noexcept = default;
    explicit fanout_child(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
    fanout_child(fanout_child&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    fanout_child& operator=(fanout_child&& other) noexcept {
        std::swap(handle_, other.handle_);
        return *this;
    }
    ~fanout_child() {
        if (handle_) handle_.destroy();
    }
    void start(fanout& group) {
        handle_.promise().group = &group;
        handle_.resume();
    }

private:
    std::coroutine_handle<promise_type> handle_;
};

template <class T>
fanout_child run_child(task<T> t, fanout& group, std::size_t index, call_outcome<T>& out) {
    t.handle().promise().set_token(group.stop.get_token());
    bool failed = false;
    try {
        if constexpr (std::is_void_v<T>) co_await std::move(t);
        else out.value.emplace(co_await std::move(t));
    } catch (...) {
        out.error = std::current_exception();
        failed = true;
    }
    group.child_done(index, failed);
}

/// Starts every child, then suspends until the last one has finished.
template <class Children>
struct fanout_awaiter {
    fanout& group;
    Children& children;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> waiter) {
        group.waiter = waiter;
        for (auto& child : children) child.start(group);
        return !group.arrive();  // false: everything finished inline, continue at once
    }
    void await_resume() const noexcept {}
};

template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
value_or_monostate<T> take_value(call_outcome<T>& out) {
    if constexpr (std::is_void_v<T>) {
        out.take();
        return {};
    } else {
        return out.take();
    }
}

/// What co_await of an lvalue `A` yields.
template <class A>
using await_value = decltype(std::declval<A&>().await_resume());

/// A task that awaits `awaitable` (an operation object that is not a task).
template <class A>
task<await_value<A>> await_in_task(A awaitable) {
    co_return co_await awaitable;
}

/// `x` as a task: a task as it is, any other awaitable awaited inside one.
template <class A>
auto as_task(A&& x) {
    if constexpr (unwrap_task<std::remove_cvref_t<A>>::is_task) return std::forward<A>(x);
    else return await_in_task(std::forward<A>(x));
}

/// At least one argument is an awaitable that is not a task.
template <class... As>
concept mixed_awaitables = sizeof...(As) > 0 && (... || !unwrap_task<std::remove_cvref_t<As>>::is_task);

}  // namespace detail

/// Runs all tasks concurrently; yields their values in order (std::monostate
/// for void). The first exception cancels the others and is rethrown after
/// all have ended.
template <class... Ts>
[[nodiscard]] task<std::tuple<detail::value_or_monostate<Ts>...>> when_all(task<Ts>... tasks) {
    detail::fanout group{detail::fanout::mode::all, sizeof...(Ts), co_await this_task::stop_token()};
    std::tuple<detail::call_outcome<Ts>...> outcomes;
    auto children = [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<detail::fanout_child, sizeof...(Ts)>{
            detail::run_child(std::move(tasks), group, I, std::get<I>(outcomes))...};
    }(std::index_sequence_for<Ts...>{});
    co_await detail::fanout_awaiter<decltype(children)>{group, children};
    if (group.first_error != detail::fanout::none) {
        std::apply([&](auto&... out) { (..., (out.error ? std::rethrow_exception(out.error) : void())); }, outcomes);
    }
    co_return std::apply([](auto&... out) { return std::make_tuple(detail::take_value(out)...); }, outcomes);
}

/// when_all of tasks and operation objects alike (`conn.write_all(...)`
/// beside `conn.read_exact(...)`): each awaitable that is not a task runs
/// inside one.
template <class... As>
    requires detail::mixed_awaitables<As...>
[[nodiscard]] auto when_all(As&&... awaitables) {
    return when_all(detail::as_task(std::forward<As>(awaitables))...);
}

/// Runs all tasks of a vector concurrently; yields their values in order.
template <class T>
[[nodiscard]] auto when_all(std::vector<task<T>> tasks)
    -> task<std::conditional_t<std::is_void_v<T>, void, std::vector<detail::value_or_monostate<T>>>> {
    detail::fanout group{detail::fanout::mode::all, tasks.size(), co_await this_task::stop_token()};
    std::vector<detail::call_outcome<T>> outcomes(tasks.size());
    std::vector<detail::fanout_child> children;
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        children.push_back(detail::run_child(std::move(tasks[i]), group, i, outcomes[i]));
    }
    co_await detail::fanout_awaiter<decltype(children)>{group, children};
    if (group.first_error != detail::fanout::none) std::rethrow_exception(outcomes[group.first_error].error);
    if constexpr (!std::is_void_v<T>) {
        std::vector<T> values;
        values.reserve(outcomes.size());
        for (auto& out : outcomes) values.push_back(out.take());
        co_return values;
    }
}

/// The outcome of when_any: which task finished first, and its value.
template <class... Ts>
struct when_any_result {
    std::size_t index;
    std::variant<detail::value_or_monostate<Ts>...> value;
};

/// Runs all tasks concurrently; yields the first to finish (its exception is
/// rethrown if it failed). The others are cancelled and awaited before return.
template <class... Ts>
[[nodiscard]] task<when_any_result<Ts...>> when_any(task<Ts>... tasks) {
    static_assert(sizeof...(Ts) > 0, "when_any needs at least one task");
    detail::fanout group{detail::fanout::mode::any, sizeof...(Ts), co_await this_task::stop_token()};
    std::tuple<detail::call_outcome<Ts>...> outcomes;
    auto children = [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<detail::fanout_child, sizeof...(Ts)>{
            detail::run_child(std::move(tasks), group, I, std::get<I>(outcomes))...};
    }(std::index_sequence_for<Ts...>{});
    co_await detail::fanout_awaiter<decltype(children)>{group, children};

    using result_type = when_any_result<Ts...>;
    std::optional<result_type> picked;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (..., (I == group.winner
                   ? void(picked.emplace(result_type{I, decltype(result_type::value){
                                                            std::in_place_index<I>, detail::take_value(std::get<I>(outcomes))}}))
                   : void()));
    }(std::index_sequence_for<Ts...>{});
    co_return std::move(*picked);
}

/// when_any of tasks and operation objects alike (see when_all's).
template <class... As>
    requires detail::mixed_awaitables<As...>
[[nodiscard]] auto when_any(As&&... awaitables) {
    return when_any(detail::as_task(std::forward<As>(awaitables))...);
}

/// Runs `fn` on every shard concurrently (the calling shard included) and
/// yields the results by shard index (nothing for void).
template <class F>
[[nodiscard]] auto invoke_on_all(F fn) {
    using value = typename detail::call_traits<F>::value;
    std::vector<task<value>> calls;
    for (unsigned s = 0; s < this_shard::count(); ++s) calls.push_back(submit_to(s, fn));
    return when_all(std::move(calls));
}

}  // namespace ringlet

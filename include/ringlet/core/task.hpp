// task<T>: the coroutine type of ringlet.
//
// Lazy (starts when awaited), move-only, single-await. Awaiting a task
// transfers control symmetrically into it and back out of it at its end, so
// chains of any depth never grow the stack. A value or an exception propagates
// to the awaiter. Frames come from the per-thread frame pool.
//
// Each task carries a stop_token: a task awaited by another inherits the
// awaiter's token; I/O awaitables read it to cancel their kernel operation.
#pragma once

#include <ringlet/core/frame_pool.hpp>
#include <ringlet/core/stop.hpp>

#include <coroutine>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

namespace ringlet {

template <class T = void>
class task;

namespace detail {

class promise_base {
public:
    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept { deallocate_frame(frame, size); }

    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) const noexcept {
            if (auto next = self.promise().continuation_) return next;
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    [[nodiscard]] const stop_token& token() const noexcept { return token_; }
    void set_token(stop_token token) noexcept { token_ = std::move(token); }
    void set_continuation(std::coroutine_handle<> next) noexcept { continuation_ = next; }

protected:
    void rethrow_if_failed() const {
        if (exception_) std::rethrow_exception(exception_);
    }

private:
    std::coroutine_handle<> continuation_;
    std::exception_ptr exception_;
    stop_token token_;
};

/// The stop token of the coroutine behind `h`, if it is a ringlet task.
template <class Promise>
const stop_token& token_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        return h.promise().token();
    } else {
        static const stop_token never;
        return never;
    }
}

template <class T>
class promise final : public promise_base {
public:
    promise() noexcept {}
    ~promise() {
        if (has_value_) value_.~T();
    }
    task<T> get_return_object() noexcept;

    template <class U>
        requires std::is_constructible_v<T, U&&>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (&value_) T(std::forward<U>(value));
        has_value_ = true;
    }
    T take() {
        rethrow_if_failed();
        return std::move(value_);
    }

private:
    union {
        T value_;
    };
    bool has_value_ = false;
};

template <>
class promise<void> final : public promise_base {
public:
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void take() const { rethrow_if_failed(); }
};

}  // namespace detail

/// A lazily started coroutine producing T. Await it exactly once.
template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : handle_(h) {}
    task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            destroy();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { destroy(); }

    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }
    [[nodiscard]] bool done() const noexcept { return handle_ && handle_.done(); }

    struct awaiter {
        handle_type child;
        bool await_ready() const noexcept { return !child || child.done(); }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> parent) noexcept {
            if constexpr (std::is_base_of_v<detail::promise_base, Promise>) {
                if (!child.promise().token().stop_possible()) child.promise().set_token(parent.promise().token());
            }
            child.promise().set_continuation(parent);
            return child;
        }
        T await_resume() { return child.promise().take(); }
    };
    awaiter operator co_await() && noexcept { return awaiter{handle_}; }

    /// For the runtime: the underlying coroutine (ownership stays with the task).
    [[nodiscard]] handle_type handle() const noexcept { return handle_; }
    /// Gives up ownership of the coroutine frame.
    [[nodiscard]] handle_type release() noexcept { return std::exchange(handle_, {}); }

private:
    void destroy() noexcept {
        if (handle_) handle_.destroy();
        handle_ = {};
    }
    handle_type handle_;
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

namespace this_task {

/// `co_await this_task::stop_token()` yields the current task's stop token without suspending.
struct stop_token_awaiter {
    ringlet::stop_token token;
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) noexcept {
        token = detail::token_of(h);
        return false;
    }
    ringlet::stop_token await_resume() noexcept { return std::move(token); }
};
[[nodiscard]] inline stop_token_awaiter stop_token() noexcept { return {}; }

}  // namespace this_task
}  // namespace ringlet

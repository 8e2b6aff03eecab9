// Cancellation: stop_source / stop_token / stop_callback, the one mechanism the
// whole library uses.
//
// Shaped like std::stop_source but shard-local: no atomics, no locks. A source,
// its tokens and its callbacks belong to one shard thread; to stop work on
// another shard, send it a message (submit_to) and request the stop there.
//
// Tasks carry a token implicitly: a task awaited by another inherits the
// awaiter's token, spawned tasks get their shard's (or task group's) token, and
// every I/O awaitable registers a callback that asks the backend to cancel its
// kernel operation when a stop is requested. Code rarely touches a
// token directly; `co_await this_task::stop_token()` returns the current one.
#pragma once

#include <cassert>
#include <cstddef>
#include <utility>

namespace ringlet {

class stop_token;
class stop_source;

namespace detail {
struct stop_state;
}  // namespace detail

/// Intrusive registration node; derive from it (or use stop_callback<F>).
/// Registering when a stop was already requested runs the callback at once.
/// Thread safety: owned by one shard thread.
class stop_callback_base {
public:
    using invoke_fn = void (*)(stop_callback_base*) noexcept;

    explicit stop_callback_base(invoke_fn fn) noexcept : invoke_(fn) {}
    stop_callback_base(const stop_callback_base&) = delete;
    stop_callback_base& operator=(const stop_callback_base&) = delete;
    ~stop_callback_base() { deregister(); }

    /// Links this node to the token's source. Returns false (and runs nothing)
    /// when the token can never be stopped.
    bool register_with(const stop_token& token) noexcept;
    /// Unlinks if linked; safe to call repeatedly. After it returns, the callback will not run.
    void deregister() noexcept;
    [[nodiscard]] bool registered() const noexcept { return state_ != nullptr; }

private:
    friend struct detail::stop_state;
    invoke_fn invoke_;
    detail::stop_state* state_ = nullptr;
    stop_callback_base* prev_ = nullptr;
    stop_callback_base* next_ = nullptr;
};

namespace detail {

struct stop_state {
    std::size_t refs = 1;
    bool requested = false;
    stop_callback_base* head = nullptr;

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) delete this;
    }
    void link(stop_callback_base* cb) noexcept {
        cb->state_ = this;
        cb->prev_ = nullptr;
        cb->next_ = head;
        if (head) head->prev_ = cb;
        head = cb;
    }
    void unlink(stop_callback_base* cb) noexcept {
        if (cb->prev_) cb->prev_->next_ = cb->next_;
        else head = cb->next_;
        if (cb->next_) cb->next_->prev_ = cb->prev_;
        cb->state_ = nullptr;
        cb->prev_ = cb->next_ = nullptr;
    }
    /// Runs every callback once. A callback may deregister or destroy others.
    bool request() noexcept {
        if (requested) return false;
        requested = true;
        add_ref();  // a callback may drop the last source or token
        while (head) {
            stop_callback_base* cb = head;
            unlink(cb);
            cb->invoke_(cb);
        }
        release();
        return true;
    }
};

}  // namespace detail

/// A view of a stop_source: can be asked whether a stop was requested.
/// A default-constructed token can never be stopped.
class stop_token {
public:
    stop_token() noexcept = default;
    stop_token(const stop_token& other) noexcept : state_(other.state_) {
        if (state_) state_->add_ref();
    }
    stop_token(stop_token&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    stop_token& operator=(stop_token other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~stop_token() {
        if (state_) state_->release();
    }

    [[nodiscard]] bool stop_requested() const noexcept { return state_ && state_->requested; }
    [[nodiscard]] bool stop_possible() const noexcept { return state_ != nullptr; }
    friend bool operator==(const stop_token& a, const stop_token& b) noexcept { return a.state_ == b.state_; }

private:
    friend class stop_source;
    friend class stop_callback_base;
    explicit stop_token(detail::stop_state* state) noexcept : state_(state) {
        if (state_) state_->add_ref();
    }
    detail::stop_state* state_ = nullptr;
};

/// Owns a stop state. request_stop() runs every registered callback, once.
class stop_source {
public:
    stop_source() : state_(new detail::stop_state) {}
    stop_source(const stop_source&) = delete;
    stop_source& operator=(const stop_source&) = delete;
    stop_source(stop_source&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    stop_source& operator=(stop_source&& other) noexcept {
        if (this != &other) {
            if (state_) state_->release();
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    ~stop_source() {
        if (state_) state_->release();
    }

    /// Returns true if this call made the request (false if it was already made).
    bool request_stop() noexcept { return state_ && state_->request(); }
    [[nodiscard]] bool stop_requested() const noexcept { return state_ && state_->requested; }
    [[nodiscard]] stop_token get_token() const noexcept { return stop_token{state_}; }

private:
    detail::stop_state* state_;
};

/// Runs `fn` when the token's source requests a stop (at once if it already did).
template <class F>
class stop_callback final : public stop_callback_base {
public:
    stop_callback(const stop_token& token, F fn) noexcept(std::is_nothrow_move_constructible_v<F>)
        : stop_callback_base(&invoke), fn_(std::move(fn)) {
        register_with(token);
    }

private:
    static void invoke(stop_callback_base* self) noexcept { static_cast<stop_callback*>(self)->fn_(); }
    F fn_;
};

/// A stop_source that is also stopped when a parent token is: the building
/// block of task groups and when_any. Not movable (it registers itself).
class linked_stop_source {
public:
    explicit linked_stop_source(const stop_token& parent = {}) noexcept : forward_(this) {
        forward_.register_with(parent);
    }
    linked_stop_source(const linked_stop_source&) = delete;
    linked_stop_source& operator=(const linked_stop_source&) = delete;

    /// Links to (another) parent; a parent already stopped stops this source at once.
    void link(const stop_token& parent) noexcept {
        forward_.deregister();
        forward_.register_with(parent);
    }
    bool request_stop() noexcept { return source_.request_stop(); }
    [[nodiscard]] bool stop_requested() const noexcept { return source_.stop_requested(); }
    [[nodiscard]] stop_token get_token() const noexcept { return source_.get_token(); }

private:
    struct forwarder final : stop_callback_base {
        explicit forwarder(linked_stop_source* owner) noexcept : stop_callback_base(&forward), owner_(owner) {}
        static void forward(stop_callback_base* self) noexcept {
            static_cast<forwarder*>(self)->owner_->source_.request_stop();
        }
        linked_stop_source* owner_;
    };
    stop_source source_;
    forwarder forward_;
};

inline bool stop_callback_base::register_with(const stop_token& token) noexcept {
    assert(state_ == nullptr);
    if (!token.state_) return false;
    if (token.state_->requested) {
        invoke_(this);
        return true;
    }
    token.state_->link(this);
    return true;
}

inline void stop_callback_base::deregister() noexcept {
    if (state_) state_->unlink(this);
}

}  // namespace ringlet

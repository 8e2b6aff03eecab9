// net::listener: a listening socket that accepts through one multishot
// accept — the machinery behind tcp::listener and local::listener.
//
//     auto conn = co_await lst.accept(5s);     // result<net::socket>
//
// The first accept() arms one multishot accept; from then on the kernel posts
// one completion per connection without a new submission (the epoll backend
// emulates it: one accept4(2) per readiness of the listening socket). Connections that arrive while no task is waiting are queued in
// the listener (up to `queue_limit`; beyond that the multishot is cancelled
// and connections wait in the kernel's backlog until accept() is called
// again). Kernels without multishot accept (before 5.19) get one single-shot
// accept per connection, transparently.
//
// Outcomes of accept(): the connected socket; errc::timed_out when `limit`
// passed first (no connection is lost: one arriving later is queued);
// errc::operation_canceled when the awaiting task was stopped, the listener
// was closed, or the runtime is stopping; errc::not_on_shard off a shard;
// std::errc::bad_file_descriptor for a closed listener; and accept4(2)'s
// errors — EMFILE/ENFILE when out of descriptors (the connection stays in the
// backlog; call accept() again later), ENOBUFS/ENOMEM. A multishot accept that
// ends with an error reports it to every task then waiting (or to the next
// accept() call) and is re-armed by the next accept().
//
// Thread safety: a listener belongs to the shard of its first accept(); close
// or destroy it there. Several tasks may wait in accept() at once; they are
// served in the order they started waiting. Moving a listener is always safe
// (its state lives at a fixed address), even with accepts pending.
#pragma once

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/result.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/timed_wait.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/socket.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringlet::net {

namespace detail {

struct listener_state;

/// One task waiting in accept(): a wait (timer, stop) in the listener's FIFO.
class accept_wait : public ringlet::detail::timed_wait {
public:
    accept_wait(listener_state* state, timeout limit) noexcept;

    bool await_ready() noexcept;
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        return suspend(waiter, ringlet::detail::token_of(waiter));
    }
    bool suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept;

    /// Used by the listener: hands a connection over; the waiter resumes once its timer is gone.
    void deliver(int fd) noexcept;

protected:
    /// The accepted descriptor or the error; call once, from await_resume.
    [[nodiscard]] result<int> take() noexcept {
        if (error_) return unexpected{error_};
        return fd_;
    }

private:
    static void detach(ringlet::detail::timed_wait& self) noexcept;

    listener_state* state_;
    int fd_ = -1;
};

}  // namespace detail

/// Awaitable of listener::accept, yielding result<Stream>.
template <class Stream>
class [[nodiscard]] accept_awaiter final : public detail::accept_wait {
public:
    using accept_wait::accept_wait;
    result<Stream> await_resume() noexcept {
        auto fd = take();
        if (!fd) return unexpected{fd.error()};
        return Stream{net::socket{*fd}};
    }
};

/// A listening socket with multishot accept. Move-only; see the file comment.
class listener {
public:
    /// Connections queued in the listener before it stops accepting ahead.
    static constexpr std::size_t queue_limit = 128;

    listener() noexcept = default;
    /// Takes a socket that is bound and listening (socket::listen).
    explicit listener(net::socket listening);
    listener(listener&& other) noexcept;
    listener& operator=(listener&& other) noexcept;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    /// Closes queued connections and the socket at once (::close(2)) and
    /// unlinks a unix path set with unlink_on_close(). A multishot accept
    /// still armed is cancelled; its last completion is absorbed later.
    ~listener();

    /// Waits for a connection and yields it as a Stream (constructible from a
    /// net::socket). See the file comment for the outcomes.
    /// @see accept4(2)
    template <class Stream = net::socket>
    [[nodiscard]] accept_awaiter<Stream> accept(timeout limit = {}) noexcept {
        return accept_awaiter<Stream>{state_, limit};
    }

    /// Fails every waiting accept() with errc::operation_canceled, ends the
    /// multishot accept and waits for it, closes queued connections, then
    /// closes the socket like socket::close() and unlinks the unix path (see
    /// unlink_on_close). Not cancellable; closing a closed listener succeeds.
    [[nodiscard]] task<result<void>> close();

    /// The bound address (with the real port after binding port 0). @see getsockname(2)
    [[nodiscard]] result<address> local_address() const noexcept;
    [[nodiscard]] bool is_open() const noexcept;
    [[nodiscard]] int fd() const noexcept;
    /// Accepted connections waiting in the listener for an accept() call.
    [[nodiscard]] std::size_t queued() const noexcept;
    /// Whether accepting is multishot here (false after falling back to
    /// single-shot accepts on an old kernel; true before the first accept).
    [[nodiscard]] bool multishot() const noexcept;

    /// On close or destruction, removes the file at `path` if it is still the
    /// socket this listener is bound to (same device and inode), so that a
    /// successor's socket is never removed. Used by local::listen.
    result<void> unlink_on_close(std::string path);

private:
    detail::listener_state* state_ = nullptr;
};

}  // namespace ringlet::net

namespace ringlet::net {

/// A net::listener whose accept() yields `Stream` — tcp::listener and
/// local::listener. Operations as on net::listener.
template <class Stream>
class basic_listener {
public:
    basic_listener() noexcept = default;
    explicit basic_listener(net::listener impl) noexcept : impl_(std::move(impl)) {}

    /// Waits for a connection. @see net::listener::accept for the outcomes.
    [[nodiscard]] accept_awaiter<Stream> accept(timeout limit = {}) noexcept {
        return impl_.template accept<Stream>(limit);
    }
    /// @see net::listener::close
    [[nodiscard]] task<result<void>> close() { return impl_.close(); }
    /// The bound address, with the real port after binding port 0.
    [[nodiscard]] result<address> local_address() const noexcept { return impl_.local_address(); }
    [[nodiscard]] bool is_open() const noexcept { return impl_.is_open(); }
    [[nodiscard]] int fd() const noexcept { return impl_.fd(); }
    /// The untyped listener (queue length, multishot state, ...).
    [[nodiscard]] net::listener& base() noexcept { return impl_; }
    [[nodiscard]] const net::listener& base() const noexcept { return impl_; }

private:
    net::listener impl_;
};

}  // namespace ringlet::net

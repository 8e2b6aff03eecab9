// The socket operations: one backend operation each, awaited by one task.
//
//     auto n = co_await sock.recv(buffer, 5s);   // result<std::size_t>
//
// Each operation borrows its net::socket and counts itself in it between
// submission and resumption, which is what lets socket::close() wait for
// them. Each names its arguments in src/net/ops/ (accept, connect, recv,
// send, shutdown, cancel/close); how each backend runs it is in src/core/ops/.
//
// Outcomes, the same for every operation here:
//   - success: the operation's value;
//   - errc::timed_out: its timeout expired and the shard cancelled it (one
//     timer queue per shard holds every deadline) — or, for an absolute
//     deadline, it had already passed when the operation started (nothing is
//     submitted then);
//   - errc::operation_canceled: the awaiting task was stopped, or the socket
//     was closed (or was closing when the operation started);
//   - std::errc::bad_file_descriptor: the socket was not open;
//   - errc::not_on_shard: awaited outside a shard thread;
//   - otherwise the operation's errno as a std::generic_category() code
//     (std::errc::connection_reset, std::errc::broken_pipe, ...).
// A cancellation that loses the race to a real completion delivers the real
// result (bytes received are never dropped; an accepted socket is returned).
#pragma once

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/result.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <coroutine>
#include <cstddef>
#include <span>
#include <system_error>

namespace ringlet::net {

class socket;

namespace detail {

/// Base of every operation on a net::socket: counts itself in the socket
/// while in flight and maps a cancellation by close() to operation_canceled.
class socket_op : public ringlet::detail::io_op {
public:
    /// A non-empty `refused` fails the operation with it, submitting nothing.
    socket_op(const ringlet::detail::op_steps& steps, socket& owner, timeout limit, std::error_code refused = {}) noexcept
        : io_op(steps, limit), owner_(&owner), refused_(refused) {}

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        return begin(waiter, ringlet::detail::token_of(waiter));
    }
    /// Submits for `waiter`; false when the operation finished without
    /// suspending (socket closed or closing, task already stopped, off-shard).
    bool begin(std::coroutine_handle<> waiter, const stop_token& token) noexcept;

    /// The socket's descriptor (for the prepare steps).
    [[nodiscard]] int fd() const noexcept;

protected:
    /// The outcome (see the file comment). Call exactly once, from await_resume.
    [[nodiscard]] result<int> finish() noexcept;

private:
    socket* owner_;
    std::error_code refused_;
    bool counted_ = false;
};

}  // namespace detail

/// recv(2): yields the number of bytes received, 0 at end of stream (or for
/// an empty buffer). @see recv(2)
class [[nodiscard]] recv_op final : public detail::socket_op {
public:
    recv_op(socket& owner, std::span<std::byte> buffer, int flags, timeout limit,
            std::error_code refused = {}) noexcept;
    result<std::size_t> await_resume() noexcept;

    std::span<std::byte> buffer;
    int flags;
};

/// send(2) with MSG_NOSIGNAL (a closed peer is std::errc::broken_pipe, never
/// SIGPIPE): yields the number of bytes sent, which may be short.
/// @see send(2)
class [[nodiscard]] send_op final : public detail::socket_op {
public:
    send_op(socket& owner, std::span<const std::byte> data, int flags, timeout limit) noexcept;
    result<std::size_t> await_resume() noexcept;

    std::span<const std::byte> data;
    int flags;
};

/// sendmsg(2) of several buffers at once, with MSG_NOSIGNAL: yields the number
/// of bytes sent, which may be short. The iovec array must stay alive until the
/// await ends; at most IOV_MAX (1024) entries (more is EMSGSIZE).
/// @see sendmsg(2)
class [[nodiscard]] sendmsg_op final : public detail::socket_op {
public:
    sendmsg_op(socket& owner, std::span<const iovec> parts, int flags, timeout limit) noexcept;
    result<std::size_t> await_resume() noexcept;

    msghdr message{};
    int flags;
};

/// connect(2) to `peer`. Errors include std::errc::connection_refused and
/// std::errc::network_unreachable; errc::timed_out when `limit` expires (the
/// kernel giving up on its own SYN retries is ETIMEDOUT, a plain errno).
/// @see connect(2)
class [[nodiscard]] connect_op final : public detail::socket_op {
public:
    connect_op(socket& owner, const address& peer, timeout limit) noexcept;
    result<void> await_resume() noexcept;

    address peer;
    /// Set once a non-blocking connect(2) is under way (readiness backends).
    bool started = false;
};

/// accept4(2) of one connection, SOCK_CLOEXEC: yields the connected socket.
/// Errors include EMFILE/ENFILE (out of descriptors; the connection stays
/// queued in the kernel) and EINVAL (not listening).
/// @see accept4(2)
class [[nodiscard]] accept_op final : public detail::socket_op {
public:
    accept_op(socket& owner, timeout limit) noexcept;
    result<socket> await_resume() noexcept;
};

/// shutdown(2) of one or both directions. Errors: ENOTCONN when not connected.
/// @see shutdown(2)
class [[nodiscard]] shutdown_op final : public detail::socket_op {
public:
    shutdown_op(socket& owner, int how) noexcept;
    result<void> await_resume() noexcept;

    int how;
};

}  // namespace ringlet::net

// net::socket: the owning handle of one socket descriptor, and the rules that
// keep a closed descriptor's completions away from the next one.
//
// A socket is a move-only value holding a file descriptor. Its operations
// (connect, accept, recv, send, sendmsg, shutdown; see net/ops.hpp) are
// backend operations awaited by the calling task; each one counts itself in
// the socket while it is in flight. close() cancels every operation on the
// descriptor (one cancel-by-descriptor where the backend has it), waits until
// each has delivered its final completion to its awaiter, and only then
// closes the descriptor. So when close() returns, no
// operation of the old socket is left in the kernel, the FIN (or RST) is on its
// way to the peer at once (no pending operation holds the socket open), and a
// new socket that reuses the descriptor number can receive no completion of
// the old one.
//
// Destroying an open socket without close() closes the descriptor with a plain
// ::close(2) at once (one syscall; the destructor never suspends and never
// leaks the descriptor). Because every operation borrows the socket, none can
// be in flight at that point — that would be a use after free in the awaiting
// task; debug builds assert it. Prefer `co_await s.close()` where you can: it
// reports close errors and is the only way to end operations other tasks are
// still waiting on.
//
// Thread safety: a socket belongs to the shard its operations run on. Moving it
// (or destroying it) while an operation is in flight is a precondition
// violation (asserted in debug builds); between operations it may be handed to
// another shard.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/ops.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringlet::net {

/// Which direction(s) shutdown() ends. @see shutdown(2)
enum class shutdown_how : std::uint8_t {
    read,   ///< SHUT_RD: a read that finds nothing queued returns 0 at once instead of
            ///< waiting. Nothing is discarded and the peer is not told: on TCP, queued
            ///< bytes and bytes that arrive later are still read; on unix streams the
            ///< peer's later writes fail with EPIPE.
    write,  ///< SHUT_WR: sends a FIN; the peer reads end of stream (half-close)
    both,   ///< SHUT_RDWR
};

/// An owning, move-only socket descriptor. See the file comment for the
/// close protocol and the rules on moving and destroying.
class socket {
public:
    socket() noexcept = default;
    /// Takes ownership of `fd` (which may be -1).
    explicit socket(int fd) noexcept : fd_(fd) {}
    socket(socket&& other) noexcept;
    socket& operator=(socket&& other) noexcept;
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;
    /// Closes an open descriptor with ::close(2) (see the file comment).
    ~socket();

    /// A new socket (::socket(2) with SOCK_CLOEXEC added to `type`; the call
    /// never blocks). Errors: the errno of socket(2), e.g. EMFILE, EAFNOSUPPORT.
    /// @see socket(2)
    [[nodiscard]] static result<socket> open(int domain, int type, int protocol = 0) noexcept;
    /// A socket of `type` (SOCK_STREAM, SOCK_DGRAM) in the family of `for_address`.
    [[nodiscard]] static result<socket> open_for(const address& for_address, int type) noexcept;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    /// True while close() runs (operations started now are refused).
    [[nodiscard]] bool is_closing() const noexcept { return closing_; }
    /// Operations awaiting their completion on this socket right now.
    [[nodiscard]] std::uint32_t ops_in_flight() const noexcept { return in_flight_; }
    /// Gives up ownership: returns the descriptor and leaves this socket closed.
    /// Precondition: no operation in flight.
    [[nodiscard]] int release() noexcept;

    /// Cancels every operation in flight on the descriptor, waits for their
    /// final completions (their awaiters see errc::operation_canceled unless
    /// their real result won the race), then closes the descriptor through the
    /// ring. Operations started while close() runs fail with
    /// errc::operation_canceled. Not cancellable itself: it always finishes,
    /// promptly. Closing a closed socket succeeds; a second close() while one
    /// is running yields std::errc::connection_already_in_progress (EALREADY).
    /// Off a shard thread it falls back to ::close(2).
    /// Errors: the errno of close(2) (EIO); the descriptor is closed anyway.
    /// @see close(2)
    [[nodiscard]] task<result<void>> close();

    /// Binds to `local`. Errors: errno of bind(2), e.g. EADDRINUSE, EACCES.
    /// @see bind(2)
    result<void> bind(const address& local) noexcept;
    /// Marks the socket passive with a queue of `backlog` pending connections.
    /// @see listen(2)
    result<void> listen(int backlog) noexcept;
    /// The address the socket is bound to. @see getsockname(2)
    [[nodiscard]] result<address> local_address() const noexcept;
    /// The address of the connected peer; ENOTCONN when there is none. @see getpeername(2)
    [[nodiscard]] result<address> peer_address() const noexcept;

    /// setsockopt(2) with an int value (booleans are 0/1). @see setsockopt(2), socket(7)
    result<void> set_option(int level, int name, int value) noexcept;
    /// setsockopt(2) with raw bytes (struct linger, struct timeval, ...).
    result<void> set_option(int level, int name, const void* value, std::size_t size) noexcept;
    /// getsockopt(2) of an int-valued option. @see getsockopt(2)
    [[nodiscard]] result<int> get_option(int level, int name) const noexcept;
    /// The pending socket error (SO_ERROR), cleared by reading it: 0 when none.
    [[nodiscard]] result<int> take_error() const noexcept;

    // --- operations: each is one backend operation (see net/ops.hpp) -------

    /// Connects to `peer`. @see connect_op
    [[nodiscard]] connect_op connect(const address& peer, timeout limit = {}) noexcept;
    /// Accepts one connection (single-shot). @see accept_op
    [[nodiscard]] accept_op accept(timeout limit = {}) noexcept;
    /// Receives into `buffer`. @see recv_op
    [[nodiscard]] recv_op recv(std::span<std::byte> buffer, timeout limit = {}, int flags = 0) noexcept;
    /// Sends from `data`, MSG_NOSIGNAL always. @see send_op
    [[nodiscard]] send_op send(std::span<const std::byte> data, timeout limit = {}, int flags = 0) noexcept;
    /// Sends the buffers `parts` in one sendmsg. @see sendmsg_op
    [[nodiscard]] sendmsg_op sendmsg(std::span<const iovec> parts, timeout limit = {}, int flags = 0) noexcept;
    /// Shuts down one or both directions. @see shutdown_op
    [[nodiscard]] shutdown_op shutdown(shutdown_how how) noexcept;

private:
    friend class detail::socket_op;
    struct close_waiter;

    // Touched only by the shard running this socket's operations.
    int fd_ = -1;
    std::uint32_t in_flight_ = 0;
    bool closing_ = false;
    std::coroutine_handle<> close_waiter_;  // close() waiting for in_flight_ to reach 0
};

/// A one-line description of a failed socket call for people, naming the
/// operation, the address and the errno name:
///   describe_error("listen", addr, ec) ==
///   "listen 127.0.0.1:8000: Address already in use (EADDRINUSE)"
/// ringlet's own errors print their message ("connect [::1]:80: timed out").
[[nodiscard]] std::string describe_error(std::string_view operation, const address& where, std::error_code error);

}  // namespace ringlet::net

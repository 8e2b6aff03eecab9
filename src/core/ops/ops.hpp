// The operation families: for each kind of kernel operation, both ways of
// running it — the io_uring SQE (prepare) and the readiness attempt
// (perform + wait_for) — in one place, src/core/ops/<family>.cpp.
//
// An op type anywhere in ringlet (net::recv_op, the listener's accept, the
// stream receiver, ...) says what to run with a *view*: a function that
// reads its arguments (descriptor, buffer, flags) out of the op. It then
// passes `ops::<kind>_steps<&view>` to io_op; that constant binds the view to
// the family's steps, so the op type's own file names no io_uring type, flag
// or opcode. Views are called at submission and at each attempt; they may
// fill structures inside the op (a msghdr that points into it).
//
// Readiness steps never block: they use per-call non-blocking flags where
// the syscall has them (MSG_DONTWAIT, RWF_NOWAIT). accept4 and connect have
// none: their steps say needs_nonblocking, and a readiness backend puts the
// descriptor in O_NONBLOCK mode before trying them (the io_uring backend
// never does: io_uring answers an O_NONBLOCK file's empty read with -EAGAIN
// instead of waiting).
//
// Private to src/. io_uring_sqe is only forward-declared (backend.hpp): the
// steps' prepare member must name it, and the templates below are
// instantiated in files that must not include liburing.
#pragma once

#include "core/backend.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlet::detail::ops {

// --- views ---------------------------------------------------------------------

/// recv(2) / send(2) / read(2) / write(2): one buffer.
struct buffer_args {
    int fd = -1;
    void* data = nullptr;
    std::size_t size = 0;
    int flags = 0;  // MSG_* for recv/send; unused for read/write
};
/// recvmsg(2) / sendmsg(2).
struct message_args {
    int fd = -1;
    msghdr* message = nullptr;
    int flags = 0;
};
/// A multishot receive whose buffers the kernel picks from a buffer ring.
struct selected_args {
    int fd = -1;
    std::uint16_t group = 0;  // the buffer_ring's group
    msghdr* layout = nullptr;  // recvmsg: name and control sizes per buffer
};
/// connect(2); `in_progress` is the op's own flag (false before the first attempt).
struct connect_args {
    int fd = -1;
    const sockaddr* peer = nullptr;
    socklen_t size = 0;
    bool* in_progress = nullptr;
};
/// Any op on one descriptor with one integer (accept, close, shutdown's how,
/// poll's events, cancel-by-descriptor).
struct fd_args {
    int fd = -1;
    int value = 0;
};

template <class Args>
using view_fn = Args (*)(io_op& op) noexcept;
template <class Args>
using prepare_fn = void (*)(io_uring_sqe* sqe, const Args& args) noexcept;
template <class Args>
using perform_fn = int (*)(const Args& args) noexcept;

// --- the families' steps (defined in src/core/ops/*.cpp) -------------------------

// recv_send.cpp
void prepare_recv(io_uring_sqe* sqe, const buffer_args& a) noexcept;
int perform_recv(const buffer_args& a) noexcept;
void prepare_send(io_uring_sqe* sqe, const buffer_args& a) noexcept;  // adds MSG_NOSIGNAL
int perform_send(const buffer_args& a) noexcept;
void prepare_recv_selected(io_uring_sqe* sqe, const selected_args& a) noexcept;
// msg.cpp
void prepare_recvmsg(io_uring_sqe* sqe, const message_args& a) noexcept;
int perform_recvmsg(const message_args& a) noexcept;
void prepare_sendmsg(io_uring_sqe* sqe, const message_args& a) noexcept;  // adds MSG_NOSIGNAL
int perform_sendmsg(const message_args& a) noexcept;
void prepare_recvmsg_selected(io_uring_sqe* sqe, const selected_args& a) noexcept;
// accept.cpp
void prepare_accept(io_uring_sqe* sqe, const fd_args& a) noexcept;
void prepare_accept_multishot(io_uring_sqe* sqe, const fd_args& a) noexcept;
int perform_accept(const fd_args& a) noexcept;
// connect.cpp
void prepare_connect(io_uring_sqe* sqe, const connect_args& a) noexcept;
int perform_connect(const connect_args& a) noexcept;
// shutdown_close.cpp
void prepare_shutdown(io_uring_sqe* sqe, const fd_args& a) noexcept;
int perform_shutdown(const fd_args& a) noexcept;
void prepare_close(io_uring_sqe* sqe, const fd_args& a) noexcept;
int perform_close(const fd_args& a) noexcept;
void prepare_cancel_fd(io_uring_sqe* sqe, const fd_args& a) noexcept;
int perform_cancel_fd(const fd_args& a) noexcept;
// poll.cpp
void prepare_poll(io_uring_sqe* sqe, const fd_args& a) noexcept;
void prepare_poll_multishot(io_uring_sqe* sqe, const fd_args& a) noexcept;
int perform_poll(const fd_args& a) noexcept;
// read_write.cpp (and the no-op round trip)
extern const op_steps nop_steps;
void prepare_read(io_uring_sqe* sqe, const buffer_args& a) noexcept;
int perform_read(const buffer_args& a) noexcept;
void prepare_write(io_uring_sqe* sqe, const buffer_args& a) noexcept;
int perform_write(const buffer_args& a) noexcept;
/// A selected-buffer op on a readiness backend: there are no buffer rings
/// (supports(capability::buffer_rings) is false), so it fails with -EINVAL,
/// which its users already read as "this kernel cannot": they fall back.
int perform_unsupported(const selected_args& a) noexcept;

/// The result of one non-blocking attempt `call` (a syscall returning a count
/// or -1): the count, or -errno with EWOULDBLOCK read as -EAGAIN ("not
/// ready"). A call a signal interrupted (EINTR) is made again at once: with
/// edge-triggered readiness, waiting instead could miss data already there.
template <class Call>
int attempt(Call call) noexcept {
    for (;;) {
        const auto n = call();
        if (n >= 0) return static_cast<int>(n);
        if (errno != EINTR) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

// timer.cpp: detail::timer_op's steps
extern const op_steps timer_steps;

// --- binding a view to a family ----------------------------------------------------

namespace bind {
template <class Args, view_fn<Args> View>
Args args(const io_op& op) noexcept {
    return View(const_cast<io_op&>(op));  // views only read the op (or refill its own msghdr)
}
template <class Args, view_fn<Args> View, short Events>
readiness wait(const io_op& op) noexcept {
    return {args<Args, View>(op).fd, static_cast<std::uint32_t>(Events)};
}
/// poll's readiness: the events are the op's own (fd_args::value).
template <view_fn<fd_args> View>
readiness wait_for_value(const io_op& op) noexcept {
    const fd_args a = args<fd_args, View>(op);
    return {a.fd, static_cast<std::uint32_t>(a.value)};
}
}  // namespace bind

/// The flags of one kind of operation (op_steps' members of the same names).
struct family_traits {
    bool multishot = false;
    bool retry_transient = false;  // data transfers and accept
    fd_effect effect = fd_effect::none;
    bool needs_nonblocking = false;  // accept4 and connect
};

/// One family's steps bound to a view: `Prepare` and `Perform` receive what
/// the view reads out of the op; a readiness backend waits for `Events` on
/// the view's descriptor. Each kind below is one instance of it.
template <class Args, view_fn<Args> View, prepare_fn<Args> Prepare, perform_fn<Args> Perform, short Events,
          family_traits Traits = family_traits{}>
inline constexpr op_steps family_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { Prepare(sqe, View(op)); },
    [](io_op& op) noexcept { return Perform(View(op)); },
    &bind::wait<Args, View, Events>,
    Traits.multishot,
    Traits.retry_transient,
    Traits.effect,
    Traits.needs_nonblocking};

/// Data transfers: an interrupted one is submitted again (op_steps::retry_transient).
inline constexpr family_traits transfer{.retry_transient = true};
/// One submission, a completion per result (op_steps::multishot).
inline constexpr family_traits multishot{.multishot = true};

template <view_fn<buffer_args> View>
inline constexpr const op_steps& recv_steps =
    family_steps<buffer_args, View, prepare_recv, perform_recv, POLLIN, transfer>;

template <view_fn<buffer_args> View>
inline constexpr const op_steps& send_steps =
    family_steps<buffer_args, View, prepare_send, perform_send, POLLOUT, transfer>;

/// Multishot recv picking buffers from a buffer ring (one completion per chunk).
template <view_fn<selected_args> View>
inline constexpr const op_steps& recv_selected_steps =
    family_steps<selected_args, View, prepare_recv_selected, perform_unsupported, POLLIN, multishot>;

template <view_fn<message_args> View>
inline constexpr const op_steps& recvmsg_steps =
    family_steps<message_args, View, prepare_recvmsg, perform_recvmsg, POLLIN, transfer>;

template <view_fn<message_args> View>
inline constexpr const op_steps& sendmsg_steps =
    family_steps<message_args, View, prepare_sendmsg, perform_sendmsg, POLLOUT, transfer>;

/// Multishot recvmsg picking buffers from a buffer ring (one completion per datagram).
template <view_fn<selected_args> View>
inline constexpr const op_steps& recvmsg_selected_steps =
    family_steps<selected_args, View, prepare_recvmsg_selected, perform_unsupported, POLLIN, multishot>;

template <view_fn<fd_args> View>
inline constexpr const op_steps& accept_steps =
    family_steps<fd_args, View, prepare_accept, perform_accept, POLLIN,
                 family_traits{.retry_transient = true, .needs_nonblocking = true}>;

/// One completion per connection until cancelled or failed.
template <view_fn<fd_args> View>
inline constexpr const op_steps& accept_multishot_steps =
    family_steps<fd_args, View, prepare_accept_multishot, perform_accept, POLLIN,
                 family_traits{.multishot = true, .needs_nonblocking = true}>;

template <view_fn<connect_args> View>
inline constexpr const op_steps& connect_steps =
    family_steps<connect_args, View, prepare_connect, perform_connect, POLLOUT,
                 family_traits{.needs_nonblocking = true}>;

/// shutdown(fd, value).
template <view_fn<fd_args> View>
inline constexpr const op_steps& shutdown_steps = family_steps<fd_args, View, prepare_shutdown, perform_shutdown, 0>;

template <view_fn<fd_args> View>
inline constexpr const op_steps& close_steps =
    family_steps<fd_args, View, prepare_close, perform_close, 0, family_traits{.effect = fd_effect::close}>;

/// Cancels every operation on the descriptor: yields how many were found,
/// -ENOENT when none, -EINVAL where it cannot (kernels before 5.19: callers
/// fall back). A readiness backend does it itself (fd_effect::cancel_all:
/// it owns the descriptor's waiters); perform() is never called there.
template <view_fn<fd_args> View>
inline constexpr const op_steps& cancel_fd_steps =
    family_steps<fd_args, View, prepare_cancel_fd, perform_cancel_fd, 0,
                 family_traits{.effect = fd_effect::cancel_all}>;

/// poll(fd, value): yields the revents. A readiness backend waits for the
/// events the op asks for (value), not a fixed set.
template <view_fn<fd_args> View>
inline constexpr op_steps poll_steps{
    .prepare = [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_poll(sqe, View(op)); },
    .perform = [](io_op& op) noexcept { return perform_poll(View(op)); },
    .wait_for = &bind::wait_for_value<View>,
    .yields_revents = true};

/// One completion per readiness edge of (fd, value) until cancelled.
template <view_fn<fd_args> View>
inline constexpr op_steps poll_multishot_steps{
    .prepare = [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_poll_multishot(sqe, View(op)); },
    .perform = [](io_op& op) noexcept { return perform_poll(View(op)); },
    .wait_for = &bind::wait_for_value<View>,
    .multishot = true,
    .yields_revents = true};

template <view_fn<buffer_args> View>
inline constexpr const op_steps& read_steps =
    family_steps<buffer_args, View, prepare_read, perform_read, POLLIN, transfer>;

template <view_fn<buffer_args> View>
inline constexpr const op_steps& write_steps =
    family_steps<buffer_args, View, prepare_write, perform_write, POLLOUT, transfer>;

// --- buffer-ring completions -------------------------------------------------------

/// The buffer a completion of a selected-buffer op filled, if any.
[[nodiscard]] bool has_selected_buffer(std::uint32_t flags) noexcept;
[[nodiscard]] std::uint16_t selected_buffer(std::uint32_t flags) noexcept;
/// A multishot recv that ended with bytes still waiting in the socket.
[[nodiscard]] bool socket_nonempty(std::uint32_t flags) noexcept;

/// One datagram of a multishot recvmsg, as laid out in its buffer.
struct selected_datagram {
    std::span<const std::byte> payload;
    const sockaddr* name = nullptr;
    socklen_t name_size = 0;
    bool truncated = false;
};
/// Bytes in front of the name and payload in each buffer of a multishot recvmsg.
[[nodiscard]] std::size_t selected_datagram_header() noexcept;
/// Parses buffer `data` that a completion with result `res` filled, against
/// the `layout` the op was submitted with; false when it is malformed.
[[nodiscard]] bool parse_selected_datagram(const void* data, int res, const msghdr& layout,
                                           selected_datagram& out) noexcept;

}  // namespace ringlet::detail::ops

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
int perform_unsupported() noexcept;

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
}  // namespace bind

template <view_fn<buffer_args> View>
inline constexpr op_steps recv_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_recv(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_recv(View(op)); }, &bind::wait<buffer_args, View, POLLIN>};

template <view_fn<buffer_args> View>
inline constexpr op_steps send_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_send(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_send(View(op)); }, &bind::wait<buffer_args, View, POLLOUT>};

/// Multishot recv picking buffers from a buffer ring (one completion per chunk).
template <view_fn<selected_args> View>
inline constexpr op_steps recv_selected_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_recv_selected(sqe, View(op)); },
    [](io_op&) noexcept { return perform_unsupported(); }, &bind::wait<selected_args, View, POLLIN>, true};

template <view_fn<message_args> View>
inline constexpr op_steps recvmsg_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_recvmsg(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_recvmsg(View(op)); }, &bind::wait<message_args, View, POLLIN>};

template <view_fn<message_args> View>
inline constexpr op_steps sendmsg_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_sendmsg(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_sendmsg(View(op)); }, &bind::wait<message_args, View, POLLOUT>};

/// Multishot recvmsg picking buffers from a buffer ring (one completion per datagram).
template <view_fn<selected_args> View>
inline constexpr op_steps recvmsg_selected_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_recvmsg_selected(sqe, View(op)); },
    [](io_op&) noexcept { return perform_unsupported(); }, &bind::wait<selected_args, View, POLLIN>, true};

template <view_fn<fd_args> View>
inline constexpr op_steps accept_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_accept(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_accept(View(op)); }, &bind::wait<fd_args, View, POLLIN>, false,
    fd_effect::none, true};

/// One completion per connection until cancelled or failed.
template <view_fn<fd_args> View>
inline constexpr op_steps accept_multishot_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_accept_multishot(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_accept(View(op)); }, &bind::wait<fd_args, View, POLLIN>, true,
    fd_effect::none, true};

template <view_fn<connect_args> View>
inline constexpr op_steps connect_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_connect(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_connect(View(op)); }, &bind::wait<connect_args, View, POLLOUT>,
    false, fd_effect::none, true};

/// shutdown(fd, value).
template <view_fn<fd_args> View>
inline constexpr op_steps shutdown_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_shutdown(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_shutdown(View(op)); }, &bind::wait<fd_args, View, 0>};

template <view_fn<fd_args> View>
inline constexpr op_steps close_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_close(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_close(View(op)); }, &bind::wait<fd_args, View, 0>, false,
    fd_effect::close};

/// Cancels every operation on the descriptor: yields how many were found,
/// -ENOENT when none, -EINVAL where it cannot (kernels before 5.19: callers
/// fall back). A readiness backend does it itself (fd_effect::cancel_all:
/// it owns the descriptor's waiters); perform() is never called there.
template <view_fn<fd_args> View>
inline constexpr op_steps cancel_fd_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_cancel_fd(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_cancel_fd(View(op)); }, &bind::wait<fd_args, View, 0>, false,
    fd_effect::cancel_all};

/// poll(fd, value): yields the revents.
template <view_fn<fd_args> View>
inline constexpr op_steps poll_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_poll(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_poll(View(op)); },
    [](const io_op& op) noexcept {
        const fd_args a = bind::args<fd_args, View>(op);
        return readiness{a.fd, static_cast<std::uint32_t>(a.value)};
    }};

/// One completion per readiness edge of (fd, value) until cancelled.
template <view_fn<fd_args> View>
inline constexpr op_steps poll_multishot_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_poll_multishot(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_poll(View(op)); },
    [](const io_op& op) noexcept {
        const fd_args a = bind::args<fd_args, View>(op);
        return readiness{a.fd, static_cast<std::uint32_t>(a.value)};
    },
    true};

template <view_fn<buffer_args> View>
inline constexpr op_steps read_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_read(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_read(View(op)); }, &bind::wait<buffer_args, View, POLLIN>};

template <view_fn<buffer_args> View>
inline constexpr op_steps write_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { prepare_write(sqe, View(op)); },
    [](io_op& op) noexcept { return perform_write(View(op)); }, &bind::wait<buffer_args, View, POLLOUT>};

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

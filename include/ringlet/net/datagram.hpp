// net::datagram_socket: a message-preserving socket — what udp::socket and
// local::datagram_socket share.
//
// One datagram at a time (every wait takes a timeout):
//     auto got = co_await sock.recv_from(buffer, 5s);          // result<received_from>
//     co_await sock.send_to(got->from, reply);
// Connected (the seeds' "fake connection"): connect() fixes the peer, then
// send() / recv() need no address and only that peer's datagrams arrive.
//
// The batched fast path, for servers that see many datagrams:
//     for (;;) {
//         auto batch = co_await sock.receive_batch();          // result<std::span<const datagram>>
//         if (!batch) break;
//         for (const net::datagram& d : *batch) replies.push_back({d.payload, &d.from});
//         co_await sock.send_batch(replies);                   // one sendmmsg(2); the ring when full
//         replies.clear();
//     }
// receive_batch() arms one multishot recvmsg on a provided buffer ring: the kernel then receives every datagram into a buffer of the ring
// and posts one completion per datagram, with no submission per datagram.
// Each call yields every datagram received since the last one (up to
// batch_options::max_batch); their payloads stay valid until the next call
// (or close()), when their buffers go back to the ring. Kernels without
// buffer rings or multishot recvmsg (before 6.0) get one plain recvmsg per
// call, transparently; so does batch_options{.multishot = false}.
// Do not mix receive_batch() with recv()/recv_from() on one socket: both
// take datagrams from the same queue. Measured on a UDP echo (figures in
// src/net/datagram_receiver.cpp), receive_batch + send_batch costs ~30 %
// less server CPU per datagram than recv_from + send_to.
//
// Thread safety: as net::socket. One task at a time may wait in
// receive_batch() (a second gets std::errc::device_or_resource_busy). Moving
// the socket between operations is fine, even while receive_batch() is
// armed (its state lives on the heap).
#pragma once

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/result.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/datagram_ops.hpp>
#include <ringlet/net/socket.hpp>
#include <ringlet/core/timed_wait.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringlet::net {

/// One datagram of a batch from receive_batch(). `payload` points into the
/// socket's buffer ring and is valid until the next receive_batch() or close().
struct datagram {
    std::span<const std::byte> payload{};
    address from{};
    bool truncated = false;  ///< longer than batch_options::max_datagram_size; the tail was dropped
};

/// One datagram for send_batch(): `data` to `*to`, or to the connected peer
/// when `to` is null. Both must stay alive until send_batch() ends.
struct outgoing_datagram {
    std::span<const std::byte> data{};
    const address* to = nullptr;
};

/// How receive_batch() receives. Set before its first call.
struct batch_options {
    /// Buffers in the ring: datagrams the kernel can hold for the socket
    /// before the task collects them (a power of two, 1..32768).
    std::uint32_t buffers = 256;
    /// Largest payload kept whole; longer datagrams are reported truncated.
    std::uint32_t max_datagram_size = 2048;
    /// Most datagrams one receive_batch() yields.
    std::uint32_t max_batch = 64;
    /// Use multishot recvmsg with a buffer ring when the kernel has it.
    bool multishot = true;
};

namespace detail {

class datagram_receiver;
class batch_wait;
/// The slots send_batch() keeps between calls (src/net/datagram_send_batch.cpp).
struct send_slots;
void free_send_slots(send_slots* slots) noexcept;

/// One task waiting in receive_batch().
class batch_wait : public ringlet::detail::timed_wait {
public:
    batch_wait(datagram_receiver* receiver, std::error_code refused, timeout limit) noexcept;

    bool await_ready() noexcept;
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        return suspend(waiter, ringlet::detail::token_of(waiter));
    }
    bool suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept;

protected:
    [[nodiscard]] result<std::span<const datagram>> take() noexcept;

private:
    static void detach(ringlet::detail::timed_wait& self) noexcept;

    datagram_receiver* receiver_;
};

}  // namespace detail

/// Awaitable of receive_batch(). @see datagram_socket::receive_batch
class [[nodiscard]] receive_batch_op final : public detail::batch_wait {
public:
    using batch_wait::batch_wait;
    result<std::span<const datagram>> await_resume() noexcept { return take(); }
};

/// A datagram (or unconnected message) socket. Move-only; see the file comment.
class datagram_socket {
public:
    datagram_socket() noexcept = default;
    /// Takes a SOCK_DGRAM socket (bound, connected, or neither).
    explicit datagram_socket(net::socket s) noexcept : socket_(std::move(s)) {}
    datagram_socket(datagram_socket&& other) noexcept;
    datagram_socket& operator=(datagram_socket&& other) noexcept;
    datagram_socket(const datagram_socket&) = delete;
    datagram_socket& operator=(const datagram_socket&) = delete;
    /// Closes with ::close(2) (see net::socket). An armed receive_batch()
    /// multishot is cancelled and its buffers freed when it has ended.
    ~datagram_socket();

    // --- addressing ----------------------------------------------------------

    /// Binds to `local` (port 0: a free port; see local_address()). Never
    /// blocks. Errors: EADDRINUSE, EACCES, EADDRNOTAVAIL. @see bind(2)
    result<void> bind(const address& local) noexcept { return socket_.bind(local); }
    /// Fixes the peer: send()/recv() need no address, and only datagrams from
    /// `peer` are received. Connecting again changes the peer. @see connect_op, connect(2)
    [[nodiscard]] connect_op connect(const address& peer, timeout limit = {}) noexcept {
        return socket_.connect(peer, limit);
    }

    // --- one datagram at a time ------------------------------------------------

    /// Sends `data` as one datagram to `to`. @see send_to_op
    [[nodiscard]] send_to_op send_to(const address& to, std::span<const std::byte> data, timeout limit = {}) noexcept;
    [[nodiscard]] send_to_op send_to(const address& to, std::string_view data, timeout limit = {}) noexcept;
    /// Waits for one datagram; yields its size, sender and truncation. @see recv_from_op
    [[nodiscard]] recv_from_op recv_from(std::span<std::byte> buffer, timeout limit = {}) noexcept;
    [[nodiscard]] recv_from_op recv_from(std::span<char> buffer, timeout limit = {}) noexcept;
    /// Sends one datagram to the connected peer (EDESTADDRREQ when not
    /// connected); yields its size. @see send_op, send(2)
    [[nodiscard]] send_op send(std::span<const std::byte> data, timeout limit = {}) noexcept;
    [[nodiscard]] send_op send(std::string_view data, timeout limit = {}) noexcept;
    /// Waits for one datagram from the connected peer. @see recv_message_op
    [[nodiscard]] recv_message_op recv(std::span<std::byte> buffer, timeout limit = {}) noexcept;
    [[nodiscard]] recv_message_op recv(std::span<char> buffer, timeout limit = {}) noexcept;

    // --- batches -----------------------------------------------------------------

    /// Sets how receive_batch() receives. Errors: errc::invalid_argument for
    /// a bad value (buffers not a power of two in 1..32768, sizes of 0, a
    /// max_datagram_size above 65535), std::errc::device_or_resource_busy once
    /// receive_batch() has been called.
    result<void> set_batch_options(const batch_options& options) noexcept;
    /// Waits until at least one datagram has arrived, then yields all that
    /// have (up to max_batch), oldest first; valid until the next call. An
    /// error that ended the kernel's receiving (ECONNREFUSED on a connected
    /// socket, ...) is yielded after the datagrams that came before it; the
    /// next call receives again. Outcomes also include errc::timed_out (no
    /// datagram is lost: later ones wait for the next call),
    /// errc::operation_canceled (task stopped, socket closed),
    /// std::errc::device_or_resource_busy (another task is waiting), ENOMEM
    /// (the buffer ring could not be allocated).
    /// @see recvmsg(2)
    [[nodiscard]] receive_batch_op receive_batch(timeout limit = {}) noexcept;
    /// Sends every datagram of `datagrams`, 64 at a time: first with one
    /// non-blocking sendmmsg(2) straight from the task (UDP rarely has to
    /// wait), then — for what the socket buffer cannot take, or while another
    /// operation on the socket is in flight — one backend sendmsg each,
    /// submitted together, which wait for room; yields how many
    /// were sent. Datagrams a failure (ENOBUFS, ECONNREFUSED,
    /// EACCES, EDESTADDRREQ for a null address on an unconnected socket, ...)
    /// stopped are not counted; when none was sent, the first error is the
    /// outcome. `limit` applies to the whole call (errc::timed_out, also for a
    /// deadline already passed); a stop of the task or close() cancels the
    /// sends still waiting (errc::operation_canceled). Datagrams may leave out
    /// of order when the socket buffer is full.
    /// @see sendmmsg(2), sendmsg(2)
    [[nodiscard]] task<result<std::size_t>> send_batch(std::span<const outgoing_datagram> datagrams,
                                                       timeout limit = {});
    /// Whether receive_batch() uses multishot recvmsg (false after falling
    /// back to one recvmsg per call; true before its first call if enabled).
    [[nodiscard]] bool batch_multishot() const noexcept;

    // --- ending and inspecting ------------------------------------------------

    /// Ends receive_batch() (its waiter sees operation_canceled) and frees its
    /// buffers, then closes like socket::close(). Not cancellable.
    [[nodiscard]] task<result<void>> close();
    /// The bound address (the real port after binding port 0). @see getsockname(2)
    [[nodiscard]] result<address> local_address() const noexcept { return socket_.local_address(); }
    /// The connected peer; ENOTCONN when not connected. @see getpeername(2)
    [[nodiscard]] result<address> peer_address() const noexcept { return socket_.peer_address(); }
    [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
    [[nodiscard]] int fd() const noexcept { return socket_.fd(); }
    /// The underlying socket, for options and raw operations.
    [[nodiscard]] net::socket& socket() noexcept { return socket_; }
    [[nodiscard]] const net::socket& socket() const noexcept { return socket_; }
    /// The same, under a name udp::socket can use (there `socket` names the class itself).
    [[nodiscard]] net::socket& handle() noexcept { return socket_; }
    [[nodiscard]] const net::socket& handle() const noexcept { return socket_; }

private:
    /// The receiver of receive_batch(), created on first use.
    detail::datagram_receiver* receiver() noexcept;

    net::socket socket_;
    detail::datagram_receiver* receiver_ = nullptr;
    detail::send_slots* send_slots_ = nullptr;
    batch_options batch_options_;
    std::error_code receiver_error_;  // why the receiver could not be made
};

}  // namespace ringlet::net

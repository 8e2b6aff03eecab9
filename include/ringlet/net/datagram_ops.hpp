// The datagram operations: recvmsg(2) / sendmsg(2) of one datagram (or one
// seqpacket message), one backend operation each, awaited by one task.
//
//     std::array<std::byte, 1500> buf;
//     auto got = co_await sock.recv_from(buf, 5s);     // result<received_from>
//     if (got && got->truncated) { ... the datagram was longer than buf ... }
//     co_await sock.send_to(got->from, std::span{buf}.first(got->size));
//
// Like the operations of net/ops.hpp, each borrows its net::socket and counts
// itself in it while in flight, so socket::close() cancels and waits for it;
// the outcomes are the same (errc::timed_out, errc::operation_canceled,
// std::errc::bad_file_descriptor, errc::not_on_shard, or the errno).
//
// Truncation is reported, never silent: a datagram longer than the buffer
// fills the buffer, the rest is dropped by the kernel (as recvmsg(2) does),
// and `truncated` is true (MSG_TRUNC in the returned msg_flags).
//
// The msghdr each operation hands the kernel points into the operation
// object itself, so the pointers are set when it is submitted, not when it
// is constructed.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/ops.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <span>

namespace ringlet::net {

/// What recv() yields: one message.
struct received_message {
    std::size_t size = 0;    ///< bytes stored in the buffer
    bool truncated = false;  ///< the message was longer than the buffer; its tail was dropped
};

/// What recv_from() yields: one datagram and who sent it.
struct received_from {
    std::size_t size = 0;    ///< bytes stored in the buffer
    address from;            ///< the sender (an unbound unix sender is address_family::unix_unnamed)
    bool truncated = false;  ///< the datagram was longer than the buffer; its tail was dropped
};

namespace detail {

/// recvmsg(2) into one buffer; the sender's address is kept when `want_sender`.
class recvmsg_base : public socket_op {
public:
    recvmsg_base(socket& owner, std::span<std::byte> into, bool sender_wanted, timeout limit) noexcept;

    // --- read by the prepare step and await_resume ----------------------------
    std::span<std::byte> buffer;
    msghdr message{};
    iovec part{};
    sockaddr_storage sender{};
    bool want_sender;
};

}  // namespace detail

/// recvmsg(2) of one datagram on a connected socket (or one seqpacket
/// message): yields its size and whether it was truncated. A connected UDP
/// socket whose peer's port is closed fails with std::errc::connection_refused
/// (the ICMP error of an earlier send). On a seqpacket socket, size 0 without
/// truncation is the end of the stream.
/// @see recvmsg(2)
class [[nodiscard]] recv_message_op final : public detail::recvmsg_base {
public:
    recv_message_op(socket& owner, std::span<std::byte> into, timeout limit) noexcept
        : recvmsg_base(owner, into, false, limit) {}
    result<received_message> await_resume() noexcept;
};

/// recvmsg(2) of one datagram with its sender's address. Errors as
/// recv_message_op. @see recvmsg(2)
class [[nodiscard]] recv_from_op final : public detail::recvmsg_base {
public:
    recv_from_op(socket& owner, std::span<std::byte> into, timeout limit) noexcept
        : recvmsg_base(owner, into, true, limit) {}
    result<received_from> await_resume() noexcept;
};

/// sendmsg(2) of one datagram to `to` with MSG_NOSIGNAL: yields the bytes sent
/// (the whole datagram). Errors include std::errc::message_size (EMSGSIZE:
/// larger than the protocol allows), std::errc::permission_denied (EACCES: a
/// broadcast address without SO_BROADCAST), std::errc::connection_refused (an
/// ICMP error of an earlier datagram on a connected socket), ENOBUFS.
/// @see sendmsg(2)
class [[nodiscard]] send_to_op final : public detail::socket_op {
public:
    send_to_op(socket& owner, const address& to, std::span<const std::byte> data, timeout limit) noexcept;
    result<std::size_t> await_resume() noexcept;

    address to;
    std::span<const std::byte> data;
    msghdr message{};
    iovec part{};
};

}  // namespace ringlet::net

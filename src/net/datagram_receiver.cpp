// receive_batch(): multishot recvmsg on a provided buffer ring.
//
// Design notes
// - The kernel picks a buffer from the ring for every datagram and writes an
//   header, the sender's address and the payload into it; the completion
//   carries the buffer id and the total length. Payload length and
//   truncation (MSG_TRUNC) come from that header, parsed in core
//   (ops::parse_selected_datagram).
// - Completions are queued in the receiver; a batch hands out views into the
//   buffers, which go back to the ring at the start of the next call. When
//   every buffer is out the kernel ends the multishot (ENOBUFS); the next
//   call gives buffers back and re-arms, and datagrams wait in the socket's
//   receive queue meanwhile — none is lost beyond what UDP itself drops.
// - An error CQE ends the multishot; it is queued behind the datagrams that
//   came before it, and the call after it re-arms. EINVAL before any datagram
//   means a kernel without multishot recvmsg: fall back to plain recvmsg.
// - The operation is registered on the shard's root stop token, so a stopping
//   runtime ends it and the shard can drain its ring. A waiter with a timeout
//   owns a timer op and resumes only once that has completed (it
//   lives in the waiter's frame) — the pattern of net::listener's accept.
// - Measured, and multishot kept as the default (bench/udp_fastpath.cpp under
//   chrt -f 10: a UDP echo on one pinned shard, a blocking sendmmsg/recvmmsg
//   client keeping 64 datagrams in flight on the other vCPU; median of 5
//   interleaved 2 s rounds; echoes/s and server CPU per echo, kernel time
//   included; send_batch being one direct sendmmsg, see datagram_send_batch.cpp):
//                              64 B                   1400 B
//     recv_from + send_to     125.9k/s  4.81 us      124.9k/s  4.79 us
//     multishot + send_to     137.5k/s  4.07 us      135.6k/s  4.10 us
//     multishot + send_batch  153.2k/s  3.34 us      151.7k/s  3.37 us   <- kept
//     plain recvmsg + batch   130.0k/s  4.54 us      133.4k/s  4.36 us
//   The plain recvmsg path stays as the fallback (multishot = false, or a
//   kernel without buffer rings / multishot recvmsg).
#include "net/datagram_receiver.hpp"

#include <sys/un.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

namespace ringlet::net::detail {
namespace {

ringlet::detail::shard* current_shard() noexcept { return ringlet::detail::shard::current(); }

constexpr std::uint32_t plain_flag = 1u << 31;  // queue entries of plain mode (never a CQE flag we keep)

namespace ops = ringlet::detail::ops;

ops::selected_args selected_view(ringlet::detail::io_op& op) noexcept {
    datagram_receiver& r = *static_cast<recvmsg_multishot&>(op).owner;
    return {r.fd, r.buffers.group(), &r.header};
}

ops::message_args plain_view(ringlet::detail::io_op& op) noexcept {
    datagram_receiver& r = *static_cast<recvmsg_multishot&>(op).owner;
    r.plain_part = {r.plain_buffer.data(), r.plain_buffer.size()};
    r.header = {};
    r.header.msg_name = &r.plain_name;
    r.header.msg_namelen = sizeof r.plain_name;
    r.header.msg_iov = &r.plain_part;
    r.header.msg_iovlen = 1;
    return {r.fd, &r.header, 0};
}

void receive_done(ringlet::detail::io_op& op, int res, std::uint32_t flags, bool more) noexcept {
    static_cast<recvmsg_multishot&>(op).owner->on_completion(res, flags, more);
}

/// The sender: an unbound unix socket reports no name at all.
address sender_address(const sockaddr* name, socklen_t length) noexcept {
    if (length == 0) {
        const sa_family_t unnamed = AF_UNIX;
        return *address::from_sockaddr(reinterpret_cast<const sockaddr*>(&unnamed), sizeof unnamed);
    }
    auto from = address::from_sockaddr(name, length);
    return from ? *from : address{};
}

}  // namespace

// --- datagram_receiver ----------------------------------------------------------

recvmsg_multishot::recvmsg_multishot(datagram_receiver& r) noexcept : io_op(ops::recvmsg_steps<&plain_view>), owner(&r) {
    set_completion(&receive_done);
}

void recvmsg_multishot::choose() noexcept {
    if (owner->how == datagram_receiver::mode::multishot) set_steps(ops::recvmsg_selected_steps<&selected_view>);
    else set_steps(ops::recvmsg_steps<&plain_view>);
}

datagram_receiver::datagram_receiver(int fd_, int family, const batch_options& options_)
    : fd(fd_),
      options(options_),
      name_size(family == AF_UNIX ? sizeof(sockaddr_un) : family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)),
      op(*this),
      queue(options_.buffers + 4) {
    batch.reserve(options.max_batch);
    handed.reserve(options.max_batch);
}

std::error_code datagram_receiver::ensure_armed() noexcept {
    if (armed || closing || orphaned) return {};
    ringlet::detail::shard* here = current_shard();
    if (!here) return make_error_code(errc::not_on_shard);
    assert((!home || home == here) && "receive_batch() used from two shards");
    home = here;
    if (!root.stop_possible()) root = here->root_token();
    if (how == mode::unset) {
        how = mode::plain;
        if (options.multishot) {
            // Exactly the header, the name and max_datagram_size: a longer payload is truncated.
            const auto size = static_cast<unsigned>(ops::selected_datagram_header() + name_size + options.max_datagram_size);
            if (buffers.setup(here->io(), options.buffers, size) == 0) how = mode::multishot;
        }
        header = {};
        header.msg_namelen = name_size;
        if (how == mode::plain) {
            try {
                plain_buffer.resize(options.max_datagram_size);
            } catch (...) {
                how = mode::unset;
                return std::make_error_code(std::errc::not_enough_memory);
            }
        }
    }
    if (how == mode::plain && count > 0) return {};  // the one buffer still holds an unread datagram
    cancel_sent = false;
    op.choose();
    if (!op.start(std::noop_coroutine(), root)) return op.outcome().error();
    armed = true;
    return {};
}

void datagram_receiver::cancel() noexcept {
    if (!armed || cancel_sent) return;
    cancel_sent = true;
    home->io().cancel(op);
}

void datagram_receiver::push(int res, std::uint32_t flags) noexcept {
    if (count == queue.size()) {
        // More error entries than buffers: grow (rare; never on the datagram path).
        std::vector<entry> bigger(queue.size() * 2);
        for (std::size_t i = 0; i < count; ++i) bigger[i] = queue[(head + i) % queue.size()];
        queue.swap(bigger);
        head = 0;
    }
    queue[(head + count) % queue.size()] = {res, flags};
    ++count;
}

void datagram_receiver::on_completion(int res, std::uint32_t flags, bool more) noexcept {
    if (!more) {
        armed = false;
        op.deregister();
    }
    if (orphaned) {
        if (!more) {
            release();
            delete this;
        }
        return;
    }
    if (how == mode::plain) {
        if (res != -ECANCELED) push(res, plain_flag | static_cast<std::uint32_t>(header.msg_flags));
    } else if (res >= 0 && ops::has_selected_buffer(flags)) {
        saw_datagram = true;
        push(res, flags);
    } else if (res == -EINVAL && !saw_datagram && !more) {
        how = mode::plain;  // a kernel without multishot recvmsg (before 6.0)
        release();
        header = {};
        try {
            plain_buffer.resize(options.max_datagram_size);
        } catch (...) {
            push(-ENOMEM, 0);
        }
    } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        push(res, 0);
    }
    if (!more && close_waiter) {
        current_shard()->schedule(std::exchange(close_waiter, {}));
        return;
    }
    if (!waiter) return;
    if (count > 0) return waiter->wake();
    if (!armed) {
        // Ended with nothing to show (ENOBUFS, a fallback, a stop): try again.
        if (root.stop_requested()) return waiter->wake(make_error_code(errc::operation_canceled));
        if (std::error_code e = ensure_armed()) waiter->wake(e);
    }
}

void datagram_receiver::recycle() noexcept {
    if (how != mode::multishot) return;
    for (std::uint16_t id : handed) buffers.give_back(id);
    buffers.publish();
    handed.clear();
}

bool datagram_receiver::parse(const entry& e, datagram& out) noexcept {
    const sockaddr* name = nullptr;
    socklen_t name_length = 0;
    if (e.flags & plain_flag) {
        out.payload = {plain_buffer.data(), static_cast<std::size_t>(e.res)};
        out.truncated = (e.flags & MSG_TRUNC) != 0;
        name = reinterpret_cast<const sockaddr*>(&plain_name);
        name_length = header.msg_namelen;
    } else {
        const auto id = ops::selected_buffer(e.flags);
        handed.push_back(id);
        ops::selected_datagram parts;
        if (!ops::parse_selected_datagram(buffers.buffer(id), e.res, header, parts)) return false;
        out.payload = parts.payload;
        out.truncated = parts.truncated;
        name = parts.name;
        name_length = parts.name_size;
    }
    out.from = sender_address(name, name_length);
    return true;
}

result<std::span<const datagram>> datagram_receiver::collect() noexcept {
    batch.clear();
    while (count > 0 && batch.size() < options.max_batch) {
        const entry e = queue[head];
        if (e.res < 0 && !batch.empty()) break;  // the error comes after these datagrams
        head = (head + 1) % queue.size();
        --count;
        if (e.res < 0) return unexpected{errno_code(-e.res)};
        datagram d;
        if (parse(e, d)) batch.push_back(d);
    }
    // Plain mode re-arms on the next call, not here: the batch still points into its one buffer.
    return std::span<const datagram>{batch};
}

void datagram_receiver::release() noexcept {
    ringlet::detail::shard* here = current_shard();
    buffers.release(here && here == home ? &here->io() : nullptr);
}

void abandon(datagram_receiver* r) noexcept {
    assert(!r->waiter && "datagram socket destroyed while a task waits in receive_batch()");
    if (!r->armed) {
        r->release();
        delete r;
        return;
    }
    r->orphaned = true;
    if (current_shard() == r->home) r->cancel();
    // Elsewhere the ring cannot be touched; the runtime's stop ends the operation.
}

// --- batch_wait ---------------------------------------------------------------------

batch_wait::batch_wait(datagram_receiver* receiver, std::error_code refused, timeout limit) noexcept
    : timed_wait(&detach, refused, limit), receiver_(receiver) {}

void batch_wait::detach(timed_wait& self) noexcept { static_cast<batch_wait&>(self).receiver_->waiter = nullptr; }

bool batch_wait::await_ready() noexcept {
    if (error_) return true;
    datagram_receiver* r = receiver_;
    if (!r) {
        error_ = std::make_error_code(std::errc::bad_file_descriptor);
        return true;
    }
    if (r->closing) {
        error_ = make_error_code(errc::operation_canceled);
        return true;
    }
    if (r->waiter) {
        error_ = std::make_error_code(std::errc::device_or_resource_busy);
        return true;
    }
    if (deadline_passed()) return true;
    r->recycle();
    if (r->queued() == 0) return false;
    if (current_shard()) (void)r->ensure_armed();  // keep receiving while this batch is processed
    return true;
}

bool batch_wait::suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    if (!may_wait(token)) return false;
    if (std::error_code e = receiver_->ensure_armed()) {
        error_ = e;
        return false;
    }
    receiver_->waiter = this;
    begin_wait(waiter, token);
    return true;
}

result<std::span<const datagram>> batch_wait::take() noexcept {
    if (error_) return unexpected{error_};
    return receiver_->collect();
}

}  // namespace ringlet::net::detail

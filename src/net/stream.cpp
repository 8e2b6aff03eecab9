// net::stream: the composite reads and writes built on recv/send/sendmsg.
//
// Design notes
// - Composite operations turn their timeout into one absolute deadline when
//   they start, so a slow trickle of bytes cannot stretch a 5 s limit into
//   5 s per syscall.
// - write_vectored keeps its iovec array in the coroutine frame for up to
//   `inline_parts` buffers (no allocation for the common header+body case)
//   and advances through it in place after short writes.
#include "core/socket_calls.hpp"
#include "net/stream_receiver.hpp"

#include <ringlet/net/stream.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <algorithm>
#include <array>
#include <new>
#include <utility>
#include <vector>

namespace ringlet::net {
namespace {

std::span<std::byte> as_writable_bytes(std::span<char> s) noexcept {
    return {reinterpret_cast<std::byte*>(s.data()), s.size()};
}

std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

constexpr std::size_t inline_parts = 16;
constexpr std::size_t max_iov = IOV_MAX;

}  // namespace

timeout stream::read_limit(timeout per_call) const noexcept {
    if (read_deadline_ == clock::time_point::max()) return per_call;
    return timeout::earliest(per_call, timeout{read_deadline_});
}

timeout stream::write_limit(timeout per_call) const noexcept {
    if (write_deadline_ == clock::time_point::max()) return per_call;
    return timeout::earliest(per_call, timeout{write_deadline_});
}

// A progress timeout is relative to each wait, so it stays relative here:
// as_deadline() of a composite's call limit never freezes it.
timeout stream::read_step(timeout call) const noexcept {
    if (read_timeout_ <= clock::duration::zero()) return call;
    return timeout::earliest(call, timeout{read_timeout_});
}

timeout stream::write_step(timeout call) const noexcept {
    if (write_timeout_ <= clock::duration::zero()) return call;
    return timeout::earliest(call, timeout{write_timeout_});
}

void stream::set_deadline(timeout when) noexcept {
    set_read_deadline(when);
    set_write_deadline(when);
}

void stream::set_read_deadline(timeout when) noexcept { read_deadline_ = when.deadline(); }

void stream::set_write_deadline(timeout when) noexcept { write_deadline_ = when.deadline(); }

// --- lifetime, and the receiver behind receive() ---------------------------------

stream::stream(stream&& other) noexcept
    : socket_(std::move(other.socket_)),
      receiver_(std::exchange(other.receiver_, nullptr)),
      read_deadline_(other.read_deadline_),
      write_deadline_(other.write_deadline_),
      read_timeout_(other.read_timeout_),
      write_timeout_(other.write_timeout_),
      receive_mode_(other.receive_mode_) {}

stream& stream::operator=(stream&& other) noexcept {
    if (this != &other) {
        detail::stream_receiver::abandon(std::exchange(receiver_, std::exchange(other.receiver_, nullptr)));
        socket_ = std::move(other.socket_);
        read_deadline_ = other.read_deadline_;
        write_deadline_ = other.write_deadline_;
        read_timeout_ = other.read_timeout_;
        write_timeout_ = other.write_timeout_;
        receive_mode_ = other.receive_mode_;
    }
    return *this;
}

// The receiver goes first: its armed recv is cancelled before the descriptor closes.
stream::~stream() { detail::stream_receiver::abandon(receiver_); }

task<result<void>> stream::close() {
    if (receiver_ && !receiver_->closing) {
        receiver_->begin_close();
        // Its last completion also ends a receive() waiting in another task.
        co_await receiver_->until_unarmed();
        detail::stream_receiver::abandon(std::exchange(receiver_, nullptr));
    }
    co_return co_await socket_.close();
}

receive_op stream::receive(timeout limit) {
    if (!socket_.is_open()) return receive_op{nullptr, limit};
    if (!receiver_) receiver_ = new (std::nothrow) detail::stream_receiver(socket_.fd(), receive_mode_);
    if (!receiver_) return receive_op{nullptr, limit, std::make_error_code(std::errc::not_enough_memory)};
    return receive_op{receiver_, read_step(read_limit(limit))};
}

result<void> stream::set_receive_mode(receive_mode mode) noexcept {
    if (receiver_) return unexpected{std::make_error_code(std::errc::device_or_resource_busy)};
    receive_mode_ = mode;
    return {};
}

std::error_code stream::read_refusal() const noexcept {
    if (receiver_) return std::make_error_code(std::errc::device_or_resource_busy);
    return {};
}

recv_op stream::read_some(std::span<std::byte> buffer, timeout limit) noexcept {
    return recv_op{socket_, buffer, 0, read_step(read_limit(limit)), read_refusal()};
}

recv_op stream::read_some(std::span<char> buffer, timeout limit) noexcept {
    return recv_op{socket_, as_writable_bytes(buffer), 0, read_step(read_limit(limit)), read_refusal()};
}

task<result<void>> stream::read_exact(std::span<std::byte> buffer, timeout limit) {
    const timeout until = as_deadline(read_limit(limit));
    std::size_t done = 0;
    while (done < buffer.size()) {
        auto n = co_await read_some(buffer.subspan(done), until);
        if (!n) co_return unexpected{n.error()};
        if (*n == 0) co_return unexpected{errc::end_of_stream};
        done += *n;
    }
    co_return result<void>{};
}

task<result<void>> stream::read_exact(std::span<char> buffer, timeout limit) {
    return read_exact(as_writable_bytes(buffer), limit);
}

task<result<std::string>> stream::read_to_end(std::size_t max_bytes, timeout limit) {
    const timeout until = as_deadline(read_limit(limit));
    std::string out;
    std::size_t chunk = 4096;
    for (;;) {
        // Ask for at most one byte more than allowed: that byte proves the excess.
        const std::size_t room = max_bytes - out.size();
        const std::size_t want = room >= chunk ? chunk : room + 1;
        const std::size_t old = out.size();
        out.resize(old + want);
        auto n = co_await read_some(as_writable_bytes(std::span{out}.subspan(old)), until);
        if (!n) co_return unexpected{n.error()};
        out.resize(old + *n);
        if (*n == 0) co_return out;
        if (out.size() > max_bytes) co_return unexpected{errc::message_too_long};
        chunk = std::min<std::size_t>(chunk * 2, 256 * 1024);
    }
}

send_op stream::write_some(std::span<const std::byte> data, timeout limit) noexcept {
    return socket_.send(data, write_step(write_limit(limit)));
}

send_op stream::write_some(std::string_view data, timeout limit) noexcept {
    return socket_.send(as_bytes(data), write_step(write_limit(limit)));
}

result<std::size_t> stream::try_write(std::span<const std::byte> data) noexcept {
    if (!socket_.is_open()) return unexpected{std::make_error_code(std::errc::bad_file_descriptor)};
    if (socket_.is_closing()) return unexpected{make_error_code(errc::operation_canceled)};
    ssize_t n;
    do {
        n = ringlet::detail::sys::send(socket_.fd(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return unexpected{std::make_error_code(std::errc::operation_would_block)};
    return unexpected{errno_code(errno)};
}

bool write_all_op::send_now(const stop_token& token) {
    // Sending at once, while the bytes are still in the cache (a receive just
    // wrote them), rather than with the ring's next batch, is what lets a
    // server that writes what it reads keep pace with epoll on bulk data
    // (see the design notes in src/net/receive.cpp). Doing it inside the
    // await, without a coroutine of its own, is what keeps a small echo's
    // write at one send(2) and no frame. A deadline that has passed fails
    // even a write that could go at once; a relative limit bounds the
    // waiting, so its clock starts only when the write must wait (most
    // writes never read the clock).
    const timeout call = stream_->write_limit(limit_);
    if (data_.empty()) return true;
    std::size_t done = 0;
    if (!token.stop_requested() && !(call.is_absolute() && clock::now() >= call.deadline())) {
        auto n = stream_->try_write(data_);
        if (!n && n.error() != std::errc::operation_would_block) {
            outcome_ = unexpected{n.error()};
            return true;
        }
        if (n) done = *n;
        if (done == data_.size()) return true;
    }
    rest_ = stream_->write_rest(data_.subspan(done), as_deadline(call));
    return false;
}

task<result<void>> stream::write_rest(std::span<const std::byte> data, timeout until) {
    std::size_t done = 0;
    while (done < data.size()) {
        auto n = co_await socket_.send(data.subspan(done), write_step(until));
        if (!n) co_return unexpected{n.error()};
        done += *n;
    }
    co_return result<void>{};
}

task<result<void>> stream::write_vectored(std::span<const const_buffer> parts, timeout limit) {
    const timeout until = as_deadline(write_limit(limit));
    std::array<iovec, inline_parts> small{};
    std::vector<iovec> large;
    std::span<iovec> iov;
    if (parts.size() <= inline_parts) {
        iov = std::span{small}.first(parts.size());
    } else {
        large.resize(parts.size());
        iov = large;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        // iovec is not const-correct; sendmsg(2) only reads through it.
        iov[i] = {const_cast<std::byte*>(parts[i].data()), parts[i].size()};
    }
    co_return co_await send_iovecs(iov, until);
}

task<result<void>> stream::send_iovecs(std::span<iovec> iov, timeout until) {
    while (!iov.empty() && iov.front().iov_len == 0) iov = iov.subspan(1);
    while (!iov.empty()) {
        auto n = co_await socket_.sendmsg(iov.first(std::min(iov.size(), max_iov)), write_step(until));
        if (!n) co_return unexpected{n.error()};
        std::size_t sent = *n;
        while (!iov.empty() && sent >= iov.front().iov_len) {
            sent -= iov.front().iov_len;
            iov = iov.subspan(1);
        }
        if (sent > 0) {
            iov.front().iov_base = static_cast<std::byte*>(iov.front().iov_base) + sent;
            iov.front().iov_len -= sent;
        }
        while (!iov.empty() && iov.front().iov_len == 0) iov = iov.subspan(1);
    }
    co_return result<void>{};
}

shutdown_op stream::shutdown(shutdown_how how) noexcept { return socket_.shutdown(how); }

}  // namespace ringlet::net

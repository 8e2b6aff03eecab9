// net::stream: a connected byte-stream socket — the operations tcp::stream
// and local::stream share.
//
//     char buf[4096];
//     auto n = co_await conn.read_some(buf, 30s);     // result<std::size_t>, 0 at EOF
//     if (n && *n) co_await conn.write_all({buf, *n});
//
// Outcomes are distinct: end of stream is read_some() == 0 (or
// errc::end_of_stream from read_exact), a reset is std::errc::connection_reset,
// a timeout or an expired deadline is errc::timed_out, a stop of the awaiting
// task or a close() is errc::operation_canceled. SIGPIPE never fires: writing
// to a closed peer is std::errc::broken_pipe.
//
// Timeouts. Every read and write takes an optional ringlet::timeout (a
// duration or an absolute clock::time_point). set_deadline(),
// set_read_deadline() and set_write_deadline() store absolute deadlines that
// apply to every later operation in that direction, combined with the
// per-call timeout (the earlier wins). A composite operation (read_exact,
// write_all, ...) applies its timeout to the whole call, not to each syscall.
// An operation started after its deadline has passed fails at once with
// errc::timed_out, even if it could have completed.
//
// Progress timeouts. set_read_timeout() and set_write_timeout() bound each
// wait for progress instead of a whole call: every read_some / receive (and
// each step of read_exact, read_to_end and buffered reads) and every send
// step of write_some / write_all / write_vectored waits at most that long for
// at least one byte, then fails with errc::timed_out. They combine with the
// per-call timeout and the deadlines (the earliest wins), so no wait on the
// stream outlasts them: an idle peer (nginx's keepalive_timeout) or one that
// stops reading (send_timeout) ends the operation however the handler wrote
// its loop. tcp::serve and tls::serve set both on every connection they hand
// to a handler (serve_options); zero, the default of a plain stream, means none.
//
// Thread safety: a stream belongs to one shard while operations are in flight
// (see net::socket). One read and one write may be in flight at the same time
// (from two tasks); two concurrent reads (or writes) interleave unpredictably.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/receive.hpp>
#include <ringlet/net/socket.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace ringlet::net {

/// A read-only view of bytes for vectored writes: from a byte span, or from
/// anything that converts to std::string_view (std::string, literals).
class const_buffer {
public:
    const_buffer(std::span<const std::byte> bytes) noexcept  // NOLINT: implicit by design
        : data_(bytes.data()), size_(bytes.size()) {}
    template <class T>
        requires std::convertible_to<const T&, std::string_view>
    const_buffer(const T& text) noexcept  // NOLINT: implicit by design
        : const_buffer(std::as_bytes(std::span{std::string_view{text}})) {}

    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    const std::byte* data_;
    std::size_t size_;
};

class stream;

/// The awaitable of stream::write_all: what the socket buffer takes at once
/// is sent inside the await itself (one send(2), no coroutine frame); only a
/// write that has to wait for the socket runs a task for the rest. Await it
/// once, in the expression that made it (it refers to the stream and the
/// bytes). Yields result<void>.
class [[nodiscard]] write_all_op {
public:
    write_all_op(stream& s, std::span<const std::byte> data, timeout limit) noexcept
        : stream_(&s), data_(data), limit_(limit) {}

    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> waiter) {
        if (send_now(ringlet::detail::token_of(waiter))) return waiter;  // over without waiting: go on at once
        return task<result<void>>::awaiter{rest_.handle()}.await_suspend(waiter);
    }
    result<void> await_resume() {
        if (!rest_.valid()) return std::move(outcome_);
        return task<result<void>>::awaiter{rest_.handle()}.await_resume();
    }

private:
    /// Sends what goes now. True when the write is over (outcome_ says how);
    /// false when rest_ is to write the remainder.
    bool send_now(const stop_token& token);

    stream* stream_;
    std::span<const std::byte> data_;
    timeout limit_;
    result<void> outcome_;
    task<result<void>> rest_;
};

/// A connected stream socket. Move-only; see the file comment.
class stream {
public:
    stream() noexcept = default;
    /// Takes a connected SOCK_STREAM socket.
    explicit stream(net::socket connected) noexcept : socket_(std::move(connected)) {}
    stream(stream&& other) noexcept;
    stream& operator=(stream&& other) noexcept;
    ~stream();

    // --- reading -----------------------------------------------------------

    /// Receives what is available, at most buffer.size() bytes, waiting until
    /// at least one byte (or the end of stream) arrives. Yields the count, 0 at
    /// end of stream. Refused with std::errc::device_or_resource_busy on a
    /// stream that has used receive() (its armed receive would race this
    /// one); so are read_exact and read_to_end. @see recv_op, recv(2)
    [[nodiscard]] recv_op read_some(std::span<std::byte> buffer, timeout limit = {}) noexcept;
    [[nodiscard]] recv_op read_some(std::span<char> buffer, timeout limit = {}) noexcept;

    /// Yields a lease on the next bytes of the stream, in a buffer of the
    /// shard's (up to 260 KiB), waiting until at least one byte (or the end of
    /// stream) arrives: empty at end of stream. The first call arms one
    /// multishot operation that stays armed (see receive_mode); no buffer is
    /// held while nothing has arrived, and nothing is lost between calls or
    /// across a timeout: the read for servers with many idle connections and
    /// for bulk transfer (large reads into buffers that are still in cache).
    /// Use it or read_some on a stream, not both. Errors, timeouts and
    /// cancellation as read_some. @see net::received, receive_op
    [[nodiscard]] receive_op receive(timeout limit = {});

    /// Chooses how receive() waits (receive_mode::readiness by default).
    /// Errors: std::errc::device_or_resource_busy once receive() has been used.
    result<void> set_receive_mode(receive_mode mode) noexcept;
    [[nodiscard]] receive_mode get_receive_mode() const noexcept { return receive_mode_; }

    /// Fills `buffer` completely. Errors: errc::end_of_stream when the peer
    /// closes first, plus read_some's. After an error the buffer holds an
    /// unspecified prefix of the data (use net::buffered_reader::read_exact to
    /// keep partial data). @see recv(2)
    [[nodiscard]] task<result<void>> read_exact(std::span<std::byte> buffer, timeout limit = {});
    [[nodiscard]] task<result<void>> read_exact(std::span<char> buffer, timeout limit = {});

    /// Reads until the end of stream and yields everything (the seeds'
    /// `read :all`). Errors: errc::message_too_long when more than `max_bytes`
    /// arrive (what was read is dropped), plus read_some's.
    [[nodiscard]] task<result<std::string>> read_to_end(std::size_t max_bytes, timeout limit = {});

    // --- writing -----------------------------------------------------------

    /// Sends what the socket buffer takes now, waiting until it takes at least
    /// one byte. Yields the count, which may be short. @see send_op, send(2)
    [[nodiscard]] send_op write_some(std::span<const std::byte> data, timeout limit = {}) noexcept;
    [[nodiscard]] send_op write_some(std::string_view data, timeout limit = {}) noexcept;

    /// Sends what the socket buffer takes right now, without waiting: one
    /// non-blocking send(2). Yields the count (possibly short), or
    /// std::errc::operation_would_block when the buffer is full. Errors:
    /// std::errc::bad_file_descriptor (not open), errc::operation_canceled
    /// (closing), std::errc::broken_pipe / connection_reset. Ignores the
    /// write deadline: it cannot wait. (Tokio's try_write.)
    [[nodiscard]] result<std::size_t> try_write(std::span<const std::byte> data) noexcept;

    /// Sends all of `data`, continuing after short writes. Errors: write_some's
    /// (std::errc::broken_pipe / connection_reset when the peer is gone); how
    /// much was sent before an error is unspecified. What the socket buffer
    /// takes at once is sent directly (try_write) — within the co_await, with
    /// no coroutine frame; the rest waits on the ring. A deadline that has
    /// passed fails it before anything is sent; a relative `limit` bounds
    /// the waiting, counted from when it starts. @see write_all_op, send(2)
    [[nodiscard]] write_all_op write_all(std::span<const std::byte> data, timeout limit = {}) noexcept {
        return {*this, data, limit};
    }
    [[nodiscard]] write_all_op write_all(std::string_view data, timeout limit = {}) noexcept {
        return {*this, std::as_bytes(std::span{data.data(), data.size()}), limit};
    }

    /// Sends all of `parts`, in order, with as few sendmsg calls as the socket
    /// buffer allows (a header and a body in one segment, no copying); short
    /// writes are continued. The buffers must stay alive until the await ends:
    ///     const net::const_buffer parts[] = {header, body};
    ///     co_await conn.write_vectored(parts);
    /// (No initializer_list overload: GCC 12 miscompiles a braced list inside
    /// a co_await expression.) Errors: as write_all. @see sendmsg_op, sendmsg(2)
    [[nodiscard]] task<result<void>> write_vectored(std::span<const const_buffer> parts, timeout limit = {});

    // --- ending ------------------------------------------------------------

    /// Half-closes: shutdown_how::write sends a FIN (the peer reads end of
    /// stream; this side can still read). ::read only makes a read that finds
    /// nothing queued return 0 at once: on Linux TCP, bytes already queued and
    /// bytes arriving later are still delivered (the peer is not told; use it
    /// to stop waiting, not to discard input), while a unix peer's later
    /// writes fail with EPIPE. ::both does both. @see shutdown_op, shutdown(2)
    [[nodiscard]] shutdown_op shutdown(shutdown_how how = shutdown_how::both) noexcept;

    /// Cancels all in-flight operations, waits for them, closes. @see socket::close
    [[nodiscard]] task<result<void>> close();

    // --- deadlines ---------------------------------------------------------

    /// Sets both the read and the write deadline. A duration counts from now;
    /// timeout::none() clears them.
    void set_deadline(timeout when) noexcept;
    /// The deadline for every later read (read_*, and buffered reads through it).
    void set_read_deadline(timeout when) noexcept;
    /// The deadline for every later write (write_*).
    void set_write_deadline(timeout when) noexcept;
    /// The current deadlines; clock::time_point::max() when none is set.
    [[nodiscard]] clock::time_point read_deadline() const noexcept { return read_deadline_; }
    [[nodiscard]] clock::time_point write_deadline() const noexcept { return write_deadline_; }

    /// The progress timeout of reads: every later wait for incoming bytes
    /// (read_some, receive, each step of a composite or buffered read) fails
    /// with errc::timed_out after `limit` without a byte. Zero: none.
    void set_read_timeout(clock::duration limit) noexcept { read_timeout_ = limit; }
    /// The progress timeout of writes: every later wait for the socket buffer
    /// to take a byte (write_some, each step of write_all / write_vectored)
    /// fails with errc::timed_out after `limit`. Zero: none.
    void set_write_timeout(clock::duration limit) noexcept { write_timeout_ = limit; }
    /// The current progress timeouts; zero when none is set.
    [[nodiscard]] clock::duration read_timeout() const noexcept { return read_timeout_; }
    [[nodiscard]] clock::duration write_timeout() const noexcept { return write_timeout_; }

    // --- addresses and the socket -----------------------------------------

    /// This end's address. @see getsockname(2)
    [[nodiscard]] result<address> local_address() const noexcept { return socket_.local_address(); }
    /// The peer's address. @see getpeername(2)
    [[nodiscard]] result<address> peer_address() const noexcept { return socket_.peer_address(); }

    [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
    /// The underlying socket, for options and raw operations.
    [[nodiscard]] net::socket& socket() noexcept { return socket_; }
    [[nodiscard]] const net::socket& socket() const noexcept { return socket_; }

protected:
    /// The limit of a whole read / write call: `per_call` and the deadline,
    /// earlier wins (what a composite operation turns into one deadline).
    [[nodiscard]] timeout read_limit(timeout per_call) const noexcept;
    [[nodiscard]] timeout write_limit(timeout per_call) const noexcept;
    /// The limit of one wait for progress within a call limited by `call`:
    /// `call` and the progress timeout, earlier wins.
    [[nodiscard]] timeout read_step(timeout call) const noexcept;
    [[nodiscard]] timeout write_step(timeout call) const noexcept;

private:
    friend class write_all_op;
    /// write_all's remainder, once the socket buffer is full: waits and sends.
    task<result<void>> write_rest(std::span<const std::byte> data, timeout until);
    task<result<void>> send_iovecs(std::span<iovec> parts, timeout limit);

    /// What receive() would race with: read_some after receive() is refused.
    [[nodiscard]] std::error_code read_refusal() const noexcept;

    net::socket socket_;
    detail::stream_receiver* receiver_ = nullptr;  // created by the first receive()
    clock::time_point read_deadline_ = clock::time_point::max();
    clock::time_point write_deadline_ = clock::time_point::max();
    clock::duration read_timeout_{0};
    clock::duration write_timeout_{0};
    receive_mode receive_mode_ = receive_mode::readiness;
};

/// `t` as an absolute deadline taken now (unset stays unset): what a composite
/// operation uses so that its whole run shares one limit.
[[nodiscard]] inline timeout as_deadline(timeout t) noexcept { return t.is_set() ? timeout{t.deadline()} : t; }

}  // namespace ringlet::net

// Receiving into buffers the shard provides: net::received (a lease on the
// bytes of one receive) and receive_op, behind net::stream::receive().
//
//     auto got = co_await conn.receive(30s);         // result<net::received>
//     if (!got || got->empty()) co_return;           // error, or end of stream
//     co_await conn.write_all(got->bytes());         // the lease ends with `got`
//
// Two ways to wait for the bytes (net::receive_mode, chosen per stream before
// its first receive(); readiness unless set otherwise):
//
// - readiness (the default): the first receive() arms one multishot poll for
//   readability that stays armed (on epoll: the descriptor stays registered,
//   edge-triggered). A receive reads with one non-blocking recv(2) into a
//   buffer from the shard's spares (the most recently returned first, so
//   still in cache) when the socket is, or may be, readable, and otherwise
//   waits for the poll. A read takes up to 68 KiB, and up to 260 KiB once a
//   read of the stream has taken 68 KiB (until one takes under 4 KiB), so a
//   lease holds at most 260 KiB. Bytes stay in the socket until a receive() asks for them, so
//   the kernel's flow control applies and nothing is read ahead.
// - multishot: the first receive() arms one multishot recv
//   (io_uring, kernel 6.0+) on the shard's ring of 128 x 64 KiB provided
//   buffers (a buffer ring, 5.19+); whenever bytes
//   arrive the kernel puts them in a buffer and posts them, and the stream
//   queues them until receive() hands them out (small pieces queued back to
//   back come out as one lease, copied together, up to 64 KiB).
//
// Either way an idle connection holds no buffer, and bytes that arrive while
// nobody is receiving (or after a receive timed out) are never lost. Why
// readiness is the default: src/net/receive.cpp, design notes (measured).
// Where there are no buffer rings or no multishot recv (the epoll backend,
// older kernels) the multishot mode receives as readiness does; where the
// kernel has no multishot poll either, a receive reads into a heap buffer of
// its own (16 KiB). Callers see no difference.
//
// Mixing: once receive() has been used on a stream, read_some() and the reads
// built on it are refused (std::errc::device_or_resource_busy) — the armed
// receive would otherwise take bytes in between. One receive() at a time per
// stream (a second concurrent one is refused the same way).
//
// Thread safety: a lease belongs to the shard that received it; release it
// (or let it go) on that shard, before the runtime stops.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/net/ops.hpp>
#include <ringlet/core/timed_wait.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

namespace ringlet::net {

namespace detail {
class receive_pool;
class stream_receiver;
}  // namespace detail

/// How a stream's receive() waits for bytes (see the file comment).
enum class receive_mode : std::uint8_t {
    readiness,  ///< multishot poll + recv(2) into a spare buffer when readable
    multishot,  ///< multishot recv into the shard's provided-buffer ring
};

/// The bytes of one receive, leased from the shard's buffer ring (or owned,
/// on the fallback path). Move-only; empty at end of stream.
class received {
public:
    received() noexcept = default;
    received(received&& other) noexcept;
    received& operator=(received&& other) noexcept;
    received(const received&) = delete;
    received& operator=(const received&) = delete;
    ~received() { release(); }

    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    [[nodiscard]] std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// True at end of stream (and for a moved-from or released lease).
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// Gives the buffer back now; the lease becomes empty.
    void release() noexcept;

private:
    friend class detail::stream_receiver;
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    detail::receive_pool* pool_ = nullptr;  // set while data_ is a pool buffer
    std::uint16_t id_ = 0;
    bool large_ = false;                    // owned_ is one of the pool's large spares
    std::unique_ptr<std::byte[]> owned_;    // a spare, or the fallback path's buffer
};

/// Waits for the stream's next bytes (see the file comment): yields the
/// lease, empty at end of stream. Outcomes as every socket operation
/// (net/ops.hpp): errc::timed_out, errc::operation_canceled (task stopped, or
/// the stream closed), the connection's errno (std::errc::connection_reset,
/// ...). A receive that times out or is cancelled loses nothing: bytes that
/// arrive later wait for the next receive().
/// @see recv(2)
class [[nodiscard]] receive_op final : public ringlet::detail::timed_wait {
public:
    /// `receiver` null: refused with `refused` (or bad_file_descriptor).
    receive_op(detail::stream_receiver* receiver, timeout limit, std::error_code refused = {}) noexcept;

    bool await_ready() noexcept;
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        return suspend(waiter, ringlet::detail::token_of(waiter));
    }
    bool suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept;
    result<received> await_resume() noexcept;

private:
    static void detach(ringlet::detail::timed_wait& self) noexcept;

    detail::stream_receiver* receiver_;
};

}  // namespace ringlet::net

// Timers and raw file-descriptor operations, each one backend operation
// (see runtime_options::backend).
//
// These are the primitives the socket layers build on, and useful on their own
// for pipes, eventfds and files. All must be awaited on a shard thread; each
// takes a `timeout` and honours the awaiting task's stop token.
#pragma once

#include <ringlet/core/io_op.hpp>

#include <cstddef>
#include <span>

namespace ringlet {

/// Awaitable sleep. Yields success when the time has passed,
/// errc::operation_canceled when the task was stopped first.
/// @see clock_nanosleep(2)
class [[nodiscard]] sleep_op final : public detail::timer_op {
public:
    explicit sleep_op(clock::time_point until) noexcept;
    result<void> await_resume() const noexcept;
};

/// Suspends the task for `d` (at least; the kernel's timer slack applies).
[[nodiscard]] sleep_op sleep_for(clock::duration d) noexcept;
/// Suspends the task until the monotonic clock reaches `t`.
[[nodiscard]] sleep_op sleep_until(clock::time_point t) noexcept;

namespace io {

/// A no-op round trip through the shard's backend (a submission and its
/// completion, nothing else): measures the loop's own cost.
class [[nodiscard]] nop_op final : public detail::int_op {
public:
    nop_op() noexcept;
};
[[nodiscard]] inline nop_op nop() noexcept { return {}; }

/// read(2) through the shard's backend: yields the byte count, 0 at end of file.
/// @see read(2)
class [[nodiscard]] read_op final : public detail::io_op {
public:
    read_op(int fd, std::span<std::byte> buffer, timeout limit) noexcept;
    result<std::size_t> await_resume() const noexcept;
    int fd;
    std::span<std::byte> buffer;
};
[[nodiscard]] inline read_op read(int fd, std::span<std::byte> buffer, timeout limit = {}) noexcept {
    return read_op{fd, buffer, limit};
}

/// write(2) through the shard's backend: yields the byte count written (may be short).
/// @see write(2)
class [[nodiscard]] write_op final : public detail::io_op {
public:
    write_op(int fd, std::span<const std::byte> data, timeout limit) noexcept;
    result<std::size_t> await_resume() const noexcept;
    int fd;
    std::span<const std::byte> data;
};
[[nodiscard]] inline write_op write(int fd, std::span<const std::byte> data, timeout limit = {}) noexcept {
    return write_op{fd, data, limit};
}

/// Waits until `fd` is ready for `events` (POLLIN, POLLOUT, …); yields the revents.
/// @see poll(2)
class [[nodiscard]] poll_op final : public detail::io_op {
public:
    poll_op(int fd, unsigned events, timeout limit) noexcept;
    result<unsigned> await_resume() const noexcept;
    int fd;
    unsigned events;
};
[[nodiscard]] inline poll_op poll(int fd, unsigned events, timeout limit = {}) noexcept {
    return poll_op{fd, events, limit};
}

}  // namespace io
}  // namespace ringlet

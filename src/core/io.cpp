// The steps of the core operations (timers, raw fd I/O).
#include "core/uring_backend.hpp"

#include <ringlet/core/io.hpp>

#include <poll.h>
#include <sys/uio.h>

#include <cerrno>

namespace ringlet {
namespace {

void prepare_timer(detail::io_op& op, io_uring_sqe* sqe) noexcept {
    const auto& self = static_cast<detail::timer_op&>(op);
    // steady_clock is CLOCK_MONOTONIC, the clock of io_uring's timeouts.
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(self.deadline().time_since_epoch()).count();
    detail::uring_backend::prepare_timeout(op, sqe, ns, true, false);
}

void prepare_nop(detail::io_op&, io_uring_sqe* sqe) noexcept { io_uring_prep_nop(sqe); }

void prepare_read(detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<io::read_op&>(op);
    // offset -1: use (and advance) the file position, as read(2) does; pipes and sockets ignore it.
    io_uring_prep_read(sqe, self.fd, self.buffer.data(), static_cast<unsigned>(self.buffer.size()), ~0ULL);
}

void prepare_write(detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<io::write_op&>(op);
    io_uring_prep_write(sqe, self.fd, self.data.data(), static_cast<unsigned>(self.data.size()), ~0ULL);
}

void prepare_poll(detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<io::poll_op&>(op);
    io_uring_prep_poll_add(sqe, self.fd, self.events);
}

// Readiness backends: a timer waits for no descriptor and is never ready by
// itself (its deadline completes it); a nop is done at once.
detail::readiness no_descriptor(const detail::io_op&) noexcept { return {}; }
int perform_timer(detail::io_op&) noexcept { return -EAGAIN; }
int perform_nop(detail::io_op&) noexcept { return 0; }

int result_of(ssize_t n) noexcept {
    if (n >= 0) return static_cast<int>(n);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

// RWF_NOWAIT: never block the shard, even on a descriptor opened blocking
// (sockets and pipes honour it; the backend waits for readiness instead).
int perform_read(detail::io_op& op) noexcept {
    auto& self = static_cast<io::read_op&>(op);
    iovec v{self.buffer.data(), self.buffer.size()};
    return result_of(::preadv2(self.fd, &v, 1, -1, RWF_NOWAIT));
}

int perform_write(detail::io_op& op) noexcept {
    auto& self = static_cast<io::write_op&>(op);
    iovec v{const_cast<std::byte*>(self.data.data()), self.data.size()};
    return result_of(::pwritev2(self.fd, &v, 1, -1, RWF_NOWAIT));
}

int perform_poll(detail::io_op& op) noexcept {
    auto& self = static_cast<io::poll_op&>(op);
    pollfd p{self.fd, static_cast<short>(self.events), 0};
    const int n = ::poll(&p, 1, 0);
    if (n < 0) return errno == EINTR ? -EAGAIN : -errno;
    return n == 0 ? -EAGAIN : p.revents;
}

detail::readiness read_wait(const detail::io_op& op) noexcept { return {static_cast<const io::read_op&>(op).fd, POLLIN}; }
detail::readiness write_wait(const detail::io_op& op) noexcept {
    return {static_cast<const io::write_op&>(op).fd, POLLOUT};
}
detail::readiness poll_wait(const detail::io_op& op) noexcept {
    const auto& self = static_cast<const io::poll_op&>(op);
    return {self.fd, self.events};
}

constexpr detail::op_steps timer_steps{&prepare_timer, &perform_timer, &no_descriptor};
constexpr detail::op_steps nop_steps{&prepare_nop, &perform_nop, &no_descriptor};
constexpr detail::op_steps read_steps{&prepare_read, &perform_read, &read_wait};
constexpr detail::op_steps write_steps{&prepare_write, &perform_write, &write_wait};
constexpr detail::op_steps poll_steps{&prepare_poll, &perform_poll, &poll_wait};

template <class T>
result<T> as(result<int> r) noexcept {
    if (!r) return unexpected{r.error()};
    return static_cast<T>(*r);
}

}  // namespace

namespace detail {

timer_op::timer_op(clock::time_point deadline) noexcept : io_op(timer_steps), deadline_(deadline) {}

}  // namespace detail

sleep_op::sleep_op(clock::time_point until) noexcept : timer_op(until) {}

result<void> sleep_op::await_resume() const noexcept {
    if (raw_result() == -ETIME) return {};  // the timer expired: that is success
    if (auto r = outcome(); !r) return unexpected{r.error()};
    return {};
}

sleep_op sleep_for(clock::duration d) noexcept { return sleep_op{clock::now() + d}; }
sleep_op sleep_until(clock::time_point t) noexcept { return sleep_op{t}; }

namespace io {

nop_op::nop_op() noexcept : int_op(nop_steps) {}

read_op::read_op(int fd_, std::span<std::byte> buffer_, timeout limit) noexcept
    : io_op(read_steps, limit), fd(fd_), buffer(buffer_) {}
result<std::size_t> read_op::await_resume() const noexcept { return as<std::size_t>(outcome()); }

write_op::write_op(int fd_, std::span<const std::byte> data_, timeout limit) noexcept
    : io_op(write_steps, limit), fd(fd_), data(data_) {}
result<std::size_t> write_op::await_resume() const noexcept { return as<std::size_t>(outcome()); }

poll_op::poll_op(int fd_, unsigned events_, timeout limit) noexcept
    : io_op(poll_steps, limit), fd(fd_), events(events_) {}
result<unsigned> poll_op::await_resume() const noexcept { return as<unsigned>(outcome()); }

}  // namespace io
}  // namespace ringlet

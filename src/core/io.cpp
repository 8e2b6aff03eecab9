// The prepare steps of the core operations (timers, raw fd I/O).
#include "core/ring.hpp"

#include <ringlet/core/io.hpp>

namespace ringlet {
namespace {

void prepare_sleep(detail::io_op& op, io_uring_sqe* sqe) noexcept {
    io_uring_prep_timeout(sqe, reinterpret_cast<__kernel_timespec*>(op.timespec_), 0, IORING_TIMEOUT_ABS);
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

template <class T>
result<T> as(result<int> r) noexcept {
    if (!r) return unexpected{r.error()};
    return static_cast<T>(*r);
}

}  // namespace

sleep_op::sleep_op(clock::time_point until) noexcept : io_op(&prepare_sleep) {
    const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
    timespec_[0] = ns / 1'000'000'000;
    timespec_[1] = ns % 1'000'000'000;
}

result<void> sleep_op::await_resume() const noexcept {
    if (raw_result() == -ETIME) return {};  // the timer expired: that is success
    if (auto r = outcome(); !r) return unexpected{r.error()};
    return {};
}

sleep_op sleep_for(clock::duration d) noexcept { return sleep_op{clock::now() + d}; }
sleep_op sleep_until(clock::time_point t) noexcept { return sleep_op{t}; }

namespace io {

nop_op::nop_op() noexcept : int_op(&prepare_nop) {}

read_op::read_op(int fd_, std::span<std::byte> buffer_, timeout limit) noexcept
    : io_op(&prepare_read, limit), fd(fd_), buffer(buffer_) {}
result<std::size_t> read_op::await_resume() const noexcept { return as<std::size_t>(outcome()); }

write_op::write_op(int fd_, std::span<const std::byte> data_, timeout limit) noexcept
    : io_op(&prepare_write, limit), fd(fd_), data(data_) {}
result<std::size_t> write_op::await_resume() const noexcept { return as<std::size_t>(outcome()); }

poll_op::poll_op(int fd_, unsigned events_, timeout limit) noexcept
    : io_op(&prepare_poll, limit), fd(fd_), events(events_) {}
result<unsigned> poll_op::await_resume() const noexcept { return as<unsigned>(outcome()); }

}  // namespace io
}  // namespace ringlet

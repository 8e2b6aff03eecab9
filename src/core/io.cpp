// The core operations on raw descriptors (read, write, poll, nop) and sleep;
// their steps are those of the families in src/core/ops/.
#include "core/ops/ops.hpp"

#include <ringlet/core/io.hpp>

namespace ringlet {
namespace {

namespace ops = detail::ops;

ops::buffer_args read_view(detail::io_op& op) noexcept {
    auto& self = static_cast<io::read_op&>(op);
    return {self.fd, self.buffer.data(), self.buffer.size(), 0};
}

ops::buffer_args write_view(detail::io_op& op) noexcept {
    auto& self = static_cast<io::write_op&>(op);
    return {self.fd, const_cast<std::byte*>(self.data.data()), self.data.size(), 0};  // write(2) only reads it
}

ops::fd_args poll_view(detail::io_op& op) noexcept {
    auto& self = static_cast<io::poll_op&>(op);
    return {self.fd, static_cast<int>(self.events)};
}

template <class T>
result<T> as(result<int> r) noexcept {
    if (!r) return unexpected{r.error()};
    return static_cast<T>(*r);
}

}  // namespace

sleep_op::sleep_op(clock::time_point until) noexcept : timer_op(until) {}

result<void> sleep_op::await_resume() const noexcept {
    if (raw_result() == -ETIME) return {};  // the timer expired: that is success
    if (auto r = outcome(); !r) return unexpected{r.error()};
    return {};
}

sleep_op sleep_for(clock::duration d) noexcept { return sleep_op{clock::now() + d}; }
sleep_op sleep_until(clock::time_point t) noexcept { return sleep_op{t}; }

namespace io {

nop_op::nop_op() noexcept : int_op(ops::nop_steps) {}

read_op::read_op(int fd_, std::span<std::byte> buffer_, timeout limit) noexcept
    : io_op(ops::read_steps<&read_view>, limit), fd(fd_), buffer(buffer_) {}
result<std::size_t> read_op::await_resume() const noexcept { return as<std::size_t>(outcome()); }

write_op::write_op(int fd_, std::span<const std::byte> data_, timeout limit) noexcept
    : io_op(ops::write_steps<&write_view>, limit), fd(fd_), data(data_) {}
result<std::size_t> write_op::await_resume() const noexcept { return as<std::size_t>(outcome()); }

poll_op::poll_op(int fd_, unsigned events_, timeout limit) noexcept
    : io_op(ops::poll_steps<&poll_view>, limit), fd(fd_), events(events_) {}
result<unsigned> poll_op::await_resume() const noexcept { return as<unsigned>(outcome()); }

}  // namespace io
}  // namespace ringlet

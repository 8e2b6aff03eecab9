// The timer family: detail::timer_op, a deadline on the monotonic clock
// (sleep, and the deadlines of waits on shared multishot operations).
// io_uring: an IORING_OP_TIMEOUT filled by the backend's one timeout
// preparation. Readiness backends: no descriptor; the attempt reports -ETIME
// once the deadline has passed.
#include "core/ops/ops.hpp"
#include "core/uring_backend.hpp"

#include <cerrno>

namespace ringlet::detail {
namespace {

std::int64_t deadline_ns(const io_op& op) noexcept {
    const auto& self = static_cast<const timer_op&>(op);
    // steady_clock is CLOCK_MONOTONIC, the clock of io_uring's timeouts.
    return std::chrono::duration_cast<std::chrono::nanoseconds>(self.deadline().time_since_epoch()).count();
}

}  // namespace

namespace ops {

const op_steps timer_steps{
    [](io_op& op, io_uring_sqe* sqe) noexcept { uring_backend::prepare_timeout(op, sqe, deadline_ns(op), true, false); },
    [](io_op& op) noexcept { return clock::now() >= static_cast<const timer_op&>(op).deadline() ? -ETIME : -EAGAIN; },
    [](const io_op&) noexcept { return readiness{}; }};

}  // namespace ops

timer_op::timer_op(clock::time_point deadline) noexcept : io_op(ops::timer_steps), deadline_(deadline) {}

}  // namespace ringlet::detail

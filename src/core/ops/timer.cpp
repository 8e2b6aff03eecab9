// The timer family: detail::timer_op, a deadline on the monotonic clock
// (sleep, and the deadlines of waits on shared multishot operations).
// Every backend keeps a timer op in the shard's timer queue and needs no
// kernel operation for it: no descriptor, and the attempt reports -ETIME once
// the deadline has passed (-EAGAIN before). So there is no prepare step — the
// io_uring backend recognises a timer op by these steps before it would take
// an SQE (uring_backend::submit) and arms its one kernel timer for the
// queue's earliest deadline instead.
#include "core/ops/ops.hpp"

#include <cerrno>

namespace ringlet::detail {
namespace ops {

const op_steps timer_steps{
    nullptr,
    [](io_op& op) noexcept { return clock::now() >= static_cast<const timer_op&>(op).deadline() ? -ETIME : -EAGAIN; },
    [](const io_op&) noexcept { return readiness{}; }};

}  // namespace ops

timer_op::timer_op(clock::time_point deadline) noexcept : io_op(ops::timer_steps), deadline_(deadline) {}

}  // namespace ringlet::detail

// The io_uring backend of one shard. Private: public headers never see liburing.
//
// Thread safety: touched only by its shard's thread (asserted in debug builds),
// except fd(), which other shards read (through wake()) to target
// IORING_OP_MSG_RING.
#pragma once

#include "core/backend.hpp"
#include "core/timer_queue.hpp"

#include <liburing.h>

#include <bitset>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

namespace ringlet::detail {

struct ring_config {
    unsigned sq_entries = 1024;
    unsigned cq_entries = 0;  // 0: 8 × sq_entries
};

struct ring_stats {
    std::uint64_t enters = 0;             ///< io_uring_enter calls made by the loop
    std::uint64_t completions = 0;        ///< CQEs dispatched
    std::uint64_t stale_completions = 0;  ///< CQEs whose generation no longer matched (dropped)
    std::uint64_t sq_full_submits = 0;    ///< submits forced because the SQ was full
    std::uint64_t cq_overflows = 0;       ///< times the kernel flagged IORING_SQ_CQ_OVERFLOW
    std::uint64_t timer_arms = 0;         ///< IORING_OP_TIMEOUTs armed for the earliest deadline
    std::uint64_t timer_updates = 0;      ///< IORING_TIMEOUT_UPDATEs moving it earlier
    std::uint64_t limit_cancels = 0;      ///< ops cancelled because their time limit passed
};

/// user_data values below 2^32 are tags, never slots (slot generations start at 1).
enum class ring_tag : std::uint64_t {
    ignore = 0,  ///< completions nobody waits for (cancel requests, timer updates)
    wake = 1,    ///< IORING_OP_MSG_RING from another shard: look at the inbox
    timer = 2,   ///< the one IORING_OP_TIMEOUT armed for the timer queue's earliest deadline
};

class uring_backend final : public backend {
public:
    /// Sets up the ring with the best flags the kernel takes. Throws
    /// std::runtime_error naming the cause and the remedy when io_uring is
    /// unavailable (ENOSYS, EPERM, ENOMEM, ...).
    /// Deadlines (ops' time limits, timer ops) go into `timers`, the shard's
    /// queue; the single-argument form (probes, tests) keeps a queue of its own.
    uring_backend(const ring_config& config, timer_queue& timers);
    explicit uring_backend(const ring_config& config);
    ~uring_backend() override;

    // --- backend -----------------------------------------------------------
    [[nodiscard]] backend_kind kind() const noexcept override { return backend_kind::io_uring; }
    void submit(io_op& op) override;
    void cancel(io_op& op) override;
    unsigned poll(bool block) override;
    /// True when a completion is ready or the kernel holds work for this
    /// thread (deferred task work, overflowed CQEs) that an enter would deliver.
    [[nodiscard]] bool completions_pending() const noexcept override {
        return io_uring_cq_ready(&ring_) > 0 ||
               (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) ||
               !deferred_.empty() || timers_.next_deadline() <= clock::now();
    }
    [[nodiscard]] bool supports(capability c) const noexcept override;
    [[nodiscard]] std::size_t in_flight() const noexcept override { return in_flight_; }
    /// Setup flags, features and supported opcodes, one line each.
    [[nodiscard]] std::string describe() const override;
    bool wake(backend& target) noexcept override;

    // --- io_uring specifics (core, tests, benchmarks) -----------------------
    /// The user_data that routes `op`'s completions (tests: stale completions).
    [[nodiscard]] static std::uint64_t user_data_of(const io_op& op) noexcept { return words_of(op)[0]; }

    /// A free SQE; submits pending ones first when the SQ is full. Never drops.
    io_uring_sqe* get_sqe();
    [[nodiscard]] bool supports_opcode(int opcode) const noexcept {
        return opcode >= 0 && opcodes_.test(static_cast<unsigned>(opcode));
    }
    [[nodiscard]] unsigned setup_flags() const noexcept { return setup_flags_; }
    [[nodiscard]] unsigned features() const noexcept { return ring_.features; }
    [[nodiscard]] int fd() const noexcept { return ring_.ring_fd; }
    [[nodiscard]] const ring_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] io_uring* raw() noexcept { return &ring_; }

    /// Tests only (core/fault_backend.hpp): called with each op's SQE right
    /// after its prepare step, before the kernel sees it (to shorten a
    /// read or write). Null, the normal case, costs one predictable branch.
    using sqe_hook = void (*)(void* context, io_op& op, io_uring_sqe* sqe) noexcept;
    void set_sqe_hook(sqe_hook hook, void* context) noexcept {
        sqe_hook_ = hook;
        sqe_hook_context_ = context;
    }

private:
    struct slot {
        io_op* op = nullptr;
        std::uint32_t generation = 0;
        std::uint32_t next_free = 0;
    };
    /// An op's deadline in the timer queue: a timer op's own (no kernel op at
    /// all), or another op's time limit (its expiry async-cancels the op).
    /// Pooled, never moved; the op's backend word 1 points at it.
    struct deadline_entry : timer_entry {
        explicit deadline_entry(uring_backend* b) noexcept : timer_entry(&expired), owner(b) {}
        static void expired(timer_entry& self) noexcept;
        uring_backend* owner;
        io_op* op = nullptr;
        bool timer_op = false;
        deadline_entry* next_free = nullptr;
    };
    struct deferred_completion {
        io_op* op;
        int res;
    };
    /// Starts tracking `op`; returns the user_data that routes its CQEs back.
    std::uint64_t track(io_op* op);
    /// The ring itself: the best setup flags the kernel takes, the probed opcodes.
    void set_up(const ring_config& config);
    void dispatch(std::uint64_t user_data, int res, std::uint32_t flags);
    unsigned reap();
    void assert_owner() const noexcept;
    deadline_entry& add_deadline(io_op& op, const timeout& when, bool timer_op);
    void drop_deadline(io_op& op) noexcept;
    /// Keeps the kernel timer at or before the queue's earliest deadline.
    void arm_kernel_timer();
    unsigned expire_deadlines();
    unsigned run_deferred();

    timer_queue own_timers_;  // only for the single-argument constructor
    timer_queue& timers_;
    std::deque<deadline_entry> deadlines_;
    deadline_entry* free_deadlines_ = nullptr;
    std::vector<deferred_completion> deferred_;
    std::vector<deferred_completion> running_;
    __kernel_timespec kernel_deadline_{};  // read by the kernel when the TIMEOUT/UPDATE is submitted
    clock::time_point armed_ = clock::time_point::max();  // the kernel timer's deadline; max: none armed
    bool kernel_timer_ = false;  // an IORING_OP_TIMEOUT of ours is in the kernel

    io_uring ring_{};
    unsigned setup_flags_ = 0;
    std::bitset<256> opcodes_;
    std::vector<slot> slots_;
    std::uint32_t free_head_ = UINT32_MAX;
    std::size_t in_flight_ = 0;
    ring_stats stats_;
    std::thread::id owner_;
    sqe_hook sqe_hook_ = nullptr;
    void* sqe_hook_context_ = nullptr;
};

/// `b` as the io_uring backend, or nullptr when it is another kind.
/// Looks through a decorator (backend::underlying).
[[nodiscard]] inline uring_backend* as_uring(backend& b) noexcept {
    backend& real = b.underlying();
    return real.kind() == backend_kind::io_uring ? static_cast<uring_backend*>(&real) : nullptr;
}

}  // namespace ringlet::detail

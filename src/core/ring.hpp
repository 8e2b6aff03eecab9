// The io_uring instance of one shard. Private: public headers never see liburing.
//
// Thread safety: touched only by its shard's thread (asserted in debug builds),
// except fd(), which other shards read to target IORING_OP_MSG_RING.
#pragma once

#include <liburing.h>

#include <bitset>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace ringlet::detail {

class io_op;

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
};

/// user_data values below 2^32 are tags, never slots (slot generations start at 1).
enum class ring_tag : std::uint64_t {
    ignore = 0,  ///< completions nobody waits for (cancel requests, linked timeouts)
    wake = 1,    ///< IORING_OP_MSG_RING from another shard: look at the inbox
};

class ring {
public:
    explicit ring(const ring_config& config);
    ~ring();
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    /// A free SQE; submits pending ones first when the SQ is full. Never drops.
    io_uring_sqe* get_sqe();
    /// Ensures `count` SQEs can be taken back to back (a linked pair must be
    /// submitted in one io_uring_enter, or the kernel breaks the link).
    void reserve(unsigned count);

    /// Starts tracking `op`; returns the user_data that routes its CQEs back.
    std::uint64_t track(io_op* op);
    /// Submits `op` with an IORING_OP_ASYNC_CANCEL; its own CQE is ignored.
    void cancel(std::uint64_t user_data);

    /// One io_uring_enter: submits everything queued and, if `wait`, blocks
    /// until at least one completion is ready.
    void submit(bool wait);
    /// Dispatches every available CQE. `on_tag` handles tagged completions.
    template <class OnTag>
    unsigned reap(OnTag&& on_tag);

    /// True when a completion is ready or the kernel holds work for this
    /// thread (deferred task work, overflowed CQEs) that an enter would deliver.
    [[nodiscard]] bool completions_pending() const noexcept {
        return io_uring_cq_ready(&ring_) > 0 ||
               (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW));
    }
    [[nodiscard]] bool supports(int opcode) const noexcept { return opcode >= 0 && opcodes_.test(static_cast<unsigned>(opcode)); }
    [[nodiscard]] unsigned setup_flags() const noexcept { return setup_flags_; }
    [[nodiscard]] unsigned features() const noexcept { return ring_.features; }
    [[nodiscard]] int fd() const noexcept { return ring_.ring_fd; }
    [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_; }
    [[nodiscard]] const ring_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] io_uring* raw() noexcept { return &ring_; }
    /// Setup flags, features and supported opcodes, one line each.
    [[nodiscard]] std::string describe() const;

private:
    struct slot {
        io_op* op = nullptr;
        std::uint32_t generation = 0;
        std::uint32_t next_free = 0;
    };
    void dispatch(std::uint64_t user_data, int res, std::uint32_t flags);
    void assert_owner() const noexcept;

    io_uring ring_{};
    unsigned setup_flags_ = 0;
    std::bitset<256> opcodes_;
    std::vector<slot> slots_;
    std::uint32_t free_head_ = UINT32_MAX;
    std::size_t in_flight_ = 0;
    ring_stats stats_;
    std::thread::id owner_;
};

template <class OnTag>
unsigned ring::reap(OnTag&& on_tag) {
    if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) {
        // The kernel kept completions that did not fit (FEAT_NODROP); entering
        // with GETEVENTS flushes them into the CQ so none is lost.
        ++stats_.cq_overflows;
        io_uring_get_events(&ring_);
    }
    constexpr unsigned batch = 64;
    io_uring_cqe* cqes[batch];
    unsigned total = 0;
    for (;;) {
        const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, batch);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) {
            const std::uint64_t ud = cqes[i]->user_data;
            const int res = cqes[i]->res;
            const std::uint32_t flags = cqes[i]->flags;
            if (ud >> 32) dispatch(ud, res, flags);
            else on_tag(static_cast<ring_tag>(ud), res, flags);
        }
        io_uring_cq_advance(&ring_, n);
        total += n;
        if (n < batch) break;
    }
    stats_.completions += total;
    return total;
}

}  // namespace ringlet::detail

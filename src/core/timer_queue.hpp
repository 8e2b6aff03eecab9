// A shard's user-space timer queue: the one timer mechanism of every backend.
//
// Entries are intrusive (they live in the object that waits: an operation, a
// sleeping task, a timed wait), so inserting allocates nothing once the heap's
// array has reached its high-water mark. The queue is a 4-ary min-heap of
// entry pointers; each entry knows its index, so remove() and re-insertion
// are O(log n) without a search. bench/timer_queue_bench.cpp measured it
// against a hashed timing wheel (see the numbers there): both cost tens of
// nanoseconds per insert+remove, far below the syscall a wait costs, and
// only the heap gives the exact earliest deadline that epoll_wait's timeout
// and the io_uring backend's single kernel timer need.
//
// Thread safety: a queue and its entries belong to one shard thread.
#pragma once

#include <ringlet/core/time.hpp>
#include <ringlet/core/timer_entry.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringlet::detail {

class timer_queue {
public:
    timer_queue() = default;
    timer_queue(const timer_queue&) = delete;
    timer_queue& operator=(const timer_queue&) = delete;

    /// Queues `entry` for `deadline`; an armed entry is moved to the new deadline.
    void insert(clock::time_point deadline, timer_entry& entry);
    /// Takes `entry` out of the queue; returns false when it was not queued.
    bool remove(timer_entry& entry) noexcept;
    /// The earliest queued deadline, or clock::time_point::max() when empty.
    [[nodiscard]] clock::time_point next_deadline() const noexcept {
        return heap_.empty() ? clock::time_point::max() : heap_.front()->deadline_;
    }
    /// Runs the callback of every entry whose deadline is at or before `now`,
    /// earliest first; returns how many ran. An entry inserted by a callback
    /// with a deadline <= now runs in the same call.
    std::size_t expire(clock::time_point now);

    [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }
    [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

private:
    static constexpr std::size_t arity = 4;
    static bool before(const timer_entry* a, const timer_entry* b) noexcept {
        return a->deadline_ < b->deadline_ || (a->deadline_ == b->deadline_ && a->order_ < b->order_);
    }
    void place(std::size_t index, timer_entry* entry) noexcept {
        heap_[index] = entry;
        entry->index_ = static_cast<std::uint32_t>(index);
    }
    void sift_up(std::size_t index) noexcept;
    void sift_down(std::size_t index) noexcept;

    std::vector<timer_entry*> heap_;
    std::uint64_t next_order_ = 0;
};

}  // namespace ringlet::detail

// A shard's user-space timer queue: the one timer mechanism of every backend.
//
// Entries are intrusive (they live in the object that waits: an operation, a
// sleeping task, a timed wait), so inserting allocates nothing once the heap's
// array has reached its high-water mark. The queue is a 4-ary min-heap whose
// nodes hold each entry's deadline beside its pointer, so comparing children
// reads one cache line of the array rather than four entries scattered over
// coroutine frames; each entry knows its index, so remove() and re-insertion
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
        return heap_.empty() ? clock::time_point::max() : clock::time_point{clock::duration{heap_.front().deadline}};
    }
    /// Runs the callback of every entry whose deadline is at or before `now`,
    /// earliest first; returns how many ran. An entry inserted by a callback
    /// with a deadline <= now runs in the same call.
    std::size_t expire(clock::time_point now);

    [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }
    [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

private:
    /// A heap node: 16 bytes, so four children fill one cache line.
    struct node {
        clock::rep deadline;  // the entry's deadline_, copied here for the comparisons
        timer_entry* entry;
    };
    static constexpr std::size_t arity = 4;
    static bool before(const node& a, const node& b) noexcept {
        // Equal deadlines (rare to the nanosecond) fall back to insertion order.
        return a.deadline < b.deadline || (a.deadline == b.deadline && a.entry->order_ < b.entry->order_);
    }
    void place(std::size_t index, node n) noexcept {
        heap_[index] = n;
        n.entry->index_ = static_cast<std::uint32_t>(index);
    }
    void sift_up(std::size_t index) noexcept;
    void sift_down(std::size_t index) noexcept;

    std::vector<node> heap_;
    std::uint64_t next_order_ = 0;
};

}  // namespace ringlet::detail

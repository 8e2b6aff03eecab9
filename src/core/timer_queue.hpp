// A shard's user-space timer queue: the one timer mechanism of every backend.
//
// Entries are intrusive (they live in the object that waits: an operation, a
// sleeping task, a timed wait), so inserting allocates nothing once the heap's
// array has reached its high-water mark. Absolute deadlines go into a 4-ary
// min-heap whose nodes hold each entry's deadline beside its pointer, so
// comparing children reads one cache line of the array rather than four
// entries scattered over coroutine frames; each entry knows its index, so
// remove() and re-insertion are O(log n) without a search.
// bench/timer_queue_bench.cpp measured the heap against a hashed timing
// wheel (see the numbers there): both cost tens of nanoseconds per
// insert+remove, and only the heap gives the exact earliest deadline that
// epoll_wait's timeout and the io_uring backend's single kernel timer need.
//
// Relative limits (a server's idle or progress timeout: the same duration
// for every wait) go into a FIFO per duration instead: entries with one
// duration expire in the order they were queued, so a doubly-linked list
// keeps them sorted for free — O(1) insert and remove, where the heap paid
// a sift per wait (perf put sift_down first among ringlet's own functions
// in a 64 B echo: the woken wait is usually the oldest, near the root).
// Only a FIFO's anchor sits in the heap, at its oldest entry's deadline or,
// after that entry left, lazily earlier: when an early anchor comes due it
// is moved to the new oldest entry's deadline (at most one spurious turn
// per duration and timeout period). So next_deadline() is never later than
// the earliest entry's deadline, and may be earlier.
//
// Thread safety: a queue and its entries belong to one shard thread.
#pragma once

#include <ringlet/core/time.hpp>
#include <ringlet/core/timer_entry.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringlet::detail {

class timer_queue {
public:
    timer_queue() = default;
    timer_queue(const timer_queue&) = delete;
    timer_queue& operator=(const timer_queue&) = delete;
    ~timer_queue();

    /// Queues `entry` for `deadline`; an armed entry is moved to the new deadline.
    void insert(clock::time_point deadline, timer_entry& entry);
    /// Queues `entry` for `limit` (set): an absolute one as insert() does, a
    /// relative one from now, in its duration's FIFO.
    void insert(const timeout& limit, timer_entry& entry);
    /// Takes `entry` out of the queue; returns false when it was not queued.
    bool remove(timer_entry& entry) noexcept;
    /// The earliest queued deadline (or an earlier instant: a FIFO's lazy
    /// anchor), clock::time_point::max() when empty.
    [[nodiscard]] clock::time_point next_deadline() const noexcept {
        return heap_.empty() ? clock::time_point::max() : clock::time_point{clock::duration{heap_.front().deadline}};
    }
    /// Runs the callback of every entry whose deadline is at or before `now`,
    /// earliest first; returns how many ran. An entry inserted by a callback
    /// with a deadline <= now runs in the same call.
    std::size_t expire(clock::time_point now);

    /// Entries queued (FIFO anchors not counted).
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

private:
    /// A heap node: 16 bytes, so four children fill one cache line.
    struct node {
        clock::rep deadline;  // the entry's deadline_, copied here for the comparisons
        timer_entry* entry;
    };
    /// The entries of one relative duration, oldest first.
    struct fifo {
        explicit fifo(clock::duration d) noexcept : span(d), anchor(&anchor_due) {}
        clock::duration span;
        timer_entry* head = nullptr;
        timer_entry* tail = nullptr;
        timer_entry anchor;  // in the heap while the FIFO holds entries
    };
    /// Durations with a FIFO of their own; more distinct ones use the heap.
    static constexpr std::size_t max_fifos = 8;
    static constexpr std::size_t arity = 4;

    static bool before(const node& a, const node& b) noexcept {
        // Equal deadlines (rare to the nanosecond) fall back to insertion order.
        return a.deadline < b.deadline || (a.deadline == b.deadline && a.entry->order_ < b.entry->order_);
    }
    static void anchor_due(timer_entry&) noexcept {}  // never called: expire() handles anchors
    void place(std::size_t index, node n) noexcept {
        heap_[index] = n;
        n.entry->index_ = static_cast<std::uint32_t>(index);
    }
    void push(clock::time_point deadline, timer_entry& entry);
    void erase(timer_entry& entry) noexcept;  // from the heap
    void unlink(fifo& f, timer_entry& entry) noexcept;
    fifo* fifo_for(clock::duration span);
    void sift_up(std::size_t index) noexcept;
    void sift_down(std::size_t index) noexcept;

    std::vector<node> heap_;
    std::vector<std::unique_ptr<fifo>> fifos_;
    std::uint64_t next_order_ = 0;
    std::size_t size_ = 0;
};

}  // namespace ringlet::detail

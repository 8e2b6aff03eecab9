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

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringlet::detail {

class timer_queue;

/// One pending deadline. Not copyable or movable while armed (the queue
/// points at it); destroying an armed entry is a bug (asserted in debug).
class timer_entry {
public:
    /// Runs when the deadline has passed, after the entry left the queue.
    /// It may insert or remove any entry, this one included.
    using callback_fn = void (*)(timer_entry& self) noexcept;

    explicit timer_entry(callback_fn fn) noexcept : callback_(fn) {}
    timer_entry(const timer_entry&) = delete;
    timer_entry& operator=(const timer_entry&) = delete;
    ~timer_entry();

    [[nodiscard]] bool armed() const noexcept { return index_ != not_queued; }
    [[nodiscard]] clock::time_point deadline() const noexcept { return deadline_; }

private:
    friend class timer_queue;
    static constexpr std::uint32_t not_queued = UINT32_MAX;

    clock::time_point deadline_{};
    std::uint64_t order_ = 0;  // insertion order: equal deadlines expire first-in first-out
    std::uint32_t index_ = not_queued;
    callback_fn callback_;
};

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

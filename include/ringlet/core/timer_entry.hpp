// detail::timer_entry: one deadline in a shard's user-space timer queue
// (src/core/timer_queue.hpp), embedded in whatever waits for it — an
// operation's time limit, a sleeping task, a timed wait. Public only so that
// those can hold one by value; applications never name it.
//
// Thread safety: an entry belongs to one shard thread.
#pragma once

#include <ringlet/core/time.hpp>

#include <cstdint>

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
    static constexpr std::uint32_t in_fifo = UINT32_MAX - 1;  // queued in a duration's FIFO

    clock::time_point deadline_{};
    std::uint64_t order_ = 0;  // in the heap: insertion order (equal deadlines expire first-in first-out)
    timer_entry* prev_ = nullptr;  // FIFO links (entries with one relative duration)
    timer_entry* next_ = nullptr;
    std::uint32_t index_ = not_queued;  // heap index, in_fifo, or not_queued
    std::uint32_t fifo_ = 0;            // which FIFO, while index_ is in_fifo
    callback_fn callback_;
};

}  // namespace ringlet::detail

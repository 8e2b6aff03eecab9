// Design notes: a 4-ary heap keeps the tree shallow (half the levels of a
// binary heap) and, with 16-byte nodes that carry the deadline, its four
// children on one cache line, which is what makes sift-down cheap (with
// nodes of bare entry pointers, perf put sift_down first among ringlet's own
// functions in a 64 B echo: every comparison read an entry in a different
// coroutine frame); remove() of an inner entry moves the last
// entry into the hole and sifts it whichever way it has to go.
#include "core/timer_queue.hpp"

#include <cassert>

namespace ringlet::detail {

timer_entry::~timer_entry() { assert(!armed() && "a timer_entry was destroyed while queued"); }

void timer_queue::insert(clock::time_point deadline, timer_entry& entry) {
    if (entry.armed()) remove(entry);
    entry.deadline_ = deadline;
    entry.order_ = next_order_++;
    heap_.push_back({deadline.time_since_epoch().count(), &entry});
    entry.index_ = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(heap_.size() - 1);
}

bool timer_queue::remove(timer_entry& entry) noexcept {
    if (!entry.armed()) return false;
    const std::size_t hole = entry.index_;
    assert(hole < heap_.size() && heap_[hole].entry == &entry);
    entry.index_ = timer_entry::not_queued;
    const node last = heap_.back();
    heap_.pop_back();
    if (last.entry != &entry) {
        place(hole, last);
        if (hole > 0 && before(last, heap_[(hole - 1) / arity])) sift_up(hole);
        else sift_down(hole);
    }
    return true;
}

std::size_t timer_queue::expire(clock::time_point now) {
    std::size_t ran = 0;
    while (!heap_.empty() && heap_.front().deadline <= now.time_since_epoch().count()) {
        timer_entry& due = *heap_.front().entry;
        remove(due);
        ++ran;
        due.callback_(due);  // may insert or remove entries, or destroy `due`'s owner
    }
    return ran;
}

void timer_queue::sift_up(std::size_t index) noexcept {
    const node moving = heap_[index];
    while (index > 0) {
        const std::size_t parent = (index - 1) / arity;
        if (!before(moving, heap_[parent])) break;
        place(index, heap_[parent]);
        index = parent;
    }
    place(index, moving);
}

void timer_queue::sift_down(std::size_t index) noexcept {
    const node moving = heap_[index];
    const std::size_t size = heap_.size();
    for (;;) {
        const std::size_t first = index * arity + 1;
        if (first >= size) break;
        std::size_t best = first;
        const std::size_t end = first + arity < size ? first + arity : size;
        for (std::size_t child = first + 1; child < end; ++child) {
            if (before(heap_[child], heap_[best])) best = child;
        }
        if (!before(heap_[best], moving)) break;
        place(index, heap_[best]);
        index = best;
    }
    place(index, moving);
}

}  // namespace ringlet::detail

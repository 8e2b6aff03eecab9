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

timer_queue::~timer_queue() {
    // Anchors are the queue's own; entries still queued belong to their
    // owners, which outlive a shard's backend only in tests.
    for (auto& f : fifos_) f->anchor.index_ = timer_entry::not_queued;
}

void timer_queue::insert(clock::time_point deadline, timer_entry& entry) {
    if (entry.armed()) remove(entry);
    push(deadline, entry);
    ++size_;
}

void timer_queue::insert(const timeout& limit, timer_entry& entry) {
    if (limit.is_absolute()) return insert(limit.deadline(), entry);
    const clock::duration span{limit.nanoseconds()};
    fifo* f = fifo_for(span);
    if (!f) return insert(clock::now() + span, entry);
    if (entry.armed()) remove(entry);
    // A steady clock: each deadline is at or after the tail's, so the FIFO stays sorted.
    entry.deadline_ = clock::now() + span;
    entry.index_ = timer_entry::in_fifo;
    entry.fifo_ = f->anchor.fifo_;
    entry.prev_ = f->tail;
    entry.next_ = nullptr;
    (f->tail ? f->tail->next_ : f->head) = &entry;
    f->tail = &entry;
    ++size_;
    if (!f->anchor.armed()) push(entry.deadline_, f->anchor);
}

timer_queue::fifo* timer_queue::fifo_for(clock::duration span) {
    for (auto& f : fifos_) {
        if (f->span == span) return f.get();
    }
    if (fifos_.size() == max_fifos) return nullptr;
    fifos_.push_back(std::make_unique<fifo>(span));
    fifos_.back()->anchor.fifo_ = static_cast<std::uint32_t>(fifos_.size() - 1);
    return fifos_.back().get();
}

bool timer_queue::remove(timer_entry& entry) noexcept {
    if (!entry.armed()) return false;
    --size_;
    if (entry.index_ != timer_entry::in_fifo) {
        erase(entry);
        return true;
    }
    fifo& f = *fifos_[entry.fifo_];
    unlink(f, entry);
    // The anchor stays where it is while others wait (lazily early, see the
    // header); it leaves the heap with the FIFO's last entry.
    if (!f.head && f.anchor.armed()) erase(f.anchor);
    return true;
}

void timer_queue::unlink(fifo& f, timer_entry& entry) noexcept {
    (entry.prev_ ? entry.prev_->next_ : f.head) = entry.next_;
    (entry.next_ ? entry.next_->prev_ : f.tail) = entry.prev_;
    entry.prev_ = entry.next_ = nullptr;
    entry.index_ = timer_entry::not_queued;
}

void timer_queue::push(clock::time_point deadline, timer_entry& entry) {
    entry.deadline_ = deadline;
    entry.order_ = next_order_++;
    heap_.push_back({deadline.time_since_epoch().count(), &entry});
    entry.index_ = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(heap_.size() - 1);
}

void timer_queue::erase(timer_entry& entry) noexcept {
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
}

std::size_t timer_queue::expire(clock::time_point now) {
    std::size_t ran = 0;
    while (!heap_.empty() && heap_.front().deadline <= now.time_since_epoch().count()) {
        timer_entry& due = *heap_.front().entry;
        erase(due);
        if (due.callback_ != &anchor_due) {
            --size_;
            ++ran;
            due.callback_(due);  // may insert or remove entries, or destroy `due`'s owner
            continue;
        }
        // A FIFO's anchor. Up to date (at its oldest entry's deadline): that
        // entry is due. Early (the entry it stood for has left): it only
        // moves on to the oldest entry's deadline, which may be due too but
        // waits for its turn in the heap. One entry per pop keeps the expiry
        // order exact across the heap and every FIFO.
        fifo& f = *fifos_[due.fifo_];
        if (timer_entry* oldest = f.head; oldest && oldest->deadline_ == due.deadline_) {
            unlink(f, *oldest);
            --size_;
            ++ran;
            oldest->callback_(*oldest);
        }
        if (f.head && !f.anchor.armed()) push(f.head->deadline_, f.anchor);
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

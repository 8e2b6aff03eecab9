// The shard's timer queue: order of expiry, removal from any position,
// re-insertion, callbacks that touch the queue, and a randomized check
// against a sorted reference.
#include "core/timer_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <vector>

namespace ringlet::detail {
namespace {

using namespace std::chrono_literals;

const clock::time_point t0{clock::duration{1'000'000'000}};

/// An entry that records, into a shared log, the order it expired in.
struct probe : timer_entry {
    explicit probe(int id_, std::vector<int>* log_) noexcept : timer_entry(&fired), id(id_), log(log_) {}
    static void fired(timer_entry& self) noexcept {
        auto& p = static_cast<probe&>(self);
        p.log->push_back(p.id);
        if (p.then) p.then(p);
    }
    int id;
    std::vector<int>* log;
    void (*then)(probe&) = nullptr;
    timer_queue* queue = nullptr;
    probe* other = nullptr;
};

TEST(TimerQueue, EmptyHasNoDeadline) {
    timer_queue q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.next_deadline(), clock::time_point::max());
    EXPECT_EQ(q.expire(t0 + 1h), 0u);
}

TEST(TimerQueue, ExpiresInDeadlineOrderAndOnlyWhenDue) {
    std::vector<int> log;
    timer_queue q;
    probe a{1, &log}, b{2, &log}, c{3, &log};
    q.insert(t0 + 30ms, a);
    q.insert(t0 + 10ms, b);
    q.insert(t0 + 20ms, c);
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(q.next_deadline(), t0 + 10ms);
    EXPECT_EQ(q.expire(t0 + 9ms), 0u);
    EXPECT_EQ(q.expire(t0 + 20ms), 2u);  // a deadline equal to now is due
    EXPECT_EQ(log, (std::vector<int>{2, 3}));
    EXPECT_FALSE(b.armed());
    EXPECT_TRUE(a.armed());
    EXPECT_EQ(q.next_deadline(), t0 + 30ms);
    EXPECT_EQ(q.expire(t0 + 1h), 1u);
    EXPECT_EQ(log, (std::vector<int>{2, 3, 1}));
    EXPECT_TRUE(q.empty());
}

TEST(TimerQueue, EqualDeadlinesExpireInInsertionOrder) {
    std::vector<int> log;
    timer_queue q;
    std::vector<std::unique_ptr<probe>> entries;
    for (int i = 0; i < 20; ++i) {
        entries.push_back(std::make_unique<probe>(i, &log));
        q.insert(t0, *entries.back());
    }
    EXPECT_EQ(q.expire(t0), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(log[static_cast<std::size_t>(i)], i);
}

TEST(TimerQueue, RemoveFromAnyPositionAndReinsert) {
    std::vector<int> log;
    timer_queue q;
    probe a{1, &log}, b{2, &log}, c{3, &log}, d{4, &log};
    q.insert(t0 + 1ms, a);
    q.insert(t0 + 2ms, b);
    q.insert(t0 + 3ms, c);
    q.insert(t0 + 4ms, d);
    EXPECT_TRUE(q.remove(a));   // the earliest
    EXPECT_FALSE(q.remove(a));  // not queued any more
    EXPECT_TRUE(q.remove(c));   // an inner one
    EXPECT_EQ(q.next_deadline(), t0 + 2ms);
    q.insert(t0 + 5ms, b);  // moving an armed entry later
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(q.next_deadline(), t0 + 4ms);
    q.insert(t0, c);
    EXPECT_EQ(q.expire(t0 + 10ms), 3u);
    EXPECT_EQ(log, (std::vector<int>{3, 4, 2}));
}

TEST(TimerQueue, CallbackMayRearmItselfAndRemoveOthers) {
    std::vector<int> log;
    timer_queue q;
    probe a{1, &log}, b{2, &log}, c{3, &log};
    a.queue = &q;
    a.other = &b;
    a.then = [](probe& self) {
        self.queue->remove(*self.other);                // b is due too, but must not run
        self.queue->insert(t0 + 50ms, self);            // a periodic timer
    };
    q.insert(t0 + 1ms, a);
    q.insert(t0 + 2ms, b);
    q.insert(t0 + 3ms, c);
    EXPECT_EQ(q.expire(t0 + 5ms), 2u);
    EXPECT_EQ(log, (std::vector<int>{1, 3}));
    EXPECT_TRUE(a.armed());
    EXPECT_FALSE(b.armed());
    EXPECT_EQ(q.next_deadline(), t0 + 50ms);
    a.then = nullptr;
    EXPECT_EQ(q.expire(t0 + 50ms), 1u);
}

TEST(TimerQueue, CallbackInsertingAnAlreadyDueEntryRunsItInTheSameCall) {
    std::vector<int> log;
    timer_queue q;
    probe a{1, &log}, b{2, &log};
    a.queue = &q;
    a.other = &b;
    a.then = [](probe& self) { self.queue->insert(t0, *self.other); };
    q.insert(t0, a);
    EXPECT_EQ(q.expire(t0), 2u);
    EXPECT_EQ(log, (std::vector<int>{1, 2}));
}

TEST(TimerQueue, RandomizedAgainstASortedReference) {
    std::mt19937 rng(12345);
    std::vector<int> log;
    timer_queue q;
    constexpr int count = 2000;
    std::vector<std::unique_ptr<probe>> entries;
    for (int i = 0; i < count; ++i) entries.push_back(std::make_unique<probe>(i, &log));
    std::vector<std::pair<clock::time_point, int>> reference;  // (deadline, id) of queued entries
    auto forget = [&](int id) {
        std::erase_if(reference, [id](const auto& e) { return e.second == id; });
    };
    for (int step = 0; step < 20000; ++step) {
        const int id = static_cast<int>(rng() % count);
        probe& e = *entries[static_cast<std::size_t>(id)];
        if (rng() % 3 == 0) {
            const bool queued = std::any_of(reference.begin(), reference.end(),
                                            [id](const auto& r) { return r.second == id; });
            EXPECT_EQ(q.remove(e), queued);
            forget(id);
        } else {
            const auto when = t0 + std::chrono::microseconds(rng() % 100000);
            forget(id);
            q.insert(when, e);
            reference.emplace_back(when, id);
        }
        ASSERT_EQ(q.size(), reference.size());
        const auto earliest = std::min_element(reference.begin(), reference.end());
        ASSERT_EQ(q.next_deadline(), reference.empty() ? clock::time_point::max() : earliest->first);
    }
    // Expire in steps; each step must run exactly the reference's due entries, earliest first.
    for (auto now = t0; !reference.empty(); now += 7ms) {
        log.clear();
        std::vector<std::pair<clock::time_point, int>> due;
        for (const auto& r : reference) if (r.first <= now) due.push_back(r);
        std::erase_if(reference, [now](const auto& r) { return r.first <= now; });
        q.expire(now);
        ASSERT_EQ(log.size(), due.size());
        for (std::size_t i = 1; i < log.size(); ++i) {
            const auto prev = entries[static_cast<std::size_t>(log[i - 1])]->deadline();
            EXPECT_LE(prev, entries[static_cast<std::size_t>(log[i])]->deadline());
        }
    }
    EXPECT_TRUE(q.empty());
}

// Relative limits of one duration share a FIFO: they expire oldest first,
// and a different duration keeps its own order.
TEST(TimerQueue, RelativeLimitsExpireOldestFirstPerDuration) {
    std::vector<int> log;
    timer_queue q;
    probe a{1, &log}, b{2, &log}, c{3, &log};
    q.insert(timeout{50ms}, a);
    q.insert(timeout{50ms}, b);
    q.insert(timeout{20ms}, c);
    EXPECT_EQ(q.size(), 3u);
    EXPECT_LE(a.deadline(), b.deadline());
    EXPECT_LT(c.deadline(), a.deadline());
    EXPECT_EQ(q.next_deadline(), c.deadline());
    EXPECT_EQ(q.expire(c.deadline()), 1u);
    EXPECT_EQ(q.expire(b.deadline()), 2u);
    EXPECT_EQ(log, (std::vector<int>{3, 1, 2}));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.next_deadline(), clock::time_point::max());
}

// Taking the oldest entry out leaves the FIFO's place in the heap early (no
// sift per removal); coming due, it moves on to the next entry and runs
// nothing. The last entry out takes it out of the heap.
TEST(TimerQueue, RemovingTheOldestLeavesAnEarlyDeadlineThatMovesOn) {
    std::vector<int> log;
    timer_queue q;
    probe a{1, &log}, b{2, &log};
    q.insert(timeout{50ms}, a);
    q.insert(timeout{50ms}, b);
    const auto a_deadline = a.deadline();
    EXPECT_TRUE(q.remove(a));
    EXPECT_FALSE(a.armed());
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.next_deadline(), a_deadline);  // never later than b's, here earlier
    EXPECT_EQ(q.expire(a_deadline), b.deadline() == a_deadline ? 1u : 0u);
    if (log.empty()) {
        EXPECT_EQ(q.next_deadline(), b.deadline());
        EXPECT_EQ(q.expire(b.deadline()), 1u);
    }
    EXPECT_EQ(log, (std::vector<int>{2}));
    q.insert(timeout{50ms}, a);
    EXPECT_TRUE(q.remove(a));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.next_deadline(), clock::time_point::max());
}

// Absolute deadlines, relative ones of many durations (more than get a FIFO
// of their own) and removals, against a sorted reference: the size is
// exact, next_deadline() never later than the earliest entry, and expiry
// runs exactly the due entries, earliest first.
TEST(TimerQueue, RelativeAndAbsoluteMixedAgainstAReference) {
    std::mt19937 rng{11};
    std::vector<int> log;
    constexpr int count = 300;
    std::vector<std::unique_ptr<probe>> entries;
    for (int i = 0; i < count; ++i) entries.push_back(std::make_unique<probe>(i, &log));
    timer_queue q;
    const auto start = clock::now();
    std::vector<int> queued;
    for (int step = 0; step < 5000; ++step) {
        const int id = static_cast<int>(rng() % count);
        probe& e = *entries[static_cast<std::size_t>(id)];
        const bool was = std::find(queued.begin(), queued.end(), id) != queued.end();
        std::erase(queued, id);
        if (rng() % 3 == 0) {
            EXPECT_EQ(q.remove(e), was);
        } else {
            if (rng() % 2) q.insert(timeout{std::chrono::milliseconds(10 + rng() % 12)}, e);  // 12 durations
            else q.insert(start + std::chrono::milliseconds(rng() % 40), e);
            queued.push_back(id);
        }
        ASSERT_EQ(q.size(), queued.size());
        auto earliest = clock::time_point::max();
        for (int i : queued) earliest = std::min(earliest, entries[static_cast<std::size_t>(i)]->deadline());
        ASSERT_LE(q.next_deadline(), earliest);
        if (queued.empty()) {
            ASSERT_EQ(q.next_deadline(), clock::time_point::max());
        }
    }
    for (auto now = start; !queued.empty(); now += 3ms) {
        log.clear();
        std::size_t due = 0;
        for (int i : queued) due += entries[static_cast<std::size_t>(i)]->deadline() <= now;
        std::erase_if(queued, [&](int i) { return entries[static_cast<std::size_t>(i)]->deadline() <= now; });
        EXPECT_EQ(q.expire(now), due);
        ASSERT_EQ(log.size(), due);
        for (std::size_t i = 1; i < log.size(); ++i) {
            EXPECT_LE(entries[static_cast<std::size_t>(log[i - 1])]->deadline(),
                      entries[static_cast<std::size_t>(log[i])]->deadline());
        }
        ASSERT_EQ(q.size(), queued.size());
    }
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.next_deadline(), clock::time_point::max());
}

}  // namespace
}  // namespace ringlet::detail

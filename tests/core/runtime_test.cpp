// Shards, cross-shard calls, graceful stop and signals.
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::open_fd_count;
using ringlet::test::quiet_runtime;

namespace {

task<bool> sleep_until_canceled(std::atomic<int>& canceled) {
    auto r = co_await sleep_for(1h);
    if (!r && r.error() == errc::operation_canceled) ++canceled;
    co_return !r;
}

}  // namespace

TEST(Runtime, DefaultsToOneShardPerCpu) {
    runtime rt{{.handle_signals = false}};
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    EXPECT_EQ(rt.shard_count(), static_cast<unsigned>(CPU_COUNT(&set)));
}

TEST(Runtime, RunOnAllRunsOneEntryPerShard) {
    runtime rt{quiet_runtime(2)};
    std::atomic<int> seen[2] = {0, 0};
    std::set<std::thread::id> threads;
    std::mutex m;
    rt.run_on_all([&](unsigned shard) -> task<void> {
        EXPECT_EQ(this_shard::id(), shard);
        EXPECT_EQ(this_shard::count(), 2u);
        ++seen[shard];
        std::lock_guard lock(m);
        threads.insert(std::this_thread::get_id());
        co_return;
    });
    EXPECT_EQ(seen[0], 1);
    EXPECT_EQ(seen[1], 1);
    EXPECT_EQ(threads.size(), 2u);
}

// Shard 0 runs on the caller (a one-shard server is a single-threaded
// process); run() puts back what that changed on the calling thread.
TEST(Runtime, ShardZeroRunsOnTheCallingThreadAndLeavesItAsItWas) {
    cpu_set_t before;
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
    const auto caller = std::this_thread::get_id();
    std::thread::id shard0, shard1;
    int shard0_cpus = 0;
    runtime rt{quiet_runtime(2)};  // pin_threads is on by default
    rt.run_on_all([&](unsigned shard) -> task<void> {
        if (shard == 1) {
            shard1 = std::this_thread::get_id();
            co_return;
        }
        shard0 = std::this_thread::get_id();
        cpu_set_t pinned;
        if (pthread_getaffinity_np(pthread_self(), sizeof pinned, &pinned) == 0) shard0_cpus = CPU_COUNT(&pinned);
        co_return;
    });
    EXPECT_EQ(shard0, caller);
    EXPECT_NE(shard1, caller);
    EXPECT_EQ(shard0_cpus, 1);  // pinned while it ran
    cpu_set_t after;
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof after, &after), 0);
    EXPECT_TRUE(CPU_EQUAL(&before, &after));
    EXPECT_FALSE(this_shard::on_shard());
    EXPECT_EQ(rt.run([]() -> task<int> { co_return static_cast<int>(this_shard::id()) + 5; }), 5);  // runs again
}

TEST(Runtime, CrossShardCallsRoundTrip) {
    runtime rt{quiet_runtime(2)};
    rt.run([]() -> task<void> {
        for (int i = 0; i < 1000; ++i) {
            const unsigned where = co_await submit_to(1, [] { return this_shard::id(); });
            CO_ASSERT_EQ(where, 1u);
            EXPECT_EQ(this_shard::id(), 0u);  // resumed back home
        }
        // A task-returning function runs as a task on the target shard.
        const int slept = co_await submit_to(1, []() -> task<int> {
            (void)co_await sleep_for(1ms);
            co_return static_cast<int>(this_shard::id()) + 10;
        });
        EXPECT_EQ(slept, 11);
        co_await submit_to(1, [] {});  // void works too
        // Exceptions travel back to the caller.
        bool caught = false;
        try {
            co_await submit_to(1, []() -> int { throw std::runtime_error("remote"); });
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "remote";
        }
        EXPECT_TRUE(caught);
        // Calling the own shard runs inline.
        EXPECT_EQ(co_await submit_to(0, [] { return 5; }), 5);
    });
}

TEST(Runtime, ManyConcurrentCrossShardCalls) {
    runtime rt{quiet_runtime(2)};
    const long sum = rt.run([]() -> task<long> {
        std::vector<task<int>> calls;
        for (int i = 0; i < 5000; ++i) calls.push_back(submit_to(1, [i] { return i; }));
        auto values = co_await when_all(std::move(calls));
        long total = 0;
        for (int v : values) total += v;
        co_return total;
    });
    EXPECT_EQ(sum, 5000L * 4999 / 2);
}

TEST(Runtime, InvokeOnAllReachesEveryShard) {
    runtime rt{quiet_runtime(2)};
    rt.run([]() -> task<void> {
        auto ids = co_await invoke_on_all([] { return this_shard::id(); });
        EXPECT_EQ(ids, (std::vector<unsigned>{0, 1}));
    });
}

TEST(Runtime, SubmitToABadShardThrows) {
    runtime rt{quiet_runtime(2)};
    EXPECT_THROW(rt.run([]() -> task<int> { co_return co_await submit_to(7, [] { return 1; }); }), std::out_of_range);
}

TEST(Runtime, OffShardCallsAreRejected) {
    EXPECT_FALSE(this_shard::on_shard());
    EXPECT_THROW((void)this_shard::id(), std::logic_error);
    EXPECT_THROW(spawn([]() -> task<void> { co_return; }()), std::logic_error);
}

// Under TSan this is also the check that a stop requested from another
// thread touches nothing a starting or ending run() writes.
TEST(Runtime, RequestStopFromAnotherThreadCancelsEveryShard) {
    auto options = quiet_runtime(2);
    options.drain_timeout = 20ms;  // nothing here watches the drain: it ends in cancellation
    runtime rt{options};
    std::atomic<int> canceled = 0;
    const auto fds_before = open_fd_count();
    std::thread stopper([&] {
        std::this_thread::sleep_for(50ms);
        rt.request_stop();
    });
    rt.run_on_all([&](unsigned) -> task<void> {
        for (int i = 0; i < 10; ++i) spawn(sleep_until_canceled(canceled));
        (void)co_await sleep_until_canceled(canceled);
    });
    stopper.join();
    EXPECT_EQ(canceled, 22);
    EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(Runtime, SigtermStopsGracefullyAndClosesEverything) {
    const auto fds_before = open_fd_count();
    std::atomic<int> canceled = 0;
    {
        runtime rt{{.shards = 2, .handle_signals = true, .drain_timeout = 0ms}};  // a hard stop at once
        const bool entry_canceled = rt.run([&]() -> task<bool> {
            co_await invoke_on_all([&] {
                for (int i = 0; i < 5; ++i) spawn(sleep_until_canceled(canceled));
            });
            (void)co_await sleep_for(10ms);
            kill(getpid(), SIGTERM);  // blocked in runtime threads, read through the signalfd
            co_return co_await sleep_until_canceled(canceled);
        });
        EXPECT_TRUE(entry_canceled);
    }
    EXPECT_EQ(canceled, 11);
    EXPECT_EQ(open_fd_count(), fds_before);
    sigset_t pending;
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGTERM));
}

TEST(Runtime, CanRunAgainAfterStopping) {
    runtime rt{quiet_runtime(2)};
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(rt.run([round]() -> task<int> { co_return co_await submit_to(1, [round] { return round; }); }),
                  round);
    }
}

TEST(Runtime, DescribesItsRing) {
    const std::string text = runtime::describe_backend(backend_choice::io_uring);
    EXPECT_NE(text.find("setup flags:"), std::string::npos);
    EXPECT_NE(text.find("opcodes: NOP"), std::string::npos);
    EXPECT_NE(text.find("sq entries: 8"), std::string::npos);
}

TEST(Runtime, DescribesTheEpollBackend) {
    const std::string text = runtime::describe_backend(backend_choice::epoll);
    EXPECT_NE(text.find("backend: epoll"), std::string::npos);
    EXPECT_NE(text.find("emulated: multishot accept"), std::string::npos);
}

// task<T>, spawn, task_group, when_all and when_any.
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;

namespace {

task<int> forty_two() { co_return 42; }

task<int> add_one(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await add_one(depth - 1);
}

task<void> throw_runtime_error(const char* what) {
    throw std::runtime_error(what);
    co_return;
}

/// Sleeps `d`; records whether it ended by cancellation.
task<int> sleeper(clock::duration d, int value, bool* was_canceled = nullptr) {
    auto r = co_await sleep_for(d);
    if (was_canceled) *was_canceled = !r && r.error() == errc::operation_canceled;
    co_return value;
}

}  // namespace

TEST(Task, ValuePropagatesToAwaiter) {
    runtime rt{quiet_runtime()};
    EXPECT_EQ(rt.run([]() -> task<int> { co_return co_await forty_two() + 1; }), 43);
}

TEST(Task, MoveOnlyValuesPropagate) {
    runtime rt{quiet_runtime()};
    auto p = rt.run([]() -> task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); });
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 7);
}

TEST(Task, ExceptionPropagatesToAwaiter) {
    runtime rt{quiet_runtime()};
    const auto caught = rt.run([]() -> task<std::string> {
        try {
            co_await throw_runtime_error("boom");
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "nothing";
    });
    EXPECT_EQ(caught, "boom");
}

TEST(Task, ExceptionFromEntryIsRethrownByRun) {
    runtime rt{quiet_runtime()};
    EXPECT_THROW(rt.run([] { return throw_runtime_error("entry failed"); }), std::runtime_error);
}

TEST(Task, MillionNestedAwaitsDoNotOverflowTheStack) {
    runtime rt{quiet_runtime()};
    EXPECT_EQ(rt.run([] { return add_one(1'000'000); }), 1'000'000);
}

TEST(Task, UnawaitedTaskIsDestroyedWithoutRunning) {
    bool ran = false;
    {
        auto t = [](bool& flag) -> task<void> {
            flag = true;
            co_return;
        }(ran);
        EXPECT_TRUE(t.valid());
    }
    EXPECT_FALSE(ran);
}

TEST(Task, SteadyStateTasksDoNotCallMalloc) {
    runtime rt{quiet_runtime()};
    const auto heap_allocations = rt.run([]() -> task<std::uint64_t> {
        for (int i = 0; i < 1000; ++i) (void)co_await forty_two();  // warm the pool
        const auto before = this_thread_frame_pool_stats();
        int sum = 0;
        for (int i = 0; i < 100'000; ++i) sum += co_await forty_two();
        EXPECT_EQ(sum, 4'200'000);
        const auto after = this_thread_frame_pool_stats();
        EXPECT_GE(after.pool_reuses - before.pool_reuses, 100'000u);
        co_return after.heap_allocations - before.heap_allocations;
    });
    EXPECT_EQ(heap_allocations, 0u);
}

TEST(Spawn, FailureIsReportedToTheHandler) {
    std::vector<std::string> reports;
    auto options = quiet_runtime();
    options.on_task_failure = [&](unsigned shard, std::exception_ptr error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            reports.push_back(std::to_string(shard) + ": " + e.what());
        }
    };
    runtime rt{options};
    rt.run([]() -> task<void> {
        spawn(throw_runtime_error("detached boom"));
        (void)co_await sleep_for(5ms);
    });
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0], "0: detached boom");
}

TEST(Spawn, DefaultReportGoesToStderr) {
    runtime rt{quiet_runtime()};
    testing::internal::CaptureStderr();
    rt.run([]() -> task<void> {
        spawn(throw_runtime_error("loud failure"));
        co_return;
    });
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("spawned task on shard 0 failed: loud failure"), std::string::npos) << err;
}

TEST(Spawn, RunWaitsForSpawnedTasksAndCancelsThem) {
    runtime rt{quiet_runtime()};
    bool finished_normally = false;
    bool canceled = false;
    rt.run([&]() -> task<void> {
        spawn([](bool& done) -> task<void> {
            (void)co_await sleep_for(2ms);
            done = true;
        }(finished_normally));
        spawn(sleeper(1h, 0, &canceled));
        (void)co_await sleep_for(20ms);
    });
    EXPECT_TRUE(finished_normally);
    EXPECT_TRUE(canceled);
}

TEST(TaskGroup, WaitsForAllChildren) {
    runtime rt{quiet_runtime()};
    const int total = rt.run([]() -> task<int> {
        int done = 0;
        task_group group;
        for (int i = 0; i < 100; ++i) {
            group.spawn([](int& counter, int delay) -> task<void> {
                (void)co_await sleep_for(std::chrono::milliseconds(delay));
                ++counter;
            }(done, i % 5));
        }
        EXPECT_EQ(group.running(), 100u);
        co_await group.wait();
        EXPECT_EQ(group.running(), 0u);
        co_return done;
    });
    EXPECT_EQ(total, 100);
}

TEST(TaskGroup, RequestStopCancelsChildren) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        task_group group;
        bool canceled[3] = {};
        for (bool& c : canceled) group.spawn(sleeper(1h, 0, &c));
        (void)co_await sleep_for(5ms);
        const auto start = clock::now();
        group.request_stop();
        co_await group.wait();
        EXPECT_LT(clock::now() - start, 1s);
        for (bool c : canceled) EXPECT_TRUE(c);
    });
}

TEST(TaskGroup, FirstFailureCancelsSiblingsAndIsRethrown) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        task_group group;
        bool sibling_canceled = false;
        group.spawn(sleeper(1h, 0, &sibling_canceled));
        group.spawn([]() -> task<void> {
            (void)co_await sleep_for(2ms);
            throw std::runtime_error("child failed");
        }());
        EXPECT_THROW(co_await group.wait(), std::runtime_error);
        EXPECT_TRUE(sibling_canceled);
    });
}

TEST(TaskGroup, CancellingTheWaiterCancelsTheChildren) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        bool child_canceled = false;
        auto scope = [](bool& flag) -> task<int> {
            task_group group;
            group.spawn(sleeper(1h, 0, &flag));
            co_await group.wait();
            co_return 1;
        };
        auto r = co_await when_any(scope(child_canceled), sleeper(5ms, 2));
        EXPECT_EQ(r.index, 1u);
        EXPECT_TRUE(child_canceled);
    });
}

// A child's completion hook runs once however it ends (returned, threw,
// stopped), after the child's frame is gone and before wait() returns.
namespace {
struct hook_log {
    int calls = 0;
    int frames_alive_at_last_call = -1;
    int frames_alive = 0;
    static void on_end(void* self) noexcept {
        auto& log = *static_cast<hook_log*>(self);
        ++log.calls;
        log.frames_alive_at_last_call = log.frames_alive;
    }
};
struct alive {
    hook_log& log;
    explicit alive(hook_log& l) : log(l) { ++log.frames_alive; }
    ~alive() { --log.frames_alive; }
};
task<void> counted_child(hook_log& log, int how) {
    alive here{log};
    if (how == 1) throw std::runtime_error("child failed");
    if (how == 2) (void)co_await sleep_for(1h);  // ended by the group's stop
    co_return;
}
}  // namespace

TEST(TaskGroup, CompletionHookRunsOnceAfterEachChildEnds) {
    runtime rt{quiet_runtime()};
    for (int how : {0, 1, 2}) {
        hook_log log;
        rt.run([&]() -> task<void> {
            task_group group;
            group.spawn(hooked_task<>{counted_child(log, how), {&hook_log::on_end, &log}});
            EXPECT_EQ(log.calls, 0);  // scheduled, not run inline
            if (how == 2) {
                (void)co_await sleep_for(2ms);
                group.request_stop();
            }
            if (how == 1) {
                EXPECT_THROW(co_await group.wait(), std::runtime_error);
            } else {
                co_await group.wait();
            }
            EXPECT_EQ(log.calls, 1) << "ended by " << how;
        });
        EXPECT_EQ(log.calls, 1);
        EXPECT_EQ(log.frames_alive_at_last_call, 0) << "the child's frame is freed before its hook runs";
    }
}

TEST(TaskGroup, SpawnOffAShardThrowsAndRunsTheHook) {
    hook_log log;
    task_group group;
    EXPECT_THROW(group.spawn(hooked_task<>{counted_child(log, 0), {&hook_log::on_end, &log}}), std::logic_error);
    EXPECT_EQ(log.calls, 1);
    EXPECT_EQ(log.frames_alive, 0);
    EXPECT_EQ(group.running(), 0u);
}

TEST(WhenAll, YieldsEveryValueInOrder) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b, c] = co_await when_all(sleeper(3ms, 1), forty_two(), [](int v) -> task<void> {
            EXPECT_EQ(v, 9);
            co_return;
        }(9));
        EXPECT_EQ(a, 1);
        EXPECT_EQ(b, 42);
        EXPECT_EQ(c, std::monostate{});
    });
}

TEST(WhenAll, VectorOfTasks) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        std::vector<task<int>> tasks;
        for (int i = 0; i < 50; ++i) tasks.push_back(sleeper(std::chrono::milliseconds(i % 3), i));
        auto values = co_await when_all(std::move(tasks));
        CO_ASSERT_EQ(values.size(), 50u);
        for (int i = 0; i < 50; ++i) EXPECT_EQ(values[static_cast<std::size_t>(i)], i);
    });
}

TEST(WhenAll, FailureCancelsSiblingsAndRethrows) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        bool sibling_canceled = false;
        const auto start = clock::now();
        EXPECT_THROW((void)co_await when_all(sleeper(1h, 0, &sibling_canceled), throw_runtime_error("x")),
                     std::runtime_error);
        EXPECT_TRUE(sibling_canceled);
        EXPECT_LT(clock::now() - start, 1s);
    });
}

TEST(WhenAny, FirstFinisherWinsAndLosersAreCancelled) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        bool loser_canceled = false;
        const auto start = clock::now();
        auto r = co_await when_any(sleeper(1h, 1, &loser_canceled), sleeper(5ms, 2));
        EXPECT_EQ(r.index, 1u);
        EXPECT_EQ(std::get<1>(r.value), 2);
        EXPECT_TRUE(loser_canceled);  // the loser has ended by the time when_any returns
        EXPECT_LT(clock::now() - start, 1s);
    });
}

TEST(WhenAny, WinnersExceptionIsRethrown) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        EXPECT_THROW((void)co_await when_any(throw_runtime_error("first"), sleeper(1h, 0)), std::runtime_error);
    });
}

TEST(StopToken, TaskSeesItsStopToken) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto token = co_await this_task::stop_token();
        EXPECT_TRUE(token.stop_possible());
        EXPECT_FALSE(token.stop_requested());
        EXPECT_EQ(token, this_shard::stop_token());
    });
}

TEST(StopToken, CallbacksRunOnceAndLinkedSourcesFollowTheirParent) {
    stop_source parent;
    linked_stop_source child{parent.get_token()};
    int calls = 0;
    stop_callback cb{child.get_token(), [&] { ++calls; }};
    EXPECT_TRUE(parent.request_stop());
    EXPECT_FALSE(parent.request_stop());
    EXPECT_TRUE(child.stop_requested());
    EXPECT_EQ(calls, 1);
    stop_callback late{child.get_token(), [&] { calls += 10; }};  // already stopped: runs at once
    EXPECT_EQ(calls, 11);
}

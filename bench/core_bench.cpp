// Micro-benchmarks of the runtime core: task create+await+destroy, NOP round
// trips through the ring (alone and in batches), sleep(0), and cross-shard
// calls. core_baseline.cpp measures the same ring work without ringlet.
// Run them with bench/run_core_bench.sh, which writes JSON.
//
// Design notes
// - The timed loop runs inside a task on a shard thread, not on the thread
//   Google Benchmark calls us on, so every benchmark uses real time. The CPU
//   column is the shard thread's CPU time (the timer is read on that thread);
//   for the cross-shard call it leaves out the remote shard's share.
// - One runtime per benchmark run (Google Benchmark calls each function a few
//   times while it picks the iteration count); building and tearing it down
//   is outside the timed loop. A short warm-up before the loop fills the frame
//   pool and the ring's slot table, so the counters show the steady state.
// - Counters, per iteration: frame_mallocs (frames the pool had to malloc; ~0
//   in steady state), frame_reuses (frames served from the pool; shows whether
//   a frame was allocated at all), enters (io_uring_enter calls of the shard).
#include "bench_util.hpp"
#include "core/shard.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/ringlet.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace {

using namespace ringlet;
using namespace std::chrono_literals;

constexpr int warmup_rounds = 64;

runtime_options one_shard() { return {.shards = 1, .handle_signals = false}; }
runtime_options two_shards() { return {.shards = 2, .handle_signals = false}; }

/// Runs `body(state)` (a task<void>) as the entry task of a fresh runtime.
template <class Body>
void run_on_shard0(benchmark::State& state, runtime_options options, Body body) {
    runtime rt{options};
    rt.run([&state, body] { return body(state); });
}

/// Shard-local costs per iteration, sampled around the timed loop.
class loop_probe {
public:
    loop_probe() noexcept : frames_(this_thread_frame_pool_stats()), enters_(enters_now()) {}

    void report(benchmark::State& state) const {
        const frame_pool_stats now = this_thread_frame_pool_stats();
        state.counters["frame_mallocs"] = per_iteration(now.heap_allocations - frames_.heap_allocations);
        state.counters["frame_reuses"] = per_iteration(now.pool_reuses - frames_.pool_reuses);
        state.counters["enters"] = per_iteration(enters_now() - enters_);
    }

private:
    static std::uint64_t enters_now() noexcept { return static_cast<detail::uring_backend&>(detail::shard::current()->io()).stats().enters; }
    static benchmark::Counter per_iteration(std::uint64_t count) {
        return benchmark::Counter(static_cast<double>(count), benchmark::Counter::kAvgIterations);
    }
    frame_pool_stats frames_;
    std::uint64_t enters_;
};

// --- 1. task create + await + destroy ----------------------------------------

task<int> make_value(int v) { co_return v; }

task<void> task_loop(benchmark::State& state) {
    int sum = 0;
    for (int i = 0; i < warmup_rounds; ++i) sum += co_await make_value(i);
    const loop_probe probe;
    for (auto _ : state) {
        sum += co_await make_value(sum & 1);
        benchmark::DoNotOptimize(sum);
    }
    probe.report(state);
}

void BM_task_create_await_destroy(benchmark::State& state) { run_on_shard0(state, one_shard(), task_loop); }
BENCHMARK(BM_task_create_await_destroy)->UseRealTime();

// --- 2. NOP round trips ------------------------------------------------------

// co_await is never written inside an if/while condition here: GCC 12.2
// (Debian 12) miscompiles `if (co_await x)` in a coroutine whose body has no
// top-level local variable (GCC PR 106188, fixed in 12.3): the coroutine's
// body is skipped and its awaiter never resumed. Bind the result first.

/// One NOP awaited by its own task; a failure is counted, not thrown.
task<void> one_nop(int& failures) {
    const auto r = co_await io::nop();
    if (!r) ++failures;
}

/// Each iteration starts range(0) tasks that each await one NOP, and waits for
/// all of them with when_all: the NOPs go to the kernel in one io_uring_enter.
/// This is the user-level way to run NOPs concurrently, so its whole cost is
/// included: two pooled frames per NOP (the task and when_all's child) and
/// when_all's three std::vector allocations per batch.
task<void> nop_batch_loop(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    int failures = 0;
    const auto run_batch = [&] {
        std::vector<task<void>> nops;
        nops.reserve(batch);
        for (std::size_t i = 0; i < batch; ++i) nops.push_back(one_nop(failures));
        return when_all(std::move(nops));
    };
    for (int i = 0; i < warmup_rounds; ++i) co_await run_batch();
    const loop_probe probe;
    for (auto _ : state) co_await run_batch();
    probe.report(state);
    state.SetItemsProcessed(state.iterations() * state.range(0));
    if (failures) state.SkipWithError("io::nop failed");
}

void BM_nop_batch(benchmark::State& state) { run_on_shard0(state, one_shard(), nop_batch_loop); }
BENCHMARK(BM_nop_batch)->Arg(32)->Arg(1)->UseRealTime();

/// One NOP awaited directly by the looping task: the bare round trip.
task<void> nop_loop(benchmark::State& state) {
    int failures = 0;
    for (int i = 0; i < warmup_rounds; ++i) co_await one_nop(failures);
    const loop_probe probe;
    for (auto _ : state) {
        const auto r = co_await io::nop();
        if (!r) ++failures;
    }
    probe.report(state);
    state.SetItemsProcessed(state.iterations());
    if (failures) state.SkipWithError("io::nop failed");
}

void BM_nop_await(benchmark::State& state) { run_on_shard0(state, one_shard(), nop_loop); }
BENCHMARK(BM_nop_await)->UseRealTime();

// --- 3. sleep(0) round trip --------------------------------------------------

task<void> sleep_zero_loop(benchmark::State& state) {
    int failures = 0;
    for (int i = 0; i < warmup_rounds; ++i) (void)co_await sleep_for(0ns);
    const loop_probe probe;
    for (auto _ : state) {
        const auto r = co_await sleep_for(0ns);
        if (!r) ++failures;
    }
    probe.report(state);
    if (failures) state.SkipWithError("sleep_for(0ns) failed");
}

void BM_sleep_zero(benchmark::State& state) { run_on_shard0(state, one_shard(), sleep_zero_loop); }
BENCHMARK(BM_sleep_zero)->UseRealTime();

// --- 4. cross-shard call round trip ------------------------------------------

/// From shard 0, calls a trivial function on shard 1 and awaits its value.
/// Each round trip is timed on its own (p50/p99/max counters, in µs); the
/// time column is the mean. Both shards block in io_uring_enter between
/// messages, so this includes two cross-CPU wake-ups: compare it with
/// BM_raw_msg_ring_round_trip, the same ping-pong in bare liburing.
task<void> cross_shard_loop(benchmark::State& state) {
    int sum = 0;
    for (int i = 0; i < warmup_rounds; ++i) sum += co_await submit_to(1, [] { return 1; });
    ringlet_bench::latency_recorder latencies(state);
    const loop_probe probe;
    for (auto _ : state) {
        const auto start = ringlet_bench::latency_recorder::now();
        sum += co_await submit_to(1, [] { return 1; });
        latencies.add(start);
    }
    probe.report(state);
    latencies.report(state);
    benchmark::DoNotOptimize(sum);
}

void BM_cross_shard_call(benchmark::State& state) { run_on_shard0(state, two_shards(), cross_shard_loop); }
BENCHMARK(BM_cross_shard_call)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

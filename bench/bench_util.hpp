// Helpers shared by the core benchmarks: CPU pinning like the runtime's, and
// per-round-trip latency percentiles reported as counters.
#pragma once

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace ringlet_bench {

/// Pins the calling thread to the `index`-th CPU the process may use, the way
/// runtime pins shard `index` (best effort).
inline void pin_to_allowed_cpu(unsigned index) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    const int count = CPU_COUNT(&allowed);
    if (count == 0) return;
    int wanted = static_cast<int>(index % static_cast<unsigned>(count));
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed) || wanted-- != 0) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        return;
    }
}

/// Times each round trip of a benchmark loop; reports p50/p99/max in µs
/// (the benchmark's own time column is the mean).
class latency_recorder {
public:
    using clock = std::chrono::steady_clock;

    explicit latency_recorder(const benchmark::State& state) {
        samples_.reserve(static_cast<std::size_t>(state.max_iterations));
    }
    static clock::time_point now() noexcept { return clock::now(); }
    void add(clock::time_point start) { samples_.push_back((clock::now() - start).count()); }

    void report(benchmark::State& state) {
        if (samples_.empty()) return;
        std::sort(samples_.begin(), samples_.end());
        state.counters["p50_us"] = at(0.50);
        state.counters["p99_us"] = at(0.99);
        state.counters["max_us"] = at(1.0);
    }

private:
    [[nodiscard]] double at(double quantile) const {
        const auto index = static_cast<std::size_t>(quantile * static_cast<double>(samples_.size() - 1));
        return static_cast<double>(samples_[index]) / 1e3;
    }
    std::vector<std::int64_t> samples_;
};

}  // namespace ringlet_bench

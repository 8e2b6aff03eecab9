// A log-linear latency histogram in the manner of HdrHistogram: exact below
// 128 ns, then 128 linear sub-buckets per power of two, so every recorded
// value is known to within 1/128 (0.8 %) from 1 ns to ~18 minutes (which
// covers the 1 µs .. 60 s asked of a latency recorder). Fixed size
// (~34 KiB), no allocation after construction, mergeable; recording is a
// few shifts. One per shard for the run and one per shard for the current
// second (the timeline); they are merged on shard 0.
//
// Thread safety: none; a histogram belongs to one thread at a time.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace loadgen {

class histogram {
public:
    /// Records one value (nanoseconds); values past ~18 minutes are clamped.
    void record(std::uint64_t ns, std::uint64_t times = 1) noexcept {
        ns = std::min(ns, max_value);
        counts_[index_of(ns)] += times;
        count_ += times;
        sum_ += ns * times;
        const double v = static_cast<double>(ns);
        sum_squares_ += v * v * static_cast<double>(times);
        max_ = std::max(max_, ns);
    }

    void merge(const histogram& other) noexcept {
        for (std::size_t i = 0; i < buckets; ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        sum_ += other.sum_;
        sum_squares_ += other.sum_squares_;
        max_ = std::max(max_, other.max_);
    }

    void reset() noexcept { *this = histogram{}; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
    /// Population standard deviation of the recorded values (ns).
    [[nodiscard]] double stddev() const noexcept {
        if (count_ == 0) return 0;
        const double m = mean();
        return std::sqrt(std::max(0.0, sum_squares_ / static_cast<double>(count_) - m * m));
    }

    /// The smallest value v such that at least `q` (0..1) of the recorded
    /// values are <= v, reported as the upper edge of v's bucket (as
    /// HdrHistogram's "highest equivalent value"), never above the maximum.
    [[nodiscard]] std::uint64_t quantile(double q) const noexcept {
        if (count_ == 0) return 0;
        const auto wanted = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
        const std::uint64_t rank = std::clamp<std::uint64_t>(wanted, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(upper_edge(i), max_);
        }
        return max_;
    }

    /// Walks the distribution the way HdrHistogram's percentile iterator does
    /// (`ticks_per_half` reporting points in each halving of the distance to
    /// 100 %): calls f(value_ns, percentile 0..100, count at or below value,
    /// last) for each reporting point, the last one at 100 %. Nothing when empty.
    template <class F>
    void for_each_percentile(F f, unsigned ticks_per_half = 5) const {
        if (count_ == 0) return;
        double level = 0;
        std::uint64_t seen = 0;
        std::size_t last = 0;
        for (std::size_t i = 0; i < buckets; ++i) {
            if (counts_[i] == 0) continue;
            seen += counts_[i];
            last = i;
            while (100.0 * static_cast<double>(seen) / static_cast<double>(count_) >= level) {
                f(std::min(upper_edge(i), max_), level, seen, false);
                const auto halvings = std::floor(std::log2(100.0 / (100.0 - level)));
                level += 100.0 / (ticks_per_half * std::exp2(halvings + 1));
                if (seen == count_) break;  // the last bucket: once more, at 100 %, below
            }
            if (seen == count_) break;
        }
        f(std::min(upper_edge(last), max_), 100.0, count_, true);
    }

    /// Writes the percentile spectrum in HdrHistogram's text format (`.hgrm`,
    /// as outputPercentileDistribution writes it), values in milliseconds.
    void write_hgrm(std::FILE* out) const {
        constexpr double ms = 1e6;
        std::fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
        for_each_percentile([&](std::uint64_t v, double pct, std::uint64_t seen, bool is_last) {
            const double p = pct / 100.0;
            if (is_last) {
                std::fprintf(out, "%12.3f %2.12f %10llu\n", static_cast<double>(v) / ms, p,
                             static_cast<unsigned long long>(seen));
            } else {
                std::fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", static_cast<double>(v) / ms, p,
                             static_cast<unsigned long long>(seen), 1.0 / (1.0 - p));
            }
        });
        std::fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / ms, stddev() / ms);
        std::fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", static_cast<double>(max_) / ms,
                     static_cast<unsigned long long>(count_));
        std::fprintf(out, "#[Buckets = %12llu, SubBuckets     = %12llu]\n",
                     static_cast<unsigned long long>(buckets / sub_count), static_cast<unsigned long long>(2 * sub_count));
    }

    /// The relative resolution: every value is reported within this fraction.
    static constexpr double precision = 1.0 / 128;

private:
    static constexpr unsigned sub_bits = 7;  // 128 sub-buckets per power of two
    static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;
    static constexpr std::uint64_t max_value = (std::uint64_t{1} << 40) - 1;
    static constexpr std::size_t buckets = (40 - sub_bits + 1) * sub_count;

    static std::size_t index_of(std::uint64_t v) noexcept {
        if (v < sub_count) return static_cast<std::size_t>(v);
        const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - sub_bits;
        return static_cast<std::size_t>((shift + 1) * sub_count + (v >> shift) - sub_count);
    }
    static std::uint64_t upper_edge(std::size_t i) noexcept {
        if (i < sub_count) return i;
        const std::uint64_t shift = i / sub_count - 1;
        const std::uint64_t low = (i % sub_count + sub_count) << shift;
        return low + (std::uint64_t{1} << shift) - 1;
    }

    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    double sum_squares_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace loadgen

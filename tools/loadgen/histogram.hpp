// A log-linear latency histogram in the manner of HdrHistogram: exact below
// 128 ns, then 128 linear sub-buckets per power of two, so every recorded
// value is known to within 1/128 (0.8 %). Fixed size (~36 KiB), no
// allocation after construction, mergeable; recording is a few shifts.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace loadgen {

class histogram {
public:
    /// Records one value (nanoseconds); values past ~18 minutes are clamped.
    void record(std::uint64_t ns, std::uint64_t times = 1) noexcept {
        ns = std::min(ns, max_value);
        counts_[index_of(ns)] += times;
        count_ += times;
        sum_ += ns * times;
        max_ = std::max(max_, ns);
    }

    void merge(const histogram& other) noexcept {
        for (std::size_t i = 0; i < buckets; ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        sum_ += other.sum_;
        max_ = std::max(max_, other.max_);
    }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

    /// The smallest value v such that at least `q` (0..1) of the recorded
    /// values are <= v, reported as the upper edge of v's bucket (as
    /// HdrHistogram's "highest equivalent value"), never above the maximum.
    [[nodiscard]] std::uint64_t quantile(double q) const noexcept {
        if (count_ == 0) return 0;
        const auto wanted = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.5);
        const std::uint64_t rank = std::clamp<std::uint64_t>(wanted, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(upper_edge(i), max_);
        }
        return max_;
    }

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
    std::uint64_t max_ = 0;
};

}  // namespace loadgen

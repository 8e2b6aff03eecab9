// The load generator's HDR histogram (tools/loadgen/histogram.hpp): the
// relative error it promises over 1 µs .. 60 s, quantiles by rank, merging,
// and the percentile walk the .hgrm output is made of.
#include "histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using loadgen::histogram;

TEST(LoadgenHistogram, EveryValueFrom1usTo60sWithinOnePercent) {
    for (std::uint64_t v = 1000; v <= 60'000'000'000ULL; v = v * 1013 / 1000 + 1) {
        histogram h;
        h.record(v);
        h.record(v / 2);  // so that the maximum does not cap the answer for v
        h.record(v * 3);
        const std::uint64_t got = h.quantile(0.5);  // the middle value: v
        ASSERT_GE(got, v) << v;
        ASSERT_LE(static_cast<double>(got - v), static_cast<double>(v) * 0.01) << v;
    }
}

TEST(LoadgenHistogram, QuantilesByRankAndTheMaximum) {
    histogram h;
    for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);  // 1 µs .. 1 ms
    EXPECT_EQ(h.count(), 1000u);
    EXPECT_NEAR(static_cast<double>(h.quantile(0.5)), 500'000.0, 500'000 * histogram::precision);
    EXPECT_NEAR(static_cast<double>(h.quantile(0.99)), 990'000.0, 990'000 * histogram::precision);
    EXPECT_EQ(h.quantile(1.0), 1'000'000u);  // never above the maximum
    EXPECT_EQ(h.max(), 1'000'000u);
    EXPECT_NEAR(h.mean(), 500'500.0, 1e-6);
    EXPECT_NEAR(h.stddev(), 288'674.9, 1.0);
    EXPECT_EQ(histogram{}.quantile(0.5), 0u);
}

TEST(LoadgenHistogram, MergeAddsCountsAndKeepsTheLargerMaximum) {
    histogram a, b;
    for (int i = 0; i < 99; ++i) a.record(10'000);
    b.record(5'000'000'000);  // one 5 s stall
    a.merge(b);
    EXPECT_EQ(a.count(), 100u);
    EXPECT_EQ(a.max(), 5'000'000'000u);
    EXPECT_LE(a.quantile(0.99), 10'100u);
    EXPECT_EQ(a.quantile(0.999), 5'000'000'000u);
}

TEST(LoadgenHistogram, PercentileWalkAscendsAndEndsAtAllOfThem) {
    histogram h;
    for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v * 100);
    std::vector<double> levels;
    std::uint64_t last_value = 0, last_count = 0;
    bool ended = false;
    h.for_each_percentile([&](std::uint64_t value, double pct, std::uint64_t count, bool last) {
        ASSERT_FALSE(ended);
        EXPECT_GE(value, last_value);
        EXPECT_GE(count, last_count);
        if (!levels.empty()) {
            EXPECT_GT(pct, levels.back());
        }
        levels.push_back(pct);
        last_value = value;
        last_count = count;
        ended = last;
    });
    ASSERT_TRUE(ended);
    EXPECT_EQ(levels.front(), 0.0);
    EXPECT_EQ(levels.back(), 100.0);
    EXPECT_EQ(last_count, 100'000u);
    // HdrHistogram's ticks: 0, 10, 20, ... 50, then five per halving: 55, 60, ...
    ASSERT_GT(levels.size(), 8u);
    EXPECT_DOUBLE_EQ(levels[1], 10.0);
    EXPECT_DOUBLE_EQ(levels[6], 55.0);
}

TEST(LoadgenHistogram, HgrmHasHdrHistogramsHeaderAndFooter) {
    histogram h;
    for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1'000'000);  // 1 .. 1000 ms
    char* text = nullptr;
    std::size_t size = 0;
    std::FILE* f = open_memstream(&text, &size);
    ASSERT_NE(f, nullptr);
    h.write_hgrm(f);
    std::fclose(f);
    const std::string out{text, size};
    std::free(text);
    EXPECT_EQ(out.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0), 0u);
    // The first line: the lowest value (as its bucket's highest equivalent, within 1 %), 0 %, 1 value.
    double value = 0, pct = -1, inverse = 0;
    unsigned long long count = 0;
    const auto first = out.find("\n\n") + 2;
    ASSERT_EQ(std::sscanf(out.c_str() + first, "%lf %lf %llu %lf", &value, &pct, &count, &inverse), 4);
    EXPECT_NEAR(value, 1.0, 0.01);
    EXPECT_EQ(pct, 0.0);
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(inverse, 1.0);
    EXPECT_NE(out.find("\n    1000.000 1.000000000000       1000\n#[Mean    ="), std::string::npos);
    EXPECT_NE(out.find("#[Max     =     1000.000, Total count    =         1000]\n"), std::string::npos);
    EXPECT_NE(out.find("#[Buckets ="), std::string::npos);
}

}  // namespace

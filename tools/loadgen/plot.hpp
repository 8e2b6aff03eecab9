// The SVG plot (--plot): the latency percentile spectrum on a "nines" axis
// and the per-second timeline, for one run or for every server of a compare
// run in one figure. Standard library only.
#pragma once

#include "histogram.hpp"
#include "report.hpp"

#include <span>
#include <string>
#include <vector>

namespace loadgen {

/// One server's data: its latency distribution and its per-second rows
/// (a compare run passes its rounds back to back, `at` continuing).
struct plot_series {
    std::string name;
    const histogram* latency = nullptr;
    const std::vector<second_row>* timeline = nullptr;
};

/// Writes an SVG to `path`: top, latency (log scale) against the percentile
/// on a nines axis (x = log10(1/(1-p)): 0 %, 90 %, 99 %, 99.9 %, …); bottom,
/// requests/s (solid, left axis) and p99 latency (dashed, right axis, log
/// scale) per second. One colour per series. False after a message on
/// stderr when the file cannot be written.
bool write_plot(const std::string& path, const std::string& title, std::span<const plot_series> series);

}  // namespace loadgen

// Design notes: the figure is laid out in fixed pixel coordinates (960 ×
// 780); each panel maps its data with a linear or log10 scale into its box.
// Latency axes are log scale because one stall of a second next to tens of
// microseconds is exactly what the plot must show. Text is XML-escaped.
#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace loadgen {
namespace {

constexpr const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
constexpr double width = 960, left = 90, right = 870;  // plot boxes span x from left to right

std::string escape(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        switch (ch) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default:
                if (static_cast<unsigned char>(ch) >= 0x20 || ch == '\t') out += ch;
        }
    }
    return out;
}

/// A linear or log10 mapping of [lo, hi] onto pixels [p0, p1].
struct scale {
    double lo, hi, p0, p1;
    bool log = false;
    [[nodiscard]] double operator()(double v) const {
        if (log) v = std::log10(std::max(v, 1e-9));
        const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
        const double t = b > a ? (v - a) / (b - a) : 0;
        return p0 + std::clamp(t, -0.02, 1.02) * (p1 - p0);
    }
};

std::string format_us(double us) {
    char text[32];
    if (us >= 1e6) std::snprintf(text, sizeof text, "%g s", us / 1e6);
    else if (us >= 1e3) std::snprintf(text, sizeof text, "%g ms", us / 1e3);
    else std::snprintf(text, sizeof text, "%g µs", us);
    return text;
}

std::string format_count(double v) {
    char text[32];
    if (v >= 1e6) std::snprintf(text, sizeof text, "%gM", std::round(v / 1e5) / 10);
    else if (v >= 1e3) std::snprintf(text, sizeof text, "%gk", std::round(v / 1e2) / 10);
    else std::snprintf(text, sizeof text, "%g", v);
    return text;
}

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above v (an axis's top).
double nice_ceiling(double v) {
    const double p = std::pow(10, std::floor(std::log10(std::max(v, 1e-9))));
    for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (m * p >= v) return m * p;
    }
    return 10 * p;
}

/// Decades covering [lo, hi] (µs), at least one.
std::pair<double, double> decades(double lo, double hi) {
    lo = std::pow(10, std::floor(std::log10(std::max(lo, 0.1))));
    hi = std::pow(10, std::ceil(std::log10(std::max(hi, lo * 10))));
    if (hi <= lo) hi = lo * 10;
    return {lo, hi};
}

struct svg {
    std::string out;
    void line(double x1, double y1, double x2, double y2, const char* style) {
        char text[200];
        std::snprintf(text, sizeof text, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" style=\"%s\"/>\n", x1, y1,
                      x2, y2, style);
        out += text;
    }
    void label(double x, double y, const std::string& text, const char* anchor = "middle", int size = 12) {
        char head[160];
        std::snprintf(head, sizeof head, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">", x, y, anchor,
                      size);
        out += head + escape(text) + "</text>\n";
    }
    /// A label turned to read upwards (a vertical axis's name).
    void vertical(double x, double y, const std::string& text) {
        char head[200];
        std::snprintf(head, sizeof head,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 %.1f %.1f)\">",
                      x, y, x, y);
        out += head + escape(text) + "</text>\n";
    }
    void polyline(const std::vector<std::pair<double, double>>& points, const char* colour, const char* dash,
                  const std::string& series, const char* kind) {
        if (points.empty()) return;
        out += "<polyline class=\"series\" data-series=\"" + escape(series) + "\" data-kind=\"" + kind +
               "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\"";
        if (*dash) out += std::string(" stroke-dasharray=\"") + dash + "\"";
        out += " points=\"";
        char xy[48];
        for (const auto& [x, y] : points) {
            std::snprintf(xy, sizeof xy, "%.1f,%.1f ", x, y);
            out += xy;
        }
        out += "\"/>\n";
    }
    void box(double top, double bottom) {
        char text[200];
        std::snprintf(text, sizeof text,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", left,
                      top, right - left, bottom - top);
        out += text;
    }
};

constexpr const char* grid = "stroke:#ddd;stroke-width:1";

void spectrum(svg& g, std::span<const plot_series> series, double top, double bottom) {
    // x: log10(1/(1-p)) from 0 to the nines the largest count can show.
    double nines = 2, lo = std::numeric_limits<double>::max(), hi = 1;
    for (const auto& s : series) {
        if (!s.latency || s.latency->count() == 0) continue;
        nines = std::max(nines, std::ceil(std::log10(static_cast<double>(s.latency->count()))));
        s.latency->for_each_percentile([&](std::uint64_t v, double, std::uint64_t, bool) {
            lo = std::min(lo, static_cast<double>(v) / 1e3);
            hi = std::max(hi, static_cast<double>(v) / 1e3);
        });
    }
    nines = std::min(nines, 7.0);
    if (lo > hi) lo = 1;
    const auto [ylo, yhi] = decades(lo, hi);
    const scale x{0, nines, left, right}, y{ylo, yhi, bottom, top, true};
    g.box(top, bottom);
    for (int n = 0; n <= static_cast<int>(nines); ++n) {
        const double px = x(n);
        g.line(px, top, px, bottom, grid);
        std::string name = n == 0 ? "0%" : n == 1 ? "90%" : "99." + std::string(static_cast<std::size_t>(n - 2), '9') + "%";
        if (n == 2) name = "99%";
        g.label(px, bottom + 16, name);
    }
    for (double d = ylo; d <= yhi * 1.0001; d *= 10) {
        g.line(left, y(d), right, y(d), grid);
        g.label(left - 6, y(d) + 4, format_us(d), "end");
    }
    g.label((left + right) / 2, bottom + 34, "percentile (\"nines\" axis: x = 1/(1-p), log scale)");
    g.vertical(22, (top + bottom) / 2, "latency");
    g.label((left + right) / 2, top - 8, "latency by percentile", "middle", 14);
    for (std::size_t i = 0; i < series.size(); ++i) {
        const auto& s = series[i];
        if (!s.latency) continue;
        std::vector<std::pair<double, double>> points;
        s.latency->for_each_percentile([&](std::uint64_t v, double pct, std::uint64_t, bool last) {
            const double n = last ? nines : std::min(nines, std::log10(1.0 / (1.0 - pct / 100.0)));
            points.emplace_back(x(n), y(static_cast<double>(v) / 1e3));
        });
        g.polyline(points, colours[i % std::size(colours)], "", s.name, "spectrum");
    }
}

void timeline(svg& g, std::span<const plot_series> series, double top, double bottom) {
    double tmax = 1, rmax = 1, lo = std::numeric_limits<double>::max(), hi = 1;
    for (const auto& s : series) {
        if (!s.timeline) continue;
        double prev = 0;
        for (const auto& r : *s.timeline) {
            const double dt = r.at - prev;
            prev = r.at;
            tmax = std::max(tmax, r.at);
            if (dt < 0.25) continue;  // the last sliver of a run: too short to be a rate
            rmax = std::max(rmax, static_cast<double>(r.requests) / dt);
            if (r.p99 > 0) {
                lo = std::min(lo, static_cast<double>(r.p99) / 1e3);
                hi = std::max(hi, static_cast<double>(r.p99) / 1e3);
            }
        }
    }
    if (lo > hi) lo = 1;
    const auto [ylo, yhi] = decades(lo, hi);
    rmax = nice_ceiling(rmax * 1.05);
    const scale x{0, std::ceil(tmax), left, right}, yr{0, rmax, bottom, top}, yl{ylo, yhi, bottom, top, true};
    g.box(top, bottom);
    const double step = std::max(1.0, std::ceil(std::ceil(tmax) / 12));
    for (double t = 0; t <= std::ceil(tmax) + 1e-9; t += step) {
        g.line(x(t), top, x(t), bottom, grid);
        g.label(x(t), bottom + 16, format_count(t) + " s");
    }
    for (int k = 0; k <= 4; ++k) {
        const double v = rmax * k / 4;
        g.line(left, yr(v), right, yr(v), grid);
        g.label(left - 6, yr(v) + 4, format_count(v), "end");
    }
    for (double d = ylo; d <= yhi * 1.0001; d *= 10) g.label(right + 6, yl(d) + 4, format_us(d), "start");
    g.label((left + right) / 2, bottom + 34, "seconds since the start (compare: each server's rounds back to back)");
    g.vertical(22, (top + bottom) / 2, "requests/s");
    g.vertical(width - 20, (top + bottom) / 2, "p99 latency");
    g.label((left + right) / 2, top - 8, "per second: requests/s (solid) and p99 latency (dashed)", "middle", 14);
    for (std::size_t i = 0; i < series.size(); ++i) {
        const auto& s = series[i];
        if (!s.timeline) continue;
        std::vector<std::pair<double, double>> rps, p99;
        double prev = 0;
        for (const auto& r : *s.timeline) {
            const double dt = r.at - prev, middle = r.at - dt / 2;
            prev = r.at;
            if (dt < 0.25) continue;
            rps.emplace_back(x(middle), yr(static_cast<double>(r.requests) / dt));
            if (r.requests > 0) p99.emplace_back(x(middle), yl(static_cast<double>(r.p99) / 1e3));
        }
        const char* colour = colours[i % std::size(colours)];
        g.polyline(rps, colour, "", s.name, "requests_per_second");
        g.polyline(p99, colour, "6,4", s.name, "p99");
    }
}

}  // namespace

bool write_plot(const std::string& path, const std::string& title, std::span<const plot_series> series) {
    svg g;
    g.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"780\" viewBox=\"0 0 960 780\" "
            "font-family=\"sans-serif\">\n<rect width=\"960\" height=\"780\" fill=\"white\"/>\n";
    g.out += "<title>" + escape(title) + "</title>\n";
    g.label(width / 2, 24, title, "middle", 16);
    for (std::size_t i = 0; i < series.size(); ++i) {
        const double x = left + 10 + 200 * static_cast<double>(i);
        g.line(x, 42, x + 24, 42, (std::string("stroke-width:3;stroke:") + colours[i % std::size(colours)]).c_str());
        g.label(x + 30, 46, series[i].name, "start");
    }
    spectrum(g, series, 80, 390);
    timeline(g, series, 460, 720);
    g.out += "</svg>\n";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::perror(("ringlet_loadgen: " + path).c_str());
        return false;
    }
    bool ok = std::fwrite(g.out.data(), 1, g.out.size(), f) == g.out.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok) std::perror(("ringlet_loadgen: " + path).c_str());
    return ok;
}

}  // namespace loadgen

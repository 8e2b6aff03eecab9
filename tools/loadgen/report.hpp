// The load generator's final summary (stdout) and its JSON file.
#pragma once

#include "engine.hpp"
#include "udp_engine.hpp"

#include <map>
#include <string>
#include <vector>

namespace loadgen {

/// Process CPU time (getrusage, every thread), in seconds.
struct cpu_times {
    double user = 0;
    double system = 0;
    [[nodiscard]] static cpu_times now() noexcept;
    [[nodiscard]] double total() const noexcept { return user + system; }
};

/// One second of the run, measured by shard 0's monitor at its tick: the
/// responses and errors counted in that second and the latencies of the
/// responses that arrived in it (every phase, warm-up and drain included).
struct second_row {
    double at = 0;                     // end of the second, seconds since the start
    const char* phase = "run";         // "warmup", "run" or "drain" (at its middle)
    std::uint64_t requests = 0;        // responses (--udp: echoed datagrams)
    std::uint64_t errors = 0;
    std::uint64_t p50 = 0, p99 = 0, p999 = 0, max = 0;  // latency, ns
    double loadgen_busy = 0;           // CPU time of the busiest generator thread / wall time
};

/// Everything the summary needs, merged over the shards.
struct summary {
    std::string target;
    std::string protocol;            // what was sent (stream_protocol::describe)
    unsigned depth = 1;
    bool open_loop = false;
    double window_seconds = 0;       // the measured interval
    std::uint64_t window_responses = 0;
    std::uint64_t total_responses = 0;
    std::uint64_t total_sent = 0;
    std::uint64_t writes = 0, reads = 0, bytes_read = 0;
    std::uint64_t mismatches = 0, io_errors = 0, connect_errors = 0, unanswered = 0;
    std::uint64_t bad_responses = 0;  // well framed but wrong: HTTP >= 400, RESP error replies
    std::uint64_t connects = 0;       // --new-connection: connections opened
    std::map<std::string, std::uint64_t> counts;  // responses per status / command
    bool udp = false;                // --udp: the figures are datagrams
    std::uint64_t lost = 0;          // --udp: datagrams unanswered within the timeout (not errors)
    std::uint64_t late = 0;          // --udp: echoes that came after their datagram was counted lost
    bool interrupted = false;
    std::string first_error;
    histogram latency;
    histogram send_lag;
    cpu_times cpu;                   // spent by this process during the window
    double server_cpu = -1;          // --server-pid: its CPU seconds in the window; -1 when not asked
    std::vector<double> thread_busy; // per generator thread: its CPU time in the window / the window
    std::vector<second_row> timeline;

    /// The busiest generator thread's share of the window (0..1).
    [[nodiscard]] double busiest() const noexcept;
    /// Responses per second over the window / the offered rate; 0 in closed loop.
    [[nodiscard]] double achieved_ratio(const options& opts) const noexcept;
    /// Empty, or one line saying with its numbers why the figures may be the
    /// generator's limit: a thread ≥ 90 % busy, or an open-loop rate < 95 % achieved.
    [[nodiscard]] std::string saturation_warning(const options& opts) const;

    [[nodiscard]] std::uint64_t errors() const noexcept {
        return mismatches + io_errors + connect_errors + unanswered + bad_responses;
    }
    [[nodiscard]] double server_cpu_us_per_request() const noexcept {
        return server_cpu >= 0 && window_responses ? server_cpu * 1e6 / static_cast<double>(window_responses) : 0;
    }
    [[nodiscard]] double requests_per_second() const noexcept {
        return window_seconds > 0 ? static_cast<double>(window_responses) / window_seconds : 0;
    }
};

/// Adds every shard's figures into `out`.
void merge(summary& out, const std::vector<shard_state*>& shards);
void merge(summary& out, const std::vector<udp_shard_state*>& shards);

/// Prints the human summary on stdout.
void print_summary(const summary& s, const options& opts);

/// Writes the JSON file; false (after a message on stderr) if it cannot.
bool write_json(const std::string& path, const summary& s, const options& opts);

/// Writes the timeline as CSV (one row a second); false after a message on stderr.
bool write_csv(const std::string& path, const summary& s);

/// Writes the latency spectrum in HdrHistogram's .hgrm text format (ms);
/// false after a message on stderr.
bool write_hgrm(const std::string& path, const histogram& h);

/// The timeline as a JSON array (one object a second), for write_json and compare.
std::string timeline_json(const std::vector<second_row>& rows, const char* indent);

/// Quotes `text` as a JSON string.
std::string json_string(const std::string& text);

}  // namespace loadgen

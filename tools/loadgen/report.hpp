// The load generator's final summary (stdout) and its JSON file.
#pragma once

#include "engine.hpp"
#include "udp_engine.hpp"

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

/// Everything the summary needs, merged over the shards.
struct summary {
    std::string target;
    double window_seconds = 0;       // the measured interval
    std::uint64_t window_responses = 0;
    std::uint64_t total_responses = 0;
    std::uint64_t total_sent = 0;
    std::uint64_t writes = 0, reads = 0, bytes_read = 0;
    std::uint64_t mismatches = 0, io_errors = 0, connect_errors = 0, unanswered = 0;
    bool udp = false;                // --udp: the figures are datagrams
    std::uint64_t lost = 0;          // --udp: datagrams unanswered within the timeout (not errors)
    std::uint64_t late = 0;          // --udp: echoes that came after their datagram was counted lost
    bool interrupted = false;
    std::string first_error;
    histogram latency;
    histogram send_lag;
    cpu_times cpu;                   // spent by this process during the window

    [[nodiscard]] std::uint64_t errors() const noexcept { return mismatches + io_errors + connect_errors + unanswered; }
};

/// Adds every shard's figures into `out`.
void merge(summary& out, const std::vector<shard_state*>& shards);
void merge(summary& out, const std::vector<udp_shard_state*>& shards);

/// Prints the human summary on stdout.
void print_summary(const summary& s, const options& opts, const plan& p);

/// Writes the JSON file; false (after a message on stderr) if it cannot.
bool write_json(const std::string& path, const summary& s, const options& opts, const plan& p);

}  // namespace loadgen

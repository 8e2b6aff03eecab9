// The summary and the JSON file. Throughput counts the responses that
// arrived inside the measured window; latency counts every request scheduled
// (or sent, in closed loop) inside it, however late its answer came.
#include "report.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

namespace loadgen {
namespace {

double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }
double us(std::uint64_t ns) { return static_cast<double>(ns) / 1e3; }

}  // namespace

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", ch);
            out += esc;
        } else {
            out += ch;
        }
    }
    return out + '"';
}

namespace {

struct rates {
    double requests_per_second;
    double megabytes_per_second;  // echoed payload, one direction, 10^6 bytes
    double cpu_us_per_request;
};

rates rates_of(const summary& s, const options& opts) {
    const double rps = s.requests_per_second();
    // Echo: the message size each way. Other protocols: the bytes received per response, on average.
    const double per_response = opts.mode == "echo" || opts.udp || s.total_responses == 0
                                    ? static_cast<double>(opts.size)
                                    : static_cast<double>(s.bytes_read) / static_cast<double>(s.total_responses);
    return {rps, rps * per_response / 1e6,
            s.window_responses ? s.cpu.total() * 1e6 / static_cast<double>(s.window_responses) : 0};
}

double loss_percent(const summary& s) {
    return s.total_sent ? 100.0 * static_cast<double>(s.lost) / static_cast<double>(s.total_sent) : 0;
}

}  // namespace

cpu_times cpu_times::now() noexcept {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return {seconds(u.ru_utime), seconds(u.ru_stime)};
}

namespace {

void add_common(summary& out, const stats_common& st) {
    out.window_responses += st.window_responses;
    out.total_responses += st.total_responses;
    out.total_sent += st.total_sent;
    out.writes += st.writes;
    out.reads += st.reads;
    out.bytes_read += st.bytes_read;
    out.mismatches += st.mismatches;
    out.io_errors += st.io_errors;
    out.connect_errors += st.connect_errors;
    out.latency.merge(st.latency);
    out.send_lag.merge(st.send_lag);
    if (out.first_error.empty()) out.first_error = st.first_error;
}

}  // namespace

void merge(summary& out, const std::vector<shard_state*>& shards) {
    for (const shard_state* sh : shards) {
        add_common(out, sh->stats);
        out.unanswered += sh->stats.unanswered;
        out.bad_responses += sh->stats.bad_responses;
        out.connects += sh->stats.connects;
        for (const auto& [kind, n] : sh->stats.counts) out.counts[kind] += n;
    }
}

void merge(summary& out, const std::vector<udp_shard_state*>& shards) {
    out.udp = true;
    for (const udp_shard_state* sh : shards) {
        add_common(out, sh->stats);
        out.lost += sh->stats.lost;
        out.late += sh->stats.late;
    }
}

double summary::busiest() const noexcept {
    double most = 0;
    for (const double b : thread_busy) most = std::max(most, b);
    return most;
}

double summary::achieved_ratio(const options& opts) const noexcept {
    return opts.rate > 0 ? requests_per_second() / opts.rate : 0;
}

std::string summary::saturation_warning(const options& opts) const {
    constexpr double busy_limit = 0.90, rate_limit = 0.95;
    std::string out;
    char line[256];
    if (busiest() >= busy_limit) {
        std::snprintf(line, sizeof line,
                      "load generator saturated: its busiest thread ran %.0f %% of the window (limit %.0f %%)",
                      100 * busiest(), 100 * busy_limit);
        out = line;
    }
    if (open_loop && achieved_ratio(opts) < rate_limit) {
        std::snprintf(line, sizeof line, "%soffered rate not achieved: %.0f of %.0f requests/s (%.1f %%, below %.0f %%)",
                      out.empty() ? "" : "; ", requests_per_second(), opts.rate, 100 * achieved_ratio(opts),
                      100 * rate_limit);
        out += line;
    }
    return out;
}

void print_summary(const summary& s, const options& opts) {
    const rates r = rates_of(s, opts);
    std::printf("target %s: %u %s, depth %u, %s, %s, %u shard%s%s\n", s.target.c_str(), opts.connections,
                s.udp ? "UDP sockets" : "connections", s.depth, s.protocol.c_str(),
                s.open_loop ? "fixed rate" : "closed loop", opts.shards, opts.shards == 1 ? "" : "s",
                opts.new_connection ? ", a new connection per request" : "");
    if (s.open_loop) std::printf("offered:   %.0f requests/s\n", opts.rate);
    std::printf("requests:  %llu in %.2f s = %.0f requests/s, %.2f MB/s %s\n",
                static_cast<unsigned long long>(s.window_responses), s.window_seconds, r.requests_per_second,
                r.megabytes_per_second, opts.mode == "echo" || opts.udp ? "each way" : "received");
    const histogram& h = s.latency;
    std::printf("latency:   p50 %.1f µs  p90 %.1f µs  p99 %.1f µs  p99.9 %.1f µs  max %.1f µs  mean %.1f µs (%s)\n",
                us(h.quantile(0.5)), us(h.quantile(0.9)), us(h.quantile(0.99)), us(h.quantile(0.999)), us(h.max()),
                h.mean() / 1e3, s.open_loop ? "from the scheduled send" : "from the send");
    if (s.open_loop) {
        std::printf("send lag:  p50 %.1f µs  p99 %.1f µs  max %.1f µs (actual send − scheduled; part of the latency)\n",
                    us(s.send_lag.quantile(0.5)), us(s.send_lag.quantile(0.99)), us(s.send_lag.max()));
    }
    std::printf("own CPU:   user %.2f s + system %.2f s = %.1f %% of one CPU, %.2f µs per request\n", s.cpu.user,
                s.cpu.system, s.window_seconds > 0 ? 100 * s.cpu.total() / s.window_seconds : 0, r.cpu_us_per_request);
    if (s.udp) {
        std::printf("batching:  %.1f datagrams per send batch, %.1f per receive batch\n",
                    s.writes ? static_cast<double>(s.total_sent) / static_cast<double>(s.writes) : 0,
                    s.reads ? static_cast<double>(s.bytes_read) / static_cast<double>(opts.size) / static_cast<double>(s.reads) : 0);
        std::printf("loss:      %llu of %llu datagrams sent (%.3f %%) unanswered within %.0f ms; %llu late echoes\n",
                    static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.total_sent),
                    loss_percent(s), opts.udp_timeout_ms, static_cast<unsigned long long>(s.late));
    } else {
        std::printf("batching:  %.1f requests per write, %.0f bytes per read\n",
                    s.writes ? static_cast<double>(s.total_sent) / static_cast<double>(s.writes) : 0,
                    s.reads ? static_cast<double>(s.bytes_read) / static_cast<double>(s.reads) : 0);
    }
    if (!s.counts.empty()) {
        std::printf("responses:");
        for (const auto& [kind, n] : s.counts) std::printf("  %s: %llu", kind.c_str(), static_cast<unsigned long long>(n));
        std::printf("\n");
    }
    if (opts.new_connection) {
        std::printf("connects:  %llu connections opened (%.0f per second)\n", static_cast<unsigned long long>(s.connects),
                    s.window_seconds > 0 ? static_cast<double>(s.window_responses) / s.window_seconds : 0);
    }
    std::printf("errors:    %llu (mismatched %llu, I/O %llu, connect %llu, unanswered %llu, bad answers %llu)%s%s\n",
                static_cast<unsigned long long>(s.errors()), static_cast<unsigned long long>(s.mismatches),
                static_cast<unsigned long long>(s.io_errors), static_cast<unsigned long long>(s.connect_errors),
                static_cast<unsigned long long>(s.unanswered), static_cast<unsigned long long>(s.bad_responses),
                s.first_error.empty() ? "" : "; first: ", s.first_error.c_str());
    if (s.server_cpu >= 0) {
        std::printf("server:    pid %d used %.2f s of CPU in the window = %.1f %% of one CPU, %.2f µs per request\n",
                    opts.server_pid, s.server_cpu, s.window_seconds > 0 ? 100 * s.server_cpu / s.window_seconds : 0,
                    s.server_cpu_us_per_request());
    }
    std::printf("loadgen:   busiest thread %.0f %% of the window", 100 * s.busiest());
    if (s.open_loop) std::printf(", offered rate %.1f %% achieved", 100 * s.achieved_ratio(opts));
    std::printf("\n");
    if (const std::string w = s.saturation_warning(opts); !w.empty()) {
        std::printf("WARNING:   %s: the figures may be the load generator's limit, not the server's (more --shards, "
                    "or a CPU quota for the server: compare --quota)\n",
                    w.c_str());
    }
    if (s.interrupted) std::printf("interrupted: the figures cover the run up to the signal\n");
    std::fflush(stdout);
}

bool write_json(const std::string& path, const summary& s, const options& opts) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::perror(("ringlet_loadgen: " + path).c_str());
        return false;
    }
    const rates r = rates_of(s, opts);
    const histogram& h = s.latency;
    auto ull = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(f, "{\n  \"target\": %s,\n", json_string(s.target).c_str());
    std::fprintf(f, "  \"connections\": %u,\n  \"depth\": %u,\n  \"size\": %zu,\n  \"shards\": %u,\n", opts.connections,
                 s.depth, opts.size, opts.shards);
    std::fprintf(f, "  \"mode\": \"%s\",\n  \"offered_rate\": %.1f,\n", s.open_loop ? "fixed_rate" : "closed_loop",
                 opts.rate);
    std::fprintf(f, "  \"protocol\": \"%s\",\n  \"protocol_mode\": \"%s\",\n  \"requests\": %s,\n", s.udp ? "udp" : "stream",
                 opts.mode.c_str(), json_string(s.protocol).c_str());
    std::fprintf(f, "  \"response_counts\": {");
    bool first_count = true;
    for (const auto& [kind, n] : s.counts) {
        std::fprintf(f, "%s%s: %llu", first_count ? "" : ", ", json_string(kind).c_str(), static_cast<unsigned long long>(n));
        first_count = false;
    }
    std::fprintf(f, "},\n  \"bad_responses\": %llu,\n  \"new_connection\": %s,\n  \"connects\": %llu,\n",
                 static_cast<unsigned long long>(s.bad_responses), opts.new_connection ? "true" : "false",
                 static_cast<unsigned long long>(s.connects));
    if (s.udp) {
        std::fprintf(f, "  \"udp_timeout_ms\": %.1f,\n  \"lost\": %llu,\n  \"loss_ratio\": %.6f,\n  \"late\": %llu,\n",
                     opts.udp_timeout_ms, ull(s.lost), loss_percent(s) / 100, ull(s.late));
    }
    std::fprintf(f, "  \"warmup_seconds\": %.3f,\n  \"window_seconds\": %.6f,\n", opts.warmup, s.window_seconds);
    std::fprintf(f, "  \"window_responses\": %llu,\n  \"total_responses\": %llu,\n  \"total_sent\": %llu,\n",
                 ull(s.window_responses), ull(s.total_responses), ull(s.total_sent));
    std::fprintf(f, "  \"requests_per_second\": %.1f,\n  \"megabytes_per_second\": %.3f,\n", r.requests_per_second,
                 r.megabytes_per_second);
    std::fprintf(f, "  \"latency_us\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f, "
                    "\"mean\": %.3f, \"count\": %llu},\n",
                 us(h.quantile(0.5)), us(h.quantile(0.9)), us(h.quantile(0.99)), us(h.quantile(0.999)), us(h.max()),
                 h.mean() / 1e3, ull(h.count()));
    std::fprintf(f, "  \"send_lag_us\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f},\n", us(s.send_lag.quantile(0.5)),
                 us(s.send_lag.quantile(0.99)), us(s.send_lag.max()));
    std::fprintf(f, "  \"cpu_user_seconds\": %.4f,\n  \"cpu_system_seconds\": %.4f,\n  \"cpu_us_per_request\": %.4f,\n",
                 s.cpu.user, s.cpu.system, r.cpu_us_per_request);
    std::fprintf(f, "  \"writes\": %llu,\n  \"reads\": %llu,\n  \"bytes_read\": %llu,\n", ull(s.writes), ull(s.reads),
                 ull(s.bytes_read));
    if (s.server_cpu >= 0) {
        std::fprintf(f, "  \"server_pid\": %d,\n  \"server_cpu_seconds\": %.4f,\n  \"server_cpu_us_per_request\": %.4f,\n",
                     opts.server_pid, s.server_cpu, s.server_cpu_us_per_request());
    }
    std::fprintf(f, "  \"loadgen_thread_busy\": [");
    for (std::size_t i = 0; i < s.thread_busy.size(); ++i) std::fprintf(f, "%s%.4f", i ? ", " : "", s.thread_busy[i]);
    const std::string warning = s.saturation_warning(opts);
    std::fprintf(f, "],\n  \"loadgen_busiest\": %.4f,\n  \"achieved_ratio\": %.4f,\n  \"loadgen_saturated\": %s,\n"
                    "  \"saturation_warning\": %s,\n",
                 s.busiest(), s.achieved_ratio(opts), warning.empty() ? "false" : "true", json_string(warning).c_str());
    std::fprintf(f, "  \"timeline\": %s,\n", timeline_json(s.timeline, "  ").c_str());
    std::fprintf(f, "  \"errors\": %llu,\n  \"mismatches\": %llu,\n  \"io_errors\": %llu,\n  \"connect_errors\": %llu,\n"
                    "  \"unanswered\": %llu,\n  \"interrupted\": %s,\n  \"first_error\": %s\n}\n",
                 ull(s.errors()), ull(s.mismatches), ull(s.io_errors), ull(s.connect_errors), ull(s.unanswered),
                 s.interrupted ? "true" : "false", json_string(s.first_error).c_str());
    const bool ok = std::fclose(f) == 0;
    if (!ok) std::perror(("ringlet_loadgen: " + path).c_str());
    return ok;
}

std::string timeline_json(const std::vector<second_row>& rows, const char* indent) {
    std::string out = "[";
    char line[320];
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const second_row& r = rows[i];
        std::snprintf(line, sizeof line,
                      "%s\n%s  {\"second\": %.3f, \"phase\": \"%s\", \"requests\": %llu, \"errors\": %llu, "
                      "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p99_9_us\": %.1f, \"max_us\": %.1f, \"loadgen_busy\": %.3f}",
                      i ? "," : "", indent, r.at, r.phase, static_cast<unsigned long long>(r.requests),
                      static_cast<unsigned long long>(r.errors), us(r.p50), us(r.p99), us(r.p999), us(r.max),
                      r.loadgen_busy);
        out += line;
    }
    if (!rows.empty()) out += std::string("\n") + indent;
    return out + "]";
}

namespace {

/// Opens `path` for writing; nullptr after a message naming it on stderr.
std::FILE* open_output(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) std::perror(("ringlet_loadgen: " + path).c_str());
    return f;
}

bool close_output(std::FILE* f, const std::string& path) {
    const bool ok = std::ferror(f) == 0 && std::fclose(f) == 0;
    if (!ok) std::perror(("ringlet_loadgen: " + path).c_str());
    return ok;
}

}  // namespace

bool write_csv(const std::string& path, const summary& s) {
    std::FILE* f = open_output(path);
    if (!f) return false;
    std::fprintf(f, "second,phase,requests,errors,p50_us,p99_us,p99_9_us,max_us,loadgen_busy\n");
    for (const second_row& r : s.timeline) {
        std::fprintf(f, "%.3f,%s,%llu,%llu,%.1f,%.1f,%.1f,%.1f,%.3f\n", r.at, r.phase,
                     static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.errors), us(r.p50),
                     us(r.p99), us(r.p999), us(r.max), r.loadgen_busy);
    }
    return close_output(f, path);
}

bool write_hgrm(const std::string& path, const histogram& h) {
    std::FILE* f = open_output(path);
    if (!f) return false;
    h.write_hgrm(f);
    return close_output(f, path);
}

}  // namespace loadgen

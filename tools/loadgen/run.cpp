// Design notes
// - The shards run the engine (engine.cpp, udp_engine.cpp); shard 0 also
//   runs the monitor, which ticks once a second from the common start. At
//   each tick it takes every shard's histogram of the second's latencies
//   with a cross-shard call (invoke_on_all: each shard swaps its own, so no
//   histogram is ever read by two threads), merges them into one timeline
//   row, reads the response and error counters (relaxed atomics) and every
//   generator thread's CPU clock (pthread_getcpuclockid), and prints the
//   progress line. The last, partial second is taken after the shards end.
// - Generator saturation is per thread: a shard thread that ran ≥ 90 % of the
//   window cannot have kept up, whatever the process total says.
#include "run.hpp"

#include "engine.hpp"
#include "plot.hpp"
#include "server_process.hpp"
#include "udp_engine.hpp"

#include <ringlet/net/resolve.hpp>

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <type_traits>

namespace loadgen {
namespace {

using namespace std::chrono_literals;
namespace net = ringlet::net;

std::chrono::nanoseconds seconds(double s) { return std::chrono::nanoseconds{static_cast<std::int64_t>(s * 1e9)}; }
double to_seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }

/// The address to connect to: parsed, or resolved (first answer).
ringlet::task<ringlet::result<net::address>> target_of(std::string text) {
    if (auto a = net::address::parse(text)) co_return *a;
    auto hp = net::parse_host_port(text);
    if (!hp) co_return ringlet::unexpected{hp.error()};
    auto found = co_await net::resolve(*hp);
    if (!found) {
        std::fprintf(stderr, "ringlet_loadgen: %s\n", net::describe_resolve_error(hp->host, found.error()).c_str());
        co_return ringlet::unexpected{found.error()};
    }
    co_return found->front();
}

template <class Shard>
bool all_done(const std::vector<Shard*>& shards) {
    for (const auto* s : shards) {
        if (!s->stats.done.load(std::memory_order_acquire)) return false;
    }
    return true;
}

double thread_cpu(const stats_common& st) {
    timespec t{};
    if (!st.has_cpu_clock || clock_gettime(st.cpu_clock, &t) != 0) return 0;
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

/// Hands over this shard's histogram of the latest latencies (on its own thread).
template <class Shard>
std::unique_ptr<histogram> take_second(Shard& s) {
    auto taken = std::make_unique<histogram>();
    std::swap(*taken, s.stats.second);
    return taken;
}

/// Samples the CPU time at the start and end of the window, builds the
/// timeline and prints the progress line. Bounded by the plan's give_up time.
template <class Shard>
struct monitor {
    const plan& p;
    const std::vector<Shard*>& shards;
    bool progress;
    bool tty = isatty(STDERR_FILENO) == 1;
    cpu_times at_measure;
    cpu_times at_end;
    double server_at_measure = 0, server_at_end = 0;  // --server-pid's CPU seconds
    std::vector<double> threads_at_measure, threads_at_end;
    bool measured = false;
    bool ended = false;
    std::vector<second_row> timeline;
    // The previous tick's readings.
    clock::time_point prev_time;
    std::uint64_t prev_responses = 0, prev_errors = 0;
    std::vector<double> prev_threads;

    std::vector<double> thread_times() const {
        std::vector<double> out;
        for (const auto* s : shards) out.push_back(thread_cpu(s->stats));
        return out;
    }

    double server_cpu() const { return p.opts->server_pid > 0 ? process_cpu_seconds(p.opts->server_pid) : 0; }
    void sample_measure() {
        at_measure = cpu_times::now();
        threads_at_measure = thread_times();
        server_at_measure = server_cpu();
        measured = true;
    }
    void sample_end() {
        at_end = cpu_times::now();
        threads_at_end = thread_times();
        server_at_end = server_cpu();
        ended = true;
    }

    /// One timeline row from the histograms taken and the counters now.
    void add_row(clock::time_point now, const histogram& h) {
        std::uint64_t responses = 0, errors = 0;
        for (const auto* s : shards) {
            responses += s->stats.live_responses.load(std::memory_order_relaxed);
            errors += s->stats.live_errors.load(std::memory_order_relaxed);
        }
        const auto threads = thread_times();
        const double dt = to_seconds(now - prev_time);
        second_row row;
        row.at = to_seconds(now - p.start);
        const auto middle = prev_time + (now - prev_time) / 2;
        row.phase = middle < p.measure ? "warmup" : middle < p.end ? "run" : "drain";
        row.requests = responses - prev_responses;
        row.errors = errors - prev_errors;
        row.p50 = h.quantile(0.5);
        row.p99 = h.quantile(0.99);
        row.p999 = h.quantile(0.999);
        row.max = h.max();
        for (std::size_t i = 0; i < threads.size() && i < prev_threads.size() && dt > 0; ++i) {
            row.loadgen_busy = std::max(row.loadgen_busy, (threads[i] - prev_threads[i]) / dt);
        }
        if (progress && (dt >= 0.25 || timeline.empty())) print(row, dt);  // not a last sliver of a second
        timeline.push_back(row);
        prev_time = now;
        prev_responses = responses;
        prev_errors = errors;
        prev_threads = threads;
    }

    void print(const second_row& row, double dt) const {
        const double rps = dt > 0 ? static_cast<double>(row.requests) / dt : 0;
        char line[200];
        char p99[32] = "        -";
        if (row.requests > 0) std::snprintf(p99, sizeof p99, "%9.1f", static_cast<double>(row.p99) / 1e3);
        std::snprintf(line, sizeof line, "[%6.1fs] %-6s %10.0f requests/s  p99 %s µs  errors %llu  loadgen %3.0f %%",
                      row.at, row.phase, rps, p99, static_cast<unsigned long long>(row.errors), 100 * row.loadgen_busy);
        // On a terminal one line rewritten in place (carriage return, clear to end of line).
        if (tty) std::fprintf(stderr, "\r\033[K%s", line);
        else std::fprintf(stderr, "%s\n", line);
        std::fflush(stderr);
    }

    /// Ends the in-place line so that what follows starts on a line of its own.
    void finish() const {
        if (progress && tty && !timeline.empty()) std::fputc('\n', stderr);
    }

    ringlet::task<void> run() {
        prev_time = p.start;
        prev_threads = thread_times();
        auto tick = p.start + 1s;
        while (!all_done(shards)) {
            auto next = tick;
            if (!measured) next = std::min(next, p.measure);
            if (!ended) next = std::min(next, p.end);
            if (next > p.give_up + 2s) co_return;
            auto slept = co_await ringlet::sleep_until(next);
            if (!slept) co_return;
            const auto now = clock::now();
            if (!measured && now >= p.measure) {
                sample_measure();
            }
            if (!ended && now >= p.end) {
                sample_end();
            }
            if (now >= tick) {
                auto parts = co_await ringlet::invoke_on_all(
                    [this]() { return take_second(*shards[ringlet::this_shard::id()]); });
                histogram merged;
                for (const auto& part : parts) merged.merge(*part);
                add_row(clock::now(), merged);
                tick += 1s;
            }
        }
    }
};

template <class Shard>
ringlet::task<void> run_everywhere(std::vector<Shard*>& shards) {
    co_await ringlet::invoke_on_all([&shards]() { return run_shard(*shards[ringlet::this_shard::id()]); });
}

/// The whole run on shards of either engine (shard_state: streams,
/// udp_shard_state: --udp); connect_shard, run_shard and merge are overloaded.
template <class Shard>
ringlet::task<int> run(const options& opts, std::vector<Shard*>& shards, plan& p, summary& s) {
    auto target = co_await target_of(opts.address);
    if (!target) co_return 1;
    p.target = *target;
    s.target = p.target.to_string();
    auto connected = co_await ringlet::invoke_on_all([&shards]() { return connect_shard(*shards[ringlet::this_shard::id()]); });
    for (std::size_t i = 0; i < connected.size(); ++i) {
        if (!connected[i]) {
            s.first_error = shards[i]->stats.first_error;
            std::fprintf(stderr, "ringlet_loadgen: %s\n", s.first_error.c_str());
            s.connect_errors += 1;
            co_return 1;
        }
    }

    p.start = clock::now() + 1ms;
    p.measure = p.start + seconds(opts.warmup);
    p.end = p.measure + seconds(opts.duration);
    p.give_up = p.end + seconds(opts.grace);
    monitor<Shard> watch{p, shards, opts.progress};
    co_await ringlet::when_any(run_everywhere(shards), watch.run());
    const auto finished = clock::now();
    // The last, partial second: the shards have ended, their state is ours to read.
    histogram rest;
    for (auto* sh : shards) rest.merge(*take_second(*sh));
    if (rest.count() > 0 || finished - watch.prev_time > 100ms) watch.add_row(finished, rest);
    watch.finish();

    s.interrupted = ringlet::this_shard::stop_token().stop_requested();
    merge(s, shards);
    // A run cut short (quota, signal) is measured up to where it stopped.
    const auto window_end = std::min(finished, p.end);
    s.window_seconds = window_end > p.measure ? to_seconds(window_end - p.measure) : 0;
    if (!watch.measured) watch.sample_measure();
    if (!watch.ended) watch.sample_end();
    if (opts.server_pid > 0) s.server_cpu = watch.server_at_end - watch.server_at_measure;
    s.cpu = {watch.at_end.user - watch.at_measure.user, watch.at_end.system - watch.at_measure.system};
    for (std::size_t i = 0; i < watch.threads_at_end.size() && i < watch.threads_at_measure.size(); ++i) {
        s.thread_busy.push_back(s.window_seconds > 0
                                    ? (watch.threads_at_end[i] - watch.threads_at_measure[i]) / s.window_seconds
                                    : 0);
    }
    s.timeline = std::move(watch.timeline);
    co_return s.errors() == 0 && !s.interrupted ? 0 : 1;
}

template <class Shard>
int run_with(ringlet::runtime& rt, const options& opts, plan& p, const pattern& bytes, summary& s) {
    std::vector<std::unique_ptr<Shard>> owned;
    std::vector<Shard*> shards;
    for (unsigned i = 0; i < opts.shards; ++i) {
        owned.push_back(std::make_unique<Shard>());
        owned.back()->index = i;
        owned.back()->run = &p;
        if constexpr (std::is_same_v<Shard, udp_shard_state>) owned.back()->bytes = &bytes;
        shards.push_back(owned.back().get());
    }
    return rt.run([&]() { return run(opts, shards, p, s); });
}

}  // namespace

int run_load(const options& opts, summary& s) {
    const pattern bytes{opts.size};  // --udp's datagrams
    const std::unique_ptr<stream_protocol> proto = opts.udp ? nullptr : make_protocol(opts);
    plan p;
    p.opts = &opts;
    p.proto = proto.get();
    p.depth = opts.effective_depth();
    p.vectored = proto && proto->vectored() && !opts.tls && !opts.new_connection;  // those copy into tx
    const std::size_t request_size = proto ? proto->max_request_size() : opts.size;
    s.protocol = proto ? proto->describe() : std::to_string(opts.size) + "-byte datagrams";
    // One write carries every request the window allows, up to 256 KiB (and
    // 512 tag + body pairs: IOV_MAX) so a batch never monopolises the shard.
    p.batch = std::max<std::size_t>(1, std::min<std::size_t>(p.depth, (256 * 1024) / std::max<std::size_t>(1, request_size)));
    if (p.vectored) p.batch = std::min<std::size_t>(p.batch, 512);
    if (opts.rate > 0) {
        p.interval_ns = std::max<std::int64_t>(1, static_cast<std::int64_t>(1e9 * opts.connections / opts.rate));
    }
    if (opts.udp) p.batch = std::min<std::size_t>(p.depth, 256);  // one send_batch: one datagram each
    s.depth = p.depth;
    s.open_loop = p.open_loop();
    ringlet::runtime rt{{.shards = opts.shards}};
    if (opts.udp) return run_with<udp_shard_state>(rt, opts, p, bytes, s);
    return run_with<shard_state>(rt, opts, p, bytes, s);
}

bool write_outputs(const options& opts, const summary& s) {
    bool ok = true;
    if (!opts.json.empty()) ok &= write_json(opts.json, s, opts);
    if (!opts.csv.empty()) ok &= write_csv(opts.csv, s);
    if (!opts.hgrm.empty()) ok &= write_hgrm(opts.hgrm, s.latency);
    if (!opts.plot.empty()) {
        const plot_series one{s.target, &s.latency, &s.timeline};
        ok &= write_plot(opts.plot, "ringlet_loadgen " + s.target, {&one, 1});
    }
    return ok;
}

}  // namespace loadgen

// ringlet_loadgen: a load generator for echo servers, built on ringlet.
//
//   build/tools/ringlet_loadgen 127.0.0.1:8000                        # 50 connections, 64 B, depth 1, 5 s
//   build/tools/ringlet_loadgen 127.0.0.1:8000 --depth 16 --size 1024 --duration 10 --json out.json
//   build/tools/ringlet_loadgen 127.0.0.1:8000 --rate 50000           # open loop, 50k requests/s offered
//   build/tools/ringlet_loadgen unix:/tmp/echo.sock --connections 1 --requests 100000 --warmup 0
//   build/tools/ringlet_loadgen 127.0.0.1:9000 --udp --connections 4 --depth 32 --size 1400
//
// Against build/examples/echo_server (or bench/epoll_echo_server); with --udp
// against build/examples/udp_echo_server (or bench/udp_mmsg_echo_server),
// counting lost datagrams (udp_engine.hpp says how). Once a
// second it prints a progress line on stderr; at the end a summary on stdout:
// requests/s and MB/s over the measured window (after --warmup), latency
// percentiles from an HDR-style histogram, its own CPU time per request
// (getrusage), how well it batched, and the errors. Every echoed byte is
// checked. Exit 0 when every request was answered correctly, 1 otherwise, 2
// on a bad argument. bench/echo_compare.sh and bench/udp_echo_compare.sh
// drive it against two servers.
//
// The run: connect every connection (spread over --shards threads), then
// run the timetable from one common start: warmup, measured window, drain
// (writers shut down their side, the server echoes what is in flight and
// closes), bounded by --grace. See engine.hpp for how one connection works.
#include "engine.hpp"
#include "options.hpp"
#include "report.hpp"
#include "udp_engine.hpp"

#include <ringlet/net/resolve.hpp>

#include <cstdio>
#include <exception>
#include <memory>

using namespace loadgen;
using namespace std::chrono_literals;
namespace net = ringlet::net;

namespace {

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

std::uint64_t live_lost(const shard_state&) { return 0; }
std::uint64_t live_lost(const udp_shard_state& s) { return s.stats.live_lost.load(std::memory_order_relaxed); }

template <class Shard>
bool all_done(const std::vector<Shard*>& shards) {
    for (const auto* s : shards) {
        if (!s->stats.done.load(std::memory_order_acquire)) return false;
    }
    return true;
}

/// Samples this process's CPU time at the start and the end of the window and
/// prints one line a second. Bounded by the plan's give_up time.
template <class Shard>
struct monitor {
    const plan& p;
    const std::vector<Shard*>& shards;
    bool progress;
    cpu_times at_measure;
    cpu_times at_end;
    bool measured = false;
    bool ended = false;

    void line(clock::time_point now, clock::time_point prev_time, std::uint64_t& prev) const {
        std::uint64_t responses = 0, errors = 0, lost = 0;
        for (const auto* s : shards) {
            responses += s->stats.live_responses.load(std::memory_order_relaxed);
            errors += s->stats.live_errors.load(std::memory_order_relaxed);
            lost += live_lost(*s);
        }
        const double dt = to_seconds(now - prev_time);
        const double rps = dt > 0 ? static_cast<double>(responses - prev) / dt : 0;
        const char* phase = now < p.measure ? "warmup" : now < p.end ? "run" : "drain";
        std::fprintf(stderr, "[%6.1fs] %-6s %10.0f requests/s %9.2f MB/s  errors %llu", to_seconds(now - p.start),
                     phase, rps, rps * static_cast<double>(p.opts->size) / 1e6, static_cast<unsigned long long>(errors));
        if (p.opts->udp) std::fprintf(stderr, "  lost %llu", static_cast<unsigned long long>(lost));
        std::fputc('\n', stderr);
        prev = responses;
    }

    ringlet::task<void> run() {
        auto tick = p.start + 1s;
        auto prev_time = p.start;
        std::uint64_t prev = 0;
        while (!all_done(shards)) {
            auto next = tick;
            if (!measured) next = std::min(next, p.measure);
            if (!ended) next = std::min(next, p.end);
            if (next > p.give_up + 2s) co_return;
            auto slept = co_await ringlet::sleep_until(next);
            if (!slept) co_return;
            const auto now = clock::now();
            if (!measured && now >= p.measure) {
                at_measure = cpu_times::now();
                measured = true;
            }
            if (!ended && now >= p.end) {
                at_end = cpu_times::now();
                ended = true;
            }
            if (now >= tick) {
                if (progress) line(now, prev_time, prev);
                prev_time = now;
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
ringlet::task<int> run(const options& opts, std::vector<Shard*>& shards, plan& p) {
    auto target = co_await target_of(opts.address);
    if (!target) co_return 1;
    p.target = *target;
    auto connected = co_await ringlet::invoke_on_all([&shards]() { return connect_shard(*shards[ringlet::this_shard::id()]); });
    for (std::size_t i = 0; i < connected.size(); ++i) {
        if (!connected[i]) {
            std::fprintf(stderr, "ringlet_loadgen: %s\n", shards[i]->stats.first_error.c_str());
            co_return 1;
        }
    }

    p.start = clock::now() + 1ms;
    p.measure = p.start + seconds(opts.warmup);
    p.end = p.measure + seconds(opts.duration);
    p.give_up = p.end + seconds(opts.grace);
    monitor<Shard> watch{p, shards, opts.progress, cpu_times::now(), {}};
    co_await ringlet::when_any(run_everywhere(shards), watch.run());
    const auto finished = clock::now();

    summary s;
    s.target = p.target.to_string();
    s.interrupted = ringlet::this_shard::stop_token().stop_requested();
    merge(s, shards);
    // A run cut short (quota, signal) is measured up to where it stopped.
    const auto window_end = std::min(finished, p.end);
    s.window_seconds = window_end > p.measure ? to_seconds(window_end - p.measure) : 0;
    if (!watch.measured) watch.at_measure = cpu_times::now();
    if (!watch.ended) watch.at_end = cpu_times::now();
    s.cpu = {watch.at_end.user - watch.at_measure.user, watch.at_end.system - watch.at_measure.system};
    print_summary(s, opts, p);
    if (!opts.json.empty() && !write_json(opts.json, s, opts, p)) co_return 1;
    co_return s.errors() == 0 && !s.interrupted ? 0 : 1;
}

template <class Shard>
int run_with(ringlet::runtime& rt, const options& opts, plan& p, const pattern& bytes) {
    std::vector<std::unique_ptr<Shard>> owned;
    std::vector<Shard*> shards;
    for (unsigned i = 0; i < opts.shards; ++i) {
        owned.push_back(std::make_unique<Shard>());
        owned.back()->index = i;
        owned.back()->run = &p;
        owned.back()->bytes = &bytes;
        shards.push_back(owned.back().get());
    }
    return rt.run([&]() { return run(opts, shards, p); });
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_options(argc, argv);
    if (auto a = net::address::parse(opts.address); a && a->family() != net::address_family::unix_path &&
                                                     a->family() != net::address_family::unix_abstract && a->port() == 0) {
        std::fprintf(stderr, "ringlet_loadgen: \"%s\" has port 0; give the server's port (try --help)\n",
                     opts.address.c_str());
        return 2;
    }
    const pattern bytes{opts.size};
    plan p;
    p.opts = &opts;
    p.depth = opts.effective_depth();
    p.vectored = opts.size > 4096;
    // One write carries every request the window allows, up to 256 KiB (and
    // 512 tag + body pairs: IOV_MAX) so a batch never monopolises the shard.
    p.batch = std::max<std::size_t>(1, std::min<std::size_t>(p.depth, (256 * 1024) / opts.size));
    if (p.vectored) p.batch = std::min<std::size_t>(p.batch, 512);
    if (opts.rate > 0) {
        p.interval_ns = std::max<std::int64_t>(1, static_cast<std::int64_t>(1e9 * opts.connections / opts.rate));
    }
    if (opts.udp) p.batch = std::min<std::size_t>(p.depth, 256);  // one send_batch: one datagram each
    try {
        ringlet::runtime rt{{.shards = opts.shards}};
        if (opts.udp) return run_with<udp_shard_state>(rt, opts, p, bytes);
        return run_with<shard_state>(rt, opts, p, bytes);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringlet_loadgen: %s\n", e.what());
        return 1;
    }
}

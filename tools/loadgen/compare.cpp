// Design notes
// - One process runs every round: the servers are children (server_process),
//   the load is run_load in this process with a fresh runtime per run, so
//   each run's figures (histograms, timeline, thread busy shares) arrive as
//   data, not as text to parse.
// - SIGINT/SIGTERM: outside a run a handler sets `interrupted`; during a run
//   the runtime takes them (signalfd) and ends the run early, which the
//   summary reports as interrupted. Either way the loop stops, the running
//   server is stopped by PID and the cgroup removed before exit.
// - Same-round ratios are A / B of the two runs of one round; the medians of
//   the ratios, not the ratio of the medians, are what the summary compares
//   (DESIGN.md: the host moves the vCPUs between rounds).
#include "compare.hpp"

#include "options.hpp"
#include "plot.hpp"
#include "report.hpp"
#include "run.hpp"
#include "server_process.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {
namespace {

constexpr const char* usage = R"(usage: ringlet_loadgen compare --a 'CMD' --b 'CMD' [options] [load options]

Runs two servers alternately (A B A B ...), the same load against each, and
reports per round and as medians: requests/s, their same-round ratio A / B,
the server's CPU time per request and its ratio, p99, and whether the load
generator itself was saturated.

  --a CMD, --b CMD    server commands, run as sh -c 'exec CMD'. A server
                      prints `listening on ADDRESS` (use port 0); or put
                      {port} in CMD and a free port is substituted and
                      127.0.0.1:PORT polled until it accepts
  --a-name N, --b-name N   labels (default A and B)
  --rounds N          rounds (default 3, at most 50)
  --quota CPUS        run the servers in a cgroup CPU quota of CPUS
                      (e.g. 0.5; needs root), created and removed here
  --server-cpus LIST  CPUs for the server (default 0 when there are 2+)
  --loadgen-cpus LIST CPUs for the load generator (default 1 when 2+)
  --realtime          SCHED_FIFO priority 10 for both sides (root); with
                      --quota only the load generator (a cgroup-v1 quota
                      group has no RT budget, and the quota is the limit)
  --nice N            niceness for both sides (-20..19)
  --start-timeout S   seconds a server may take to be ready (default 10)
  --stop-grace S      seconds between SIGTERM and SIGKILL (default 5)
  --logs DIR          keep the servers' output in DIR (default: a temporary
                      directory, removed unless a server failed)
  --json FILE         everything, with each run's timeline, as JSON
  --plot FILE.svg     both servers' latency spectra and timelines
  --progress          the live progress line during each run (default:
                      only on a terminal); --quiet: never

Load options (see ringlet_loadgen --help): --connections --depth --size
--duration --warmup --requests --rate --tick --grace --shards --udp
--udp-timeout. With --rate the servers are compared on CPU per request.
)";

volatile bool interrupted = false;
extern "C" void on_signal(int) { interrupted = true; }

struct compare_options {
    options load;
    std::string command[2], name[2] = {"A", "B"};
    unsigned rounds = 3;
    double quota = 0;
    std::vector<int> server_cpus, loadgen_cpus;
    bool realtime = false;
    int nice = 0;
    double start_timeout = 10, stop_grace = 5;
    std::string logs;
    bool progress_set = false;
};

double number(std::string_view flag, const char* text, double low, double high) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !std::isfinite(v) || v < low || v > high) {
        usage_error(std::string(flag) + " \"" + text + "\" is not a number from " + std::to_string(low) + " to " +
                    std::to_string(high));
    }
    return v;
}

compare_options parse(int argc, char** argv) {
    compare_options c;
    c.load.progress = isatty(STDERR_FILENO) == 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 == argc) usage_error("compare: " + std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--a") {
            c.command[0] = value();
        } else if (arg == "--b") {
            c.command[1] = value();
        } else if (arg == "--a-name") {
            c.name[0] = value();
        } else if (arg == "--b-name") {
            c.name[1] = value();
        } else if (arg == "--rounds") {
            c.rounds = static_cast<unsigned>(number(arg, value(), 1, 50));
        } else if (arg == "--quota") {
            c.quota = number(arg, value(), 0.01, 1024);
        } else if (arg == "--server-cpus" || arg == "--loadgen-cpus") {
            const char* text = value();
            auto cpus = parse_cpu_list(text);
            if (cpus.empty()) usage_error(std::string(arg) + " \"" + text + "\" is not a list of this machine's CPUs");
            (arg == "--server-cpus" ? c.server_cpus : c.loadgen_cpus) = cpus;
        } else if (arg == "--realtime") {
            c.realtime = true;
        } else if (arg == "--nice") {
            c.nice = static_cast<int>(number(arg, value(), -20, 19));
        } else if (arg == "--start-timeout") {
            c.start_timeout = number(arg, value(), 0.1, 600);
        } else if (arg == "--stop-grace") {
            c.stop_grace = number(arg, value(), 0.1, 600);
        } else if (arg == "--logs") {
            c.logs = value();
        } else if (arg == "--progress") {
            c.load.progress = true;
            c.progress_set = true;
        } else if (arg == "--csv" || arg == "--hgrm") {
            usage_error("compare: " + std::string(arg) + " is for a single run; compare writes --json and --plot");
        } else if (parse_load_option(c.load, argc, argv, i)) {
            continue;
        } else {
            usage_error("compare: unknown argument \"" + std::string(arg) + "\"");
        }
    }
    if (c.command[0].empty() || c.command[1].empty()) usage_error("compare needs both --a CMD and --b CMD");
    check_load_options(c.load);
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus >= 2) {
        if (c.server_cpus.empty()) c.server_cpus = {0};
        if (c.loadgen_cpus.empty()) c.loadgen_cpus = {1};
    } else {
        std::fprintf(stderr, "ringlet_loadgen: compare: fewer than 2 CPUs: server and load generator are not pinned\n");
    }
    return c;
}

/// One run: one server, one round.
struct run_record {
    bool started = false;
    int status = 1;                 // run_load's
    std::string failure;            // why it did not run or failed
    summary s;
    double server_cpu = 0;          // seconds, from before the load to after it
    double wall = 0;                // seconds the load took, connect to drain
    int server_exit = -1;

    [[nodiscard]] double cpu_per_request_us() const {
        return s.total_responses ? server_cpu * 1e6 / static_cast<double>(s.total_responses) : 0;
    }
    /// --udp: datagrams unanswered within the timeout / datagrams sent.
    [[nodiscard]] double loss_ratio() const {
        return s.total_sent ? static_cast<double>(s.lost) / static_cast<double>(s.total_sent) : 0;
    }
    [[nodiscard]] double loadgen_cpu_per_request_us() const {
        return s.window_responses ? s.cpu.total() * 1e6 / static_cast<double>(s.window_responses) : 0;
    }
};

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
    return text;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

run_record run_one(const compare_options& c, int side, unsigned round, const cpu_quota* quota) {
    run_record r;
    std::string command = c.command[side], connect_to;
    if (command.find("{port}") != std::string::npos) {
        const int port = free_port();
        command = replace_all(command, "{port}", std::to_string(port));
        connect_to = "127.0.0.1:" + std::to_string(port);
    }
    launch_options how;
    how.cpus = c.server_cpus;
    how.quota = quota;
    how.realtime = c.realtime;
    how.nice = c.nice;
    how.log = c.logs + "/round" + std::to_string(round) + "-" + (side == 0 ? "a" : "b") + ".log";
    server_process server;
    if (!server.start(command, how, r.failure)) return r;
    const std::string address = server.wait_ready(connect_to, c.start_timeout, interrupted, r.failure);
    if (address.empty()) {
        r.server_exit = server.stop(c.stop_grace);
        r.failure = c.name[side] + " did not start: " + r.failure;
        return r;
    }
    r.started = true;
    options load = c.load;
    load.address = address;
    load.json.clear();
    load.plot.clear();
    const double before = server.cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    try {
        r.status = run_load(load, r.s);
    } catch (const std::exception& e) {
        r.failure = e.what();
        r.status = 1;
    }
    r.wall = seconds_since(t0);
    r.server_cpu = server.cpu_seconds() - before;
    r.server_exit = server.stop(c.stop_grace);
    if (r.s.interrupted) interrupted = true;
    // Killed by the SIGTERM itself (no handler) is a way to stop; anything else is a failure.
    if (r.server_exit > 0 && r.server_exit != 128 + SIGTERM && r.status == 0) {
        r.status = 1;
        r.failure = c.name[side] + " exited " + std::to_string(r.server_exit) + " on SIGTERM (its output: " + how.log + ")";
    }
    if (r.status != 0 && r.failure.empty()) {
        r.failure = r.s.first_error.empty() ? "the load generator reported errors" : r.s.first_error;
    }
    return r;
}

std::optional<double> median(std::vector<double> v) {
    if (v.empty()) return std::nullopt;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fmt(std::optional<double> v, const char* format) {
    if (!v) return "-";
    char text[64];
    std::snprintf(text, sizeof text, format, *v);
    return text;
}

std::string with_commas(double v) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%.0f", v);
    std::string s = digits, out;
    const std::size_t lead = s[0] == '-' ? 1 : 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i > lead && (s.size() - i) % 3 == 0) out += ',';
        out += s[i];
    }
    return out;
}

struct round_pair {
    run_record run[2];
    [[nodiscard]] bool complete() const { return run[0].started && run[1].started && run[0].status == 0 && run[1].status == 0; }
    [[nodiscard]] std::optional<double> ratio() const {
        const double a = run[0].s.requests_per_second(), b = run[1].s.requests_per_second();
        if (!complete() || b <= 0) return std::nullopt;
        return a / b;
    }
    [[nodiscard]] std::optional<double> cpu_ratio() const {
        const double a = run[0].cpu_per_request_us(), b = run[1].cpu_per_request_us();
        if (!complete() || b <= 0) return std::nullopt;
        return a / b;
    }
};

std::string cpu_list(const std::vector<int>& cpus) {
    std::string out;
    for (const int c : cpus) {
        if (!out.empty()) out += ',';
        out += std::to_string(c);
    }
    return out.empty() ? "any" : out;
}

std::string first_line_of(const char* path, const char* prefix) {
    std::FILE* f = std::fopen(path, "r");
    if (!f) return {};
    char line[512];
    std::string out;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, prefix, std::strlen(prefix)) == 0) {
            out = line;
            break;
        }
    }
    std::fclose(f);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string cpu_model() {
    const std::string line = first_line_of("/proc/cpuinfo", "model name");
    const auto colon = line.find(": ");
    return colon == std::string::npos ? "unknown CPU" : line.substr(colon + 2);
}

std::string load_average() {
    std::string line = first_line_of("/proc/loadavg", "");
    for (int spaces = 0, i = 0; i < static_cast<int>(line.size()); ++i) {
        if (line[static_cast<std::size_t>(i)] == ' ' && ++spaces == 3) return line.substr(0, static_cast<std::size_t>(i));
    }
    return line;
}

void print_run(const compare_options& c, int side, unsigned round, const run_record& r) {
    if (!r.started || (r.status != 0 && r.s.window_responses == 0)) {
        std::printf("round %u %s (%s): FAILED: %s\n", round, side == 0 ? "A" : "B", c.name[side].c_str(), r.failure.c_str());
        std::fflush(stdout);
        return;
    }
    const std::string warning = r.s.saturation_warning(c.load);
    std::printf("round %u %s (%s): %s requests/s, p99 %.1f µs, server %.2f µs CPU/request (%.0f %% busy), "
                "loadgen busiest thread %.0f %%%s%s%s%s\n",
                round, side == 0 ? "A" : "B", c.name[side].c_str(), with_commas(r.s.requests_per_second()).c_str(),
                static_cast<double>(r.s.latency.quantile(0.99)) / 1e3, r.cpu_per_request_us(),
                r.wall > 0 ? 100 * r.server_cpu / r.wall : 0, 100 * r.s.busiest(),
                c.load.udp ? (", loss " + fmt(100 * r.loss_ratio(), "%.2f") + " %" + (r.loss_ratio() > 0.01 ? " [LOSSY]" : "")).c_str()
                           : "",
                warning.empty() ? "" : " [SATURATED]",
                r.s.interrupted ? " [interrupted]" : r.status != 0 ? (" [ERRORS: " + r.failure + "]").c_str() : "",
                r.server_exit > 0 ? (" [the server exited " + std::to_string(r.server_exit) + " on SIGTERM]").c_str() : "");
    std::fflush(stdout);
}

std::string run_json(const compare_options& c, const run_record& r) {
    char text[1024];
    const histogram& h = r.s.latency;
    const std::string warning = r.s.saturation_warning(c.load);
    std::snprintf(text, sizeof text,
                  "{\"started\": %s, \"status\": %d, \"requests_per_second\": %.1f, \"window_responses\": %llu, "
                  "\"total_responses\": %llu, \"errors\": %llu, \"server_cpu_seconds\": %.4f, \"wall_seconds\": %.3f, "
                  "\"server_cpu_us_per_request\": %.4f, \"server_busy\": %.4f, \"loadgen_cpu_us_per_request\": %.4f, "
                  "\"loadgen_busiest\": %.4f, \"achieved_ratio\": %.4f, \"loadgen_saturated\": %s, "
                  "\"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p99_9\": %.1f, \"max\": %.1f}, "
                  "\"server_exit\": %d, ",
                  r.started ? "true" : "false", r.status, r.s.requests_per_second(),
                  static_cast<unsigned long long>(r.s.window_responses),
                  static_cast<unsigned long long>(r.s.total_responses), static_cast<unsigned long long>(r.s.errors()),
                  r.server_cpu, r.wall, r.cpu_per_request_us(), r.wall > 0 ? r.server_cpu / r.wall : 0,
                  r.loadgen_cpu_per_request_us(), r.s.busiest(), r.s.achieved_ratio(c.load),
                  warning.empty() ? "false" : "true", static_cast<double>(h.quantile(0.5)) / 1e3,
                  static_cast<double>(h.quantile(0.9)) / 1e3, static_cast<double>(h.quantile(0.99)) / 1e3,
                  static_cast<double>(h.quantile(0.999)) / 1e3, static_cast<double>(h.max()) / 1e3, r.server_exit);
    return std::string(text) + "\"lost\": " + std::to_string(r.s.lost) + ", \"loss_ratio\": " + std::to_string(r.loss_ratio()) +
           ", \"saturation_warning\": " + json_string(warning) +
           ", \"failure\": " + json_string(r.failure) + ", \"timeline\": " + timeline_json(r.s.timeline, "        ") + "}";
}

struct medians {
    std::optional<double> rps[2], cpu[2], ratio, ratio_min, ratio_max, cpu_ratio, cpu_ratio_min, cpu_ratio_max;
};

medians summarise(const std::vector<round_pair>& rounds) {
    medians m;
    std::vector<double> rps[2], cpu[2], ratio, cpu_ratio;
    for (const auto& r : rounds) {
        for (int k = 0; k < 2; ++k) {
            if (!r.complete()) continue;
            rps[k].push_back(r.run[k].s.requests_per_second());
            cpu[k].push_back(r.run[k].cpu_per_request_us());
        }
        if (auto v = r.ratio()) ratio.push_back(*v);
        if (auto v = r.cpu_ratio()) cpu_ratio.push_back(*v);
    }
    for (int k = 0; k < 2; ++k) {
        m.rps[k] = median(rps[k]);
        m.cpu[k] = median(cpu[k]);
    }
    m.ratio = median(ratio);
    m.cpu_ratio = median(cpu_ratio);
    if (!ratio.empty()) {
        m.ratio_min = *std::min_element(ratio.begin(), ratio.end());
        m.ratio_max = *std::max_element(ratio.begin(), ratio.end());
    }
    if (!cpu_ratio.empty()) {
        m.cpu_ratio_min = *std::min_element(cpu_ratio.begin(), cpu_ratio.end());
        m.cpu_ratio_max = *std::max_element(cpu_ratio.begin(), cpu_ratio.end());
    }
    return m;
}

void print_table(const compare_options& c, const std::vector<round_pair>& rounds, const medians& m) {
    const char* a = c.name[0].c_str();
    const char* b = c.name[1].c_str();
    std::printf("\n%-6s %14s %14s %7s  %21s %7s  %19s  %s\n", "round", a, b, "ratio", "server µs/req A / B", "ratio",
                "p99 µs A / B", "loadgen busy A / B");
    bool any_saturated = false;
    for (std::size_t i = 0; i < rounds.size(); ++i) {
        const auto& r = rounds[i];
        const bool sat = !r.run[0].s.saturation_warning(c.load).empty() || !r.run[1].s.saturation_warning(c.load).empty();
        any_saturated |= sat;
        char cpu[64], p99[64], busy[64];
        std::snprintf(cpu, sizeof cpu, "%.2f / %.2f", r.run[0].cpu_per_request_us(), r.run[1].cpu_per_request_us());
        std::snprintf(p99, sizeof p99, "%.1f / %.1f", static_cast<double>(r.run[0].s.latency.quantile(0.99)) / 1e3,
                      static_cast<double>(r.run[1].s.latency.quantile(0.99)) / 1e3);
        std::snprintf(busy, sizeof busy, "%.0f %% / %.0f %%", 100 * r.run[0].s.busiest(), 100 * r.run[1].s.busiest());
        std::printf("%-6zu %14s %14s %6s%s  %21s %7s  %19s  %s%s\n", i + 1,
                    with_commas(r.run[0].s.requests_per_second()).c_str(),
                    with_commas(r.run[1].s.requests_per_second()).c_str(), fmt(r.ratio(), "%.3f").c_str(),
                    sat ? "*" : " ", cpu, fmt(r.cpu_ratio(), "%.3f").c_str(), p99, busy,
                    r.complete() ? "" : "  (failed)");
    }
    std::printf("%-6s %14s %14s %6s   %21s %7s\n", "median", m.rps[0] ? with_commas(*m.rps[0]).c_str() : "-",
                m.rps[1] ? with_commas(*m.rps[1]).c_str() : "-", fmt(m.ratio, "%.3f").c_str(),
                (fmt(m.cpu[0], "%.2f") + " / " + fmt(m.cpu[1], "%.2f")).c_str(), fmt(m.cpu_ratio, "%.3f").c_str());
    std::printf("\nrequests/s %s / %s: median same-round ratio %s (rounds %s–%s)\n", a, b, fmt(m.ratio, "%.3f").c_str(),
                fmt(m.ratio_min, "%.3f").c_str(), fmt(m.ratio_max, "%.3f").c_str());
    std::printf("server CPU per request %s / %s: median same-round ratio %s (rounds %s–%s; lower is better)\n", a, b,
                fmt(m.cpu_ratio, "%.3f").c_str(), fmt(m.cpu_ratio_min, "%.3f").c_str(),
                fmt(m.cpu_ratio_max, "%.3f").c_str());
    if (c.load.rate > 0) std::printf("compared at a fixed offered rate: the CPU ratio is the figure to read\n");
    if (any_saturated) {
        std::printf("* the load generator was saturated in that round (a thread >= 90 %% busy, or under 95 %% of "
                    "--rate achieved): the figures may be its limit, which pulls the ratio towards 1\n");
        for (std::size_t i = 0; i < rounds.size(); ++i) {
            for (int k = 0; k < 2; ++k) {
                const std::string w = rounds[i].run[k].s.saturation_warning(c.load);
                if (!w.empty()) std::printf("  round %zu %s: %s\n", i + 1, c.name[k].c_str(), w.c_str());
            }
        }
    }
}

bool write_compare_json(const std::string& path, const compare_options& c, const std::vector<round_pair>& rounds,
                        const medians& m, const std::string& machine) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::perror(("ringlet_loadgen: " + path).c_str());
        return false;
    }
    auto opt = [](std::optional<double> v) { return v ? std::to_string(*v) : std::string("null"); };
    std::fprintf(f, "{\n  \"machine\": %s,\n", machine.c_str());
    std::fprintf(f, "  \"a\": {\"name\": %s, \"command\": %s},\n  \"b\": {\"name\": %s, \"command\": %s},\n",
                 json_string(c.name[0]).c_str(), json_string(c.command[0]).c_str(), json_string(c.name[1]).c_str(),
                 json_string(c.command[1]).c_str());
    std::fprintf(f,
                 "  \"config\": {\"rounds\": %u, \"quota_cpus\": %.3f, \"server_cpus\": %s, \"loadgen_cpus\": %s, "
                 "\"realtime\": %s, \"nice\": %d, \"connections\": %u, \"depth\": %u, \"size\": %zu, \"duration\": %.3f, "
                 "\"warmup\": %.3f, \"rate\": %.1f, \"shards\": %u, \"udp\": %s},\n",
                 c.rounds, c.quota, json_string(cpu_list(c.server_cpus)).c_str(),
                 json_string(cpu_list(c.loadgen_cpus)).c_str(), c.realtime ? "true" : "false", c.nice,
                 c.load.connections, c.load.effective_depth(), c.load.size, c.load.duration, c.load.warmup, c.load.rate,
                 c.load.shards, c.load.udp ? "true" : "false");
    std::fprintf(f, "  \"rounds\": [");
    for (std::size_t i = 0; i < rounds.size(); ++i) {
        const auto& r = rounds[i];
        std::fprintf(f, "%s\n    {\"round\": %zu, \"ratio\": %s, \"cpu_ratio\": %s,\n     \"a\": %s,\n     \"b\": %s}",
                     i ? "," : "", i + 1, opt(r.ratio()).c_str(), opt(r.cpu_ratio()).c_str(), run_json(c, r.run[0]).c_str(),
                     run_json(c, r.run[1]).c_str());
    }
    std::fprintf(f, "\n  ],\n");
    std::fprintf(f,
                 "  \"median_a_requests_per_second\": %s,\n  \"median_b_requests_per_second\": %s,\n"
                 "  \"median_ratio\": %s,\n  \"ratio_min\": %s,\n  \"ratio_max\": %s,\n"
                 "  \"median_a_server_cpu_us_per_request\": %s,\n  \"median_b_server_cpu_us_per_request\": %s,\n"
                 "  \"median_cpu_ratio\": %s,\n  \"cpu_ratio_min\": %s,\n  \"cpu_ratio_max\": %s,\n  \"interrupted\": %s\n}\n",
                 opt(m.rps[0]).c_str(), opt(m.rps[1]).c_str(), opt(m.ratio).c_str(), opt(m.ratio_min).c_str(),
                 opt(m.ratio_max).c_str(), opt(m.cpu[0]).c_str(), opt(m.cpu[1]).c_str(), opt(m.cpu_ratio).c_str(),
                 opt(m.cpu_ratio_min).c_str(), opt(m.cpu_ratio_max).c_str(), interrupted ? "true" : "false");
    bool ok = std::ferror(f) == 0;
    ok = std::fclose(f) == 0 && ok;
    if (!ok) std::perror(("ringlet_loadgen: " + path).c_str());
    return ok;
}

bool write_compare_plot(const std::string& path, const compare_options& c, const std::vector<round_pair>& rounds) {
    histogram merged[2];
    std::vector<second_row> timeline[2];
    for (int k = 0; k < 2; ++k) {
        double offset = 0;
        for (const auto& r : rounds) {
            const run_record& run = r.run[k];
            if (!run.started) continue;
            merged[k].merge(run.s.latency);
            for (second_row row : run.s.timeline) {
                row.at += offset;
                timeline[k].push_back(row);
            }
            if (!run.s.timeline.empty()) offset += run.s.timeline.back().at;
        }
    }
    const plot_series series[2] = {{c.name[0], &merged[0], &timeline[0]}, {c.name[1], &merged[1], &timeline[1]}};
    return write_plot(path, "compare: " + c.name[0] + " vs " + c.name[1] + " (" + std::to_string(rounds.size()) +
                                " rounds, latency of all rounds merged)",
                      series);
}

/// Pins this process (and the runtime threads it will start) and sets its priority.
void place_self(const compare_options& c) {
    if (!c.loadgen_cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (const int cpu : c.loadgen_cpus) CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            std::fprintf(stderr, "ringlet_loadgen: compare: sched_setaffinity to CPUs %s: %s\n",
                         cpu_list(c.loadgen_cpus).c_str(), std::strerror(errno));
        }
    }
    if (c.nice != 0 && setpriority(PRIO_PROCESS, 0, c.nice) != 0) {
        std::fprintf(stderr, "ringlet_loadgen: compare: setpriority %d: %s\n", c.nice, std::strerror(errno));
    }
    if (c.realtime) {
        sched_param prio{};
        prio.sched_priority = 10;
        if (sched_setscheduler(0, SCHED_FIFO, &prio) != 0) {
            std::fprintf(stderr, "ringlet_loadgen: compare: SCHED_FIFO: %s (needs root)\n", std::strerror(errno));
        }
    }
}

}  // namespace

int compare_main(int argc, char** argv) {
    compare_options c = parse(argc, argv);
    struct sigaction act {};
    act.sa_handler = on_signal;
    sigemptyset(&act.sa_mask);
    sigaction(SIGINT, &act, nullptr);
    sigaction(SIGTERM, &act, nullptr);

    bool temporary_logs = false;
    if (c.logs.empty()) {
        char dir[] = "/tmp/ringlet_loadgen-compare-XXXXXX";
        if (!mkdtemp(dir)) {
            std::perror("ringlet_loadgen: mkdtemp");
            return 1;
        }
        c.logs = dir;
        temporary_logs = true;
    } else if (mkdir(c.logs.c_str(), 0755) != 0 && errno != EEXIST) {
        std::perror(("ringlet_loadgen: " + c.logs).c_str());
        return 1;
    }

    cpu_quota quota;
    if (c.quota > 0) {
        std::string error;
        if (!quota.create(c.quota, error)) {
            std::fprintf(stderr, "ringlet_loadgen: compare: --quota %.2f: %s\n", c.quota, error.c_str());
            return 1;
        }
    }
    place_self(c);

    utsname u{};
    uname(&u);
    const std::string machine_text = std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs (" + cpu_model() + "), " +
                                     u.sysname + " " + u.release;
    const std::string load_start = load_average();
    std::printf("machine: %s, load average %s\n", machine_text.c_str(), load_start.c_str());
    std::printf("A = %s: %s\nB = %s: %s\n", c.name[0].c_str(), c.command[0].c_str(), c.name[1].c_str(),
                c.command[1].c_str());
    std::printf("%u round(s), servers on CPU %s%s, load generator on CPU %s; %u connections, depth %u, %zu B, %s, "
                "%.1f s (+%.1f s warm-up)%s%s\n",
                c.rounds, cpu_list(c.server_cpus).c_str(),
                c.quota > 0 ? (" in a quota of " + fmt(c.quota, "%.2f") + " CPU (" + quota.path() + ")").c_str() : "",
                cpu_list(c.loadgen_cpus).c_str(), c.load.connections, c.load.effective_depth(), c.load.size,
                c.load.rate > 0 ? ("open loop at " + with_commas(c.load.rate) + " requests/s").c_str() : "closed loop",
                c.load.duration, c.load.warmup, !c.realtime ? "" : c.quota > 0 ? ", SCHED_FIFO (load generator; the servers in the quota stay SCHED_OTHER)" : ", SCHED_FIFO", c.load.udp ? ", UDP" : "");
    std::fflush(stdout);

    std::vector<round_pair> rounds;
    bool failed = false;
    for (unsigned round = 1; round <= c.rounds && !interrupted; ++round) {
        round_pair pair;
        for (int side = 0; side < 2 && !interrupted; ++side) {
            pair.run[side] = run_one(c, side, round, c.quota > 0 ? &quota : nullptr);
            print_run(c, side, round, pair.run[side]);
            if (!pair.run[side].started || pair.run[side].status != 0) failed = true;
        }
        rounds.push_back(std::move(pair));
    }
    const long long throttled = quota.throttled();
    quota.remove();

    const medians m = summarise(rounds);
    print_table(c, rounds, m);
    if (c.quota > 0 && throttled >= 0) std::printf("the quota throttled the servers %lld times\n", throttled);
    const std::string load_end = load_average();
    std::printf("load average at the end: %s (other work on the machine distorts the figures)\n", load_end.c_str());
    const std::string machine = "{\"description\": " + json_string(machine_text) + ", \"cpu_model\": " +
                                json_string(cpu_model()) + ", \"load_average_start\": " + json_string(load_start) +
                                ", \"load_average_end\": " + json_string(load_end) + "}";
    if (!c.load.json.empty() && !write_compare_json(c.load.json, c, rounds, m, machine)) failed = true;
    if (!c.load.plot.empty()) {
        if (write_compare_plot(c.load.plot, c, rounds)) std::printf("wrote %s\n", c.load.plot.c_str());
        else failed = true;
    }
    if (interrupted) std::printf("interrupted: the figures cover the rounds up to the signal\n");
    if (temporary_logs) {
        if (failed) {
            std::printf("the servers' output is kept in %s\n", c.logs.c_str());
        } else {
            for (unsigned round = 1; round <= c.rounds; ++round) {
                for (const char* side : {"a", "b"}) {
                    (void)std::remove((c.logs + "/round" + std::to_string(round) + "-" + side + ".log").c_str());
                }
            }
            (void)rmdir(c.logs.c_str());
        }
    }
    return failed || interrupted ? 1 : 0;
}

}  // namespace loadgen

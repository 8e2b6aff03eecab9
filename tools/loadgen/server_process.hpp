// A server under test, started and stopped by the compare subcommand, and
// the CPU quota it may run in. Blocking, plain POSIX: this runs between load
// runs, never on a shard.
//
// Thread safety: none; used by the compare subcommand's one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace loadgen {

/// CPU seconds process `pid` has used, all its threads: the sum of
/// /proc/PID/task/*/schedstat (exact, but a thread that exited takes its time
/// with it) unless /proc/PID/stat utime + stime (clock ticks) shows more.
/// 0 when the process cannot be read.
double process_cpu_seconds(pid_t pid);

/// Parses a CPU list ("1", "0,2", "2-3"); empty when malformed or out of range.
std::vector<int> parse_cpu_list(const std::string& text);

/// A cgroup limiting its members to `cpus` CPUs (cgroup v2 cpu.max, or v1
/// cpu.cfs_quota_us under /sys/fs/cgroup/cpu), created by create() and
/// removed by the destructor (or remove()) once its processes have exited.
class cpu_quota {
public:
    cpu_quota() = default;
    cpu_quota(const cpu_quota&) = delete;
    cpu_quota& operator=(const cpu_quota&) = delete;
    ~cpu_quota() { remove(); }

    /// Creates the group; false with a message naming the path and errno in `error`.
    bool create(double cpus, std::string& error);
    /// The file a process writes "0" into to join (empty when not created).
    [[nodiscard]] const std::string& procs_file() const noexcept { return procs_; }
    [[nodiscard]] const std::string& path() const noexcept { return dir_; }
    /// Times the group was throttled so far (cpu.stat nr_throttled), or -1.
    [[nodiscard]] long long throttled() const;
    /// Removes the group (rmdir); a no-op when there is none. Idempotent.
    void remove() noexcept;

private:
    std::string dir_, procs_;
};

/// How the server's process is set up before exec.
struct launch_options {
    std::vector<int> cpus;           ///< sched_setaffinity; empty = not pinned
    const cpu_quota* quota = nullptr;  ///< join this cgroup (when created)
    bool realtime = false;           ///< SCHED_FIFO priority 10
    int nice = 0;                    ///< setpriority and the session's autogroup niceness
    std::string log;                 ///< stdout and stderr go here (truncated)
};

/// A running server: `sh -c 'exec CMD'` in its own session.
class server_process {
public:
    server_process() = default;
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;
    ~server_process() { stop(1.0); }

    /// Forks and execs; false with the reason in `error` (fork failed).
    bool start(const std::string& command, const launch_options& how, std::string& error);
    /// Waits until the server prints `listening on ADDRESS` (when `connect_to`
    /// is empty) or accepts a TCP connection on `connect_to`; returns the
    /// address, or empty with the reason in `error` (exited, timed out,
    /// `interrupted` became true).
    std::string wait_ready(const std::string& connect_to, double timeout_s, const volatile bool& interrupted,
                           std::string& error);
    /// CPU seconds the server has used so far (process_cpu_seconds).
    [[nodiscard]] double cpu_seconds() const { return pid_ > 0 ? process_cpu_seconds(pid_) : 0; }
    /// SIGTERM, then SIGKILL to its process group after `grace_s`; reaps it.
    /// Returns its exit status as a shell reports it (128 + signal when killed),
    /// -1 when none was running.
    int stop(double grace_s);
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

private:
    pid_t pid_ = -1;
    std::string log_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, closed).
int free_port();

}  // namespace loadgen

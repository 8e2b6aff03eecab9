// ringlet_loadgen compare: two servers measured interleaved, the only honest
// comparison on a small, noisy machine (../shared/DESIGN.md, "Measuring on
// two vCPUs").
//
//   ringlet_loadgen compare --a 'build/examples/echo_server 127.0.0.1:0 --shards 1'
//       --b 'build/bench/epoll_echo_server 127.0.0.1:0' --a-name ringlet --b-name epoll
//       --rounds 3 --quota 0.5 --connections 50 --depth 16 --duration 3 --json out.json --plot out.svg
//   ringlet_loadgen compare --a 'redis-server --port {port} --save ""' --b '...' ...   # {port}: a free port
//
// For each round it runs A, then B (A B A B …). Each run: the server command
// is started with /bin/sh -c 'exec CMD' in a session of its own, pinned to
// --server-cpus (sched_setaffinity in the child), optionally inside a CPU
// quota (a cgroup created for the whole comparison and removed after it,
// also on error and on SIGINT/SIGTERM), with its output in a log file; its
// address is the `listening on ADDRESS` line it prints, or, when the command
// holds {port}, 127.0.0.1:PORT with a free port substituted, once it
// accepts connections. The load runs in this process, pinned to
// --loadgen-cpus. The server's CPU time (/proc/PID/task/*/schedstat, with
// /proc/PID/stat utime + stime as the fallback) is sampled before and after
// the load; then the server is stopped by PID: SIGTERM, SIGKILL to its
// process group after --stop-grace seconds.
//
// It prints each run as it ends, then per round both servers' requests/s,
// their same-round ratio (A / B), server CPU per request (µs, warm-up
// included) and its ratio, p99s and the generator's saturation flags; then
// the medians, the median of the same-round ratios and their spread
// (min–max). --json writes it all (with each run's timeline), --plot one SVG
// with both servers. Exit 0 when every run succeeded, 1 when a server did
// not start or the load reported errors, 2 on a bad argument.
#pragma once

namespace loadgen {

/// The compare subcommand; argv[0] is "compare". Returns the exit status.
int compare_main(int argc, char** argv);

}  // namespace loadgen

#!/usr/bin/env bash
# Compares ringlet's UDP echo server with a plain recvmmsg/sendmmsg one, interleaved.
#
#   bench/udp_echo_compare.sh                  # 2 scenarios × 3 rounds × 2 servers, 5 s each (~1 min)
#   bench/udp_echo_compare.sh --quick          # smoke run: 1 round of 1 s per scenario
#   bench/udp_echo_compare.sh --rounds 5 --duration 10 --only 1400
#   bench/udp_echo_compare.sh --nice -20       # as root: run both sides ahead of other work
#   bench/udp_echo_compare.sh --realtime       # as root: SCHED_FIFO, ahead of everything else
#   bench/udp_echo_compare.sh --quota 0.5      # as root: the server in a 0.5-CPU cgroup (see echo_compare.sh)
#   BUILD_DIR=somewhere bench/udp_echo_compare.sh --out results/
#
# It is bench/echo_compare.sh --udp: the same harness, options and report.
#
# Builds (in BUILD_DIR, default build-bench/, a release build set up like
# bench/run_core_bench.sh does) examples/udp_echo_server,
# bench/udp_mmsg_echo_server and tools/ringlet_loadgen. Then, per scenario
# and round, it runs ringlet's server and the baseline one after the other
# (A B A B …), both the same way: the server pinned to CPU 0 (ringlet's with
# `--shards 1`), the load generator (`--udp`) to CPU 1, the same sockets,
# depth and sizes. Each server is started on 127.0.0.1:0, read from its
# `listening on` line, stopped with SIGTERM by PID and waited for.
#
# Scenarios (issue 4 item 6: echoed datagrams/s at peak):
#   64      64 B datagrams, 4 sockets × 32 in flight
#   1400    1400 B datagrams, 4 sockets × 32 in flight
# 128 datagrams in flight keep a single-threaded server busy (its socket is
# never empty while it works) but stay within what the server socket's
# default receive buffer (net.core.rmem_default, 208 KiB) queues, so the
# figures are throughput rather than loss. Loss is still counted (a datagram
# unanswered for 200 ms is lost and replaced) and printed per round; a
# round with more than 1 % loss is flagged.
# Server CPU time is what the server's threads ran (/proc/PID/task/*/schedstat,
# in ns; /proc/PID/stat utime + stime as a cross-check) from before the load
# generator starts to after it ends, divided by the datagrams it echoed
# (warm-up included).
#
# It prints, per scenario, each round's figure for both servers and their
# same-round ratio (ringlet / baseline), then the medians of both and the
# median of the ratios, and writes everything as one JSON file under the
# results directory. On these 2-vCPU VMs single runs swing by 30 % and more
# as the host moves the vCPUs: only the same-round ratios mean much; see
# bench/echo_compare.sh on --nice and --realtime.
# Exit status: 0, or 1 when a run failed (a server did not start, or the load
# generator reported errors: its output is kept in the results directory).
set -euo pipefail
exec "$(dirname "$0")/echo_compare.sh" --udp "$@"

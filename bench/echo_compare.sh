#!/usr/bin/env bash
# Compares ringlet's echo server with a plain epoll echo server, interleaved
# (with --udp: ringlet's UDP echo server with a recvmmsg/sendmmsg one; that is
# what bench/udp_echo_compare.sh runs).
#
#   bench/echo_compare.sh                      # 5 scenarios × 3 rounds × 2 servers, 5 s each (~4 min)
#   bench/echo_compare.sh --quick              # smoke run: 1 round of 1 s per scenario
#   bench/echo_compare.sh --rounds 5 --duration 10 --only 64x16,rate
#   bench/echo_compare.sh --nice -20           # as root: run both sides ahead of other work
#   bench/echo_compare.sh --realtime           # as root: SCHED_FIFO, ahead of everything else
#   BUILD_DIR=somewhere bench/echo_compare.sh --out results/
#   bench/echo_compare.sh --ringlet-cmd "CMD ARGS" --baseline-cmd "CMD ARGS"   # other servers in the columns
#   bench/echo_compare.sh --loadgen PATH       # another build of the load generator
#   bench/echo_compare.sh --udp                # the UDP scenarios (see below)
#   bench/echo_compare.sh --quota 0.5 --only 64x1,64x16,1kx16   # as root: the server in a 0.5-CPU cgroup
#   bench/echo_compare.sh --read-size 64k      # the epoll baseline's read per wakeup (default 256k)
#
# Builds (in BUILD_DIR, default build-bench/, a release build set up like
# bench/run_core_bench.sh does) examples/echo_server, bench/epoll_echo_server
# and tools/ringlet_loadgen. Then, per scenario and round, it runs ringlet's
# server and the baseline one after the other (A B A B …): the server pinned
# to CPU 0 (`--shards 1`), the load generator to CPU 1, 50 connections.
# Each server is started on 127.0.0.1:0, read from its `listening on` line,
# stopped with SIGTERM by PID and waited for.
#
# Scenarios (the bars of issue 3):
#   64x1    64 B messages, depth 1 (one request in flight per connection)
#   64x16   64 B messages, depth 16 (pipelined)
#   1kx16   1 KiB messages, depth 16
#   16kx16  16 KiB messages, depth 16
#   64kx4   64 KiB messages, depth 4 (bulk, like 16kx16)
#   rate    64 B at a fixed offered rate of 50,000 requests/s (open loop);
#           compared on the server's CPU time per request
# With --udp: examples/udp_echo_server against bench/udp_mmsg_echo_server
# (column "mmsg"), the load generator with --udp (issue 4 item 6):
#   64      64 B datagrams, 4 sockets × 32 in flight
#   1400    1400 B datagrams, 4 sockets × 32 in flight
# 128 datagrams in flight keep a single-threaded server busy (its socket is
# never empty while it works) but stay within what the server socket's
# default receive buffer (net.core.rmem_default, 208 KiB) queues, so the
# figures are throughput rather than loss. Loss is still counted (a datagram
# unanswered for 200 ms is lost and replaced) and printed per round; a
# round with more than 1 % loss is flagged with "!".
# The epoll baseline reads 256 KiB per wakeup by default (--read-size: 16k,
# 64k, ...): the strongest plain-epoll bulk server, the one to compare with.
#
# --quota CPUS runs each server in a cgroup limited to CPUS CPUs (cgroup v1
# cpu.cfs_quota_us / cpu.cfs_period_us under /sys/fs/cgroup/cpu, or v2 cpu.max,
# whichever is mounted; root only), created for the run and removed at exit,
# also after a failure or Ctrl-C. On two vCPUs a free closed-loop run saturates
# the load generator as much as the server, so small-message ratios are
# squeezed towards 1; with the server at 0.5 CPU the server is the limit and
# requests/s measures its efficiency. The cgroup also gets the largest CPU
# weight (cpu.shares 262144 / cpu.weight 10000), so that on a machine busy
# with other work the server still gets its quota: inside a cgroup a task's
# nice value no longer competes with the rest of the machine. The quota limits CFS time only, so with
# --quota the server is not made SCHED_FIFO by --realtime (the load generator
# still is).
#
# Every round says whether the load generator was saturated (column "lg
# sat?": yes when its own CPU use, from getrusage as it reports it, was at
# least 90 % of the run): such a round may measure the load generator.
#
# Server CPU time is what the server's threads ran (/proc/PID/task/*/schedstat,
# in ns; /proc/PID/stat utime + stime as a cross-check) from before the load
# generator starts to after it ends, divided by the requests it answered
# (warm-up included).
#
# It prints, per scenario, each round's figure for both servers and their
# same-round ratio (ringlet / baseline), then the medians of both and the
# median of the ratios, and writes everything as one JSON file under the
# results directory. On these 2-vCPU VMs single runs swing by 30 % and more
# as the host moves the vCPUs: only the same-round ratios mean much, and a
# machine busy with other work (compilers) distorts even those; there,
# --nice -20 (root) gives the servers and the load generator the CPU first,
# and --realtime (root; SCHED_FIFO priority 10, so the kernel's RT throttling
# still leaves others 5 %) makes them preempt everything else at once.
# Exit status: 0, or 1 when a run failed (a server did not start, or the load
# generator reported errors: its output is kept in the results directory).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=5 warmup=1 connections=50 only="" quick=false niceness=0 realtime=false protocol=tcp
quota="" read_size=""
me=echo_compare.sh
build=${BUILD_DIR:-build-bench}
out_dir="" ringlet_cmd="" baseline_cmd="" loadgen_path=""
die_usage() { echo "$me: $1 (see the comment at the top of bench/echo_compare.sh)" >&2; exit 2; }
while (($# > 0)); do
  case $1 in
    --quick) quick=true rounds=1 duration=1 warmup=0.3 ;;
    --rounds) rounds=${2:?}; shift ;;
    --duration) duration=${2:?}; shift ;;
    --warmup) warmup=${2:?}; shift ;;
    --connections) connections=${2:?}; shift ;;
    --only) only=${2:?}; shift ;;
    --nice) niceness=${2:?}; shift ;;
    --realtime) realtime=true ;;
    --out) out_dir=${2:?}; shift ;;
    --ringlet-cmd) ringlet_cmd=${2:?}; shift ;;
    --baseline-cmd) baseline_cmd=${2:?}; shift ;;
    --loadgen) loadgen_path=${2:?}; shift ;;
    --udp) protocol=udp me=udp_echo_compare.sh ;;
    --quota) quota=${2:?}; shift ;;
    --read-size) read_size=${2:?}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die_usage "unknown argument \"$1\"" ;;
  esac
  shift
done
if ! [[ $rounds =~ ^[0-9]+$ ]] || ((rounds < 1 || rounds > 50)); then die_usage "--rounds must be 1..50"; fi
[[ $duration =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--duration must be a number of seconds"
[[ $warmup =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--warmup must be a number of seconds"
if ! [[ $niceness =~ ^-?[0-9]+$ ]] || ((niceness < -20 || niceness > 19)); then die_usage "--nice must be -20..19"; fi
out_dir=${out_dir:-$build/bench-results}
if [[ -n $quota ]] && ! python3 -c "import sys; q = float(sys.argv[1]); sys.exit(not 0.01 <= q <= 64)" "$quota" 2>/dev/null; then
  die_usage "--quota must be a number of CPUs from 0.01 to 64 (e.g. 0.5)"
fi
[[ -z $read_size || $read_size =~ ^[0-9]+[kKmM]?$ ]] || die_usage "--read-size must be a size such as 16k, 64k, 256k"

# name | load generator arguments | what is compared
if [[ $protocol == tcp ]]; then
  scenarios=(
    "64x1|--connections $connections --size 64 --depth 1|rps"
    "64x16|--connections $connections --size 64 --depth 16|rps"
    "1kx16|--connections $connections --size 1024 --depth 16|rps"
    "16kx16|--connections $connections --size 16384 --depth 16|rps"
    "64kx4|--connections $connections --size 65536 --depth 4|rps"
    "rate|--connections $connections --size 64 --rate 50000|cpu"
  )
else
  scenarios=(
    "64|--udp --size 64 --connections 4 --depth 32|rps"
    "1400|--udp --size 1400 --connections 4 --depth 32|rps"
  )
fi
for name in ${only//,/ }; do
  printf '%s\n' "${scenarios[@]}" | grep -q "^$name|" || die_usage "--only: no scenario \"$name\""
done

# --- build ------------------------------------------------------------------
tools/bootstrap
option() {
  meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
if [[ ! -f $build/meson-private/coredata.dat ]]; then
  meson setup "$build" --buildtype=release -Dbenchmarks=true -Dtests=false -Dexamples=true >/dev/null
else
  [[ $(option benchmarks) == True ]] || meson configure "$build" -Dbenchmarks=true >/dev/null
  [[ $(option examples) == True ]] || meson configure "$build" -Dexamples=true >/dev/null
fi
if [[ $protocol == tcp ]]; then
  ringlet_example=echo_server baseline=epoll_echo_server base=epoll
else
  ringlet_example=udp_echo_server baseline=udp_mmsg_echo_server base=mmsg
fi
ninja -C "$build" "examples/$ringlet_example" "bench/$baseline" tools/ringlet_loadgen >/dev/null

ringlet_server=("$build/examples/$ringlet_example" 127.0.0.1:0 --shards 1)
base_server=("$build/bench/$baseline" 127.0.0.1:0)
if [[ -n $read_size ]]; then
  [[ $protocol == tcp ]] || die_usage "--read-size is an option of the TCP epoll baseline"
  base_server+=(--read-size "$read_size")
fi
# For comparing variants (bench/stream_fastpath.sh): other commands in the two
# columns, still labelled "ringlet" and "epoll" in the table.
if [[ -n $ringlet_cmd ]]; then read -r -a ringlet_server <<<"$ringlet_cmd"; echo "ringlet column: $ringlet_cmd"; fi
if [[ -n $baseline_cmd ]]; then read -r -a base_server <<<"$baseline_cmd"; echo "$base column:   $baseline_cmd"; fi
loadgen=${loadgen_path:-$build/tools/ringlet_loadgen}

# Each program runs in a session of its own (setsid), so that with --nice
# its scheduler autogroup can be given that niceness too: under autogroup
# scheduling a plain nice only counts against processes of the same session.
pin_server=(setsid nice -n "$niceness") pin_loadgen=(setsid nice -n "$niceness")
if $realtime; then
  [[ -n $quota ]] || pin_server+=(chrt -f 10)   # the quota is CFS bandwidth: an RT server would escape it
  pin_loadgen+=(chrt -f 10)
fi
if (($(nproc) >= 2)); then
  pin_server+=(taskset -c 0) pin_loadgen+=(taskset -c 1)
else
  echo "$me: fewer than 2 CPUs: servers and load generator are not pinned" >&2
fi

# --quota: one cgroup for the whole run, each server moved into it (by a
# shell that writes its own PID to cgroup.procs, then execs the server, so the
# server's PID is the one in the cgroup); removed by the EXIT trap below.
cgroup="" cgroup_v2_enabled_cpu=false
make_cgroup() {
  local period=100000 quota_us name=ringlet-bench-$$
  quota_us=$(python3 -c "print(max(1000, int(float('$quota') * $period)))")
  if [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then        # cgroup v1, the cpu controller
    cgroup=/sys/fs/cgroup/cpu/$name
    mkdir "$cgroup" && echo "$period" >"$cgroup/cpu.cfs_period_us" && echo "$quota_us" >"$cgroup/cpu.cfs_quota_us" &&
      echo 262144 >"$cgroup/cpu.shares"   # the most weight: up to its quota before other work
  elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then  # v2
    if ! grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control; then
      echo +cpu >/sys/fs/cgroup/cgroup.subtree_control && cgroup_v2_enabled_cpu=true
    fi
    cgroup=/sys/fs/cgroup/$name
    mkdir "$cgroup" && echo "$quota_us $period" >"$cgroup/cpu.max" && echo 10000 >"$cgroup/cpu.weight"
  else
    echo "$me: --quota: no cgroup cpu controller mounted (neither /sys/fs/cgroup/cpu nor cgroup v2 with cpu)" >&2
    exit 1
  fi
}
remove_cgroup() {
  [[ -n $cgroup && -d $cgroup ]] || return 0
  local pid
  # Servers are stopped by now; anything left is moved out before rmdir.
  while read -r pid; do echo "$pid" >"${cgroup%/*}/cgroup.procs" 2>/dev/null || true; done <"$cgroup/cgroup.procs"
  rmdir "$cgroup" 2>/dev/null || echo "$me: could not remove the cgroup $cgroup" >&2
  if $cgroup_v2_enabled_cpu; then echo -cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true; fi
  cgroup=""
}
if [[ -n $quota ]]; then
  ((EUID == 0)) || die_usage "--quota needs root (it creates a cgroup)"
  trap remove_cgroup EXIT   # replaced by the full cleanup below once that exists
  make_cgroup || { echo "$me: --quota: could not create the cgroup $cgroup" >&2; exit 1; }
  # shellcheck disable=SC2016  # $$ and $0 belong to the inner shell
  pin_server+=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cgroup")
fi

stamp=$(date +%Y%m%d-%H%M%S)
work=$out_dir/${me%.sh}-$stamp
mkdir -p "$work"
records=$work/records.tsv
: >"$records"
ticks_per_second=$(getconf CLK_TCK)

# --- one run ----------------------------------------------------------------
server_pid="" loadgen_pid=""
stop_server() {
  [[ -n $server_pid ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "$me: server $server_pid ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  local status=0
  wait "$server_pid" 2>/dev/null || status=$?
  ((status == 0)) || echo "$me: server $server_pid exited with status $status after SIGTERM" >&2
  server_pid=""
}
# On an early exit (Ctrl-C) end what this script started, by PID: the load
# generator runs in its own session, so the terminal's signal misses it.
# shellcheck disable=SC2317  # called through the trap
cleanup() {
  [[ -z $loadgen_pid ]] || kill -TERM "$loadgen_pid" 2>/dev/null || true
  stop_server
  remove_cgroup
}
trap cleanup EXIT

boost() {
  ((niceness != 0)) || return 0
  [[ -w /proc/$1/autogroup ]] || return 0
  echo "$niceness" >"/proc/$1/autogroup" 2>/dev/null ||
    echo "$me: could not set the autogroup niceness of $1 (needs root)" >&2
}

# CPU time of a process as "<ns> <ticks>": the nanoseconds its live threads
# have run (sum of /proc/PID/task/*/schedstat; exact, but a thread that exits
# takes its time with it) and utime + stime in clock ticks (/proc/PID/stat:
# every thread that ever ran, but 10 ms steps). The report uses the first
# unless the second shows more, i.e. unless a thread went away.
cpu_time() {
  local fields ns=0 t
  for t in /proc/"$1"/task/*/schedstat; do
    read -r -a fields <"$t" 2>/dev/null || continue
    ns=$((ns + fields[0]))
  done
  read -r -a fields <<<"$(sed 's/.*) //' "/proc/$1/stat")"
  echo "$ns $((fields[11] + fields[12]))"
}

failed=0
# run_one SCENARIO ROUND SERVER-NAME LOADGEN-ARGS -- SERVER-COMMAND...
run_one() {
  local scenario=$1 round=$2 name=$3 args=$4
  shift 5
  local tag=$scenario-$round-$name
  : >"$work/$tag.server.out"  # exists before the background job opens it, so polling it never fails
  "${pin_server[@]}" "$@" >>"$work/$tag.server.out" 2>"$work/$tag.server.err" &
  server_pid=$!
  boost "$server_pid"
  local address=""
  for _ in $(seq 100); do
    address=$(sed -n 's/^listening on //p' "$work/$tag.server.out")
    [[ -n $address ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $address ]]; then
    echo "$me: $name server did not start (see $work/$tag.server.err)" >&2
    stop_server
    failed=1
    return
  fi
  local before after status=0 limit started ended
  before=$(cpu_time "$server_pid")
  started=$(date +%s.%N)
  limit=$(python3 -c "print(int($duration + $warmup + 60))")
  # shellcheck disable=SC2086  # args is a list of options
  "${pin_loadgen[@]}" timeout "$limit" "$loadgen" "$address" $args \
    --duration "$duration" --warmup "$warmup" --quiet --json "$work/$tag.json" >"$work/$tag.loadgen.out" 2>&1 &
  loadgen_pid=$!
  boost "$loadgen_pid"
  wait "$loadgen_pid" || status=$?
  loadgen_pid=""
  after=$(cpu_time "$server_pid")
  ended=$(date +%s.%N)
  stop_server
  if ((status != 0)); then
    echo "$me: load generator failed against $name (exit $status): $(tail -n 1 "$work/$tag.loadgen.out")" >&2
    failed=1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$round" "$name" "$before" "$after" \
    "$(python3 -c "print($ended - $started)")" "$status" "$work/$tag.json" \
    >>"$records"
}

cpu_model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "machine: $(nproc) CPUs (${cpu_model:-unknown CPU}), $(uname -sr), load average $load_start"
echo "build:   $build ($(option buildtype)); $rounds round(s) × ${duration} s (+${warmup} s warm-up), nice $niceness$($realtime && echo ", SCHED_FIFO")"
[[ -z $quota ]] || echo "quota:   each server in $cgroup, ${quota} CPU"
[[ $protocol == udp ]] || echo "epoll:   reads ${read_size:-256k} per wakeup"
$quick && echo "quick:   a smoke run of the harness; the figures mean little"

for entry in "${scenarios[@]}"; do
  IFS='|' read -r scenario args _ <<<"$entry"
  [[ -z $only || ,$only, == *",$scenario,"* ]] || continue
  for round in $(seq "$rounds"); do
    echo "running $scenario, round $round/$rounds"
    run_one "$scenario" "$round" ringlet "$args" -- "${ringlet_server[@]}"
    run_one "$scenario" "$round" "$base" "$args" -- "${base_server[@]}"
  done
done

# --- report -----------------------------------------------------------------
result=$out_dir/${me%.sh}-$stamp.json
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at the end: $load_end (other work on the machine distorts the figures)"
python3 - "$records" "$result" "$ticks_per_second" "$rounds" "$duration" "$warmup" "$protocol" "$base" "$niceness" \
  "$realtime" "$(nproc)" "${cpu_model:-unknown}" "$(uname -sr)" "$(printf '%s\n' "${scenarios[@]}")" \
  "$load_start" "$load_end" "${quota:-}" "${read_size:-256k}" <<'EOF'
import json, statistics, sys

(records, result, hz, rounds, duration, warmup, protocol, base, niceness, realtime, nproc, cpu_model, kernel,
 scenario_text, load_start, load_end, quota, read_size) = sys.argv[1:]
hz = int(hz)
scenarios = [line.split('|') for line in scenario_text.splitlines()]
kinds = {name: kind for name, _, kind in scenarios}
args = {name: a.strip() for name, a, _ in scenarios}
SATURATED = 0.9  # a load generator this busy may be measuring itself
LOSSY = 0.01  # UDP: more loss than this and the round measures overload, not throughput
udp = protocol == 'udp'
unit = 'dgram' if udp else 'req'

def load_run(before, after, wall, status, path):
    (ns0, ticks0), (ns1, ticks1) = map(int, before.split()), map(int, after.split())
    by_ns, by_ticks = (ns1 - ns0) / 1e9, (ticks1 - ticks0) / hz
    server_cpu = by_ticks if by_ticks > by_ns * 1.05 + 2 / hz else by_ns  # a thread exited: trust the ticks
    run = {'status': int(status), 'server_cpu_seconds': server_cpu, 'server_cpu_seconds_from_ticks': by_ticks,
           'server_busy': server_cpu / float(wall)}
    try:
        lg = json.load(open(path))
    except (OSError, ValueError):
        return run
    answered, window = lg['total_responses'], lg['window_seconds']
    run.update(requests_per_second=lg['requests_per_second'], total_responses=answered,
               server_cpu_us_per_request=server_cpu * 1e6 / answered if answered else None,
               loadgen_cpu_us_per_request=lg['cpu_us_per_request'], latency_us=lg['latency_us'],
               loadgen_busy=(lg['cpu_user_seconds'] + lg['cpu_system_seconds']) / window if window else None,
               errors=lg['errors'], lost=lg.get('lost'), late=lg.get('late'), loss_ratio=lg.get('loss_ratio'))
    return run

runs = {}
for line in open(records):
    scenario, rnd, name, *rest = line.rstrip('\n').split('\t')
    runs.setdefault(scenario, {}).setdefault(int(rnd), {})[name] = load_run(*rest)

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def num(v, digits):
    return '-' if v is None else f'{v:,.{digits}f}'

def pct(v):
    return '-' if v is None else f'{100 * v:.0f}%'

def loss(v):
    return '-' if v is None else f'{100 * v:.2f}%'

def pair(r, e, key, show):
    return f'{show(r.get(key))} / {show(e.get(key))}'

out = {'machine': {'cpus': int(nproc), 'cpu_model': cpu_model, 'kernel': kernel,
                   'load_average_start': load_start, 'load_average_end': load_end},
       'config': {'rounds': int(rounds), 'duration_seconds': float(duration), 'warmup_seconds': float(warmup),
                  'protocol': protocol, 'baseline': base, 'server_cpu': 0, 'loadgen_cpu': 1,
                  'nice': int(niceness), 'realtime': realtime == 'true',
                  'server_cpu_quota': float(quota) if quota else None,
                  'epoll_read_size': read_size if protocol == 'tcp' else None},
       'scenarios': {}}
any_saturated = any_lossy = False
b0 = base[0]
for scenario, by_round in runs.items():
    rps = kinds[scenario] == 'rps'
    metric = 'requests_per_second' if rps else 'server_cpu_us_per_request'
    digits = 0 if rps else 2
    compared = ('echoed datagrams/s' if udp else 'requests/s') if rps else 'server CPU µs per request (lower is better)'
    print(f'\n{scenario}: {args[scenario]}; compared: {compared}')
    print(f'  {"round":>6} {"ringlet":>11} {base:>11} {"ratio":>7} '
          + (f'  {"loss r / " + b0:>15} ' if udp else '')
          + f'  {"server µs/" + unit + " r / " + b0:>21}   {"loadgen µs/" + unit + " r / " + b0:>22}'
          f'   {"busy: server r / " + b0:>18}   {"loadgen r / " + b0:>13}   {"lg sat?":>7}')
    rows = []
    for rnd in sorted(by_round):
        r, e = by_round[rnd].get('ringlet', {}), by_round[rnd].get(base, {})
        a, b = r.get(metric), e.get(metric)
        ratio = a / b if a and b else None
        saturated = rps and any((x.get('loadgen_busy') or 0) >= SATURATED for x in (r, e))
        lossy = any((x.get('loss_ratio') or 0) > LOSSY for x in (r, e))
        any_saturated |= saturated
        any_lossy |= lossy
        rows.append({'round': rnd, 'ringlet': r, base: e, 'ratio': ratio, 'loadgen_saturated': saturated,
                     'lossy': lossy})
        flags = ('*' if saturated else '') + ('!' if lossy else '')
        print(f'  {rnd:>6} {num(a, digits):>11} {num(b, digits):>11} {num(ratio, 3):>6}{flags:<2}'
              + (f' {pair(r, e, "loss_ratio", loss):>15} ' if udp else '')
              + f' {pair(r, e, "server_cpu_us_per_request", lambda v: num(v, 2)):>21}'
              f'   {pair(r, e, "loadgen_cpu_us_per_request", lambda v: num(v, 2)):>22}'
              f'   {pair(r, e, "server_busy", pct):>18}   {pair(r, e, "loadgen_busy", pct):>13}'
              f'   {"yes" if saturated else "no":>7}')
    med = {name: median(row[name].get(metric) for row in rows) for name in ('ringlet', base)}
    med['ratio'] = median(row['ratio'] for row in rows)
    print(f'  {"median":>6} {num(med["ringlet"], digits):>11} {num(med[base], digits):>11} '
          f'{num(med["ratio"], 3):>6}    (the ratio is the median of the same-round ratios)')
    summary = {'loadgen_args': args[scenario], 'metric': metric, 'rounds': rows,
               'median_ringlet': med['ringlet'], 'median_' + base: med[base], 'median_ratio': med['ratio']}
    if rps:
        cpu = {name: median(row[name].get('server_cpu_us_per_request') for row in rows) for name in ('ringlet', base)}
        cpu_ratio = median(row['ringlet']['server_cpu_us_per_request'] / row[base]['server_cpu_us_per_request']
                           for row in rows if row['ringlet'].get('server_cpu_us_per_request')
                           and row[base].get('server_cpu_us_per_request'))
        print(f'  server CPU per {"datagram" if udp else "request"}, medians: ringlet {num(cpu["ringlet"], 2)} µs,'
              f' {base} {num(cpu[base], 2)} µs, same-round ratio {num(cpu_ratio, 3)} (lower is better)')
        summary.update({'median_server_cpu_us_ringlet': cpu['ringlet'], 'median_server_cpu_us_' + base: cpu[base],
                        'median_server_cpu_ratio': cpu_ratio})
    out['scenarios'][scenario] = summary
if any_saturated:
    print(f'\n* the load generator was at least {100 * SATURATED:.0f} % busy in that round: the figures may be'
          ' its limit rather than the server\'s, which pulls the ratio towards 1')
if any_lossy:
    print(f'\n! more than {100 * LOSSY:.0f} % of the datagrams were lost in that round: it measures overload')
json.dump(out, open(result, 'w'), indent=2)
print(f'\nwrote {result} (each run\'s load-generator JSON and output: {result[:-5]}/)')
EOF
exit "$failed"

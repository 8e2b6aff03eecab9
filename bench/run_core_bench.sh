#!/usr/bin/env bash
# Runs the core micro-benchmarks and writes their results as JSON.
#
#   bench/run_core_bench.sh                # -> build-bench/bench-results/core_bench.json
#   bench/run_core_bench.sh out.json       # -> out.json
#   bench/run_core_bench.sh out.json --benchmark_filter=cross --benchmark_repetitions=5
#   bench/run_core_bench.sh "" --benchmark_filter=nop   # default output path, extra arguments
#   BUILD_DIR=somewhere bench/run_core_bench.sh
#
# Installs missing Debian packages (tools/bootstrap), sets up BUILD_DIR
# (default build-bench/) as a release build if it does not exist, rebuilds
# core_bench, prints a short description of the machine and then Google
# Benchmark's console table. Arguments after the output path go to core_bench.
# The JSON holds the same figures, with the machine description in "context".
#
# Reading the figures: the BM_raw_* rows are hand-written liburing doing the
# same ring work without ringlet, measured in the same run. On a shared,
# noisy machine compare ringlet's rows only with those, and run it a few times.
# "***WARNING*** Library was built as DEBUG" refers to Debian's libbenchmark
# package itself (built without NDEBUG), not to ringlet.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap

build=${BUILD_DIR:-build-bench}
out=${1:-$build/bench-results/core_bench.json}
(($# > 0)) && shift

option() {
  meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
if [[ ! -f $build/meson-private/coredata.dat ]]; then
  meson setup "$build" --buildtype=release -Dbenchmarks=true -Dtests=false -Dexamples=false >/dev/null
elif [[ $(option benchmarks) != True ]]; then
  meson configure "$build" -Dbenchmarks=true >/dev/null
fi
ninja -C "$build" bench/core_bench >/dev/null

cpu_model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
cpu_model=${cpu_model:-unknown CPU}
cpus=$(nproc)
kernel=$(uname -sr)
buildtype=$(option buildtype)
compiler=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["command"].split()[0])' \
  "$build/compile_commands.json")
compiler=$(cd "$build" && "$compiler" --version | head -n 1)
echo "machine: $cpus CPUs ($cpu_model), $kernel"
echo "build:   $build ($buildtype, $compiler)"

mkdir -p "$(dirname "$out")"
# --benchmark_context takes comma-separated key=value pairs.
context="cpu_model=${cpu_model//,/ },nproc=$cpus,kernel=${kernel//,/ },buildtype=$buildtype,compiler=$compiler"
"$build/bench/core_bench" --benchmark_format=console --benchmark_out="$out" --benchmark_out_format=json \
  --benchmark_context="$context" "$@"
echo "wrote $out"

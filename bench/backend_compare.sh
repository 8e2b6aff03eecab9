#!/usr/bin/env bash
# Echo through ringlet's two backends: the same examples/echo_server binary on
# io_uring (column "ringlet") and on epoll (column "epoll"), switched with
# RINGLET_BACKEND, interleaved rounds of `ringlet_loadgen compare` — a thin
# caller of bench/echo_compare.sh, so placement, quota, rounds and the report
# are the same as there.
#
#   bench/backend_compare.sh                          # 64x1 and 64x16, 3 rounds of 5 s
#   bench/backend_compare.sh --quota 0.5              # as root: the server in half a CPU (the method that decides)
#   bench/backend_compare.sh --only 64x1 --rounds 5   # any other echo_compare.sh option
#   BUILD_DIR=somewhere bench/backend_compare.sh
#
# The ratio printed is io_uring / epoll (>1: io_uring serves more).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
server="$build/examples/echo_server 127.0.0.1:0 --shards 1"
args=("$@")
[[ " $* " == *" --only "* ]] || args+=(--only 64x1,64x16)
exec bench/echo_compare.sh \
  --ringlet-cmd "env RINGLET_BACKEND=io_uring $server" \
  --baseline-cmd "env RINGLET_BACKEND=epoll $server" "${args[@]}"

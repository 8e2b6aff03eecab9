#!/usr/bin/env bash
# Compares the receive paths of bench/stream_fastpath.cpp with bench/echo_compare.sh's
# machinery (interleaved rounds, server on CPU 0, load generator on CPU 1):
# ringlet's stream::receive() (multishot) against the single-shot
# buffer-select recv, then against plain read_some. In the tables the
# "ringlet" column is `receive` and the "epoll" column the other variant.
#
#   bench/stream_fastpath.sh                       # --realtime --rounds 3 --duration 2
#   bench/stream_fastpath.sh --rounds 5 --only 16kx16,rate
#
# Extra arguments go to echo_compare.sh (they replace the defaults above).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
args=("$@")
((${#args[@]} > 0)) || args=(--realtime --rounds 3 --duration 2)
bench/echo_compare.sh --quick --only 64x1 >/dev/null  # sets up and builds $build
ninja -C "$build" bench/stream_fastpath >/dev/null
server="$build/bench/stream_fastpath 127.0.0.1:0 --variant"
for other in select plain; do
  echo "=== receive (multishot) vs $other"
  BUILD_DIR=$build bench/echo_compare.sh "${args[@]}" --ringlet-cmd "$server receive" --baseline-cmd "$server $other"
done

#!/usr/bin/env bash
# Issue 3, item 7: the variants of the echo fast path, compared with
# bench/echo_compare.sh's machinery (interleaved rounds, server on CPU 0, load
# generator on CPU 1):
#   1. ringlet's stream::receive() in its default (readiness) mode against
#      its multishot mode, the single-shot buffer-select recv, plain
#      read_some, and itself writing through the ring only
#      (bench/stream_fastpath.cpp);
#   2. direct descriptors against regular ones, in a bare liburing echo
#      server (bench/direct_descriptors.cpp).
# In the tables the "ringlet" column is the first variant named in the
# heading and the "epoll" column the second.
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
ninja -C "$build" bench/stream_fastpath bench/direct_descriptors >/dev/null
server="$build/bench/stream_fastpath 127.0.0.1:0 --variant"
for other in multishot select plain "receive --ring-writes"; do
  echo "=== receive (readiness, write_all) vs $other"
  BUILD_DIR=$build bench/echo_compare.sh "${args[@]}" --ringlet-cmd "$server receive" --baseline-cmd "$server $other"
done
echo "=== bare liburing: direct descriptors vs regular descriptors"
bare="$build/bench/direct_descriptors 127.0.0.1:0"
BUILD_DIR=$build bench/echo_compare.sh "${args[@]}" --ringlet-cmd "$bare --direct" --baseline-cmd "$bare"

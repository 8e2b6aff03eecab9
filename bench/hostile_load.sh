#!/usr/bin/env bash
# The hostile-peer bars of issue #10, one line each (see hostile_load.py):
# 1,000 slowloris connections on chat_server and line_server (idle timeout
# 2 s), 1,000 non-reading clients on echo_server (write timeout 2 s), 500
# stalled TLS handshakes on tls_echo_server (handshake timeout 2 s, the
# default cap of 256 handshakes per shard). Each line names the RSS before,
# at the peak and 2x the timeout after the last close; the script exits
# non-zero when a server kept a connection or did not come back within 2x.
# Loopback only, one shard per server, every run bounded (hostile_load.py).
#
#   bench/hostile_load.sh [BUILD_DIR]        # default: build
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 2>/dev/null
grep -m1 'model name' /proc/cpuinfo
status=0
bench/hostile_load.py slowloris "$bin/chat_server" --timeout 2 || status=1
bench/hostile_load.py slowloris "$bin/line_server" --timeout 2 || status=1
bench/hostile_load.py nonreading "$bin/echo_server" --timeout 2 -- --shards 1 || status=1
bench/hostile_load.py tls-stall "$bin/tls_echo_server" --timeout 2 --count 500 -- \
  --shards 1 --cert "$work/cert.pem" --key "$work/key.pem" || status=1
exit $status

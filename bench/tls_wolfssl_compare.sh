#!/usr/bin/env bash
# Compares the two wolfSSL builds ringlet can link (README "TLS: which
# wolfSSL"): the tuned one (-Dwolfssl=tuned, Debian's source package rebuilt
# with wolfSSL's assembly) and Debian's libwolfssl (-Dwolfssl=system).
#
#   bench/tls_wolfssl_compare.sh                 # 3 interleaved rounds of 3 s per figure
#   bench/tls_wolfssl_compare.sh --rounds 5 --seconds 5
#   bench/tls_wolfssl_compare.sh --realtime      # as root: SCHED_FIFO for both ends (a busy machine)
#   TUNED_DIR=build SYSTEM_DIR=build-wolfssl-system bench/tls_wolfssl_compare.sh
#
# Uses examples/tls_echo_server (--shards 1, pinned to CPU 0) and
# examples/tls_bench (pinned to CPU 1) from each build directory (both ends
# use that build's wolfSSL), an ECDSA P-256 certificate made for the run, TLS
# 1.3. Per round and build: 16 KiB echo with AES-128-GCM and with
# ChaCha20-Poly1305 (MiB/s each way), and full handshakes per second with the
# server's default cipher choice. Prints each round and the medians of the
# same-round ratios tuned / system. Builds the two directories if needed
# (SYSTEM_DIR with -Dwolfssl=system). Exit 1 when a run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 seconds=3 realtime=false
while (($# > 0)); do
  case $1 in
    --rounds) rounds=${2:?}; shift ;;
    --seconds) seconds=${2:?}; shift ;;
    --realtime) realtime=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tls_wolfssl_compare.sh: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[0-9]+$ && $seconds =~ ^[0-9]+$ ]] || { echo "tls_wolfssl_compare.sh: --rounds and --seconds take numbers" >&2; exit 2; }
tuned=${TUNED_DIR:-build} system=${SYSTEM_DIR:-build-wolfssl-system}
targets=(examples/tls_echo_server examples/tls_bench)
[[ -f $tuned/meson-private/coredata.dat ]] || meson setup "$tuned" >/dev/null
[[ -f $system/meson-private/coredata.dat ]] || meson setup "$system" -Dwolfssl=system -Dbenchmarks=false >/dev/null
meson compile -C "$tuned" "${targets[@]}" >/dev/null
meson compile -C "$system" "${targets[@]}" >/dev/null

tmp=$(mktemp -d)
server_pid=""
stop_server() {
  [[ -n $server_pid ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2
) >/dev/null 2>&1

pin0=() pin1=()
if $realtime; then pin0=(chrt -f 10) pin1=(chrt -f 10); fi
if (($(nproc) >= 2)); then pin0+=(taskset -c 0) pin1+=(taskset -c 1); fi

# run BUILD-DIR MODE CIPHERS: prints tls_bench's figure (MiB/s or handshakes/s)
run() {
  local dir=$1 mode=$2 ciphers=$3 out=$tmp/server.out address=""
  local args=(127.0.0.1:0 --cert "$tmp/cert.pem" --key "$tmp/key.pem" --shards 1)
  [[ -z $ciphers ]] || args+=(--ciphers "$ciphers")
  : >"$out"
  "${pin0[@]}" "$dir/examples/tls_echo_server" "${args[@]}" >"$out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    address=$(sed -n 's/^listening on //p' "$out")
    [[ -n $address ]] && break
    sleep 0.05
  done
  [[ -n $address ]] || { echo "tls_echo_server did not start: $(cat "$out")" >&2; exit 1; }
  local line
  line=$("${pin1[@]}" timeout $((seconds + 30)) "$dir/examples/tls_bench" "$address" --ca "$tmp/cert.pem" \
    --name localhost --mode "$mode" --seconds "$seconds")
  stop_server
  echo "$line" >>"$tmp/lines"
  sed -E 's/^[a-z]+: ([0-9.]+).*/\1/' <<<"$line"
}

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
echo "machine: $(nproc) CPUs ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
results=$tmp/results
: >"$results"
for round in $(seq "$rounds"); do
  for case in "echo|TLS13-AES128-GCM-SHA256|aes128gcm MiB/s" "echo|TLS13-CHACHA20-POLY1305-SHA256|chacha20 MiB/s" \
              "handshake||handshakes/s"; do
    IFS='|' read -r mode ciphers label <<<"$case"
    a=$(run "$tuned" "$mode" "$ciphers")
    b=$(run "$system" "$mode" "$ciphers")
    printf '%s\t%s\t%s\t%s\n' "$round" "$label" "$a" "$b" | tee -a "$results"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rnd, label, a, b = line.rstrip('\n').split('\t')
    rows.setdefault(label, []).append((float(a), float(b)))
print(f'{"figure":<18} {"tuned":>10} {"system":>10} {"tuned/system (same-round median)":>34}')
for label, pairs in rows.items():
    ta = statistics.median(a for a, _ in pairs)
    sb = statistics.median(b for _, b in pairs)
    ratio = statistics.median(a / b for a, b in pairs if b)
    lo, hi = min(a / b for a, b in pairs if b), max(a / b for a, b in pairs if b)
    print(f'{label:<18} {ta:>10.1f} {sb:>10.1f} {ratio:>10.2f} (rounds {lo:.2f}-{hi:.2f})')
EOF

#!/usr/bin/env bash
# A short bounded run of `ringlet_loadgen --udp` against examples/udp_echo_server:
# it must echo datagrams (a nonzero count) with no verification or I/O error,
# and the server must stop on SIGTERM with exit 0.
#
#   tests/net/udp_loadgen_smoke.sh build/tools/ringlet_loadgen build/examples/udp_echo_server
#
# Exit 77 (meson's "skipped") when the examples were not built (-Dexamples=false).
# The load generator must speak UDP: the JSON's protocol is checked, so a
# stale TCP-only build fails here rather than with a TCP "connection refused".
set -euo pipefail
loadgen=${1:?usage: udp_loadgen_smoke.sh LOADGEN UDP_ECHO_SERVER}
server=${2:?usage: udp_loadgen_smoke.sh LOADGEN UDP_ECHO_SERVER}
if [[ ! -x $server ]]; then
  echo "skipped: $server was not built (examples disabled)"
  exit 77
fi
work=$(mktemp -d)
server_pid=""
# shellcheck disable=SC2317  # called through the trap
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "udp_loadgen_smoke: $1" >&2; exit 1; }

: >"$work/server.out"
"$server" 127.0.0.1:0 --shards 1 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
# Wait (up to 30 s: sanitizer builds on a busy machine start slowly) for the
# whole `listening on` line; the socket is bound before it is printed.
address=""
for _ in $(seq 600); do
  if [[ $(tail -c1 "$work/server.out" | od -An -c) == *'\n'* ]]; then
    address=$(sed -n 's/^listening on //p' "$work/server.out")
    [[ -n $address ]] && break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.05
done
[[ -n $address ]] || fail "the server did not start: $(cat "$work/server.out" "$work/server.err")"

status=0
timeout 30 "$loadgen" "$address" --udp --connections 2 --depth 8 --size 100 --duration 0.5 --warmup 0.1 \
  --quiet --json "$work/result.json" >"$work/loadgen.out" 2>&1 || status=$?
cat "$work/loadgen.out"
if ((status != 0)); then
  alive=running
  kill -0 "$server_pid" 2>/dev/null || alive="gone ($(cat "$work/server.err"))"
  fail "the load generator exited with $status against $address (server: $alive)"
fi

kill -TERM "$server_pid"
server_status=0
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
wait "$server_pid" || server_status=$?
server_pid=""
((server_status == 0)) || fail "the server exited with $server_status after SIGTERM"

python3 - "$work/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
problems = []
if r.get('protocol') != 'udp': problems.append(f"protocol {r.get('protocol')!r}, expected 'udp'")
if not r['window_responses'] > 0: problems.append('no datagram was echoed in the measured window')
if r['total_responses'] + r['lost'] > r['total_sent']: problems.append('more answers and losses than datagrams sent')
for key in ('errors', 'mismatches', 'io_errors', 'connect_errors'):
    if r[key] != 0: problems.append(f'{key} = {r[key]} ({r["first_error"]})')
if problems:
    sys.exit('udp_loadgen_smoke: ' + '; '.join(problems))
print(f"udp_loadgen_smoke: {r['window_responses']} datagrams echoed in the window, {r['lost']} lost, 0 errors")
PY

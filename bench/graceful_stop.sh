#!/usr/bin/env bash
# Graceful stop of examples/echo_server, end to end on loopback:
#   1. SIGTERM while N concurrent M MiB echo transfers run: every transfer
#      that fits in the drain timeout comes back intact (one cut off by the
#      hard stop at the end of the drain may come back short, never
#      corrupt), the server exits 0, and it stopped accepting at once (a new
#      connect is refused);
#   2. a server started with --sighup ignore survives SIGHUP (and still
#      exits 0 on SIGTERM);
#   3. a unix socket server leaves no socket file after SIGTERM or SIGHUP.
#
#   bench/graceful_stop.sh BUILD_DIR [CONNECTIONS [MIB [DRAIN_S]]]
#   bench/graceful_stop.sh build                  # 50 × 64 MiB, --drain-timeout 30: all must fit
#   bench/graceful_stop.sh build 50 64 10         # the default 10 s drain: what does not fit is cut
#   bench/graceful_stop.sh build 50 8 10          # the test's size (tests/examples)
#
# Prints what it measured (transfer outcome, the time from SIGTERM to the
# server's exit) and exits non-zero on any failed check. Every wait is
# bounded; only processes started here are signalled, by PID.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [CONNECTIONS [MIB]]}
connections=${2:-50}
mib=${3:-64}
drain=${4:-30}
server_bin=$build/examples/echo_server
client_bin=$build/tests/examples/drain_client
work=$(mktemp -d)
started=()

cleanup() {
  for p in "${started[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Running and not a zombie.
alive() {
  local state
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# start_server NAME ARGS...: sets $pid and $addr once it prints `listening on`.
start_server() {
  local name=$1 _
  shift
  : >"$work/$name.out"   # exists before the background shell opens it, for sed below
  "$server_bin" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  started+=("$pid")
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on //p' "$work/$name.out" | head -n1)
    [[ -n $addr ]] && return 0
    alive "$pid" || fail "$name exited before listening: $(cat "$work/$name.err")"
    sleep 0.1
  done
  fail "$name printed no 'listening on' line within 10 s"
}

# wait_exit NAME PID SECONDS: waits for PID to end; sets $status.
wait_exit() {
  local name=$1 p=$2 limit=$3 _
  for _ in $(seq $((limit * 20))); do
    alive "$p" || break
    sleep 0.05
  done
  alive "$p" && fail "$name still running $limit s after it should have stopped"
  status=0
  wait "$p" || status=$?
}

now() { date +%s.%N; }

# 1. SIGTERM during the transfers.
start_server transfers 127.0.0.1:0 --drain-timeout "$drain"
server=$pid
port=${addr##*:}
: >"$work/client.out"
"$client_bin" "$addr" --connections "$connections" --mib "$mib" >"$work/client.out" 2>"$work/client.err" &
client=$!
started+=("$client")
for _ in $(seq 100); do
  grep -q '^connected' "$work/client.out" && break
  alive "$client" || fail "drain_client ended before connecting: $(cat "$work/client.err")"
  sleep 0.1
done
grep -q '^connected' "$work/client.out" || fail "drain_client did not connect within 10 s"
sleep 0.3   # the transfers are under way
term_at=$(now)
kill -TERM "$server"
sleep 0.2
# Stopped accepting: a new connection is refused while the old ones drain.
if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), timeout=2)" 2>/dev/null; then
  refused=no
else
  refused=yes
fi
wait_exit echo_server "$server" $((drain + 20))
server_status=$status
exit_after=$(python3 -c "print(f'{$(now) - $term_at:.2f}')")
wait_exit drain_client "$client" 60
client_status=$status
summary=$(grep '^transfers' "$work/client.out" || true)
echo "SIGTERM during $connections x $mib MiB echo transfers, --drain-timeout $drain:"
echo "  client: ${summary:-no summary} (exit $client_status)"
echo "  server: exit $server_status, $exit_after s after SIGTERM; new connections refused during the drain: $refused"
[[ $server_status == 0 ]] || fail "echo_server exited $server_status after SIGTERM: $(cat "$work/transfers.err")"
[[ $refused == yes ]] || fail "echo_server still accepted connections during the drain"
[[ $summary =~ ([0-9]+)\ intact,\ ([0-9]+)\ short,\ ([0-9]+)\ corrupt,\ ([0-9]+)\ failed ]] ||
  fail "drain_client printed no summary: $(cat "$work/client.err")"
[[ ${BASH_REMATCH[3]} == 0 && ${BASH_REMATCH[4]} == 0 ]] || fail "transfers came back corrupt or failed"
if [[ ${BASH_REMATCH[2]} != 0 ]]; then
  # Cut short is right only for what did not fit: the server must have used its whole drain.
  python3 -c "import sys; sys.exit(0 if $exit_after >= $drain - 0.5 else 1)" ||
    fail "${BASH_REMATCH[2]} transfers cut short although the server left after $exit_after s of a $drain s drain"
  echo "  ${BASH_REMATCH[2]} transfers did not fit in the $drain s drain and were cut by the hard stop (none corrupt)"
fi

# 2. SIGHUP ignored when told.
start_server hup 127.0.0.1:0 --sighup ignore
kill -HUP "$pid"
sleep 0.5
alive "$pid" || fail "echo_server --sighup ignore died of SIGHUP"
kill -TERM "$pid"
wait_exit "echo_server --sighup ignore" "$pid" 15
[[ $status == 0 ]] || fail "echo_server --sighup ignore exited $status on SIGTERM"
echo "SIGHUP with --sighup ignore: survived; SIGTERM then: exit 0"

# 3. No unix socket file after a graceful exit, by SIGTERM or by SIGHUP.
for sig in TERM HUP; do
  path=$work/echo-$sig.sock
  start_server "unix-$sig" "unix:$path"
  [[ -S $path ]] || fail "no socket file at $path while serving"
  kill "-$sig" "$pid"
  wait_exit "echo_server unix:" "$pid" 15
  [[ $status == 0 ]] || fail "echo_server on a unix socket exited $status on SIG$sig"
  [[ -e $path ]] && fail "socket file $path left after SIG$sig"
  echo "unix socket, SIG$sig: exit 0, socket file removed"
done
echo "graceful stop: all checks passed"

#!/usr/bin/env bash
# Smoke test of the stream examples, run as a user would run them, on
# loopback only:
#   echo_server + echo_client     a round trip over TCP and over an abstract unix name
#   unix_echo                     its built-in client and server on an abstract name,
#                                 then --server and --client as two processes
#   chat_server                   three python clients: joins, relayed lines, the
#                                 long-line error, leave notices, a slow client dropped
#   line_server                   lines printed with the peer address, "exit" stops it;
#                                 an over-long line gets an error and a close
#   http_get                      against peers.py's fixture: Content-Length, chunked
#                                 and read-to-EOF bodies byte for byte, 1xx skipped,
#                                 exit 1 on 404 / short body / bad chunk / bad status /
#                                 timeout, exit 2 on a bad URL
#   limits                        a stalled client (a partial line, then nothing)
#                                 closed by line_server's, chat_server's and
#                                 echo_server's --idle-timeout; bad durations exit 2
#   udp_echo_server               says once that an unnamed unix sender cannot be answered
#   tls_echo_server --alpn        the protocol chosen from the server's list (openssl s_client)
#   http_server                   /plaintext, /json, /bytes/N and a 404 through http_get,
#                                 --help, bad arguments (exit 2)
# and every server exits 0 on SIGTERM. Every wait is bounded; only processes
# started here are signalled, by PID.
#
#   tests/examples/run_examples.sh BUILD_DIR/examples tests/examples/peers.py
set -euo pipefail
bin=${1:?usage: $0 EXAMPLES_BUILD_DIR PEERS_PY}
peers=${2:?usage: $0 EXAMPLES_BUILD_DIR PEERS_PY}
work=$(mktemp -d)
started=()   # PIDs of the background processes started here

cleanup() {
  for p in "${started[@]}"; do
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Running and not a zombie (kill -0 succeeds on a zombie, so it cannot tell).
alive() {
  local state
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# start NAME COMMAND...: runs COMMAND in the background (stdout in
# $work/NAME.out, stderr in $work/NAME.err) and waits up to 10 s for its
# `listening on` line. Sets $pid and $addr.
start() {
  local name=$1
  shift
  : >"$work/$name.out"   # before the background shell opens it: the loop below reads it at once
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  started+=("$pid")
  local _
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on //p' "$work/$name.out" | head -n1)
    [[ -n $addr ]] && return 0
    alive "$pid" || fail "$name exited before listening: $(cat "$work/$name.err")"
    sleep 0.1
  done
  fail "$name printed no 'listening on' line within 10 s"
}

# finish NAME PID: waits up to 10 s for PID to end by itself; it must exit 0.
finish() {
  local name=$1 p=$2 status=0 _
  for _ in $(seq 100); do
    alive "$p" || break
    sleep 0.1
  done
  alive "$p" && fail "$name still running 10 s after it should have stopped"
  wait "$p" || status=$?
  [[ $status == 0 ]] || fail "$name exited $status, expected 0; stderr: $(cat "$work/$name.err")"
}

# stop NAME PID: SIGTERM, then as finish: a graceful stop exits 0.
stop() {
  kill -TERM "$2"
  finish "$@"
}

# expect_exit CODE NAME COMMAND...: runs COMMAND (at most 30 s; stdout in
# $work/NAME.out, stderr in $work/NAME.err) and checks its exit status.
expect_exit() {
  local want=$1 name=$2 status=0
  shift 2
  timeout 30 "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  [[ $status == "$want" ]] || fail "$name: exit $status, expected $want; stderr: $(cat "$work/$name.err")"
}

# has FILE PATTERN: FILE has a line matching the extended regex PATTERN.
has() {
  grep -Eq -- "$2" "$1" || fail "$(basename "$1") lacks /$2/; it holds: $(head -c 2000 "$1")"
}

echo "== echo_server + echo_client (TCP)"
start echo_server "$bin/echo_server" 127.0.0.1:0 --shards 1
[[ $addr =~ ^127\.0\.0\.1:[1-9][0-9]*$ ]] || fail "echo_server listens on '$addr', expected 127.0.0.1:<port>"
expect_exit 0 echo_client "$bin/echo_client" "$addr" --timeout 20
has "$work/echo_client.out" '^message 5: 1 MiB echoed intact'
has "$work/echo_client.out" '^done: 5 messages'
stop echo_server "$pid"

echo "== echo_server + echo_client (abstract unix name)"
name="@ringlet-examples-test-$$"
start echo_server_unix "$bin/echo_server" "$name"
[[ $addr == "$name" ]] || fail "echo_server listens on '$addr', expected $name"
expect_exit 0 echo_client_unix "$bin/echo_client" "$name" --timeout 20
has "$work/echo_client_unix.out" '^done: 5 messages'
stop echo_server_unix "$pid"

echo "== unix_echo"
expect_exit 0 unix_echo "$bin/unix_echo" "@ringlet-unix-echo-test-$$"
has "$work/unix_echo.out" "^listening on @ringlet-unix-echo-test-$$\$"
has "$work/unix_echo.out" '^echoed line: bye$'
has "$work/unix_echo.out" '^echoed block: 262144 bytes intact$'

echo "== unix_echo --server, --client"
name="@ringlet-unix-echo-modes-$$"
start unix_echo_server "$bin/unix_echo" --server "$name" --idle-timeout 5s
[[ $addr == "$name" ]] || fail "unix_echo --server listens on '$addr', expected $name"
expect_exit 0 unix_echo_client "$bin/unix_echo" --client "$name"
has "$work/unix_echo_client.out" '^echoed line: bye$'
has "$work/unix_echo_client.out" '^echoed block: 262144 bytes intact$'
grep -q '^listening' "$work/unix_echo_client.out" && fail "unix_echo --client printed a listening line"
has "$work/unix_echo_server.out" '^server: client is pid [0-9]+'
stop unix_echo_server "$pid"
expect_exit 2 unix_echo_noaddr "$bin/unix_echo" --server

echo "== chat_server"
start chat_server "$bin/chat_server" 127.0.0.1:0 --max-line 100 --queue-limit 65536
timeout 60 python3 "$peers" chat "$addr" 100 || fail "chat clients (see above)"
has "$work/chat_server.err" 'left \(too slow\)'
stop chat_server "$pid"

echo "== line_server: lines, then exit"
start line_server "$bin/line_server" 127.0.0.1:0
timeout 30 python3 "$peers" lines "$addr" "$work/line_server.out" || fail "line_server clients (see above)"
finish line_server "$pid"   # "exit" stopped it, without a signal
has "$work/line_server.out" '^127\.0\.0\.1:[0-9]+: hello$'
has "$work/line_server.out" '^127\.0\.0\.1:[0-9]+: second line$'
[[ $(tail -n1 "$work/line_server.out") == exiting ]] || fail "line_server's last line is not 'exiting'"
grep -q exit: "$work/line_server.out" && fail "line_server printed the exit line as a message"

echo "== line_server: an over-long line, then SIGTERM"
start line_server_long "$bin/line_server" 127.0.0.1:0 --max-line 10
timeout 30 python3 "$peers" long-line "$addr" 10 || fail "line_server long-line client (see above)"
has "$work/line_server_long.err" 'longer than 10 bytes'
stop line_server_long "$pid"

echo "== limits: idle timeouts close stalled clients"
start line_server_idle "$bin/line_server" 127.0.0.1:0 --idle-timeout 500ms
timeout 30 python3 "$peers" stall "$addr" "a line without its end" 0.4 3 || fail "line_server kept a stalled client"
has "$work/line_server_idle.err" 'timed out; closing it'
stop line_server_idle "$pid"
start line_server_read "$bin/line_server" 127.0.0.1:0 --read-timeout 500ms
timeout 30 python3 "$peers" stall "$addr" "partial" 0.4 3 || fail "line_server's read timeout did not end a line"
stop line_server_read "$pid"
start chat_server_idle "$bin/chat_server" 127.0.0.1:0 --idle-timeout 500ms
timeout 30 python3 "$peers" stall "$addr" "typing" 0.4 3 || fail "chat_server kept a stalled client"
has "$work/chat_server_idle.err" 'left \(timed out\)'
stop chat_server_idle "$pid"
start echo_server_idle "$bin/echo_server" 127.0.0.1:0 --shards 1 --idle-timeout 500ms
timeout 30 python3 "$peers" stall "$addr" "x" 0.4 3 || fail "echo_server kept an idle client"
stop echo_server_idle "$pid"
expect_exit 2 bad_duration "$bin/line_server" 127.0.0.1:0 --idle-timeout 5x
has "$work/bad_duration.err" '--idle-timeout "5x" is not a duration'
expect_exit 0 limits_help "$bin/chat_server" --help
has "$work/limits_help.out" '^  --write-timeout T'

echo "== udp_echo_server: an unnamed unix sender"
name="@ringlet-udp-unnamed-$$"
start udp_unnamed "$bin/udp_echo_server" "$name" --verbose
timeout 10 python3 "$peers" unnamed-dgram "$name" || fail "unnamed datagram sender"
for _ in $(seq 50); do grep -q 'cannot be answered' "$work/udp_unnamed.err" && break; sleep 0.1; done
[[ $(grep -c 'cannot be answered' "$work/udp_unnamed.err") == 1 ]] || fail "udp_echo_server did not say once that it cannot answer: $(cat "$work/udp_unnamed.err")"
grep -q ', echoing$' "$work/udp_unnamed.out" && fail "udp_echo_server claims to echo to an unnamed sender"
has "$work/udp_unnamed.out" 'from an unnamed unix socket, not echoing'
stop udp_unnamed "$pid"

if command -v openssl >/dev/null; then
  echo "== tls_echo_server --alpn"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 2>/dev/null ||
    fail "openssl could not make a test certificate"
  start tls_alpn "$bin/tls_echo_server" 127.0.0.1:0 --shards 1 --cert "$work/cert.pem" --key "$work/key.pem" \
    --alpn myproto,echo
  echo hello | timeout 10 openssl s_client -connect "$addr" -alpn other,myproto -quiet -no_ign_eof \
    >"$work/alpn.out" 2>"$work/alpn.err" || true
  timeout 10 openssl s_client -connect "$addr" -alpn myproto </dev/null >"$work/alpn_info.out" 2>&1 || true
  has "$work/alpn_info.out" 'ALPN protocol: myproto'
  stop tls_alpn "$pid"
  expect_exit 2 tls_alpn_bad "$bin/tls_echo_server" 127.0.0.1:0 --cert x --key y --alpn "a,,b"
else
  echo "== tls_echo_server --alpn: skipped (no openssl)"
fi

echo "== http_get"
python3 "$peers" body >"$work/body"
start http_fixture python3 "$peers" http-server
fixture=$pid
for path in fixed chunked eof; do
  expect_exit 0 "http_$path" "$bin/http_get" "http://$addr/$path" --timeout 20
  cmp -s "$work/body" "$work/http_$path.out" || fail "http_get /$path: the body differs from what was served"
done
has "$work/http_fixed.err" '^< HTTP/1\.1 200 OK$'
has "$work/http_fixed.err" '^< Content-Length: 100000$'
has "$work/http_chunked.err" '^< Transfer-Encoding: chunked$'
expect_exit 0 http_continue "$bin/http_get" "http://$addr/continue" -q
[[ $(cat "$work/http_continue.out") == ok ]] || fail "http_get /continue: body '$(cat "$work/http_continue.out")'"
[[ -s $work/http_continue.err ]] && fail "http_get -q printed on stderr: $(cat "$work/http_continue.err")"
expect_exit 1 http_missing "$bin/http_get" "http://$addr/missing"
[[ $(cat "$work/http_missing.out") == "not here" ]] || fail "http_get /missing: body '$(cat "$work/http_missing.out")'"
has "$work/http_missing.err" 'answered 404'
expect_exit 1 http_short "$bin/http_get" "http://$addr/short"
has "$work/http_short.err" 'body ended after 10 of 100 bytes'
expect_exit 1 http_badchunk "$bin/http_get" "http://$addr/badchunk"
has "$work/http_badchunk.err" 'malformed chunk size'
expect_exit 1 http_badstatus "$bin/http_get" "http://$addr/badstatus"
has "$work/http_badstatus.err" 'malformed status'
expect_exit 1 http_slow "$bin/http_get" "http://$addr/slow" --timeout 1
has "$work/http_slow.err" 'timed out'
expect_exit 2 http_https "$bin/http_get" "https://$addr/"
expect_exit 2 http_nourl "$bin/http_get" "ftp://$addr/"
kill -TERM "$fixture"   # python's default SIGTERM ends it at once; its status is not ours to check
wait "$fixture" || true

echo "== http_server: the four routes through http_get, --help, a bad argument, SIGTERM"
start http_server "$bin/http_server" 127.0.0.1:0 --shards 2
expect_exit 0 hs_plain "$bin/http_get" "http://$addr/plaintext" --timeout 20
[[ $(cat "$work/hs_plain.out") == "Hello, World!" ]] || fail "http_server /plaintext: '$(cat "$work/hs_plain.out")'"
has "$work/hs_plain.err" '^< Content-Type: text/plain$'
has "$work/hs_plain.err" '^< Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$'
expect_exit 0 hs_json "$bin/http_get" "http://$addr/json" -q
[[ $(cat "$work/hs_json.out") == '{"message":"Hello, World!"}' ]] || fail "http_server /json: '$(cat "$work/hs_json.out")'"
expect_exit 0 hs_bytes "$bin/http_get" "http://$addr/bytes/1000000" -q
[[ $(wc -c <"$work/hs_bytes.out") == 1000000 ]] || fail "http_server /bytes/1000000: $(wc -c <"$work/hs_bytes.out") bytes"
expect_exit 1 hs_missing "$bin/http_get" "http://$addr/missing"
has "$work/hs_missing.err" 'answered 404'
stop http_server "$pid"
expect_exit 0 hs_help "$bin/http_server" --help
has "$work/hs_help.out" '^usage: http_server ADDRESS'
expect_exit 2 hs_bad "$bin/http_server" 127.0.0.1:0 --shards zero
expect_exit 2 hs_noaddr "$bin/http_server"

echo "== SIGTERM ends idle sessions at once, not at the 10 s drain timeout"
start chat_drain "$bin/chat_server" 127.0.0.1:0
timeout 30 python3 "$peers" idle-stop "$addr" "$pid" chat 3 || fail "chat_server kept an idle client after SIGTERM"
finish chat_drain "$pid"
start line_drain "$bin/line_server" 127.0.0.1:0
timeout 30 python3 "$peers" idle-stop "$addr" "$pid" line 3 || fail "line_server kept an idle client after SIGTERM"
finish line_drain "$pid"
start http_drain "$bin/http_server" 127.0.0.1:0 --shards 2
timeout 30 python3 "$peers" idle-stop "$addr" "$pid" http 3 || fail "http_server kept an idle keep-alive connection after SIGTERM"
finish http_drain "$pid"
for where in 127.0.0.1:0 "@ringlet-udp-stop-$$"; do
  start udp_stop "$bin/udp_echo_server" "$where" --shards 2
  kill -TERM "$pid"
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "udp_echo_server $where still running 3 s after SIGTERM (it has no request to finish)"
  finish udp_stop "$pid"
done

echo "all example checks passed"

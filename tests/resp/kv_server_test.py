#!/usr/bin/env python3
"""kv_server against real Redis clients: python3-redis and redis-cli (Debian).

    tests/resp/kv_server_test.py build/examples/kv_server

Starts kv_server on 127.0.0.1 port 0 with three shards (and once more with
--maxmemory), drives every command through redis-py and redis-cli, checks
replies and Redis's error texts byte for byte, keys spread over every
shard, expiry (lazy and by the sweep), a pipeline of 1,000 mixed commands
answered in order, protocol errors over a raw socket, and a graceful
SIGTERM. Exits 77 (skipped) when redis-py or redis-cli is missing. Every
wait is bounded; only the servers started here are signalled, by PID.
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

try:
    import redis
except ImportError:
    # Debian's python3-redis, when the python3 on PATH is another build (pyenv, venv).
    sys.path.append("/usr/lib/python3/dist-packages")
try:
    import redis
except ImportError:
    print("SKIP: python3-redis is not installed (tools/bootstrap installs it)")
    sys.exit(77)
if shutil.which("redis-cli") is None:
    print("SKIP: redis-cli is not installed (Debian redis-tools; tools/bootstrap installs it)")
    sys.exit(77)

BINARY = sys.argv[1]
SHARDS = 3
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        raise AssertionError(what)


def equal(got, want, what=""):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


def start(*extra):
    proc = subprocess.Popen([BINARY, "127.0.0.1:0", "--shards", str(SHARDS), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the first line; the server prints it once listening
    if not line.startswith("listening on "):
        proc.kill()
        raise AssertionError(f"no 'listening on' line: {line!r} {proc.stderr.read()!r}")
    port = int(line.rsplit(":", 1)[1])
    return proc, port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("kv_server still running 10 s after SIGTERM")
    equal(status, 0, "exit status after SIGTERM")


def error_of(fn, *args):
    try:
        fn(*args)
    except redis.ResponseError as e:
        return str(e)
    raise AssertionError(f"{args!r}: no error")


def cli(port, *args, stdin=None):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin, capture_output=True,
                         text=True, timeout=20)
    return out.stdout


def raw(port, request, expect_close=False):
    """Sends bytes, returns what comes back until the peer closes (or 1 s of quiet)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        s.settimeout(1.0 if not expect_close else 5.0)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
        except socket.timeout:
            return data, False


def test_strings(r):
    equal(r.ping(), True, "PING")
    equal(r.echo("héllo"), "héllo".encode(), "ECHO")
    equal(r.set("k", "v"), True, "SET")
    equal(r.get("k"), b"v", "GET")
    equal(r.get("missing"), None, "GET missing")
    equal(r.set("k", "w", nx=True), None, "SET NX existing")
    equal(r.set("fresh", "1", xx=True), None, "SET XX missing")
    equal(r.set("k", "x", xx=True), True, "SET XX existing")
    equal(r.set("k", "y", get=True), b"x", "SET GET")
    equal(r.execute_command("SET", "k2", "z", "NX", "GET"), None, "SET NX GET missing")
    equal(r.get("k2"), b"z", "SET NX GET set it")
    equal(r.getdel("k2"), b"z", "GETDEL")
    equal(r.getdel("k2"), None, "GETDEL again")
    equal(r.incr("n"), 1, "INCR")
    equal(r.incrby("n", 41), 42, "INCRBY")
    equal(r.decr("n"), 41, "DECR")
    equal(r.decrby("n", 51), -10, "DECRBY")
    equal(r.append("s", "abc"), 3, "APPEND new")
    equal(r.append("s", "de"), 5, "APPEND")
    equal(r.strlen("s"), 5, "STRLEN")
    equal(r.strlen("nope"), 0, "STRLEN missing")
    binary = bytes(range(256)) * 4
    r.set(b"bin\x00key", binary)
    equal(r.get(b"bin\x00key"), binary, "binary key and value")
    big = os.urandom(300 * 1024)
    r.set("big", big)
    equal(r.get("big"), big, "300 KiB value")
    equal(r.mset({"a": "1", "b": "2", "c": "3"}), True, "MSET")
    equal(r.mget("a", "nope", "b", "c"), [b"1", None, b"2", b"3"], "MGET")
    equal(r.exists("a", "b", "nope", "a"), 3, "EXISTS counts repeats")
    equal(r.delete("a", "b", "nope"), 2, "DEL")
    equal(r.exists("a", "b", "c"), 1, "EXISTS after DEL")
    equal(r.execute_command("SELECT", 0), True, "SELECT 0")
    equal(error_of(r.execute_command, "SELECT", 1), "DB index is out of range", "SELECT 1")
    equal(r.client_setname("tester"), True, "CLIENT SETNAME")
    equal(r.execute_command("CLIENT", "GETNAME"), b"tester", "CLIENT GETNAME")
    equal(error_of(r.execute_command, "CLIENT", "SETNAME", "a b"),
          "Client names cannot contain spaces, newlines or special characters.", "CLIENT SETNAME with a space")
    hello = r.execute_command("HELLO", "2")
    equal(hello[0:6], [b"server", b"redis", b"version", b"7.0.0", b"proto", 2], "HELLO 2")
    equal(error_of(r.execute_command, "HELLO", "3"), "NOPROTO unsupported protocol version", "HELLO 3")
    # Redis's error texts.
    equal(error_of(r.execute_command, "GET"), "wrong number of arguments for 'get' command", "GET arity")
    equal(error_of(r.execute_command, "SET", "k"), "wrong number of arguments for 'set' command", "SET arity")
    equal(error_of(r.execute_command, "MSET", "a", "1", "b"), "wrong number of arguments for 'mset' command",
          "MSET odd")
    equal(error_of(r.execute_command, "FOO", "bar", "baz"),
          "unknown command 'FOO', with args beginning with: 'bar' 'baz' ", "unknown command")
    equal(error_of(r.execute_command, "foo"), "unknown command 'foo', with args beginning with: ", "unknown, no args")
    r.set("k", "notanumber")
    equal(error_of(r.incr, "k"), "value is not an integer or out of range", "INCR on text")
    equal(error_of(r.execute_command, "INCRBY", "n", "1.5"), "value is not an integer or out of range", "INCRBY 1.5")
    r.set("max", str(2**63 - 1))
    equal(error_of(r.incr, "max"), "increment or decrement would overflow", "INCR overflow")
    equal(error_of(r.execute_command, "SET", "k", "v", "EX", "0"), "invalid expire time in 'set' command", "EX 0")
    equal(error_of(r.execute_command, "SET", "k", "v", "EX", "x"), "value is not an integer or out of range", "EX x")
    equal(error_of(r.execute_command, "SET", "k", "v", "NX", "XX"), "syntax error", "SET NX XX")
    equal(error_of(r.execute_command, "SET", "k", "v", "EX", "1", "PX", "1"), "syntax error", "SET EX PX")
    equal(error_of(r.execute_command, "FLUSHALL", "now"), "syntax error", "FLUSHALL option")


def test_expiry(r):
    r.set("e", "v", ex=100)
    check(95 <= r.ttl("e") <= 100, "TTL after EX 100")
    check(99000 <= r.pttl("e") <= 100000, "PTTL after EX 100")
    equal(r.ttl("nope"), -2, "TTL missing")
    r.set("p", "v")
    equal(r.ttl("p"), -1, "TTL without expiry")
    equal(r.expire("p", 50), True, "EXPIRE")
    check(45 <= r.ttl("p") <= 50, "TTL after EXPIRE")
    equal(r.persist("p"), True, "PERSIST")
    equal(r.persist("p"), False, "PERSIST again")
    equal(r.ttl("p"), -1, "TTL after PERSIST")
    equal(r.expire("nope", 10), False, "EXPIRE missing")
    equal(r.execute_command("EXPIRE", "p", "10", "XX"), 0, "EXPIRE XX without expiry")
    equal(r.execute_command("EXPIRE", "p", "10", "NX"), 1, "EXPIRE NX")
    equal(r.execute_command("EXPIRE", "p", "5", "GT"), 0, "EXPIRE GT smaller")
    equal(r.execute_command("EXPIRE", "p", "20", "GT"), 1, "EXPIRE GT larger")
    equal(error_of(r.execute_command, "EXPIRE", "p", "10", "NX", "XX"),
          "NX and XX, GT or LT options at the same time are not compatible", "EXPIRE NX XX")
    equal(error_of(r.execute_command, "EXPIRE", "p", "10", "FOO"), "Unsupported option FOO", "EXPIRE FOO")
    r.set("incr-keeps-ttl", "1", ex=100)
    r.incr("incr-keeps-ttl")
    check(r.ttl("incr-keeps-ttl") > 0, "INCR keeps the TTL")
    r.set("gone", "v", px=100)
    equal(r.pexpire("neg", -1), False, "PEXPIRE missing")
    r.set("neg", "v")
    equal(r.expire("neg", -1), True, "EXPIRE negative deletes")
    equal(r.exists("neg"), 0, "deleted by negative EXPIRE")
    time.sleep(0.25)
    equal(r.get("gone"), None, "lazy expiry on GET")
    # The sweep: keys on every shard expire without being touched again.
    r.flushall()
    for i in range(600):
        r.set(f"sweep:{i}", "v", px=150)
    r.set("stays", "v")
    deadline = time.time() + 5
    while r.dbsize() != 1 and time.time() < deadline:
        time.sleep(0.1)
    equal(r.dbsize(), 1, "DBSIZE once the sweep has run")
    equal(r.info("keyspace")["db0"], {"keys": 1, "expires": 0, "avg_ttl": 0}, "INFO keyspace after the sweep")


def test_sharding(r):
    r.flushall()
    keys = [f"key:{i}" for i in range(1000)]
    r.mset({k: k.upper() for k in keys})
    equal(r.dbsize(), 1000, "DBSIZE after MSET of 1000")
    shards = r.info("shards")
    counts = [shards[f"shard{i}"]["keys"] for i in range(len(shards))]
    equal(len(counts), SHARDS, "shards in INFO shards")
    check(all(c > 200 for c in counts), f"keys spread over every shard: {counts}")
    equal(r.mget(keys), [k.upper().encode() for k in keys], "MGET of 1000 over every shard")
    equal(r.exists(*keys, "nope"), 1000, "EXISTS over every shard")
    equal(r.delete(*keys[:500]), 500, "DEL over every shard")
    equal(r.dbsize(), 500, "DBSIZE after DEL")
    info = r.info()
    equal(info["db0"]["keys"], 500, "INFO db0 keys")
    check(info["used_memory"] > 0 and info["connected_clients"] >= 1, "INFO memory and clients")
    equal(r.flushall(), True, "FLUSHALL")
    equal(r.dbsize(), 0, "DBSIZE after FLUSHALL")


def test_pipeline(r):
    rng = random.Random(12)
    pipe = r.pipeline(transaction=False)
    expected = []
    model = {}
    for i in range(1000):
        key = f"p:{rng.randrange(50)}"
        op = rng.randrange(6)
        if op == 0:
            value = str(rng.randrange(1000))
            pipe.set(key, value)
            model[key] = value
            expected.append(True)
        elif op == 1:
            pipe.get(key)
            expected.append(model[key].encode() if key in model else None)
        elif op == 2:
            pipe.delete(key)
            expected.append(1 if model.pop(key, None) is not None else 0)
        elif op == 3:
            pipe.incr(key)
            model[key] = str(int(model.get(key, "0")) + 1)
            expected.append(int(model[key]))
        elif op == 4:
            other = f"p:{rng.randrange(50)}"
            pipe.mget(key, other)
            expected.append([model[k].encode() if k in model else None for k in (key, other)])
        else:
            pipe.exists(key)
            expected.append(1 if key in model else 0)
    equal(pipe.execute(), expected, "1,000 pipelined mixed commands, replies in order")


def test_raw_protocol(port):
    data, closed = raw(port, b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\nGET k\r\n", expect_close=True)
    equal(data, b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n", "protocol error after a reply")
    check(closed, "closed after a protocol error")
    for request, wording in [(b"*x\r\n", "invalid multibulk length"), (b"*1\r\n:1\r\n", "expected '$', got ':'"),
                             (b"SET k \"oops\r\n", "unbalanced quotes in request"),
                             (b"x" * (64 * 1024 + 10), "too big inline request")]:
        data, closed = raw(port, request, expect_close=True)
        equal(data, b"-ERR Protocol error: " + wording.encode() + b"\r\n", wording)
        check(closed, f"closed after {wording}")
    data, closed = raw(port, b"SET inline \"a b\\x41\"\r\nGET inline\r\nPING\r\nPING hi\r\n\r\n*0\r\nQUIT\r\nPING\r\n",
                       expect_close=True)
    equal(data, b"+OK\r\n$4\r\na bA\r\n+PONG\r\n$2\r\nhi\r\n+OK\r\n", "inline commands, empty commands, QUIT")
    check(closed, "closed after QUIT")
    # One byte at a time.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for b in b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$2\r\nok\r\n*2\r\n$3\r\nGET\r\n$4\r\nslow\r\n":
            s.sendall(bytes([b]))
        want = b"+OK\r\n$2\r\nok\r\n"
        got = b""
        while len(got) < len(want):
            got += s.recv(100)
        equal(got, want, "a command sent one byte at a time")


def test_redis_cli(port):
    equal(cli(port, "set", "cli", "hello world"), "OK\n", "redis-cli SET")
    equal(cli(port, "get", "cli"), "hello world\n", "redis-cli GET")
    equal(cli(port, "--no-raw", "mget", "cli", "none"), '1) "hello world"\n2) (nil)\n', "redis-cli MGET")
    equal(cli(port, "incrby", "cn", "5"), "5\n", "redis-cli INCRBY")
    equal(cli(port, "--no-raw", "ttl", "cli"), "(integer) -1\n", "redis-cli TTL")
    equal(cli(port, "--no-raw", "get"), "(error) ERR wrong number of arguments for 'get' command\n",
          "redis-cli arity error")
    equal(cli(port, "--no-raw", "nosuch", "x"), "(error) ERR unknown command 'nosuch', with args beginning with: 'x' \n",
          "redis-cli unknown command")
    # Commands on stdin, one per line, as a user pipes a script in.
    script = "set s1 1\nincr s1\nget s1\ndel s1\nexists s1\n"
    equal(cli(port, stdin=script), "OK\n2\n2\n1\n0\n", "redis-cli reading commands from stdin")
    docs = cli(port, "command", "docs", "get")
    equal(docs.split("\n")[:7], ["get", "summary", "Returns the string value of a key.", "since", "1.0.0", "group",
                                 "string"], "redis-cli COMMAND DOCS get")
    check(int(cli(port, "command", "count")) >= 29, "COMMAND COUNT")
    check("keyspace_hits" not in cli(port, "info") and "# Server" in cli(port, "info"), "redis-cli INFO")
    equal(cli(port, "--no-raw", "ping"), "PONG\n", "redis-cli PING")


def test_maxmemory():
    proc, port = start("--maxmemory", "300000")
    try:
        r = redis.Redis(port=port, socket_timeout=10)
        value = "x" * 1000
        refused = None
        for i in range(2000):
            try:
                r.set(f"fill:{i}", value)
            except redis.ResponseError as e:
                refused = str(e)
                break
        equal(refused, "OOM command not allowed when used memory > 'maxmemory'.", "OOM error text")
        check(r.get("fill:0") == value.encode(), "reads still work over maxmemory")
        equal(error_of(r.incr, "counter"), "OOM command not allowed when used memory > 'maxmemory'.", "INCR over maxmemory")
        equal(r.delete("fill:0"), 1, "DEL still works over maxmemory")
        r.flushall()
        equal(r.set("after", "flush"), True, "writes again after FLUSHALL")
        r.close()
    finally:
        stop(proc)


def main():
    proc, port = start()
    try:
        r = redis.Redis(port=port, socket_timeout=10)
        test_strings(r)
        test_expiry(r)
        test_sharding(r)
        test_pipeline(r)
        test_raw_protocol(port)
        test_redis_cli(port)
        r.close()
    finally:
        stop(proc)
    test_maxmemory()
    print(f"kv_server: {checks} checks passed")


if __name__ == "__main__":
    main()

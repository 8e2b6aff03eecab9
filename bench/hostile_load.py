#!/usr/bin/env python3
"""Hostile peers against an example server, and what its memory does.

Starts the server, takes its RSS (baseline), opens N hostile connections,
watches the RSS (peak) and how long the server takes to close them, waits
twice the server's timeout after the last close, and takes the RSS again
(after). Loopback only; every wait is bounded; the server is started here
and stopped here, by PID (SIGTERM, then SIGKILL after 10 s).

  bench/hostile_load.py slowloris build/examples/chat_server --timeout 2
  bench/hostile_load.py slowloris build/examples/line_server --timeout 2
  bench/hostile_load.py nonreading build/examples/echo_server --timeout 2 -- --shards 1
  bench/hostile_load.py tls-stall build/examples/tls_echo_server --timeout 2 \\
      --count 500 -- --shards 1 --cert server.pem --key server.key

Modes (the server gets `127.0.0.1:0` plus the timeout option, then
anything after --):
  slowloris   each connection sends a partial line, then nothing; the server
              runs with --idle-timeout T
  nonreading  each connection sends (up to --bytes, 8 MiB) and never reads;
              an echo server's writes stall once the socket buffers are
              full; the server runs with --write-timeout T
              (and --idle-timeout 10T, so that only the write timeout acts)
  tls-stall   each connection sends a TLS ClientHello, then nothing; the
              server runs with --handshake-timeout T

Prints one summary line:
  <mode> <server>: N conns, baseline X MiB, peak Y MiB, after Z MiB (Z/X = R),
  closed C by the server in S s
and exits 1 when a connection was still open at the end or after > 2 * baseline.
"""
import argparse
import os
import resource
import select
import signal
import socket
import ssl
import subprocess
import sys
import time


def rss_mib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return 0.0


def start_server(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline() if ready else ''
    if not line.startswith('listening on '):
        proc.kill()
        sys.exit('server printed %r instead of "listening on"' % line)
    host, port = line.split()[-1].rsplit(':', 1)
    return proc, (host, int(port))


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def client_hello():
    """The bytes of one TLS ClientHello (Python's ssl, not verifying)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname='localhost')
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('mode', choices=['slowloris', 'nonreading', 'tls-stall'])
    ap.add_argument('server')
    ap.add_argument('--timeout', type=float, default=2.0, help='the server timeout to set, seconds')
    ap.add_argument('--count', type=int, default=1000)
    ap.add_argument('--bytes', type=int, default=8 << 20, help='nonreading: the most bytes each client sends')
    argv = sys.argv[1:]
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    a = ap.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    a.extra = extra

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.count + 100)), hard))
    ms = '%dms' % int(a.timeout * 1000)
    option = {'slowloris': ['--idle-timeout', ms],
              'nonreading': ['--write-timeout', ms, '--idle-timeout', '%dms' % int(a.timeout * 10000)],
              'tls-stall': ['--handshake-timeout', ms]}[a.mode]
    proc, where = start_server([a.server, '127.0.0.1:0'] + option + a.extra)
    name = os.path.basename(a.server)
    deadline = time.monotonic() + 20 * a.timeout + 60   # the whole run is bounded
    try:
        time.sleep(0.5)
        baseline = rss_mib(proc.pid)
        payload = {'slowloris': b'a line that never ends', 'nonreading': a.bytes,
                   'tls-stall': client_hello()}[a.mode]
        chunk = b'x' * 65536
        conns = []
        for _ in range(a.count):
            s = socket.create_connection(where, timeout=5)
            s.setblocking(False)
            conns.append([s, payload if a.mode == 'nonreading' else memoryview(payload), False])
        opened = time.monotonic()
        peak, open_count, last_close = baseline, len(conns), opened
        while open_count and time.monotonic() < deadline:
            for c in conns:
                s, rest, closed = c
                if closed:
                    continue
                try:
                    if a.mode == 'nonreading':
                        # Sends (at most --bytes) and never reads: the server's
                        # echo stalls on a full socket; its close shows as a
                        # failing send.
                        n = s.send(chunk if c[1] > 0 else b'y')
                        c[1] -= n
                    else:
                        if rest:
                            c[1] = rest[s.send(rest):]
                        if s.recv(65536) == b'':
                            c[2] = True
                except (BlockingIOError, ssl.SSLWantReadError):
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    c[2] = True
                if c[2]:
                    s.close()
                    open_count -= 1
                    last_close = time.monotonic()
            peak = max(peak, rss_mib(proc.pid))
            time.sleep(0.05)
        took = last_close - opened
        time.sleep(2 * a.timeout)
        after = rss_mib(proc.pid)
        closed = len(conns) - open_count
        for c in conns:
            if not c[2]:
                c[0].close()
        ratio = after / baseline if baseline else float('inf')
        print('%s %s: %d conns, baseline %.1f MiB, peak %.1f MiB, after %.1f MiB (after/baseline %.2f), '
              'closed %d by the server in %.1f s' % (a.mode, name, len(conns), baseline, peak, after, ratio, closed, took))
        return 0 if open_count == 0 and ratio <= 2.0 else 1
    finally:
        stop_server(proc)


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""ringlet_loadgen against the tools people use instead, on the same servers:
wrk (HTTP, /plaintext of nginx with one worker) and redis-benchmark (RESP,
GET against redis-server), interleaved rounds (tool, ringlet_loadgen, tool,
...), the server pinned to CPU 0 and the load generators to CPU 1.

  bench/loadgen_peers_compare.py build-bench/tools/ringlet_loadgen [--rounds 3] [--duration 3] [--realtime]
  bench/loadgen_peers_compare.py build/tools/ringlet_loadgen --quota 0.5 --realtime   # as root: decides depth 1 / -P 1

With --quota CPUS the servers run in a cgroup CPU quota (bench/cpu_quota.py,
the same group ringlet_loadgen compare --quota makes; at nice -20 instead of
SCHED_FIFO, which would escape the quota): the server is then the limit for
both tools, and requests/s compares how well each keeps it busy. Free runs
cannot decide depth 1 and -P 1 on two vCPUs: there wrk's one thread and
redis-benchmark saturate their own CPU first (DESIGN.md, "Measuring on two
vCPUs"). Each round prints the load average at its start.

For each scenario it prints, per round, both tools' requests/s and CPU time
per request (the load generator's own user + system time from wait4, divided
by the requests it reports), the same-round ratios ringlet_loadgen / tool,
and their medians. Scenarios (issue 11's bars: requests/s within 10 %, CPU
per request at most 1.2x). For RESP, redis-server's own command count
(INFO stats, before and after each tool's whole run, over its wall time,
so start-up and warm-up are in it for both) is printed beside: a referee
that does not depend on either tool's report:
  http-1   nginx /plaintext, 50 connections, depth 1      (wrk -t1 -c50)
  http-16  nginx /plaintext, 50 connections, pipelined 16 (wrk with a pipelining script)
  resp-1   redis-server GET, 50 connections, -P 1         (redis-benchmark -t get -c 50)
  resp-16  redis-server GET, 50 connections, -P 16
Needs nginx, wrk, redis-server, redis-benchmark (Debian: nginx-light or
nginx, wrk, redis-server, redis-tools). Only loopback; every process it
starts is stopped by PID.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_quota import cpu_quota  # noqa: E402  (bench/cpu_quota.py)

ap = argparse.ArgumentParser()
ap.add_argument('loadgen')
ap.add_argument('--rounds', type=int, default=3)
ap.add_argument('--duration', type=float, default=3)
ap.add_argument('--only', default='')
ap.add_argument('--realtime', action='store_true', help='SCHED_FIFO 10 for the servers and both generators (root)')
ap.add_argument('--quota', type=float, default=0,
                help='run the servers in a cgroup CPU quota of this many CPUs (root; e.g. 0.5)')
ap.add_argument('--quota-period', type=int, default=100000, metavar='US',
                help='the quota\'s period in microseconds (default 100000)')
args = ap.parse_args()
for tool in ('nginx', 'wrk', 'redis-server', 'redis-benchmark', 'taskset'):
    if not shutil.which(tool):
        sys.exit(f'loadgen_peers_compare: {tool} is not installed')
work = tempfile.mkdtemp(prefix='loadgen-peers-')
started = []


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f'nothing listens on {port}')


rt = ['chrt', '-f', '10'] if args.realtime else []
quota = cpu_quota(args.quota, 'loadgen-peers', args.quota_period) if args.quota > 0 else None
# SCHED_FIFO escapes a CFS quota: a server in the quota gets nice -20 instead.
server_rt = (['nice', '-n', '-20'] if quota else rt) if args.realtime else []


def start(cmd):
    p = subprocess.Popen(server_rt + ['taskset', '-c', '0'] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=quota.join if quota else None)
    started.append(p)
    return p


def load_average():
    return ' '.join(open('/proc/loadavg').read().split()[:3])


def redis_commands():
    """redis-server's own count of the commands it processed (INFO stats)."""
    with socket.create_connection(('127.0.0.1', redis_port)) as s:
        s.sendall(b'INFO stats\r\n')
        text = b''
        while b'total_commands_processed:' not in text or not text.endswith(b'\r\n'):
            chunk = s.recv(65536)
            if not chunk:
                break
            text += chunk
    return int(re.search(rb'total_commands_processed:(\d+)', text).group(1))


def run_measured(cmd):
    """Runs cmd pinned to CPU 1; returns (stdout, CPU seconds it used)."""
    p = subprocess.Popen(rt + ['taskset', '-c', '1'] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        print(out)
        raise SystemExit(f'{cmd[0]} exited {p.returncode}')
    return out, usage.ru_utime + usage.ru_stime


nginx_port, redis_port = free_port(), free_port()
conf = os.path.join(work, 'nginx.conf')
open(conf, 'w').write(f'''worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; server {{ listen 127.0.0.1:{nginx_port} reuseport; keepalive_requests 100000000;
  location /plaintext {{ default_type text/plain; return 200 "Hello, World!"; }} }} }}
''')
pipeline = os.path.join(work, 'pipeline.lua')
open(pipeline, 'w').write('init = function(args) local r = {} for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end '
                          'req = table.concat(r) end\nrequest = function() return req end\n')
d = f'{args.duration:g}'
lg = [args.loadgen, '--connections', '50', '--duration', d, '--warmup', '0.5', '--quiet']


def wrk_rps(out):
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    return float(m.group(1))


def wrk_count(out):
    return int(re.search(r'(\d+) requests in', out).group(1))


def lg_rps(out):
    return float(re.search(r'= (\d+) requests/s', out).group(1))


def lg_count(out):
    return sum(int(x) for x in re.findall(r': (\d+)', out.split('responses:')[1].splitlines()[0]))


def redis_rps(out):
    return float(re.findall(r'([\d.]+) requests per second', out)[-1])


scenarios = {
    'http-1': (lambda: ['wrk', '-t1', '-c50', f'-d{d}s', f'http://127.0.0.1:{nginx_port}/plaintext'],
               lambda: lg + [f'127.0.0.1:{nginx_port}', '--http', '--path', '/plaintext', '--depth', '1'],
               wrk_rps, wrk_count),
    'http-16': (lambda: ['wrk', '-t1', '-c50', f'-d{d}s', '-s', pipeline, f'http://127.0.0.1:{nginx_port}/plaintext'],
                lambda: lg + [f'127.0.0.1:{nginx_port}', '--http', '--path', '/plaintext', '--depth', '16'],
                wrk_rps, wrk_count),
    'resp-1': (lambda: ['redis-benchmark', '-p', str(redis_port), '-c', '50', '-n', '300000', '-t', 'get', '-P', '1',
                        '--threads', '1'],
               lambda: lg + [f'127.0.0.1:{redis_port}', '--resp', '--ratio', '0:1', '--size', '3', '--depth', '1'],
               redis_rps, None),
    'resp-16': (lambda: ['redis-benchmark', '-p', str(redis_port), '-c', '50', '-n', '3000000', '-t', 'get', '-P', '16',
                         '--threads', '1'],
                lambda: lg + [f'127.0.0.1:{redis_port}', '--resp', '--ratio', '0:1', '--size', '3', '--depth', '16'],
                redis_rps, None),
}

try:
    start(['nginx', '-c', conf])
    start(['redis-server', '--port', str(redis_port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
    wait_port(nginx_port)
    wait_port(redis_port)
    print(f'machine: {os.cpu_count()} CPUs, {open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].splitlines()[0].strip()}, '
          f'load average {load_average()}')
    print(f'servers: CPU 0, {f"in a quota of {args.quota:g} CPU per {args.quota_period} us ({quota.path})" if quota else "free (no quota)"}; '
          f'load generators: CPU 1{", SCHED_FIFO 10" if args.realtime else ""}')
    for name, (peer, ours, peer_rps, peer_count) in scenarios.items():
        if args.only and name not in args.only.split(','):
            continue
        print(f'\n{name}: peer: {" ".join(peer())}\n{" " * len(name)}  ours: {" ".join(ours())}')
        counted = name.startswith('resp')  # redis-server counts its commands: a referee for both tools
        print(f'  {"round":>5} {"peer req/s":>12} {"ours req/s":>12} {"ratio":>7} {"peer µs/req":>12} '
              f'{"ours µs/req":>12} {"CPU ratio":>9}  ' + ('server-counted req/s peer / ours  ' if counted else '') +
              'load average')
        ratios, cpu_ratios = [], []
        for rnd in range(1, args.rounds + 1):
            load = load_average()
            before, began = (redis_commands(), time.monotonic()) if counted else (0, 0)
            out_p, cpu_p = run_measured(peer())
            served_p = (redis_commands() - before) / (time.monotonic() - began) if counted else 0
            rps_p = peer_rps(out_p)
            # CPU per request over everything the peer answered (wrk: its count; redis-benchmark: -n).
            n_p = peer_count(out_p) if peer_count else int(peer()[peer().index('-n') + 1])
            before, began = (redis_commands(), time.monotonic()) if counted else (0, 0)
            out_o, cpu_o = run_measured(ours())
            served_o = (redis_commands() - before) / (time.monotonic() - began) if counted else 0
            rps_o = lg_rps(out_o)
            n_o = lg_count(out_o)
            us_p, us_o = cpu_p * 1e6 / n_p, cpu_o * 1e6 / n_o
            ratios.append(rps_o / rps_p)
            cpu_ratios.append(us_o / us_p)
            print(f'  {rnd:>5} {rps_p:>12,.0f} {rps_o:>12,.0f} {rps_o / rps_p:>7.3f} {us_p:>12.2f} {us_o:>12.2f} '
                  f'{us_o / us_p:>9.3f}  ' + (f'{served_p:>16,.0f} / {served_o:<14,.0f}  ' if counted else '') + load)
        print(f'  median same-round ratios: requests/s {statistics.median(ratios):.3f} '
              f'({min(ratios):.3f}-{max(ratios):.3f}), CPU per request {statistics.median(cpu_ratios):.3f} '
              f'({min(cpu_ratios):.3f}-{max(cpu_ratios):.3f})')
finally:
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if quota:
        print(f'the quota throttled the servers {quota.throttled()} times')
        quota.remove()
    shutil.rmtree(work, ignore_errors=True)

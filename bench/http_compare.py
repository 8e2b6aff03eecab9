#!/usr/bin/env python3
"""HTTP /plaintext with wrk: http_server --shards 1 against nginx (one worker)
and the minimal epoll responder (the ceiling), interleaved.

    bench/http_compare.py                        # 3 rounds x 5 s, free and 0.5-CPU quota, depth 1 and 16
    bench/http_compare.py --rounds 1 --duration 2 --modes quota --depths 16
    BUILD_DIR=build bench/http_compare.py --out results.json

Needs wrk and nginx-light (apt-get install wrk nginx-light; bench only).
Per mode (free, quota), depth (1: one request in flight per connection;
16: a Lua script writes 16 requests at once) and round, it runs the three
servers one after the other (A B C A B C ...): each started on loopback
pinned to CPU 0 (taskset), wrk -t1 -c50 pinned to CPU 1, one second of
warm-up, then the measured run. In quota mode the server runs in a cgroup
limited to half a CPU (cgroup v1 cpu.cfs_quota_us=50000 per 100000, or v2
cpu.max "50000 100000"), created for the run and removed after.

Printed per case: each round's requests/s for ringlet, nginx and the
ceiling, the same-round ratios ringlet/nginx and ringlet/ceiling and their
medians, the server CPU time per request (utime+stime from /proc/PID/stat
over the measured run, divided by the responses) and wrk's own CPU use (a
wrk near 100 % of its CPU is saturated: the server was not the bottleneck).

nginx runs with its own config in a temp dir: worker_processes 1,
master_process off (one process, so its CPU time is one /proc entry),
access_log off, keepalive_requests 1000000 (wrk's connections are never
closed by the server), `return 200 "Hello, World!"` with text/plain.
Only processes started here are signalled, by PID.
"""
import argparse
import json
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
TICK = os.sysconf("SC_CLK_TCK")

PIPELINE_LUA = """
init = function(args)
  local r = {}
  for i = 1, %d do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
"""

# One nginx worker with keep-alive as wrk uses it; %(server)s is the server
# block's body (bench/https_compare.py fills in its TLS one).
NGINX_BASE_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  server {
%(server)s
  }
}
"""

NGINX_CONF = NGINX_BASE_CONF.replace("%(server)s", """\
    listen 127.0.0.1:%(port)d;
    location /plaintext { default_type text/plain; return 200 "Hello, World!"; }""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def start_server(kind, tmp, cgroup):
    """Starts server `kind` pinned to CPU 0; returns (process, port)."""
    if kind == "nginx":
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"dir": tmp, "port": port})
        cmd = ["taskset", "-c", "0", "nginx", "-c", conf, "-p", tmp, "-e", os.path.join(tmp, "error.log")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            proc.kill()
            raise SystemExit("nginx did not start: " + proc.stderr.read().decode())
    else:
        binary = os.path.join(BUILD, "examples", "http_server") if kind == "ringlet" else \
            os.path.join(BUILD, "bench", "epoll_http_responder")
        cmd = ["taskset", "-c", "0", binary, "127.0.0.1:0"] + (["--shards", "1"] if kind == "ringlet" else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        m = re.match(r"listening on .*:(\d+)", line)
        if not m:
            proc.kill()
            raise SystemExit("%s did not start: %r %s" % (kind, line, proc.stderr.read()))
        port = int(m.group(1))
    if cgroup:
        cgroup.add(proc.pid)
    return proc, port


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_wrk(port, depth, duration, tmp):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d%ds" % duration, "--timeout", "5s"]
    if depth > 1:
        script = os.path.join(tmp, "pipeline%d.lua" % depth)
        with open(script, "w") as f:
            f.write(PIPELINE_LUA % depth)
        cmd += ["-s", script]
    cmd.append("http://127.0.0.1:%d/plaintext" % port)
    with tempfile.TemporaryFile("w+") as output:
        wrk = subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT)
        _, _, usage = os.wait4(wrk.pid, 0)  # this child's own CPU time
        wrk.returncode = 0
        output.seek(0)
        out = output.read()
    wrk_cpu = usage.ru_utime + usage.ru_stime
    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if not m:
        raise SystemExit("wrk output not understood:\n" + out)
    return int(m.group(1)), float(m.group(2)), wrk_cpu, (errors.group(0) if errors else "")


def measure(kind, depth, duration, tmp, quota):
    cgroup = cpu_quota(0.5, "http-bench") if quota else None
    try:
        proc, port = start_server(kind, tmp, cgroup)
        try:
            run_wrk(port, depth, 1, tmp)  # warm-up
            cpu0 = proc_cpu_seconds(proc.pid)
            requests, seconds, wrk_cpu, errors = run_wrk(port, depth, duration, tmp)
            cpu1 = proc_cpu_seconds(proc.pid)
        finally:
            stop_server(proc)
    finally:
        if cgroup:
            cgroup.remove()
    return dict(run_figures(requests, seconds, cpu1 - cpu0, wrk_cpu, errors), rps=requests / seconds)


def run_figures(requests, seconds, server_cpu, wrk_cpu, errors):
    """What one timed wrk run measured: the server's CPU per request and its
    share of the run, wrk's share (near 1.0: wrk, not the server, was the
    limit) and wrk's socket errors."""
    return {
        "requests": requests,
        "server_cpu_us_per_request": server_cpu * 1e6 / max(requests, 1),
        "server_cpu_share": server_cpu / seconds,
        "wrk_cpu_share": wrk_cpu / seconds,
        "errors": errors,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--modes", default="free,quota")
    ap.add_argument("--depths", default="1,16")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            raise SystemExit("%s not found (apt-get install wrk nginx-light)" % tool)
    servers = ["ringlet", "nginx", "ceiling"]
    results = {"cpu": cpu_model(), "cases": {}}
    print("CPU: %s, %d CPUs; server on CPU 0, wrk -t1 -c50 on CPU 1" % (results["cpu"], os.cpu_count()))
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            for depth in [int(d) for d in args.depths.split(",")]:
                case = "%s depth %d" % (mode, depth)
                rounds = []
                print("\n== %s (%d rounds x %d s)" % (case, args.rounds, args.duration), flush=True)
                print("%-6s %12s %12s %12s %9s %9s   cpu us/req r/n/c   server cpu r/n/c   wrk cpu r/n/c" %
                      ("round", "ringlet", "nginx", "ceiling", "r/nginx", "r/ceil"))
                for r in range(args.rounds):
                    row = {s: measure(s, depth, args.duration, tmp, mode == "quota") for s in servers}
                    row["ratio_nginx"] = row["ringlet"]["rps"] / row["nginx"]["rps"]
                    row["ratio_ceiling"] = row["ringlet"]["rps"] / row["ceiling"]["rps"]
                    rounds.append(row)
                    print("%-6d %12.0f %12.0f %12.0f %9.2f %9.2f   %s   %s   %s %s" % (
                        r + 1, row["ringlet"]["rps"], row["nginx"]["rps"], row["ceiling"]["rps"],
                        row["ratio_nginx"], row["ratio_ceiling"],
                        "/".join("%.2f" % row[s]["server_cpu_us_per_request"] for s in servers),
                        "/".join("%.0f%%" % (100 * row[s]["server_cpu_share"]) for s in servers),
                        "/".join("%.0f%%" % (100 * row[s]["wrk_cpu_share"]) for s in servers),
                        " ".join(row[s]["errors"] for s in servers if row[s]["errors"])), flush=True)
                med = {
                    "ratio_nginx": statistics.median(x["ratio_nginx"] for x in rounds),
                    "ratio_ceiling": statistics.median(x["ratio_ceiling"] for x in rounds),
                }
                for s in servers:
                    med[s + "_rps"] = statistics.median(x[s]["rps"] for x in rounds)
                    med[s + "_cpu_us"] = statistics.median(x[s]["server_cpu_us_per_request"] for x in rounds)
                print("median %12.0f %12.0f %12.0f %9.2f %9.2f   cpu us/req %.2f/%.2f/%.2f" % (
                    med["ringlet_rps"], med["nginx_rps"], med["ceiling_rps"], med["ratio_nginx"],
                    med["ratio_ceiling"], med["ringlet_cpu_us"], med["nginx_cpu_us"], med["ceiling_cpu_us"]))
                results["cases"][case] = {"rounds": rounds, "median": med}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

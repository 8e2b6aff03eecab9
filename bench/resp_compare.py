#!/usr/bin/env python3
"""RESP servers head to head with redis-benchmark, interleaved (issue 12).

    bench/resp_compare.py                       # free and quota, 3 rounds (~6 min)
    bench/resp_compare.py --rounds 5 --requests-scale 2
    bench/resp_compare.py --modes quota --depths 16
    bench/resp_compare.py --memory              # bytes per key for 1M keys instead
    bench/resp_compare.py --nice -20            # as root: ahead of other work on a busy machine
    bench/resp_compare.py --realtime            # as root: SCHED_FIFO (a quota server: nice -20)
    BUILD_DIR=build-bench bench/resp_compare.py --out results.json

Servers, each started on 127.0.0.1 (its own port) and stopped with SIGTERM
by PID:
  kv       examples/kv_server --shards 1
  redis    redis-server --save '' --appendonly no (Debian's; apt-get install redis-server)
  ceiling  bench/epoll_resp_responder: frames commands, GET -> fixed bulk, else +OK
The server is pinned to CPU 0 and redis-benchmark (-c 50, -t set or get,
-P 1 or 16) to CPU 1. In a round every server runs every case one after the
other (kv, redis, ceiling per case); rounds repeat that. Modes: "free", and
"quota", where the server runs in a cgroup limited to half a CPU (cgroup v1
cpu.cfs_quota_us=50000 of cpu.cfs_period_us=100000, or v2 cpu.max "50000
100000"), created for the run and removed after; then the server is the
bottleneck (DESIGN.md, "Measuring on two vCPUs").

Reported per case: each server's requests/s per round, same-round ratios
kv/redis and kv/ceiling with their medians, the server's CPU time per request
(/proc/PID/task/*/schedstat), and the client's CPU use (redis-benchmark's
user+system time over wall time: near 100 % means the client was the limit).

--memory loads 1,000,000 keys of 16 bytes with 32-byte values through
redis-cli --pipe into kv_server and redis-server and reports used_memory
(INFO memory) per key and the RSS growth per key.
"""
import argparse
import json
import os
import platform
import resource
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
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build-bench"))
PRIORITY = []  # --nice / --realtime: what runs the servers and the client ahead of other work
REALTIME = False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu_ns(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


class server:
    def __init__(self, kind, group=None):
        self.kind = kind
        if kind == "redis":
            self.port = free_port()
            self.dir = tempfile.mkdtemp(prefix="resp-bench-redis-")
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--dir", self.dir, "--logfile", ""]
        elif kind == "kv":
            cmd = [os.path.join(BUILD, "examples", "kv_server"), "127.0.0.1:0", "--shards", "1"]
        else:
            cmd = [os.path.join(BUILD, "bench", "epoll_resp_responder"), "127.0.0.1:0"]
        # SCHED_FIFO would escape a CFS quota: a server in the quota group runs at nice -20 instead.
        priority = ["nice", "-n", "-20"] if (group and REALTIME) else PRIORITY
        self.proc = subprocess.Popen([*priority, "taskset", "-c", "0", *cmd], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        try:
            self._ready(group)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise

    def _ready(self, group):
        if group:
            group.add(self.proc.pid)
        if self.kind == "redis":
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start")
        else:
            line = self.proc.stdout.readline()
            if not line.startswith("listening on "):
                raise RuntimeError(f"{self.kind}: no 'listening on' line: {line!r}")
            self.port = int(line.rsplit(":", 1)[1])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.kind == "redis":
            shutil.rmtree(self.dir, ignore_errors=True)


def benchmark(port, pid, test, depth, requests):
    """One redis-benchmark run: (requests/s, server ns per request, wall seconds)."""
    cmd = [*PRIORITY, "taskset", "-c", "1", "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n",
           str(requests), "-t", test, "-P", str(depth), "--csv"]
    cpu_before = server_cpu_ns(pid)
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    wall = time.time() - start
    cpu_after = server_cpu_ns(pid)
    rps = None
    for line in out.splitlines():
        fields = [f.strip('"') for f in line.split(",")]
        if fields and fields[0] in ("SET", "GET"):
            rps = float(fields[1])
    if rps is None:
        raise RuntimeError(f"redis-benchmark printed no figure: {out!r}")
    return rps, (cpu_after - cpu_before) / requests, wall


def run(args):
    depths = [int(d) for d in args.depths.split(",")]
    tests = args.tests.split(",")
    kinds = ["kv", "redis", "ceiling"]
    results = {}
    for mode in args.modes.split(","):
        for rnd in range(args.rounds):
            for depth in depths:
                for test in tests:
                    requests = int((100_000 if depth == 1 else 1_000_000) * args.requests_scale)
                    if mode == "free":
                        requests *= 2
                    for kind in kinds:
                        group = cpu_quota(0.5, "resp-bench") if mode == "quota" else None
                        try:
                            s = server(kind, group)
                        except BaseException:
                            if group:
                                group.remove()
                            raise
                        try:
                            if test == "get":  # the key exists, as in the usual -t set,get order
                                benchmark(s.port, s.proc.pid, "set", 16, 10_000)
                            before = resource.getrusage(resource.RUSAGE_CHILDREN)
                            rps, ns, wall = benchmark(s.port, s.proc.pid, test, depth, requests)
                            after = resource.getrusage(resource.RUSAGE_CHILDREN)
                            client = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / wall
                        finally:
                            s.stop()
                            if group:
                                group.remove()
                        key = f"{mode} {test.upper()} -P {depth}"
                        results.setdefault(key, {}).setdefault(kind, []).append(
                            {"rps": rps, "server_ns_per_request": ns, "client_cpu": client})
                        print(f"{key:18} round {rnd + 1} {kind:8} {rps:12,.0f} req/s  server {ns / 1000:6.2f} us/req"
                              f"  client cpu {client * 100:5.1f} %", flush=True)
    print()
    print(f"{'case':18} {'kv':>10} {'redis':>10} {'ceiling':>10} {'kv/redis':>9} {'kv/ceil':>8}  rounds kv/redis"
          "   us/req kv redis ceil  client%")
    summary = {}
    for key, by in results.items():
        n = min(len(v) for v in by.values())
        ratio_redis = [by["kv"][i]["rps"] / by["redis"][i]["rps"] for i in range(n)]
        ratio_ceiling = [by["kv"][i]["rps"] / by["ceiling"][i]["rps"] for i in range(n)]
        med = {k: statistics.median(r["rps"] for r in v) for k, v in by.items()}
        ns = {k: statistics.median(r["server_ns_per_request"] for r in v) / 1000 for k, v in by.items()}
        client = max(r["client_cpu"] for v in by.values() for r in v)
        summary[key] = {"median_rps": med, "kv_over_redis": statistics.median(ratio_redis),
                        "kv_over_ceiling": statistics.median(ratio_ceiling), "rounds_kv_over_redis": ratio_redis,
                        "rounds_kv_over_ceiling": ratio_ceiling, "server_us_per_request": ns,
                        "max_client_cpu": client}
        print(f"{key:18} {med['kv']:10,.0f} {med['redis']:10,.0f} {med['ceiling']:10,.0f} "
              f"{statistics.median(ratio_redis):9.2f} {statistics.median(ratio_ceiling):8.2f}  "
              f"{' '.join(f'{r:.2f}' for r in ratio_redis):16} {ns['kv']:5.2f} {ns['redis']:5.2f} {ns['ceiling']:5.2f}"
              f"  {client * 100:5.0f}")
    return {"results": results, "summary": summary}


def load_keys(port, count):
    lines = []
    for i in range(count):
        key = f"key:{i:012d}"  # 16 bytes
        value = f"{i:032d}"    # 32 bytes
        lines.append(f"*3\r\n$3\r\nSET\r\n$16\r\n{key}\r\n$32\r\n{value}\r\n")
    data = "".join(lines).encode()
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, check=True, capture_output=True, timeout=300)


def info_memory(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "memory"], capture_output=True, text=True,
                         timeout=30).stdout
    return int(next(l.split(":")[1] for l in out.splitlines() if l.startswith("used_memory:")))


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l.split()[1] for l in f if l.startswith("VmRSS:"))) * 1024


def memory(args):
    count = 1_000_000
    out = {}
    for kind in ["kv", "redis"]:
        s = server(kind)
        try:
            used0, rss0 = info_memory(s.port), rss(s.proc.pid)
            load_keys(s.port, count)
            dbsize = int(subprocess.run(["redis-cli", "-p", str(s.port), "dbsize"], capture_output=True, text=True,
                                        timeout=30).stdout)
            used1, rss1 = info_memory(s.port), rss(s.proc.pid)
        finally:
            s.stop()
        out[kind] = {"keys": dbsize, "used_memory": used1, "used_memory_per_key": (used1 - used0) / count,
                     "rss_growth_per_key": (rss1 - rss0) / count}
        print(f"{kind:6} keys {dbsize:,}  used_memory {used1:,} B = {(used1 - used0) / count:.1f} B/key"
              f"  RSS growth {(rss1 - rss0) / count:.1f} B/key")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", default="free,quota")
    p.add_argument("--depths", default="1,16")
    p.add_argument("--tests", default="set,get")
    p.add_argument("--requests-scale", type=float, default=1.0)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--realtime", action="store_true", help="root: SCHED_FIFO 10 for servers and client (a busy "
                   "machine otherwise adds milliseconds of wakeup latency at -P 1); in quota mode the server runs "
                   "at nice -20 instead, since a SCHED_FIFO task escapes the CFS quota")
    p.add_argument("--nice", type=int, help="run servers and client at this niceness (root: -20 puts them ahead "
                   "of other work; CFS quotas still apply, unlike SCHED_FIFO)")
    p.add_argument("--out")
    args = p.parse_args()
    global REALTIME
    if args.nice is not None:
        PRIORITY[:] = ["nice", "-n", str(args.nice)]
    if args.realtime:
        REALTIME = True
        PRIORITY[:] = ["chrt", "-f", "10"]
    # A SIGTERM ends the run through the finally blocks: servers stopped, cgroup removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("resp_compare: terminated"))
    for tool in ("redis-server", "redis-benchmark", "redis-cli", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"resp_compare: {tool} not found (apt-get install redis-server redis-tools util-linux)")
    for path in (os.path.join(BUILD, "examples", "kv_server"), os.path.join(BUILD, "bench", "epoll_resp_responder")):
        if not os.path.exists(path):
            sys.exit(f"resp_compare: {path} missing: meson compile -C {BUILD} examples/kv_server "
                     "bench/epoll_resp_responder")
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    print(f"CPU: {cpu}; {os.cpu_count()} CPUs; kernel {platform.release()}", flush=True)
    report = {"cpu": cpu, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    report.update(memory(args) if args.memory else run(args))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()

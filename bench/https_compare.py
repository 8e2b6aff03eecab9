#!/usr/bin/env python3
"""HTTPS with wrk: examples/http_server --shards 1 against nginx (one worker,
OpenSSL), same ECDSA P-256 certificate, TLS 1.3, interleaved rounds.

    bench/https_compare.py                          # 3 rounds x 5 s, quota and free, every case, AES-128-GCM
    bench/https_compare.py --nice --suites aes128,chacha20
    bench/https_compare.py --modes quota --cases bulk --rounds 5 --out https.json
    BUILD_DIR=build bench/https_compare.py

Needs wrk, nginx-light and openssl (tools/bootstrap installs them).
Cases (one wrk -t1 -c4 run each, after one second of warm-up):
  bulk       GET /bytes/1048576 over keep-alive connections: MB/s of body
  handshake  GET /plaintext (13-byte body) with `Connection: close`: one
             handshake per request, as wrk makes them. wrk keeps each
             connection's session (SSL_clear) and offers its ticket on the
             next connect, so with tickets on (both servers' default) these
             are resumed handshakes (PSK + ECDHE).
  full       the same with session tickets off on both servers
             (http_server --no-session-tickets; nginx ssl_session_tickets
             off, no session cache): full handshakes (ECDHE + ECDSA sign).
Suites: the client offers exactly one TLS 1.3 suite (wrk reads an
OPENSSL_CONF written for the run; the same file makes `openssl s_client`
check, once per server and suite, that the suite is what is negotiated):
aes128 = TLS_AES_128_GCM_SHA256, chacha20 = TLS_CHACHA20_POLY1305_SHA256.
Modes: `quota` runs the server in a cgroup limited to half a CPU (--quota;
cgroup v1 cpu.cfs_quota_us or v2 cpu.max, created for the run, removed
after) so the server is the bottleneck; `free` lets it use all of CPU 0.
wrk's OpenSSL client needs ~0.5 ms of its CPU per full handshake: there
wrk saturates first unless --quota is ~0.3, and the server's CPU time per
connection is the figure that compares the servers.

Placement: the server on CPU 0 (taskset), wrk on CPU 1. On a machine busy
with other work, --realtime (root) runs both SCHED_FIFO: the server at
priority 10, and in quota mode its cgroup also gets cpu.rt_runtime_us 50000
per 100000 (cgroup v1 RT group scheduling: a SCHED_FIFO task escapes the CFS
quota); wrk's main thread at 11 and its worker at 10, so that the main
thread's end-of-run timer is not starved by a busy worker (with one priority
a 3 s run took a minute). --nice runs both at nice -20 instead: on a busy
machine that is no cure (wake-ups still wait behind other work: handshakes
measured 10x lower than with SCHED_FIFO, the same either way when quiet).
Rounds alternate ringlet, nginx, ringlet, nginx, ...; printed per
round: each server's figure, the same-round ratio ringlet/nginx, the server's
CPU share and CPU time per request (utime+stime from /proc over the run) and
wrk's own CPU share (>= 90 %: wrk was saturated, flagged with `!`: the round
measured wrk, not the server). Then the medians of figures and of the
same-round ratios with their range. Only processes started here are
signalled, by PID. Exit 1 when a run failed or a suite check did not match.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_compare as base  # noqa: E402  (cpu_quota, proc_cpu_seconds, stop_server, cpu_model, free_port, run_figures)

BUILD = os.environ.get("BUILD_DIR", os.path.join(base.ROOT, "build"))
BODY = 1048576
SUITES = {"aes128": "TLS_AES_128_GCM_SHA256", "chacha20": "TLS_CHACHA20_POLY1305_SHA256"}
SATURATED = 0.90

OPENSSL_CONF = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = %(suite)s
"""

NGINX_CONF = base.NGINX_BASE_CONF.replace("%(server)s", """\
    listen 127.0.0.1:%(port)d ssl;
    ssl_certificate %(dir)s/cert.pem;
    ssl_certificate_key %(dir)s/key.pem;
    ssl_protocols TLSv1.3;
    ssl_session_tickets %(tickets)s;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location = /bytes/%(body)d { alias %(dir)s/body.bin; default_type application/octet-stream; }""")

PRIORITY = []  # the server's: --realtime ["chrt", "-f", "10"], --nice ["nice", "-n", "-20"]
REALTIME = False
QUOTA = 0.5  # --quota
OTHER = ""  # --b: another http_server binary in nginx's place


class Cgroup(base.cpu_quota):
    """The server's CPU quota (bench/cpu_quota.py, --quota of a CPU for CFS
    tasks) that, with --realtime, gives SCHED_FIFO tasks the same share
    (cgroup v1 cpu.rt_runtime_us)."""

    def __init__(self):
        super().__init__(QUOTA, "https-bench")
        if REALTIME:
            runtime = "%d" % (QUOTA * 100000)
            # A group removed just before may still hold its RT bandwidth for
            # a moment (EINVAL: the groups' sum would pass the limit): retry.
            for attempt in range(50):
                try:
                    self._write(os.path.join(self.path, "cpu.rt_period_us"), "100000")
                    self._write(os.path.join(self.path, "cpu.rt_runtime_us"), runtime)
                    break
                except OSError as e:
                    if attempt == 49:
                        self.remove()
                        raise SystemExit("--realtime with a quota needs cgroup v1 RT group scheduling "
                                         "(cpu.rt_runtime_us): %s" % e)
                    time.sleep(0.1)


def make_files(tmp):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "2",
                    "-keyout", os.path.join(tmp, "key.pem"), "-out", os.path.join(tmp, "cert.pem")],
                   check=True, capture_output=True)
    with open(os.path.join(tmp, "body.bin"), "wb") as f:
        f.write(b"x" * BODY)
    for name, suite in SUITES.items():
        with open(os.path.join(tmp, "openssl-%s.cnf" % name), "w") as f:
            f.write(OPENSSL_CONF % {"suite": suite})


def start_server(kind, tmp, case, cgroup):
    """Starts `kind` pinned to CPU 0; returns (process, port)."""
    priority = PRIORITY
    tickets = case != "full"
    if kind == "nginx":
        port = base.free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"dir": tmp, "port": port, "body": BODY, "tickets": "on" if tickets else "off"})
        cmd = priority + ["taskset", "-c", "0", "nginx", "-c", conf, "-p", tmp, "-e", os.path.join(tmp, "error.log")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                base.socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            base.stop_server(proc)
            raise SystemExit("nginx did not start: " + proc.stderr.read().decode())
    else:
        binary = os.path.join(BUILD, "examples", "http_server") if kind == "ringlet" else OTHER
        cmd = priority + ["taskset", "-c", "0", binary, "127.0.0.1:0",
                          "--shards", "1", "--cert", os.path.join(tmp, "cert.pem"), "--key", os.path.join(tmp, "key.pem")]
        if not tickets:
            cmd.append("--no-session-tickets")
        # Another build's binary loads its own libringlet (meson links with RUNPATH).
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(binary)) if kind == "b" else None
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = proc.stdout.readline()
        m = re.match(r"listening on .*:(\d+)", line)
        if not m:
            base.stop_server(proc)
            raise SystemExit("http_server did not start: %r %s" % (line, proc.stderr.read()))
        port = int(m.group(1))
    if cgroup:
        cgroup.add(proc.pid)
    return proc, port


def negotiated(port, tmp, suite):
    """The suite and protocol `openssl s_client` gets with the run's OPENSSL_CONF."""
    env = dict(os.environ, OPENSSL_CONF=os.path.join(tmp, "openssl-%s.cnf" % suite))
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost"],
                         input=b"", capture_output=True, env=env, timeout=10).stdout.decode(errors="replace")
    m = re.search(r"New, (\S+), Cipher is (\S+)", out)
    return (m.group(1), m.group(2)) if m else ("?", "?")


def run_wrk(port, case, duration, tmp, suite):
    path = "/bytes/%d" % BODY if case == "bulk" else "/plaintext"
    priority = ["chrt", "-f", "11"] if REALTIME else PRIORITY
    cmd = priority + ["taskset", "-c", "1", "wrk", "-t1", "-c4", "-d%ds" % duration, "--timeout", "5s"]
    if case != "bulk":
        cmd += ["-H", "Connection: close"]
    cmd.append("https://127.0.0.1:%d%s" % (port, path))
    env = dict(os.environ, OPENSSL_CONF=os.path.join(tmp, "openssl-%s.cnf" % suite))
    with tempfile.TemporaryFile("w+") as output:
        wrk = subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, env=env)
        if REALTIME:
            lower_workers(wrk.pid)
        _, status, usage = os.wait4(wrk.pid, 0)
        wrk.returncode = 0
        output.seek(0)
        out = output.read()
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    if status != 0 or not m:
        raise SystemExit("wrk failed:\n" + out)
    seconds = float(m.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(3)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return int(m.group(1)), seconds, usage.ru_utime + usage.ru_stime, (errors.group(0) if errors else "")


def lower_workers(pid):
    """SCHED_FIFO 10 for wrk's threads other than the main one (see --realtime)."""
    for _ in range(100):
        try:
            tids = [int(t) for t in os.listdir("/proc/%d/task" % pid) if int(t) != pid]
        except OSError:
            return
        if tids:
            for tid in tids:
                os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(10))
            return
        time.sleep(0.002)


def measure(kind, case, suite, duration, tmp, cgroup, checked):
    proc, port = start_server(kind, tmp, case, cgroup)
    try:
        if (kind, suite) not in checked:
            checked[(kind, suite)] = negotiated(port, tmp, suite)
        run_wrk(port, case, 1, tmp, suite)  # warm-up
        cpu0 = base.proc_cpu_seconds(proc.pid)
        requests, seconds, wrk_cpu, errors = run_wrk(port, case, duration, tmp, suite)
        cpu1 = base.proc_cpu_seconds(proc.pid)
    finally:
        base.stop_server(proc)
    rate = requests / seconds
    return dict(base.run_figures(requests, seconds, cpu1 - cpu0, wrk_cpu, errors),
                figure=rate * BODY / 1e6 if case == "bulk" else rate)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--modes", default="quota,free")
    ap.add_argument("--cases", default="bulk,handshake,full")
    ap.add_argument("--suites", default="aes128")
    ap.add_argument("--realtime", action="store_true", help="root: server and wrk SCHED_FIFO (see above)")
    ap.add_argument("--nice", action="store_true", help="root: server and wrk at nice -20")
    ap.add_argument("--quota", type=float, default=0.5, help="the server's CPU share in quota mode (default 0.5)")
    ap.add_argument("--b", default="", help="compare with this http_server binary (another build: a variant's "
                    "same-round ratio) instead of nginx")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset", "openssl"):
        if not shutil.which(tool):
            raise SystemExit("%s not found (tools/bootstrap installs wrk, nginx-light, openssl)" % tool)
    if not os.path.exists(os.path.join(BUILD, "examples", "http_server")):
        raise SystemExit("no %s/examples/http_server: meson compile -C %s examples/http_server" % (BUILD, BUILD))
    global REALTIME, QUOTA
    if not 0.05 <= args.quota <= 0.9:
        raise SystemExit("--quota takes a fraction of one CPU from 0.05 to 0.9")
    QUOTA = args.quota
    if args.realtime:
        REALTIME = True
        PRIORITY[:] = ["chrt", "-f", "10"]
    elif args.nice:
        PRIORITY[:] = ["nice", "-n", "-20"]
    servers = ["ringlet", "b" if args.b else "nginx"]
    global OTHER
    OTHER = args.b
    results = {"cpu": base.cpu_model(), "cases": {}}
    print("CPU: %s, %d CPUs; server on CPU 0 (quota mode: %.2f CPU), wrk -t1 -c4 on CPU 1%s" %
          (results["cpu"], os.cpu_count(), QUOTA, ", SCHED_FIFO" if args.realtime else ", nice -20" if args.nice else ""))
    # SIGTERM/SIGINT unwind through the finally blocks: servers stopped, group removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    # One quota group for the whole run (RT bandwidth of a removed group is
    # freed lazily), removed at the end, also after a failure or Ctrl-C.
    cgroup = Cgroup() if "quota" in args.modes.split(",") else None
    try:
        return run_all(args, servers, results, cgroup)
    finally:
        if cgroup:
            cgroup.remove()


def run_all(args, servers, results, cgroup):
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        make_files(tmp)
        checked = {}
        for suite in args.suites.split(","):
            if suite not in SUITES:
                raise SystemExit("unknown suite %r (aes128, chacha20)" % suite)
            for mode in args.modes.split(","):
                for case in args.cases.split(","):
                    unit = "MB/s" if case == "bulk" else "conn/s"
                    name = "%s %s %s" % (case, suite, mode)
                    print("\n== %s (%s; %d rounds x %d s)" % (name, unit, args.rounds, args.duration), flush=True)
                    print("%-6s %10s %10s %8s   cpu share r/n   cpu us/req r/n   wrk cpu r/n" %
                          ("round", "ringlet", servers[1], "r/" + servers[1]))
                    rounds = []
                    for r in range(args.rounds):
                        group = cgroup if mode == "quota" else None
                        row = {s: measure(s, case, suite, args.duration, tmp, group, checked) for s in servers}
                        row["ratio"] = row["ringlet"]["figure"] / row[servers[1]]["figure"]
                        row["wrk_saturated"] = any(row[s]["wrk_cpu_share"] >= SATURATED for s in servers)
                        rounds.append(row)
                        print("%-6d %10.0f %10.0f %8.2f   %s   %s   %s%s %s" % (
                            r + 1, row["ringlet"]["figure"], row[servers[1]]["figure"], row["ratio"],
                            "/".join("%.0f%%" % (100 * row[s]["server_cpu_share"]) for s in servers),
                            "/".join("%.1f" % row[s]["server_cpu_us_per_request"] for s in servers),
                            "/".join("%.0f%%" % (100 * row[s]["wrk_cpu_share"]) for s in servers),
                            " !" if row["wrk_saturated"] else "",
                            " ".join(row[s]["errors"] for s in servers if row[s]["errors"])), flush=True)
                        failed |= any(row[s]["errors"] for s in servers)
                    ratios = [x["ratio"] for x in rounds]
                    med = {"ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                           "rounds_wrk_saturated": sum(x["wrk_saturated"] for x in rounds)}
                    for s in servers:
                        med[s] = statistics.median(x[s]["figure"] for x in rounds)
                        med[s + "_cpu_us"] = statistics.median(x[s]["server_cpu_us_per_request"] for x in rounds)
                    print("median %10.0f %10.0f %8.2f   (ratio range %.2f-%.2f; cpu us/req %.1f/%.1f; "
                          "wrk saturated in %d of %d rounds)" % (
                              med["ringlet"], med[servers[1]], med["ratio"], med["ratio_min"], med["ratio_max"],
                              med["ringlet_cpu_us"], med[servers[1] + "_cpu_us"], med["rounds_wrk_saturated"], len(rounds)))
                    results["cases"][name] = {"rounds": rounds, "median": med}
        print("\nnegotiated: " + ", ".join("%s %s: %s %s" % (k[0], k[1], v[0], v[1]) for k, v in sorted(checked.items())))
        for (kind, suite), (proto, cipher) in checked.items():
            if proto != "TLSv1.3" or cipher != SUITES[suite]:
                print("error: %s negotiated %s %s, not TLSv1.3 %s" % (kind, proto, cipher, SUITES[suite]))
                failed = True
    results["negotiated"] = {"%s %s" % k: "%s %s" % v for k, v in checked.items()}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""ringlet_loadgen as a product, driven as a user would, on loopback only:

  stall      open loop at 2,000 requests/s against examples/echo_server; the
             server is SIGSTOPped for 1 s right after the first progress
             line. The max latency is >= 1 s and the p99.9 >= 0.99 s
             (latency counts from the scheduled send), the timeline
             (JSON and CSV) shows the stalled second (almost no responses)
             and a later second whose max is >= 1 s; the .hgrm file has
             HdrHistogram's header, percentile lines and footer; the SVG
             parses as XML and holds the spectrum and the timeline.
  compare    `compare` against two echo_servers, one round: both runs
             succeed, the JSON has the same-round ratio and both timelines,
             the SVG holds both servers' series; with a CPU quota (when the
             cgroup tree is writable) the cgroup is gone afterwards.
  protocols  --http against http_server (/plaintext pipelined: every response
             200 and counted; /missing: the 404s counted and exit 1),
             --resp against kv_server (SET/GET checked, counted), echo with
             --new-connection (one connect per response), --tls against
             tls_echo_server with a certificate made here (verified by
             name; a wrong --tls-sni fails with the reason).
  arguments  bad arguments exit 2 with one line on stderr.

  tests/loadgen/loadgen_test.py build/tools/ringlet_loadgen build/examples

Every wait is bounded; only processes started here are signalled, by PID.
Exit 77 (meson's "skipped") when echo_server was not built; the protocol
checks whose server was not built are skipped with a line saying so.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

SVG = '{http://www.w3.org/2000/svg}'
loadgen, examples = sys.argv[1], sys.argv[2]
echo_server = os.path.join(examples, 'echo_server')
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print('FAIL:', what, flush=True)


def start_server(work, program=None, extra=()):
    out = open(os.path.join(work, 'server.out'), 'w+')
    proc = subprocess.Popen([program or echo_server, '127.0.0.1:0', '--shards', '1', *extra], stdout=out,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out.seek(0)
        text = out.read()
        for line in text.splitlines(keepends=True):
            if line.startswith('listening on ') and line.endswith('\n'):
                return proc, line[len('listening on '):].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit('echo_server did not start: ' + text)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def svg_series(path):
    root = ET.parse(path).getroot()  # raises on malformed XML
    check(root.tag == SVG + 'svg', f'{path}: the root element is <svg>')
    return {(p.get('data-series'), p.get('data-kind')): len(p.get('points').split())
            for p in root.iter(SVG + 'polyline')}


def test_stall(work):
    proc, address = start_server(work)
    try:
        j, c, h, s = (os.path.join(work, 'stall.' + ext) for ext in ('json', 'csv', 'hgrm', 'svg'))
        cmd = [loadgen, address, '--rate', '2000', '--connections', '10', '--duration', '4', '--warmup', '0',
               '--json', j, '--csv', c, '--hgrm', h, '--plot', s]

        # The stall starts right after the monitor's first tick (its first
        # progress line), so that it covers one second of the timeline.
        loadgen_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        progress = []

        def read_progress():
            for line in loadgen_proc.stderr:
                progress.append(line)
                if len(progress) == 1:
                    proc.send_signal(signal.SIGSTOP)
                    time.sleep(1.0)
                    proc.send_signal(signal.SIGCONT)

        reader = threading.Thread(target=read_progress)
        started = time.monotonic()
        reader.start()
        watchdog = threading.Timer(60, loadgen_proc.kill)
        watchdog.start()
        out = loadgen_proc.stdout.read()  # stderr is the reader thread's alone
        loadgen_proc.wait()
        watchdog.cancel()
        reader.join()
        print(out, ''.join(progress), sep='\n', flush=True)
        check(loadgen_proc.returncode == 0, f'stall: ringlet_loadgen exited {loadgen_proc.returncode}')
        check(time.monotonic() - started < 20, 'stall: the run is bounded')
        check(len(progress) >= 4 and all(l.startswith('[') and 'requests/s' in l and 'p99' in l for l in progress),
              'stall: plain progress lines (not a terminal), once a second, with requests/s and p99')
        result = json.load(open(j))
        # The requests scheduled in the stopped second wait up to 1 s; the
        # p99.9 is the latency 0.1 % of the run (4 ms here) below the top,
        # so by construction about 1 s - 4 ms, plus the server's catch-up.
        p999, top = result['latency_us']['p99_9'], result['latency_us']['max']
        check(p999 >= 0.99e6, f'stall: p99.9 {p999:.0f} µs >= 0.99 s (coordinated omission corrected)')
        check(top >= 0.99e6, f'stall: max {top:.0f} µs >= 0.99 s')
        check(result['errors'] == 0, 'stall: no errors')
        check(result['mode'] == 'fixed_rate', 'stall: open loop')
        timeline = result['timeline']
        check(len(timeline) >= 4, f'stall: a timeline row a second ({len(timeline)} rows)')
        full = [r for r in timeline if r['second'] - 1 >= 0 and r['phase'] == 'run']
        stalled = [r for r in full if r['requests'] < 2000 * 0.1]
        check(stalled, 'stall: a second with almost no responses: ' + str([(r['second'], r['requests']) for r in full]))
        # The timeline's and the .hgrm's maxima come from HDR histograms (3
        # significant digits): a 1.0004 s latency may be recorded as its
        # bucket's 0.999 s, so they are checked against 0.99 s like the p99.9.
        check(any(r['max_us'] >= 0.99e6 for r in timeline), 'stall: a second whose max latency is >= 0.99 s')
        rows = list(csv.DictReader(open(c)))
        check(len(rows) == len(timeline), 'stall: the CSV has the JSON timeline\'s rows')
        check(rows and set(rows[0]) >= {'second', 'requests', 'errors', 'p50_us', 'p99_us', 'p99_9_us', 'max_us'},
              'stall: the CSV columns')
        check([int(r['requests']) for r in rows] == [r['requests'] for r in timeline], 'stall: CSV and JSON agree')
        lines = open(h).read().splitlines()
        check(lines[0] == '       Value     Percentile TotalCount 1/(1-Percentile)', 'hgrm: the header line')
        check(lines[1] == '', 'hgrm: a blank line after the header')
        body = [l.split() for l in lines[2:] if l and not l.startswith('#')]
        check(len(body) > 20 and all(len(f) == 4 for f in body[:-1]) and len(body[-1]) == 3,
              'hgrm: percentile lines of 4 columns, the last (100 %) of 3')
        check(float(body[-1][1]) == 1.0 and int(body[-1][2]) == result['latency_us']['count'],
              'hgrm: the last line is 100 % with the total count')
        check(all(float(a[0]) <= float(b[0]) and float(a[1]) <= float(b[1]) for a, b in zip(body, body[1:])),
              'hgrm: values and percentiles ascend')
        check(float(body[-1][0]) >= 990, 'hgrm: the max (ms) shows the stall')
        check(lines[-3].startswith('#[Mean    =') and 'StdDeviation' in lines[-3], 'hgrm: the Mean/StdDeviation footer')
        check(lines[-2].startswith('#[Max     =') and 'Total count' in lines[-2], 'hgrm: the Max/Total count footer')
        series = svg_series(s)
        kinds = {k for _, k in series}
        check({'spectrum', 'requests_per_second', 'p99'} <= kinds, f'svg: spectrum and timeline series ({kinds})')
    finally:
        stop(proc)


def cgroup_writable():
    for d in ('/sys/fs/cgroup/cpu', '/sys/fs/cgroup'):
        if os.path.isdir(d) and os.access(d, os.W_OK) and (d.endswith('cpu') or
                                                            os.path.exists(d + '/cgroup.controllers')):
            return True
    return False


def test_compare(work):
    j, s = os.path.join(work, 'compare.json'), os.path.join(work, 'compare.svg')
    server = f'{echo_server} 127.0.0.1:0 --shards 1'
    cmd = [loadgen, 'compare', '--a', server, '--b', server, '--a-name', 'first', '--b-name', 'second',
           '--rounds', '1', '--duration', '0.6', '--warmup', '0.2', '--connections', '4', '--json', j, '--plot', s]
    quota = cgroup_writable()
    if quota:
        cmd += ['--quota', '0.5']
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print(run.stdout, run.stderr, sep='\n', flush=True)
    check(run.returncode == 0, f'compare: exited {run.returncode}')
    check('median same-round ratio' in run.stdout, 'compare: prints the median same-round ratio')
    result = json.load(open(j))
    r = result['rounds'][0]
    check(r['a']['started'] and r['b']['started'], 'compare: both servers started')
    check(r['a']['requests_per_second'] > 0 and r['b']['requests_per_second'] > 0, 'compare: both measured')
    # (the JSON's requests/s have one decimal: compare to 1 %)
    check(r['ratio'] is not None and abs(r['ratio'] / (r['a']['requests_per_second'] / r['b']['requests_per_second']) - 1) < 0.01,
          'compare: the same-round ratio is A / B')
    check(r['a']['server_cpu_us_per_request'] > 0, 'compare: server CPU per request')
    check(r['a']['server_exit'] == 0 and r['b']['server_exit'] == 0, 'compare: the servers exited 0 on SIGTERM')
    check(len(r['a']['timeline']) >= 1 and len(r['b']['timeline']) >= 1, 'compare: both timelines')
    series = svg_series(s)
    names = {n for n, _ in series}
    check({'first', 'second'} <= names, f'compare svg: both servers\' series ({names})')
    check(('first', 'spectrum') in series and ('second', 'p99') in series, 'compare svg: spectra and timelines')
    if quota:
        leftovers = [d for base in ('/sys/fs/cgroup/cpu', '/sys/fs/cgroup') if os.path.isdir(base)
                     for d in os.listdir(base) if d.startswith('ringlet-loadgen-')]
        check(not leftovers, f'compare: the quota cgroup was removed ({leftovers})')


def load(address, *extra, expect=0):
    j = os.path.join(tempfile.gettempdir(), f'loadgen-test-{os.getpid()}.json')
    run = subprocess.run([loadgen, address, '--duration', '0.6', '--warmup', '0.1', '--connections', '4', '--quiet',
                          '--json', j, *extra], capture_output=True, text=True, timeout=60)
    print(run.stdout, run.stderr, sep='\n', flush=True)
    check(run.returncode == expect, f'{extra}: exit {run.returncode}, expected {expect}')
    try:
        result = json.load(open(j))
        os.unlink(j)
    except (OSError, ValueError):
        result = None
    return result, run


def server_or_skip(name):
    path = os.path.join(examples, name)
    if not os.access(path, os.X_OK):
        print(f'skipped: {path} was not built')
        return None
    return path


def test_protocols(work):
    http_server = server_or_skip('http_server')
    if http_server:
        proc, address = start_server(work, http_server)
        try:
            r, _ = load(address, '--http', '--path', '/plaintext', '--depth', '8')
            check(r and r['errors'] == 0 and r['window_responses'] > 0, 'http: responses, no errors')
            check(r and r['response_counts'].get('HTTP 200') == r['total_responses'],
                  f'http: every response counted as 200 ({r and r["response_counts"]})')
            r, run = load(address, '--http', '--path', '/missing', expect=1)
            check(r and r['response_counts'].get('HTTP 404', 0) > 0 and r['bad_responses'] == r['total_responses'],
                  'http: the 404s counted as bad answers')
            check('HTTP status 404' in run.stdout, 'http: the summary names the status')
            r, _ = load(address, '--http', '--path', '/echo', '--body-size', '300', '--depth', '2')
            check(r and r['errors'] == 0 and r['requests'].startswith('POST /echo'), 'http: POST with a body')
        finally:
            stop(proc)
    kv_server = server_or_skip('kv_server')
    if kv_server:
        proc, address = start_server(work, kv_server)
        try:
            r, _ = load(address, '--resp', '--ratio', '1:1', '--keys', '50', '--size', '100', '--depth', '8')
            counts = r['response_counts'] if r else {}
            check(r and r['errors'] == 0 and counts.get('SET +OK', 0) > 0 and counts.get('GET value', 0) > 0,
                  f'resp: SETs and GETs answered and checked ({counts})')
            check(r and sum(counts.values()) == r['total_responses'], 'resp: every reply counted')
        finally:
            stop(proc)
    proc, address = start_server(work)
    try:
        r, _ = load(address, '--new-connection', '--size', '100')
        check(r and r['errors'] == 0 and r['connects'] == r['total_responses'] > 0,
              f'new-connection: one connect per response ({r and (r["connects"], r["total_responses"])})')
    finally:
        stop(proc)
    tls_echo = server_or_skip('tls_echo_server')
    if tls_echo and shutil.which('openssl'):
        key, cert = os.path.join(work, 'key.pem'), os.path.join(work, 'cert.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key,
                        '-out', cert, '-days', '2'], check=True, capture_output=True, timeout=30)
        proc, address = start_server(work, tls_echo, ('--cert', cert, '--key', key))
        try:
            r, _ = load(address, '--tls', '--tls-ca', cert, '--tls-sni', 'localhost', '--tls-alpn', 'echo',
                        '--depth', '4', '--size', '200')
            check(r and r['errors'] == 0 and r['window_responses'] > 0, 'tls: echoes verified over TLS')
            r, _ = load(address, '--tls', '--tls-ca', cert, '--tls-sni', 'localhost', '--new-connection')
            check(r and r['errors'] == 0 and r['connects'] > 0, 'tls: a handshake per request')
            r, run = load(address, '--tls', '--tls-ca', cert, '--tls-sni', 'wrong.example', expect=1)
            check('another host name' in run.stderr + run.stdout, 'tls: a wrong name fails with the reason')
        finally:
            stop(proc)


def test_arguments():
    for args, needle in ((['127.0.0.1:1', '--rate', 'x'], '--rate'), (['127.0.0.1:1', '--bogus'], '--bogus'),
                         ([], 'address'), (['127.0.0.1:0'], 'port 0'), (['compare', '--a', 'x'], '--b'),
                         (['compare', '--a', 'x', '--b', 'y', '--rounds', '0'], '--rounds'),
                         (['compare', '--a', 'x', '--b', 'y', '--hgrm', 'f'], '--hgrm'),
                         (['compare', '--a', 'x', '--b', 'y', '--server-cpus', '999'], '--server-cpus')):
        run = subprocess.run([loadgen] + args, capture_output=True, text=True, timeout=10)
        lines = run.stderr.strip().splitlines()
        check(run.returncode == 2 and len(lines) == 1 and needle in lines[0],
              f'arguments {args}: exit 2 and one line naming {needle} (got {run.returncode}: {run.stderr!r})')


if not os.access(echo_server, os.X_OK):
    print(f'skipped: {echo_server} was not built (examples disabled)')
    sys.exit(77)
with tempfile.TemporaryDirectory() as work:
    test_arguments()
    test_stall(work)
    test_compare(work)
    test_protocols(work)
print(f'{len(failures)} failure(s)' if failures else 'all checks passed')
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""Real clients against examples/http_server on loopback.

    python3 tests/http/server_clients.py build/examples/http_server

Starts http_server on 127.0.0.1:0 (and once more with a certificate made
here by openssl, for HTTPS), then runs:
  - curl: keep-alive reuse, chunked upload, HEAD, HTTPS with --cacert (ALPN http/1.1);
  - python3's http.client: keep-alive, bodies, HTTP/1.0;
  - raw sockets: pipelining, Expect: 100-continue, unread bodies, every limit
    and every request-smuggling shape of RFC 9112 section 6, asserting the
    status code AND that the server closes the connection.
Exits 0 when every check passed; prints each failure. A missing curl or
openssl skips those checks (exit 77 only when nothing at all could run).
Every wait is bounded (socket timeouts of 5 s, the server killed at the end).
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

failures = []
passed = 0


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def start_server(binary, *extra):
    proc = subprocess.Popen([binary, "127.0.0.1:0", "--shards", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit("http_server did not start: %r %s" % (line, proc.stderr.read()))
    port = int(line.rsplit(":", 1)[1])
    return proc, port


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    check(code == 0, "http_server exits 0 on SIGTERM (got %s)" % code)


# --- raw sockets -----------------------------------------------------------------------

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def read_response(sock, buf=b"", head_request=False):
    """Reads one response: (status, headers dict lower-case, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection ended before a response head (%r)" % buf[:100])
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = b""
    if head_request or status in (100, 204, 304):
        return status, headers, body, buf
    if headers.get("transfer-encoding") == "chunked":
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                break
        return status, headers, body, buf
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("body cut short")
        buf += chunk
    return status, headers, buf[:length], buf[length:]


def closed_by_server(sock, rest=b""):
    """True when the server ends the connection (EOF or reset) within 5 s, sending nothing more."""
    if rest:
        return False
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
            return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def refused(port, request, status, what):
    """Sends `request` raw; expects `status` and a closed connection."""
    s = connect(port)
    try:
        s.sendall(request)
        got, headers, _, rest = read_response(s)
        check(got == status, "%s: status %d (got %d)" % (what, status, got))
        check(headers.get("connection") == "close", "%s: Connection: close" % what)
        check(closed_by_server(s, rest), "%s: the server closes the connection" % what)
    except (EOFError, OSError) as e:
        check(False, "%s: %s" % (what, e))
    finally:
        s.close()


def raw_suite(port):
    host = b"Host: t\r\n"
    # Pipelining: 16 requests in one send, answered in order.
    s = connect(port)
    reqs = []
    for i in range(16):
        if i % 4 == 3:
            body = b"echo-%d" % i
            reqs.append(b"POST /echo HTTP/1.1\r\n" + host + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        elif i % 4 == 2:
            reqs.append(b"GET /nope-%d HTTP/1.1\r\n" % i + host + b"\r\n")
        else:
            reqs.append(b"GET /json HTTP/1.1\r\n" + host + b"\r\n" if i % 2 else
                        b"GET /plaintext HTTP/1.1\r\n" + host + b"\r\n")
    s.sendall(b"".join(reqs))
    buf = b""
    ok = True
    for i in range(16):
        status, headers, body, buf = read_response(s, buf)
        if i % 4 == 3:
            ok = ok and status == 200 and body == b"echo-%d" % i
        elif i % 4 == 2:
            ok = ok and status == 404
        elif i % 2:
            ok = ok and body == b'{"message":"Hello, World!"}'
        else:
            ok = ok and body == b"Hello, World!" and headers.get("content-type") == "text/plain"
    check(ok, "16 pipelined requests answered in order")
    # HEAD: a head with the GET's Content-Length and no body; the next response follows at once.
    s.sendall(b"HEAD /plaintext HTTP/1.1\r\n" + host + b"\r\nGET /plaintext HTTP/1.1\r\n" + host + b"\r\n")
    status, headers, body, buf = read_response(s, buf, head_request=True)
    check(status == 200 and headers.get("content-length") == "13" and body == b"", "HEAD: 200, Content-Length 13, no body")
    status, headers, body, buf = read_response(s, buf)
    check(body == b"Hello, World!", "the response after HEAD starts right after its head")
    # Expect: 100-continue: the interim response comes before the body is sent.
    s.sendall(b"POST /echo HTTP/1.1\r\n" + host + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    status, _, _, buf = read_response(s, buf)
    check(status == 100, "Expect: 100-continue gets 100 first (got %d)" % status)
    s.sendall(b"hello")
    status, _, body, buf = read_response(s, buf)
    check(status == 200 and body == b"hello", "the body after 100 Continue is echoed")
    # A small body the handler leaves unread is drained; the connection stays.
    s.sendall(b"POST /plaintext HTTP/1.1\r\n" + host + b"Content-Length: 10\r\n\r\n0123456789"
              b"GET /json HTTP/1.1\r\n" + host + b"\r\n")
    status, _, _, buf = read_response(s, buf)
    check(status == 404, "POST /plaintext is 404")
    status, _, body, buf = read_response(s, buf)
    check(body == b'{"message":"Hello, World!"}', "an unread small body is drained and the connection kept")
    # Connection: close is honoured.
    s.sendall(b"GET /plaintext HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n")
    status, headers, _, buf = read_response(s, buf)
    check(headers.get("connection") == "close" and closed_by_server(s, buf), "Connection: close closes")
    s.close()

    # A large unread body (beyond the 64 KiB drain) closes after the response.
    s = connect(port)
    s.sendall(b"POST /plaintext HTTP/1.1\r\n" + host + b"Content-Length: 500000\r\n\r\n" + b"x" * 1000)
    status, headers, _, buf = read_response(s)
    check(status == 404 and headers.get("connection") == "close", "a large unread body: Connection: close")
    s.close()

    # HTTP/1.0: closed unless keep-alive is asked for.
    s = connect(port)
    s.sendall(b"GET /plaintext HTTP/1.0\r\n\r\n")
    status, headers, body, buf = read_response(s)
    check(body == b"Hello, World!" and closed_by_server(s, buf), "HTTP/1.0 without keep-alive is closed")
    s.close()
    s = connect(port)
    s.sendall(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, headers, body, buf = read_response(s)
    check(headers.get("connection") == "keep-alive", "HTTP/1.0 keep-alive is answered with keep-alive")
    s.sendall(b"GET /json HTTP/1.0\r\n\r\n")
    status, headers, body, buf = read_response(s, buf)
    check(body == b'{"message":"Hello, World!"}' and closed_by_server(s, buf), "HTTP/1.0 keep-alive reused, then closed")
    s.close()

    # Limits: status and close.
    refused(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + host + b"\r\n", 414, "request line above 8 KiB")
    big = b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
    refused(port, b"GET / HTTP/1.1\r\n" + host + big + b"\r\n", 431, "header block above 32 KiB")
    many = b"".join(b"X-%d: v\r\n" % i for i in range(101))
    refused(port, b"GET / HTTP/1.1\r\n" + host + many + b"\r\n", 431, "more than 100 headers")
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Content-Length: 2000000\r\n\r\n", 413, "Content-Length above 1 MiB")
    chunk = b"%x\r\n" % 65536 + b"c" * 65536 + b"\r\n"
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 17,
            413, "chunked body above 1 MiB")
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 20 + b"\r\n",
            400, "chunk size overflow")
    # Request smuggling (RFC 9112 section 6 and 11), one shape each.
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n", 400, "smuggling: Transfer-Encoding + Content-Length")
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            400, "smuggling: differing duplicate Content-Length")
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked, identity\r\n\r\n",
            400, "smuggling: Transfer-Encoding whose last coding is not chunked")
    refused(port, b"GET / HTTP/1.1\r\n" + host + b"X-A: one\r\n two\r\n\r\n", 400, "smuggling: obs-fold")
    refused(port, b"POST /echo HTTP/1.1\r\n" + host + b"Content-Length : 5\r\n\r\nhello", 400,
            "smuggling: whitespace between field name and colon")
    refused(port, b"GET / HTTP/1.1\r\n" + host + b"X-A: a\rb\r\n\r\n", 400, "smuggling: bare CR")
    # Malformed.
    refused(port, b"GET / HTTP/1.1\r\n\r\n", 400, "malformed: no Host")
    refused(port, b"NOT A REQUEST\r\n\r\n", 400, "malformed: request line")


# --- http.client -------------------------------------------------------------------------

def http_client_suite(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/plaintext")
    r = c.getresponse()
    check(r.status == 200 and r.read() == b"Hello, World!", "http.client: GET /plaintext")
    sock = c.sock
    c.request("GET", "/json")
    r = c.getresponse()
    check(r.getheader("Content-Type") == "application/json" and r.read() == b'{"message":"Hello, World!"}',
          "http.client: GET /json")
    check(c.sock is sock, "http.client: the connection is kept alive")
    payload = os.urandom(300000)
    c.request("POST", "/echo", body=payload)
    r = c.getresponse()
    check(r.read() == payload, "http.client: POST /echo 300 kB echoed")
    c.request("POST", "/echo", body=iter([b"chunk-one,", b"chunk-two"]), encode_chunked=True)
    r = c.getresponse()
    check(r.read() == b"chunk-one,chunk-two", "http.client: chunked upload echoed")
    c.request("GET", "/bytes/10485760")
    r = c.getresponse()
    data = r.read()
    check(len(data) == 10485760 and data[:1] == b"x", "http.client: /bytes/10485760")
    c.request("GET", "/bytes/67108865")
    r = c.getresponse()
    r.read()
    check(r.status == 400, "http.client: /bytes above 64 MiB is 400")
    c.request("DELETE", "/plaintext")
    r = c.getresponse()
    r.read()
    check(r.status == 404, "http.client: other methods are 404")
    check(c.sock is sock, "http.client: still one connection")
    c.close()


# --- curl ----------------------------------------------------------------------------------

def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, timeout=30)


def curl_suite(port, tmp):
    base = "http://127.0.0.1:%d" % port
    r = curl("-w", "%{num_connects} ", "-o", "/dev/null", base + "/plaintext", "-o", "/dev/null", base + "/json",
             "-o", "/dev/null", base + "/plaintext")
    check(r.stdout.decode().split() == ["1", "0", "0"], "curl: three requests reuse one connection (%r)" % r.stdout)
    r = curl(base + "/plaintext")
    check(r.stdout == b"Hello, World!", "curl: GET /plaintext")
    upload = os.path.join(tmp, "upload.bin")
    with open(upload, "wb") as f:
        f.write(os.urandom(200000))
    r = curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + upload, base + "/echo")
    check(r.stdout == open(upload, "rb").read(), "curl: chunked upload echoed")
    r = curl("-I", base + "/plaintext")
    head = r.stdout.decode()
    check(head.startswith("HTTP/1.1 200") and "Content-Length: 13" in head, "curl: HEAD")
    r = curl("-o", "/dev/null", "-w", "%{http_code}", base + "/missing")
    check(r.stdout == b"404", "curl: 404")


def make_certificate(tmp):
    key = os.path.join(tmp, "key.pem")
    cert = os.path.join(tmp, "cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True, timeout=60)
    return (cert, key) if r.returncode == 0 else None


def https_suite(binary, tmp):
    made = make_certificate(tmp)
    if not made:
        print("SKIP: openssl could not make a certificate")
        return
    cert, key = made
    proc, port = start_server(binary, "--cert", cert, "--key", key)
    try:
        base = "https://localhost:%d" % port
        resolve = "localhost:%d:127.0.0.1" % port
        r = curl("-v", "--cacert", cert, "--resolve", resolve, base + "/plaintext", base + "/json")
        err = r.stderr.decode(errors="replace")
        check(r.stdout == b'Hello, World!{"message":"Hello, World!"}', "curl https: two requests (%r)" % r.stdout[:80])
        check("ALPN: server accepted http/1.1" in err or "ALPN, server accepted to use http/1.1" in err,
              "curl https: ALPN http/1.1")
        check("Re-using existing connection" in err, "curl https: keep-alive reuse")
        r = curl("--cacert", cert, "--resolve", resolve, "--data-binary", "secret body", base + "/echo")
        check(r.stdout == b"secret body", "curl https: POST /echo")
        # A body of many records (head and body share sends), then a short one on the same connection.
        r = curl("--cacert", cert, "--resolve", resolve, base + "/bytes/3000001", base + "/bytes/5")
        check(r.stdout == b"x" * 3000006, "curl https: /bytes/3000001 then /bytes/5 (%d bytes)" % len(r.stdout))
        r = curl("--resolve", resolve, base + "/plaintext")
        check(r.returncode != 0, "curl https without --cacert refuses the self-signed certificate")
    finally:
        stop_server(proc)


def main():
    binary = sys.argv[1]
    have_curl = shutil.which("curl") is not None
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(binary)
        try:
            raw_suite(port)
            http_client_suite(port)
            if have_curl:
                curl_suite(port, tmp)
            else:
                print("SKIP: curl not installed (tools/bootstrap installs it)")
        finally:
            stop_server(proc)
        if have_curl and shutil.which("openssl"):
            https_suite(binary, tmp)
    print("http clients: %d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

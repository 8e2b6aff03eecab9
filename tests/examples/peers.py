#!/usr/bin/env python3
"""The other ends of run_examples.sh's conversations with the examples.

  peers.py body                      the bytes the HTTP fixture serves, to stdout
  peers.py http-server               an HTTP/1.1 fixture on 127.0.0.1, port 0
  peers.py chat ADDRESS MAX_LINE     clients of chat_server, checking what they get
  peers.py lines ADDRESS SERVER_OUT  clients of line_server, ending it with "exit"
  peers.py long-line ADDRESS MAX     one over-long line to line_server
  peers.py stall ADDRESS TEXT MIN MAX  sends TEXT (no newline), then nothing:
                                     the server must close within MIN..MAX s
  peers.py unnamed-dgram NAME        two datagrams from an unnamed unix socket
  peers.py idle-stop ADDRESS PID KIND MAX  an idle connection (KIND http: after
                                     one keep-alive request; chat: after the
                                     welcome; line), then SIGTERM to PID: the
                                     server must close it within MAX s

Every socket wait has a timeout; a failed check raises, so the exit status is
non-zero with the reason on stderr.
"""
import os
import select
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMEOUT = 10


def body():
    """100 000 bytes covering every byte value, no line structure to lean on."""
    return bytes((i * 7 + i // 251) % 256 for i in range(100_000))


# --- HTTP fixture -------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):  # keep the test log short
        pass

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        # The client must send what http_get promises.
        if (self.headers.get('Host') != '%s:%d' % self.server.server_address
                or self.headers.get('Connection', '').lower() != 'close'
                or not self.headers.get('User-Agent')):
            return self.raw(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\n\r\nbad request\n')
        data = body()
        if self.path == '/fixed':
            self.raw(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n'
                     % len(data) + data)
        elif self.path == '/chunked':
            # Chunks of odd sizes, one with an extension, then a trailer.
            out = [b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n']
            at, step = 0, 1
            while at < len(data):
                piece = data[at:at + step]
                ext = b';name=value' if step == 4 else b''
                out.append(b'%x%s\r\n%s\r\n' % (len(piece), ext, piece))
                at += len(piece)
                step = step * 3 + 1
            out.append(b'0\r\nX-Trailer: yes\r\n\r\n')
            self.raw(b''.join(out))
        elif self.path == '/eof':
            self.raw(b'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n' + data)
        elif self.path == '/continue':
            self.raw(b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n')
        elif self.path == '/missing':
            self.raw(b'HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n')
        elif self.path == '/short':
            self.raw(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')
        elif self.path == '/badchunk':
            self.raw(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')
        elif self.path == '/badstatus':
            self.raw(b'HTTP/1.1 OK\r\n\r\n')
        elif self.path == '/slow':
            time.sleep(TIMEOUT)
            self.raw(b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
        else:
            self.raw(b'HTTP/1.1 500 Unknown Path\r\nContent-Length: 0\r\n\r\n')


def http_server():
    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    print('listening on 127.0.0.1:%d' % server.server_address[1], flush=True)
    server.serve_forever()


# --- clients --------------------------------------------------------------------

class Client:
    def __init__(self, address, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        host, port = address.rsplit(':', 1)
        self.sock.connect((host, int(port)))
        self.file = self.sock.makefile('rb')
        self.name = '%s:%d' % self.sock.getsockname()

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def line(self):
        got = self.file.readline(1 << 16)
        if not got:
            raise AssertionError('%s: connection ended while waiting for a line' % self.name)
        return got.decode().rstrip('\n')

    def expect(self, wanted):
        got = self.line()
        if got != wanted:
            raise AssertionError('%s: expected %r, got %r' % (self.name, wanted, got))

    def expect_end(self):
        got = self.file.read(1)
        if got:
            raise AssertionError('%s: expected the connection to end, got %r' % (self.name, got))

    def close(self):
        self.file.close()
        self.sock.close()


def chat(address, max_line):
    max_line = int(max_line)
    a = Client(address)
    welcome = a.line()
    if welcome != '* welcome, you are %s; 0 others here' % a.name:
        raise AssertionError('first welcome: %r (expected our address %s)' % (welcome, a.name))
    b = Client(address)
    b.expect('* welcome, you are %s; 1 others here' % b.name)
    a.expect('* %s joined' % b.name)
    c = Client(address)
    c.expect('* welcome, you are %s; 2 others here' % c.name)
    a.expect('* %s joined' % c.name)
    b.expect('* %s joined' % c.name)

    a.send('hello from a\n')
    b.expect('[%s] hello from a' % a.name)
    c.expect('[%s] hello from a' % a.name)
    b.send('hi a\r\n')                       # CRLF is a line end too
    a.expect('[%s] hi a' % b.name)          # (and not a's own line first)
    c.expect('[%s] hi a' % b.name)

    # Too long: only its author hears about it; the connection stays usable.
    a.send('x' * (max_line + 1) + '\n')
    a.expect('* error: line longer than %d bytes, not sent' % max_line)
    a.send('y' * max_line + '\n')           # exactly the limit is fine
    b.expect('[%s] %s' % (a.name, 'y' * max_line))
    c.expect('[%s] %s' % (a.name, 'y' * max_line))
    # Far too long, with the next line in the same segment: one error, and
    # the next line still goes through.
    a.send('w' * (50 * max_line) + '\nafter the long one\n')
    a.expect('* error: line longer than %d bytes, not sent' % max_line)
    b.expect('[%s] after the long one' % a.name)
    c.expect('[%s] after the long one' % a.name)

    c.close()
    a.expect('* %s left' % c.name)
    b.expect('* %s left' % c.name)
    a.close()
    b.expect('* %s left' % a.name)

    # A client that does not read is disconnected, not waited for. Its
    # receive buffer is tiny, so the server's socket buffer fills and then
    # its bounded queue.
    slow = Client(address, rcvbuf=4096)
    slow.expect('* welcome, you are %s; 1 others here' % slow.name)
    b.expect('* %s joined' % slow.name)
    line = ('z' * (max_line - 1) + '\n').encode()
    chunk = line * ((1 << 20) // len(line))
    seen = None
    for _ in range(64):                     # at most ~64 MiB
        b.send(chunk)
        readable, _, _ = select.select([b.sock], [], [], 0.05)
        if readable:
            seen = b.line()
            break
    if seen != '* %s left (too slow)' % slow.name:
        raise AssertionError('expected the slow client to be dropped, got %r' % seen)
    slow.close()
    b.close()
    print('chat: joins, lines, the long-line error, leaves and the slow-client drop all as expected')


def lines(address, server_out):
    a = Client(address)
    a.send('hello\nsecond line\r\n')
    wanted = ['%s: hello' % a.name, '%s: second line' % a.name]
    deadline = time.monotonic() + TIMEOUT
    while True:                              # until the server has printed them
        with open(server_out) as f:
            printed = f.read().splitlines()
        if printed[1:3] == wanted:
            break
        if time.monotonic() > deadline:
            raise AssertionError('line_server printed %r, expected %r after the listening line' % (printed, wanted))
        time.sleep(0.05)
    b = Client(address)
    b.send('exit\n')
    b.expect_end()
    a.expect_end()                           # the whole server stops, as the seed's does
    print('lines: printed with the peer address; "exit" ended both connections')


def long_line(address, max_line):
    a = Client(address)
    # Far more than the limit, so unread bytes are still in the server's
    # socket when it closes: the error must still arrive (no reset first).
    a.send('x' * (int(max_line) + 1) + '\n' + 'y' * 200000 + '\n')
    a.expect('error: line longer than %s bytes' % max_line)
    a.expect_end()
    print('long-line: error sent, connection closed')


def stall(address, text, least, most):
    """A slowloris client: the server's idle timeout must end it."""
    host, port = address.rsplit(':', 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(text.encode())
        s.settimeout(float(most) + 5)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    took = time.monotonic() - started
    if not float(least) <= took <= float(most):
        raise SystemExit('stall: closed after %.2f s, expected %s..%s s' % (took, least, most))
    print('stall: closed after %.2f s' % took)


def unnamed_datagrams(name):
    """Datagrams the server cannot answer: the sender binds no name."""
    path = '\0' + name[1:] if name.startswith('@') else name[len('unix:'):]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for _ in range(2):
            s.sendto(b'hello', path)
    print('unnamed-dgram: sent 2')


def idle_stop(address, pid, kind, most):
    """A graceful stop ends idle sessions at once, not at the drain timeout."""
    host, port = address.rsplit(':', 1)
    with socket.create_connection((host, int(port)), TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        want = {'http': b'Hello, World!', 'chat': b'\n', 'line': b''}[kind]
        if kind == 'http':
            s.sendall(b'GET /plaintext HTTP/1.1\r\nHost: test\r\n\r\n')
        got = b''
        while not got.endswith(want):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit('idle-stop: the server closed before the connection was idle: %r' % got)
            got += chunk
        time.sleep(0.2)  # idle now
        start = time.monotonic()
        os.kill(int(pid), signal.SIGTERM)
        s.settimeout(float(most))
        try:
            while s.recv(4096):
                pass
        except socket.timeout:
            raise SystemExit('idle-stop: the %s server kept an idle connection for %s s after SIGTERM' % (kind, most))
        except ConnectionResetError:
            pass
        took = time.monotonic() - start
    print('idle-stop: %s closed the idle connection %.2f s after SIGTERM' % (kind, took))


if __name__ == '__main__':
    command, args = sys.argv[1], sys.argv[2:]
    if command == 'body':
        sys.stdout.buffer.write(body())
    elif command == 'http-server':
        http_server()
    elif command == 'chat':
        chat(*args)
    elif command == 'lines':
        lines(*args)
    elif command == 'long-line':
        long_line(*args)
    elif command == 'stall':
        stall(*args)
    elif command == 'idle-stop':
        idle_stop(*args)
    elif command == 'unnamed-dgram':
        unnamed_datagrams(*args)
    else:
        sys.exit('unknown command %r' % command)

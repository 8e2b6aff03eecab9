// idle_connections: what an idle connection costs a ringlet server in
// user-space memory (issue 13's bar: at most 1 KiB each at 10,000; with
// --http, issue 12's, 2 KiB, for an idle keep-alive connection of http::server).
//
//   build/bench/idle_connections                 # 10,000 connections, one shard
//   build/bench/idle_connections --connections 2000
//   build/bench/idle_connections --http          # keep-alive HTTP connections
//
// The server (one shard, this process) serves 127.0.0.1:0 with tcp::serve and
// an echo handler, which waits in stream::receive() and so holds no receive
// buffer while idle (--http: http::server and a handler answering "ok"). A
// forked child opens the connections with plain blocking sockets, sends one
// byte on each and reads the echo (--http: one GET and its whole response),
// so every handler has run once and given its buffer back, then holds them
// open (an HTTP connection is back waiting for its next request). The
// server's RSS (/proc/self/statm) is taken after a warm-up connection and
// again once every connection has been echoed; it prints the delta per
// connection and exits 1 when it is above the bar. RLIMIT_NOFILE is raised
// within the hard limit (the count is lowered to fit when the hard limit is
// low). Every wait is bounded (60 s in all).
#include "../examples/example_support.hpp"

#include <ringlet/http/server.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace example;

namespace {

std::atomic<long> echoed_connections{0};  // connections that were answered once
bool http_mode = false;

long rss_bytes() {
    long pages_total = 0;
    long pages_resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return pages_resident * ::sysconf(_SC_PAGESIZE);
}

task<void> counting_echo(tcp::stream conn) {
    bool first = true;
    for (;;) {
        auto got = co_await conn.receive();
        if (!got || got->empty()) break;
        auto sent = co_await conn.write_all(got->bytes());
        if (!sent) break;
        if (first) echoed_connections.fetch_add(1, std::memory_order_relaxed);
        first = false;
    }
    (void)co_await conn.close();
}

task<void> counting_http(http::request&, http::response& res) {
    res.set_body("ok");
    echoed_connections.fetch_add(1, std::memory_order_relaxed);
    co_return;
}

/// The child's one exchange on a new connection: a byte and its echo, or a
/// GET and its whole response ("ok" ends it).
bool exchange(int fd) {
    if (!http_mode) {
        char c = 'x';
        return ::write(fd, &c, 1) == 1 && ::read(fd, &c, 1) == 1;
    }
    static constexpr char request[] = "GET /idle HTTP/1.1\r\nHost: bench\r\n\r\n";
    if (::write(fd, request, sizeof request - 1) != static_cast<ssize_t>(sizeof request - 1)) return false;
    std::string got;
    char buf[512];
    while (got.size() < 4 || got.compare(got.size() - 4, 4, "\r\nok") != 0) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return false;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

/// The server under test on this shard: started into `group`; its address.
result<net::address> start_server(task_group& group) {
    if (http_mode) {
        auto server = http::server::bind(net::address::ipv4_loopback(0), {.max_connections = 1000000});
        if (!server) return unexpected{server.error()};
        auto where = server->local_address();
        group.spawn([](http::server s) -> task<void> { co_await s.serve(&counting_http); }(std::move(*server)));
        return where;
    }
    auto server = tcp::server::bind(net::address::ipv4_loopback(0), {.limits = {.max_connections = 1000000}});
    if (!server) return unexpected{server.error()};
    auto where = server->local_address();
    group.spawn([](tcp::server s) -> task<void> { co_await s.serve(&counting_echo); }(std::move(*server)));
    return where;
}

/// Warm-up: the shard's buffers and pools, the handler's code paths.
task<bool> warm_up(const net::address& where) {
    auto c = co_await tcp::connect(where, {.timeout = 5s});
    if (!c) co_return false;
    bool answered = false;
    if (http_mode) {
        auto sent = co_await c->write_all("GET /warm HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
        auto back = co_await c->read_to_end(4096, 5s);  // the server closes after its answer
        answered = sent && back;
    } else {
        auto sent = co_await c->write_all("w");
        char b;
        auto back = co_await c->read_exact(std::span<char>{&b, 1}, 5s);
        answered = sent && back;
    }
    (void)co_await c->close();
    co_return answered;
}

/// The child: opens `n` connections to `port`, one exchange each, holds them
/// until `hold` is readable (or closed), then exits. Its exit code: 0, or the
/// step that failed.
[[noreturn]] void run_clients(std::uint16_t port, long n, int ready, int hold) {
    std::vector<int> fds;
    fds.reserve(static_cast<std::size_t>(n));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (long i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) ::_exit(3);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) ::_exit(4);
        fds.push_back(fd);
        if (!exchange(fd)) ::_exit(5);
    }
    const char done = '1';
    if (::write(ready, &done, 1) != 1) ::_exit(7);
    char ignored;
    (void)!::read(hold, &ignored, 1);
    ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    long wanted = 10000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--connections") == 0 && i + 1 < argc) {
            wanted = std::strtol(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--http") == 0) {
            http_mode = true;
        } else {
            std::fprintf(stderr, "usage: idle_connections [--connections N] [--http]\n");
            return 2;
        }
    }
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    const rlim_t need = static_cast<rlim_t>(wanted) + 256;
    lim.rlim_cur = std::min(need, lim.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    const long n = std::min<long>(wanted, static_cast<long>(lim.rlim_cur) - 256);
    if (n < 1) {
        std::fprintf(stderr, "idle_connections: RLIMIT_NOFILE too low\n");
        return 1;
    }

    runtime rt{{.shards = 1}};
    return rt.run([&rt, n]() -> task<int> {
        task_group group;
        auto where = start_server(group);
        if (!where) co_return 1;
        const bool warm = co_await warm_up(*where);
        if (!warm) co_return 1;
        for (int i = 0; i < 100 && echoed_connections.load() < 1; ++i) (void)co_await sleep_for(10ms);
        const long before = rss_bytes();

        int ready[2], hold[2];
        if (::pipe2(ready, O_CLOEXEC | O_NONBLOCK) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) co_return 1;
        const pid_t child = ::fork();
        if (child < 0) co_return 1;
        if (child == 0) {
            ::close(ready[0]);
            ::close(hold[1]);
            run_clients(where->port(), n, ready[1], hold[0]);
        }
        ::close(ready[1]);
        ::close(hold[0]);
        char flag = 0;
        for (int i = 0; i < 6000 && ::read(ready[0], &flag, 1) != 1; ++i) (void)co_await sleep_for(10ms);
        for (int i = 0; i < 500 && echoed_connections.load() < n + 1; ++i) (void)co_await sleep_for(10ms);
        const long after = rss_bytes();
        const long served = echoed_connections.load() - 1;

        ::close(hold[1]);  // the child exits
        int status = 0;
        ::waitpid(child, &status, 0);
        rt.request_stop();
        co_await group.wait();
        if (flag != '1' || served != n) {
            std::fprintf(stderr, "idle_connections: only %ld of %ld connections were served (child status %d)\n",
                         served, n, status);
            co_return 1;
        }
        const double per = static_cast<double>(after - before) / static_cast<double>(n);
        const double bar = http_mode ? 2048.0 : 1024.0;  // issue 12's for HTTP, issue 13's for the stream
        std::printf("idle %sconnections: %ld, server RSS %.1f MiB -> %.1f MiB, %.0f bytes per connection (bar: %.0f)\n",
                    http_mode ? "keep-alive HTTP " : "", n, static_cast<double>(before) / 1048576.0, static_cast<double>(after) / 1048576.0, per, bar);
        co_return per <= bar ? 0 : 1;
    });
}

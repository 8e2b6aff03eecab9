// idle_http_connections: what an idle keep-alive HTTP connection costs
// http::server in user-space memory (issue 12's bar: at most 2 KiB each at
// 10,000). bench/idle_connections does the same for a plain stream handler.
//
//   build/bench/idle_http_connections                 # 10,000 connections, one shard
//   build/bench/idle_http_connections --connections 2000
//
// The server (one shard, this process) serves 127.0.0.1:0 with http::server
// and a handler answering "ok". A forked child opens the connections with
// plain blocking sockets, sends one GET on each and reads the whole response
// (so every connection has served a request and is back waiting, idle, for
// the next one on the kept-alive connection), then holds them open. The
// server's RSS (/proc/self/statm) is taken after a warm-up connection and
// again once every connection has been echoed; it prints the delta per
// connection and exits 1 when it is above 2 KiB. RLIMIT_NOFILE is raised
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

std::atomic<long> echoed_connections{0};  // requests answered (one per connection)

long rss_bytes() {
    long pages_total = 0;
    long pages_resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return pages_resident * ::sysconf(_SC_PAGESIZE);
}

task<void> counting_handler(http::request&, http::response& res) {
    res.set_body("ok");
    echoed_connections.fetch_add(1, std::memory_order_relaxed);
    co_return;
}

/// Reads one response to `request` on `fd`: until its body "ok" has arrived.
bool exchange(int fd) {
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

/// The child: opens `n` connections to `port`, one byte each way, holds them
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
        } else {
            std::fprintf(stderr, "usage: idle_http_connections [--connections N]\n");
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
        std::fprintf(stderr, "idle_http_connections: RLIMIT_NOFILE too low\n");
        return 1;
    }

    runtime rt{{.shards = 1}};
    return rt.run([&rt, n]() -> task<int> {
        auto server = http::server::bind(net::address::ipv4_loopback(0), {.max_connections = 1000000});
        if (!server) co_return 1;
        task_group group;
        group.spawn(server->serve(&counting_handler));
        // Warm-up: the shard's buffers and pools, the handler's code paths.
        {
            auto c = co_await tcp::connect(server->local_address(), {.timeout = 5s});
            if (!c) co_return 1;
            auto sent = co_await c->write_all("GET /warm HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
            if (!sent) co_return 1;
            auto back = co_await c->read_to_end(4096, 5s);
            if (!back) co_return 1;
            (void)co_await c->close();
        }
        for (int i = 0; i < 100 && echoed_connections.load() < 1; ++i) (void)co_await sleep_for(10ms);
        const long before = rss_bytes();

        int ready[2], hold[2];
        if (::pipe2(ready, O_CLOEXEC | O_NONBLOCK) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) co_return 1;
        const pid_t child = ::fork();
        if (child < 0) co_return 1;
        if (child == 0) {
            ::close(ready[0]);
            ::close(hold[1]);
            run_clients(server->local_address().port(), n, ready[1], hold[0]);
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
            std::fprintf(stderr, "idle_http_connections: only %ld of %ld connections were served (child status %d)\n",
                         served, n, status);
            co_return 1;
        }
        const double per = static_cast<double>(after - before) / static_cast<double>(n);
        std::printf("idle keep-alive HTTP connections: %ld, server RSS %.1f MiB -> %.1f MiB, %.0f bytes per connection (bar: 2048)\n",
                    n, static_cast<double>(before) / 1048576.0, static_cast<double>(after) / 1048576.0, per);
        co_return per <= 2048.0 ? 0 : 1;
    });
}

// epoll_echo_server: the baseline echo server for bench/echo_compare.sh — a
// plain single-threaded epoll loop, the way such servers are usually written.
//
//   build-bench/bench/epoll_echo_server 127.0.0.1:0       # prints: listening on 127.0.0.1:41377
//   build-bench/bench/epoll_echo_server [::1]:8000 --read-size 64k
//   build-bench/bench/epoll_echo_server unix:/tmp/echo.sock   # or @abstract-name
//
// Then drive it with build/tools/ringlet_loadgen <the printed address>. The
// one line on stdout is `listening on <address>` with the real port, flushed.
// SIGINT or SIGTERM stops it: it closes every connection, prints its CPU time
// (getrusage) on stderr and exits 0. Exit 2 means a bad argument, 1 that it
// could not listen.
//
// What it does, deliberately nothing clever: level-triggered epoll; per
// readable connection one read() of up to --read-size bytes per wakeup
// (256 KiB by default), then write() of all of it back. The read size decides
// bulk echo: at 16 KiB × 16 this server moved 5.5 GB/s reading 256 KiB, 1.9
// GB/s reading 64 KiB and 1.1 GB/s reading 16 KiB (DESIGN.md), so the default
// is the strongest baseline; smaller sizes show what a typical server does.
// What the socket does not take (EAGAIN or a short write) is
// kept, the connection waits for EPOLLOUT instead of EPOLLIN until it is
// flushed (so a client that does not read cannot make it buffer without
// bound). TCP_NODELAY on accepted sockets. It uses no ringlet code at all.
#include "baseline_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* me = "epoll_echo_server";


constexpr const char* usage = R"(usage: epoll_echo_server ADDRESS [--read-size BYTES]

A single-threaded, level-triggered epoll echo server: the baseline that
bench/echo_compare.sh measures ringlet's echo server against.

  ADDRESS             127.0.0.1:8000, [::1]:8000, unix:/path or @abstract-name
                      (numeric addresses only; port 0 picks a free port)
  --read-size BYTES   the most one read() per wakeup takes: 16k, 64k, 256k
                      (default), any size from 1 to 16m (k/m suffixes: KiB/MiB)
  --help              this text

Prints "listening on <address>", serves until SIGINT or SIGTERM, then prints
its CPU time on stderr and exits 0.
)";

constexpr std::size_t default_read_size = 256 * 1024;
constexpr std::size_t max_read_size = 16 * 1024 * 1024;

struct endpoint {
    sockaddr_storage storage{};
    socklen_t size = 0;
};

/// Numeric "a.b.c.d:port", "[v6]:port", "unix:/path" or "@name"; false if not one.
bool parse_address(std::string_view text, endpoint& out) {
    if (text.starts_with("unix:") || text.starts_with("@")) {
        auto& un = reinterpret_cast<sockaddr_un&>(out.storage);
        un.sun_family = AF_UNIX;
        const bool abstract = text[0] == '@';
        const std::string_view name = abstract ? text.substr(1) : text.substr(5);
        if (name.empty() || name.size() >= sizeof un.sun_path) return false;
        std::memcpy(un.sun_path + (abstract ? 1 : 0), name.data(), name.size());
        // A path counts its terminating NUL; an abstract name its leading one.
        out.size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        return true;
    }
    return baseline::parse_ip_address(text, out.storage, out.size);
}

/// What a connection has read but the socket has not yet taken back.
struct connection {
    std::vector<char> pending;
    std::size_t sent = 0;   // bytes of `pending` already written
    bool open = false;
};

class server {
public:
    server(int listener, int signals, std::size_t read_size)
        : listener_(listener), signals_(signals), buffer_(read_size) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) baseline::die(me, "epoll_create1");
        watch(listener_, EPOLLIN, EPOLL_CTL_ADD);
        watch(signals_, EPOLLIN, EPOLL_CTL_ADD);
    }

    /// Serves until a signal arrives.
    void run() {
        epoll_event events[256];
        for (;;) {
            const int n = epoll_wait(epoll_, events, 256, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                baseline::die(me, "epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == signals_) return;
                if (fd == listener_) accept_all();
                else if (events[i].events & EPOLLOUT) flush(fd);
                else echo(fd);  // EPOLLIN, EPOLLHUP or EPOLLERR: the read says which
            }
        }
    }

    ~server() {
        for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
            if (conns_[fd].open) ::close(static_cast<int>(fd));
        }
        ::close(epoll_);
    }

private:
    void watch(int fd, std::uint32_t events, int op) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, op, fd, &ev) < 0) baseline::die(me, "epoll_ctl");
    }

    void accept_all() {
        for (;;) {
            const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
                std::fprintf(stderr, "epoll_echo_server: accept: %s\n", std::strerror(errno));
                return;  // EMFILE and the like: level-triggered, so it is retried on the next wakeup
            }
            const int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on unix sockets
            if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1);
            conns_[static_cast<std::size_t>(fd)] = connection{};
            conns_[static_cast<std::size_t>(fd)].open = true;
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    void drop(int fd) {
        ::close(fd);  // also removes it from the epoll set
        conns_[static_cast<std::size_t>(fd)] = connection{};
    }

    /// One read of up to the read size, written straight back.
    void echo(int fd) {
        const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) drop(fd);
            return;
        }
        // End of stream: nothing is pending (a connection with pending bytes waits for EPOLLOUT, not EPOLLIN).
        if (n == 0) return drop(fd);
        std::size_t done = 0;
        while (done < static_cast<std::size_t>(n)) {
            const ssize_t w = ::send(fd, buffer_.data() + done, static_cast<std::size_t>(n) - done, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN) return drop(fd);
                break;
            }
            done += static_cast<std::size_t>(w);
        }
        if (done == static_cast<std::size_t>(n)) return;
        connection& c = conns_[static_cast<std::size_t>(fd)];
        c.pending.assign(buffer_.data() + done, buffer_.data() + n);
        c.sent = 0;
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
    }

    /// Writes what is pending; back to reading once it is all gone.
    void flush(int fd) {
        connection& c = conns_[static_cast<std::size_t>(fd)];
        while (c.sent < c.pending.size()) {
            const ssize_t w = ::send(fd, c.pending.data() + c.sent, c.pending.size() - c.sent, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN) drop(fd);
                return;
            }
            c.sent += static_cast<std::size_t>(w);
        }
        c.pending.clear();
        c.sent = 0;
        watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    }

    int listener_;
    int signals_;
    int epoll_ = -1;
    std::vector<char> buffer_;
    std::vector<connection> conns_;  // by descriptor
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> rest{argv[0]};  // the arguments other than --read-size, for address_argument
    std::size_t read_size = default_read_size;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg != "--read-size") {
            rest.push_back(argv[i]);
            continue;
        }
        if (i + 1 == argc) baseline::usage_error(me, "--read-size needs a value (16k, 64k, 256k)");
        read_size = baseline::parse_size(argv[++i]);
        if (read_size == 0 || read_size > max_read_size) {
            baseline::usage_error(me, "--read-size \"" + std::string(argv[i]) + "\" is not a size from 1 to 16m");
        }
    }
    const std::string address = baseline::address_argument(me, usage, static_cast<int>(rest.size()), rest.data(),
                                                            "missing the address to listen on");
    endpoint where;
    if (!parse_address(address, where)) {
        baseline::usage_error(me, "\"" + address + "\" is not a numeric address, unix:/path or @name");
    }

    const int signals = baseline::stop_signal_fd(me);

    const int listener = socket(where.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) baseline::die(me, "socket");
    const int one = 1;
    if (where.storage.ss_family != AF_UNIX) (void)setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, reinterpret_cast<const sockaddr*>(&where.storage), where.size) < 0) {
        std::fprintf(stderr, "epoll_echo_server: listen %s: %s\n", address.c_str(), std::strerror(errno));
        return 1;
    }
    if (listen(listener, 4096) < 0) baseline::die(me, "listen");
    sockaddr_storage bound{};
    socklen_t bound_size = sizeof bound;
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &bound_size) < 0) baseline::die(me, "getsockname");
    std::printf("listening on %s\n", baseline::describe(bound, address).c_str());
    std::fflush(stdout);

    {
        server s{listener, signals, read_size};
        s.run();
    }
    ::close(listener);
    if (address.starts_with("unix:")) ::unlink(address.c_str() + 5);
    std::fprintf(stderr, "%s: %s\n", me, baseline::cpu_time_text().c_str());
    return 0;
}

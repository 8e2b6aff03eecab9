// epoll_resp_responder: the ceiling for a RESP server on this machine, for
// bench/resp_compare.sh — a single-threaded level-triggered epoll loop that
// only frames RESP commands and answers them with fixed replies: GET gets
// the bulk "xxx" (redis-benchmark's default 3-byte value), everything else
// +OK. No parsing beyond framing, no storage, no limits worth the name: a
// load generator's partner, not a server.
//
//   build-bench/bench/epoll_resp_responder 127.0.0.1:0    # prints: listening on 127.0.0.1:41377
//   redis-benchmark -p 41377 -c 50 -t set,get -P 16 -q
//
// SIGINT or SIGTERM stops it: it prints the commands it answered and its
// CPU time on stderr and exits 0. Exit 2: a bad argument; 1: cannot listen.
// Per readable connection: one read() of up to 64 KiB, every complete
// command answered, all replies in one send(); a command cut by the read's
// end is kept for the next one. TCP_NODELAY on accepted sockets.
#include "baseline_support.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* me = "epoll_resp_responder";

constexpr const char* usage = R"(usage: epoll_resp_responder ADDRESS

Frames RESP commands and answers GET with "$3 xxx", anything else with +OK:
the ceiling bench/resp_compare.sh measures RESP servers against.

  ADDRESS   127.0.0.1:8000 or [::1]:8000 (numeric; port 0 picks a free port)
  --help    this text
)";

struct connection {
    std::string in;   // an incomplete command carried over
    std::string out;  // replies the socket has not taken yet
    bool open = false;
};

/// The length of the complete command at the start of `s`, 0 if incomplete,
/// and whether it is a GET. Malformed input counts as one byte (skipped).
std::size_t frame(std::string_view s, bool& is_get) {
    is_get = false;
    if (s[0] != '*') {  // inline: one line
        const auto nl = s.find('\n');
        if (nl == std::string_view::npos) return 0;
        is_get = s.size() >= 4 && (s[0] | 0x20) == 'g' && (s[1] | 0x20) == 'e' && (s[2] | 0x20) == 't' && s[3] == ' ';
        return nl + 1;
    }
    std::size_t p = s.find("\r\n");
    if (p == std::string_view::npos) return 0;
    const long count = std::strtol(s.data() + 1, nullptr, 10);
    p += 2;
    for (long i = 0; i < count; ++i) {
        if (p >= s.size()) return 0;
        if (s[p] != '$') return 1;
        const std::size_t eol = s.find("\r\n", p);
        if (eol == std::string_view::npos) return 0;
        const long length = std::strtol(s.data() + p + 1, nullptr, 10);
        if (length < 0) return 1;
        const std::size_t data = eol + 2;
        if (s.size() < data + static_cast<std::size_t>(length) + 2) return 0;
        if (i == 0) {
            is_get = length == 3 && (s[data] | 0x20) == 'g' && (s[data + 1] | 0x20) == 'e' && (s[data + 2] | 0x20) == 't';
        }
        p = data + static_cast<std::size_t>(length) + 2;
    }
    return p;
}

class server {
public:
    server(int listener, int signals) : listener_(listener), signals_(signals), buffer_(64 * 1024) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) baseline::die(me, "epoll_create1");
        watch(listener_, EPOLLIN, EPOLL_CTL_ADD);
        watch(signals_, EPOLLIN, EPOLL_CTL_ADD);
    }
    ~server() {
        for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
            if (conns_[fd].open) ::close(static_cast<int>(fd));
        }
        ::close(epoll_);
    }

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
                else serve(fd);
            }
        }
    }

    [[nodiscard]] std::uint64_t answered() const noexcept { return answered_; }

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
            if (fd < 0) return;  // EAGAIN, or EMFILE and the like: retried on the next wakeup
            const int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1);
            conns_[static_cast<std::size_t>(fd)] = connection{};
            conns_[static_cast<std::size_t>(fd)].open = true;
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    void drop(int fd) {
        ::close(fd);
        conns_[static_cast<std::size_t>(fd)] = connection{};
    }

    void serve(int fd) {
        connection& c = conns_[static_cast<std::size_t>(fd)];
        const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) drop(fd);
            return;
        }
        if (n == 0) return drop(fd);
        std::string_view data{buffer_.data(), static_cast<std::size_t>(n)};
        if (!c.in.empty()) {
            c.in.append(data);
            data = c.in;
        }
        std::size_t used = 0;
        while (used < data.size()) {
            bool is_get = false;
            const std::size_t length = frame(data.substr(used), is_get);
            if (length == 0) break;
            used += length;
            ++answered_;
            if (is_get) c.out.append("$3\r\nxxx\r\n", 9); else c.out.append("+OK\r\n", 5);
        }
        std::string rest{data.substr(used)};
        c.in.swap(rest);
        flush(fd);
    }

    void flush(int fd) {
        connection& c = conns_[static_cast<std::size_t>(fd)];
        std::size_t sent = 0;
        while (sent < c.out.size()) {
            const ssize_t w = ::send(fd, c.out.data() + sent, c.out.size() - sent, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN) return drop(fd);
                break;
            }
            sent += static_cast<std::size_t>(w);
        }
        c.out.erase(0, sent);
        watch(fd, c.out.empty() ? EPOLLIN : EPOLLOUT, EPOLL_CTL_MOD);
    }

    int listener_;
    int signals_;
    int epoll_ = -1;
    std::vector<char> buffer_;
    std::vector<connection> conns_;
    std::uint64_t answered_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const std::string address = baseline::address_argument(me, usage, argc, argv, "missing the address to listen on");
    sockaddr_storage where{};
    socklen_t size = 0;
    if (!baseline::parse_ip_address(address, where, size)) {
        baseline::usage_error(me, "\"" + address + "\" is not a numeric IP address with a port");
    }
    const int signals = baseline::stop_signal_fd(me);
    const int listener = socket(where.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) baseline::die(me, "socket");
    const int one = 1;
    (void)setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, reinterpret_cast<const sockaddr*>(&where), size) < 0) {
        std::fprintf(stderr, "%s: listen %s: %s\n", me, address.c_str(), std::strerror(errno));
        return 1;
    }
    if (listen(listener, 4096) < 0) baseline::die(me, "listen");
    sockaddr_storage bound{};
    socklen_t bound_size = sizeof bound;
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &bound_size) < 0) baseline::die(me, "getsockname");
    std::printf("listening on %s\n", baseline::describe(bound, address).c_str());
    std::fflush(stdout);
    std::uint64_t answered = 0;
    {
        server s{listener, signals};
        s.run();
        answered = s.answered();
    }
    ::close(listener);
    std::fprintf(stderr, "%s: %llu commands answered, %s\n", me, static_cast<unsigned long long>(answered),
                 baseline::cpu_time_text().c_str());
    return 0;
}

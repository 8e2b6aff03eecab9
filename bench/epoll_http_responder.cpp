// epoll_http_responder: the ceiling of bench/http_compare.py — a minimal,
// single-threaded epoll HTTP/1.1 responder (no ringlet code). It only frames
// requests: every CRLF CRLF it sees ends a request head, and each head is
// answered with one fixed "200 OK, Hello, World!" response (the bytes of
// http_server's /plaintext answer, with a fixed Date). The answers to all
// heads of one read go out in one write. No parsing, no bodies, no timeouts:
// the physical limit of an HTTP server on this box, not a server.
//
//   build/bench/epoll_http_responder 127.0.0.1:0     # prints: listening on 127.0.0.1:PORT
//   wrk -c50 -d5s http://127.0.0.1:PORT/plaintext
//
// SIGTERM or SIGINT ends it (exit 0).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

namespace {

volatile std::sig_atomic_t stopping = 0;

constexpr const char kResponse[] =
    "HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 12:00:00 GMT\r\nContent-Length: 13\r\n"
    "Content-Type: text/plain\r\n\r\nHello, World!";
constexpr std::size_t kResponseSize = sizeof kResponse - 1;

struct connection {
    int match = 0;        // progress through "\r\n\r\n"
    std::string pending;  // answers the socket did not take yet
    bool watching_out = false;
};

/// Counts request heads ending in `data`, carrying partial matches across reads.
std::size_t count_heads(const char* data, std::size_t size, int& match) {
    static constexpr char end[] = "\r\n\r\n";
    std::size_t heads = 0;
    for (std::size_t i = 0; i < size; ++i) {
        const char c = data[i];
        if (c == end[match]) {
            if (++match == 4) {
                ++heads;
                match = 0;
            }
        } else {
            match = c == '\r' ? 1 : 0;
        }
    }
    return heads;
}

/// Writes `pending` as far as the socket takes it; false when the connection failed.
bool push(int fd, std::string& pending) {
    while (!pending.empty()) {
        const ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        pending.erase(0, static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || std::strcmp(argv[1], "--help") == 0) {
        std::fprintf(stderr, "usage: epoll_http_responder 127.0.0.1:PORT\n");
        return argc == 2 ? 0 : 2;
    }
    const std::string arg = argv[1];
    const std::size_t colon = arg.rfind(':');
    sockaddr_in where{};
    where.sin_family = AF_INET;
    if (colon == std::string::npos || ::inet_pton(AF_INET, arg.substr(0, colon).c_str(), &where.sin_addr) != 1) {
        std::fprintf(stderr, "epoll_http_responder: bad address %s\n", argv[1]);
        return 2;
    }
    where.sin_port = htons(static_cast<std::uint16_t>(std::atoi(arg.c_str() + colon + 1)));
    struct sigaction sa{};
    sa.sa_handler = [](int) { stopping = 1; };
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);

    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0 || ::listen(lfd, 4096) != 0) {
        std::perror("epoll_http_responder: listen");
        return 1;
    }
    socklen_t len = sizeof where;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&where), &len);
    std::printf("listening on %s:%u\n", arg.substr(0, colon).c_str(), ntohs(where.sin_port));
    std::fflush(stdout);

    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::unordered_map<int, connection> conns;
    static char buffer[64 * 1024];
    std::string answers;
    epoll_event events[256];
    while (!stopping) {
        const int n = ::epoll_wait(ep, events, 256, 500);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    const int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break;
                    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLRDHUP;
                    cev.data.fd = c;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    conns[c] = connection{};
                }
                continue;
            }
            connection& conn = conns[fd];
            bool alive = true;
            if (events[i].events & EPOLLOUT) alive = push(fd, conn.pending);
            if (alive && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
                if (got <= 0) {
                    alive = got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
                } else {
                    const std::size_t heads = count_heads(buffer, static_cast<std::size_t>(got), conn.match);
                    answers.clear();
                    for (std::size_t h = 0; h < heads; ++h) answers.append(kResponse, kResponseSize);
                    if (conn.pending.empty()) {
                        const ssize_t sent = answers.empty() ? 0 : ::send(fd, answers.data(), answers.size(), MSG_NOSIGNAL);
                        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) alive = false;
                        else if (sent >= 0) answers.erase(0, static_cast<std::size_t>(sent));
                    }
                    conn.pending += answers;
                }
            }
            if (!alive) {
                ::close(fd);
                conns.erase(fd);
                continue;
            }
            const bool want_out = !conn.pending.empty();
            if (want_out != conn.watching_out) {  // only when it changes: no syscall per request
                epoll_event cev{};
                cev.events = EPOLLIN | EPOLLRDHUP | (want_out ? static_cast<unsigned>(EPOLLOUT) : 0u);
                cev.data.fd = fd;
                ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                conn.watching_out = want_out;
            }
        }
    }
    for (auto& [fd, conn] : conns) ::close(fd);
    ::close(lfd);
    ::close(ep);
    return 0;
}

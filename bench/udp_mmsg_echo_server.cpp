// udp_mmsg_echo_server: the baseline UDP echo server for
// bench/udp_echo_compare.sh — one socket, one thread, recvmmsg/sendmmsg, the
// way a tuned plain UDP server is usually written.
//
//   build-bench/bench/udp_mmsg_echo_server 127.0.0.1:0     # prints: listening on 127.0.0.1:41377
//   build-bench/bench/udp_mmsg_echo_server [::1]:9000
//
// Then drive it with build/tools/ringlet_loadgen <the printed address> --udp.
// The one line on stdout is `listening on <address>` with the real port,
// flushed. SIGINT or SIGTERM stops it: it prints its CPU time and how many
// datagrams it echoed on stderr and exits 0. Exit 2 means a bad argument, 1
// that it could not bind.
//
// What it does: epoll waits on the socket and a signalfd; when the socket is
// readable, recvmmsg(MSG_DONTWAIT) takes up to 64 datagrams and one
// sendmmsg sends them back to their senders (retried from where it stopped
// on a partial send; a datagram the kernel refuses is dropped, as UDP may).
// It loops on the socket until it is empty before waiting again, so under
// load epoll_wait is rarely called. Buffers are 2 KiB each (64 × 2 KiB =
// 128 KiB, hot in cache): enough for any datagram of an Ethernet MTU,
// including the 1400-byte one of the benchmark, and a longer one is caught
// by MSG_TRUNC and not echoed (never half echoed). 64 KiB buffers would make
// no difference to the system calls but would spread 64 datagrams over 4 MiB.
// It uses no ringlet code at all.
#include "baseline_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr const char* me = "udp_mmsg_echo_server";


constexpr const char* usage = R"(usage: udp_mmsg_echo_server ADDRESS

A single-threaded recvmmsg/sendmmsg UDP echo server: the baseline that
bench/udp_echo_compare.sh measures ringlet's udp_echo_server against.

  ADDRESS   127.0.0.1:9000 or [::1]:9000 (numeric; port 0 picks a free port)
  --help    this text

Prints "listening on <address>", echoes until SIGINT or SIGTERM, then prints
its CPU time on stderr and exits 0.
)";

constexpr unsigned batch = 64;
constexpr std::size_t buffer_size = 2048;

/// The receive side of one batch; each reply reuses its request's buffer and address.
struct batch_buffers {
    std::array<std::array<char, buffer_size>, batch> data{};
    std::array<sockaddr_storage, batch> from{};
    std::array<iovec, batch> iov{};
    std::array<mmsghdr, batch> in{};
    std::array<mmsghdr, batch> out{};

    void reset() {
        for (unsigned i = 0; i < batch; ++i) {
            iov[i] = {data[i].data(), buffer_size};
            in[i].msg_hdr = {};
            in[i].msg_hdr.msg_name = &from[i];
            in[i].msg_hdr.msg_namelen = sizeof from[i];
            in[i].msg_hdr.msg_iov = &iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
        }
    }
};

/// Echoes until the socket is empty; the count of datagrams sent back.
std::uint64_t drain(int fd, batch_buffers& b) {
    std::uint64_t echoed = 0;
    for (;;) {
        b.reset();
        const int got = recvmmsg(fd, b.in.data(), batch, MSG_DONTWAIT, nullptr);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) return echoed;
            // ECONNREFUSED and the like: an ICMP error for an earlier reply; keep serving.
            continue;
        }
        unsigned replies = 0;
        for (int i = 0; i < got; ++i) {
            const msghdr& h = b.in[static_cast<unsigned>(i)].msg_hdr;
            if (h.msg_flags & MSG_TRUNC) continue;  // never echo half a datagram
            b.iov[static_cast<unsigned>(i)].iov_len = b.in[static_cast<unsigned>(i)].msg_len;
            b.out[replies].msg_hdr = h;
            b.out[replies].msg_hdr.msg_flags = 0;
            ++replies;
        }
        for (unsigned done = 0; done < replies;) {
            const int sent = sendmmsg(fd, b.out.data() + done, replies - done, 0);
            if (sent < 0) {
                if (errno == EINTR) continue;
                ++done;  // this datagram cannot be sent (ENOBUFS, EPERM, ...): drop it, as UDP may
                continue;
            }
            done += static_cast<unsigned>(sent);
            echoed += static_cast<unsigned>(sent);
        }
        if (got < static_cast<int>(batch)) return echoed;  // most likely empty now: back to epoll
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string address =
        baseline::address_argument(me, usage, argc, argv, "missing the address to receive on");
    sockaddr_storage where{};
    socklen_t where_size = 0;
    if (!baseline::parse_ip_address(address, where, where_size)) {
        baseline::usage_error(me, "\"" + address + "\" is not a numeric IP address and port");
    }

    const int signals = baseline::stop_signal_fd(me);

    const int fd = socket(where.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) baseline::die(me, "socket");
    if (bind(fd, reinterpret_cast<const sockaddr*>(&where), where_size) < 0) {
        std::fprintf(stderr, "udp_mmsg_echo_server: bind %s: %s\n", address.c_str(), std::strerror(errno));
        return 1;
    }
    sockaddr_storage bound{};
    socklen_t bound_size = sizeof bound;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_size) < 0) baseline::die(me, "getsockname");

    const int epoll = epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) baseline::die(me, "epoll_create1");
    for (const int watched : {fd, signals}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = watched;
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, watched, &ev) < 0) baseline::die(me, "epoll_ctl");
    }
    std::printf("listening on %s\n", baseline::describe(bound, address).c_str());
    std::fflush(stdout);

    auto* buffers = new batch_buffers;  // 130 KiB: not on the stack
    std::uint64_t echoed = 0;
    for (bool running = true; running;) {
        epoll_event events[2];
        const int n = epoll_wait(epoll, events, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            baseline::die(me, "epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            if (events[i].data.fd == signals) running = false;
            else echoed += drain(fd, *buffers);
        }
    }
    delete buffers;
    ::close(epoll);
    ::close(fd);
    std::fprintf(stderr, "%s: %llu datagrams echoed; %s\n", me, static_cast<unsigned long long>(echoed),
                 baseline::cpu_time_text().c_str());
    return 0;
}

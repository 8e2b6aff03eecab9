// What the plain-socket baseline servers (epoll_echo_server,
// epoll_http_responder, epoll_resp_responder, udp_mmsg_echo_server) share:
// their one-address command line, numeric addresses, the signal descriptor
// that stops them, the CPU-time line they print at exit, and the TCP ones'
// epoll reactor and listening socket. No ringlet code: the baselines must
// not measure it.
#pragma once

#include <arpa/inet.h>
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

namespace baseline {

[[noreturn]] inline void usage_error(const char* program, const std::string& message) {
    std::fprintf(stderr, "%s: %s (try --help)\n", program, message.c_str());
    std::exit(2);
}

/// Exits 1 naming the failed call and errno.
[[noreturn]] inline void die(const char* program, const char* what) {
    std::fprintf(stderr, "%s: %s: %s\n", program, what, std::strerror(errno));
    std::exit(1);
}

/// The command line `program ADDRESS`: --help (or -h) prints `usage` and
/// exits 0; anything else but one operand exits 2 (`missing` when there is none).
inline std::string address_argument(const char* program, const char* usage, int argc, char** argv,
                                    const char* missing) {
    std::string address;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (arg.size() > 1 && arg[0] == '-') usage_error(program, "unknown option \"" + std::string(arg) + "\"");
        if (!address.empty()) usage_error(program, "unexpected argument \"" + std::string(arg) + "\"");
        address = arg;
    }
    if (address.empty()) usage_error(program, missing);
    return address;
}

/// "65536", "64k" or "1m" (k: KiB, m: MiB) as bytes; 0 when it is none of these.
inline std::size_t parse_size(std::string_view text) {
    std::size_t unit = 1;
    if (!text.empty() && (text.back() == 'k' || text.back() == 'K')) unit = 1024;
    if (!text.empty() && (text.back() == 'm' || text.back() == 'M')) unit = 1024 * 1024;
    if (unit != 1) text.remove_suffix(1);
    if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string_view::npos) return 0;
    return std::strtoull(std::string(text).c_str(), nullptr, 10) * unit;
}

/// Numeric "a.b.c.d:port" or "[v6]:port" into `out`/`size`; false if not one.
inline bool parse_ip_address(std::string_view text, sockaddr_storage& out, socklen_t& size) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    const std::string host{text.substr(0, colon)};
    const std::string port_text{text.substr(colon + 1)};
    char* end = nullptr;
    const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port > 65535) return false;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(static_cast<std::uint16_t>(port));
        size = sizeof v6;
        return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6.sin6_addr) == 1;
    }
    auto& v4 = reinterpret_cast<sockaddr_in&>(out);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    size = sizeof v4;
    return inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1;
}

/// An IP address as "a.b.c.d:port" or "[v6]:port"; any other family as `given`.
inline std::string describe(const sockaddr_storage& s, std::string_view given) {
    char text[INET6_ADDRSTRLEN] = {};
    if (s.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(s);
        inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(v4.sin_port));
    }
    if (s.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(s);
        inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6.sin6_port));
    }
    return std::string(given);
}

/// SIGINT and SIGTERM blocked and readable on a descriptor, so that in an
/// epoll set stopping is just another event.
inline int stop_signal_fd(const char* program) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop_signals, nullptr) < 0) die(program, "sigprocmask");
    const int signals = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signals < 0) die(program, "signalfd");
    return signals;
}

/// "cpu user U s, system S s": this process's CPU time so far.
inline std::string cpu_time_text() {
    rusage now{};
    getrusage(RUSAGE_SELF, &now);
    char text[96];
    std::snprintf(text, sizeof text, "cpu user %ld.%06ld s, system %ld.%06ld s", static_cast<long>(now.ru_utime.tv_sec),
                  static_cast<long>(now.ru_utime.tv_usec), static_cast<long>(now.ru_stime.tv_sec),
                  static_cast<long>(now.ru_stime.tv_usec));
    return text;
}

/// A stream address: numeric "a.b.c.d:port", "[v6]:port", "unix:/path" or "@name".
struct endpoint {
    sockaddr_storage storage{};
    socklen_t size = 0;
};

/// `text` as an endpoint; false if it is none of the forms above.
inline bool parse_stream_address(std::string_view text, endpoint& out) {
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
    return parse_ip_address(text, out.storage, out.size);
}

/// A non-blocking listening socket on `address` (backlog 4096, SO_REUSEADDR
/// on IP), announced with the one `listening on <address>` line (the real
/// port), flushed. Exits 2 for an address that is none of the stream forms,
/// 1 when it cannot listen. Remove a unix path with close_listener().
inline int listen_and_announce(const char* program, const std::string& address) {
    endpoint where;
    if (!parse_stream_address(address, where)) {
        usage_error(program, "\"" + address + "\" is not a numeric address, unix:/path or @name");
    }
    const int listener = socket(where.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) die(program, "socket");
    const int one = 1;
    if (where.storage.ss_family != AF_UNIX) (void)setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, reinterpret_cast<const sockaddr*>(&where.storage), where.size) < 0) {
        std::fprintf(stderr, "%s: listen %s: %s\n", program, address.c_str(), std::strerror(errno));
        std::exit(1);
    }
    if (listen(listener, 4096) < 0) die(program, "listen");
    sockaddr_storage bound{};
    socklen_t bound_size = sizeof bound;
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &bound_size) < 0) die(program, "getsockname");
    std::printf("listening on %s\n", describe(bound, address).c_str());
    std::fflush(stdout);
    return listener;
}

/// Closes what listen_and_announce() opened, and removes a unix socket file.
inline void close_listener(int listener, const std::string& address) {
    ::close(listener);
    if (address.starts_with("unix:")) ::unlink(address.c_str() + 5);
}

/// The single-threaded, level-triggered epoll loop of the TCP baselines,
/// the way such servers are usually written, and nothing clever: accepted
/// sockets are non-blocking with TCP_NODELAY; per readable connection one
/// read() of up to `read_size` bytes per wakeup, handed to the protocol,
/// whose reply is sent at once. What the socket does not take is kept, and
/// the connection then waits for EPOLLOUT instead of EPOLLIN until it is
/// flushed, so a client that does not read cannot make it buffer without
/// bound (the registration changes only then: no epoll_ctl per request).
/// SIGINT or SIGTERM (stop_signal_fd) ends run(); the destructor closes
/// every connection.
///
/// State: the protocol's per-connection state (default-constructed at accept).
template <class State>
class stream_reactor {
public:
    stream_reactor(const char* program, int listener, int signals, std::size_t read_size)
        : program_(program), listener_(listener), signals_(signals), buffer_(read_size) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) die(program_, "epoll_create1");
        watch(listener_, EPOLLIN, EPOLL_CTL_ADD);
        watch(signals_, EPOLLIN, EPOLL_CTL_ADD);
    }
    stream_reactor(const stream_reactor&) = delete;
    stream_reactor& operator=(const stream_reactor&) = delete;
    ~stream_reactor() {
        for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
            if (conns_[fd].open) ::close(static_cast<int>(fd));
        }
        ::close(epoll_);
    }

    /// Serves until a stop signal. `on_read(State&, std::string_view bytes)`
    /// yields the reply to those bytes (valid until the reactor sent or
    /// copied it: the bytes themselves, or a buffer of the protocol's).
    template <class OnRead>
    void run(OnRead&& on_read) {
        epoll_event events[256];
        for (;;) {
            const int n = epoll_wait(epoll_, events, 256, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                die(program_, "epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == signals_) return;
                if (fd == listener_) accept_all();
                else if (events[i].events & EPOLLOUT) flush(fd);
                else read_from(fd, on_read);  // EPOLLIN, EPOLLHUP or EPOLLERR: the read says which
            }
        }
    }

private:
    struct connection {
        State state{};
        std::string pending;    // reply bytes the socket has not taken yet
        std::size_t sent = 0;   // of `pending`, already written
        bool open = false;
    };

    void watch(int fd, std::uint32_t events, int op) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, op, fd, &ev) < 0) die(program_, "epoll_ctl");
    }

    void accept_all() {
        for (;;) {
            const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
                std::fprintf(stderr, "%s: accept: %s\n", program_, std::strerror(errno));
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

    /// One read of up to the read size; the protocol's reply goes out at once.
    template <class OnRead>
    void read_from(int fd, OnRead& on_read) {
        const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) drop(fd);
            return;
        }
        // End of stream: nothing is pending (a connection with pending bytes waits for EPOLLOUT, not EPOLLIN).
        if (n == 0) return drop(fd);
        connection& c = conns_[static_cast<std::size_t>(fd)];
        const std::string_view reply = on_read(c.state, std::string_view{buffer_.data(), static_cast<std::size_t>(n)});
        std::size_t done = 0;
        while (done < reply.size()) {
            const ssize_t w = ::send(fd, reply.data() + done, reply.size() - done, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN) return drop(fd);
                break;
            }
            done += static_cast<std::size_t>(w);
        }
        if (done == reply.size()) return;
        c.pending.assign(reply.substr(done));
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

    const char* program_;
    int listener_;
    int signals_;
    int epoll_ = -1;
    std::vector<char> buffer_;
    std::vector<connection> conns_;  // by descriptor
};

}  // namespace baseline

// Unix datagram and seqpacket sockets: binding with stale-path replacement,
// connecting (with autobind), pairs, and socket-file cleanup.
//
// Design notes: a path in use is stale when a probe socket of the same type
// is refused there (ECONNREFUSED: no socket is bound to the file any more).
// A live datagram socket accepts the probe's connect, a live seqpacket
// listener queues it (the probe is closed at once), and a socket of another
// type answers EPROTOTYPE — none of these is touched. The probe is
// non-blocking and AF_UNIX answers at once, so nothing here blocks.
#include <ringlet/net/local_datagram.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

namespace ringlet::local {
namespace {

bool is_unix(const net::address& a) noexcept {
    return a.family() == net::address_family::unix_path || a.family() == net::address_family::unix_abstract;
}

bool is_stale(const net::address& where, int type) {
    struct stat st {};
    if (::lstat(where.unix_name().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    const int probe = ::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) return false;
    const int rc = ::connect(probe, where.data(), where.size());
    const int error = errno;
    ::close(probe);
    return rc != 0 && error == ECONNREFUSED;
}

/// Binds `s` to `local`, replacing a stale socket file when asked.
result<void> bind_replacing(net::socket& s, const net::address& local, int type, bool replace_stale) {
    auto bound = s.bind(local);
    if (!bound && bound.error() == std::errc::address_in_use && replace_stale &&
        local.family() == net::address_family::unix_path && is_stale(local, type)) {
        ::unlink(local.unix_name().c_str());
        bound = s.bind(local);
    }
    return bound;
}

/// Autobind (unix(7)): binding just the family makes the kernel pick an abstract name.
result<void> autobind(net::socket& s) noexcept {
    const sa_family_t family = AF_UNIX;
    if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&family), sizeof family) != 0) {
        return unexpected{errno_code(errno)};
    }
    return {};
}

std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace

// --- datagram_socket -------------------------------------------------------------

datagram_socket::datagram_socket(datagram_socket&& other) noexcept
    : net::datagram_socket(std::move(other)),
      unlink_path_(std::exchange(other.unlink_path_, {})),
      path_dev_(other.path_dev_),
      path_ino_(other.path_ino_) {}

datagram_socket& datagram_socket::operator=(datagram_socket&& other) noexcept {
    if (this != &other) {
        unlink_if_ours();
        net::datagram_socket::operator=(std::move(other));
        unlink_path_ = std::exchange(other.unlink_path_, {});
        path_dev_ = other.path_dev_;
        path_ino_ = other.path_ino_;
    }
    return *this;
}

datagram_socket::~datagram_socket() { unlink_if_ours(); }

task<result<void>> datagram_socket::close() {
    auto closed = co_await net::datagram_socket::close();
    unlink_if_ours();
    co_return closed;
}

result<void> datagram_socket::unlink_on_close(std::string path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return unexpected{errno_code(errno)};
    path_dev_ = st.st_dev;
    path_ino_ = st.st_ino;
    unlink_path_ = std::move(path);
    return {};
}

void datagram_socket::unlink_if_ours() noexcept {
    struct stat now {};
    if (!unlink_path_.empty() && ::lstat(unlink_path_.c_str(), &now) == 0 && now.st_dev == path_dev_ &&
        now.st_ino == path_ino_) {
        ::unlink(unlink_path_.c_str());
    }
    unlink_path_.clear();
}

result<datagram_socket> bind_datagram(const net::address& local, datagram_bind_options options) {
    if (!is_unix(local)) return unexpected{errc::invalid_argument};
    auto s = net::socket::open(AF_UNIX, SOCK_DGRAM);
    if (!s) return unexpected{s.error()};
    if (auto r = bind_replacing(*s, local, SOCK_DGRAM, options.replace_stale); !r) return unexpected{r.error()};
    datagram_socket out{std::move(*s)};
    if (local.family() == net::address_family::unix_path && options.unlink_on_close) {
        if (auto r = out.unlink_on_close(local.unix_name()); !r) return unexpected{r.error()};
    }
    return out;
}

task<result<datagram_socket>> connect_datagram(const net::address& peer, datagram_connect_options options) {
    if (!is_unix(peer)) co_return unexpected{errc::invalid_argument};
    auto s = net::socket::open(AF_UNIX, SOCK_DGRAM);
    if (!s) co_return unexpected{s.error()};
    if (options.bind) {
        if (auto r = s->bind(*options.bind); !r) co_return unexpected{r.error()};
    } else if (options.autobind) {
        if (auto r = autobind(*s); !r) co_return unexpected{r.error()};
    }
    auto connected = co_await s->connect(peer, options.timeout);  // bound first: GCC 12.2, see tests/lint
    if (!connected) co_return unexpected{connected.error()};
    co_return datagram_socket{std::move(*s)};
}

result<datagram_socket> open_datagram(bool with_name) {
    auto s = net::socket::open(AF_UNIX, SOCK_DGRAM);
    if (!s) return unexpected{s.error()};
    if (with_name) {
        if (auto r = autobind(*s); !r) return unexpected{r.error()};
    }
    return datagram_socket{std::move(*s)};
}

result<std::pair<datagram_socket, datagram_socket>> datagram_pair() noexcept {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) != 0) return unexpected{errno_code(errno)};
    return std::pair<datagram_socket, datagram_socket>{datagram_socket{net::socket{fds[0]}},
                                                       datagram_socket{net::socket{fds[1]}}};
}

// --- seqpacket ---------------------------------------------------------------------

net::send_op seqpacket_socket::send(std::span<const std::byte> data, timeout limit) noexcept {
    return socket_.send(data, limit);
}

net::send_op seqpacket_socket::send(std::string_view data, timeout limit) noexcept {
    return socket_.send(as_bytes(data), limit);
}

net::recv_message_op seqpacket_socket::recv(std::span<std::byte> buffer, timeout limit) noexcept {
    return net::recv_message_op{socket_, buffer, limit};
}

net::recv_message_op seqpacket_socket::recv(std::span<char> buffer, timeout limit) noexcept {
    return net::recv_message_op{socket_, {reinterpret_cast<std::byte*>(buffer.data()), buffer.size()}, limit};
}

result<credentials> seqpacket_socket::peer_credentials() const noexcept {
    ucred cred{};
    socklen_t size = sizeof cred;
    if (::getsockopt(socket_.fd(), SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) return unexpected{errno_code(errno)};
    return credentials{cred.pid, cred.uid, cred.gid};
}

result<seqpacket_listener> listen_seqpacket(const net::address& local, listen_options options) {
    if (!is_unix(local)) return unexpected{errc::invalid_argument};
    auto s = net::socket::open(AF_UNIX, SOCK_SEQPACKET);
    if (!s) return unexpected{s.error()};
    if (auto r = bind_replacing(*s, local, SOCK_SEQPACKET, options.replace_stale); !r) return unexpected{r.error()};
    if (auto r = s->listen(options.backlog); !r) return unexpected{r.error()};
    net::listener l{std::move(*s)};
    if (local.family() == net::address_family::unix_path && options.unlink_on_close) {
        if (auto r = l.unlink_on_close(local.unix_name()); !r) return unexpected{r.error()};
    }
    return seqpacket_listener{std::move(l)};
}

task<result<seqpacket_socket>> connect_seqpacket(const net::address& peer, connect_options options) {
    if (!is_unix(peer)) co_return unexpected{errc::invalid_argument};
    auto s = net::socket::open(AF_UNIX, SOCK_SEQPACKET);
    if (!s) co_return unexpected{s.error()};
    auto connected = co_await s->connect(peer, options.timeout);  // bound first: GCC 12.2, see tests/lint
    if (!connected) co_return unexpected{connected.error()};
    co_return seqpacket_socket{std::move(*s)};
}

result<std::pair<seqpacket_socket, seqpacket_socket>> seqpacket_pair() noexcept {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return unexpected{errno_code(errno)};
    return std::pair<seqpacket_socket, seqpacket_socket>{seqpacket_socket{net::socket{fds[0]}},
                                                         seqpacket_socket{net::socket{fds[1]}}};
}

}  // namespace ringlet::local

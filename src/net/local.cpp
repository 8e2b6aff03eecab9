// Unix stream sockets: listen with stale-path replacement, connect, pairs.
//
// The socket file of a path listener is removed on every exit ringlet
// controls: a failed listen() right after the bind, the listener's close()
// and its destructor (net::listener::unlink_on_close), which a graceful stop
// reaches because the serve loops close their listeners when draining.
//
// Design notes: a path in use is stale only when it is a socket file that no
// listening socket is bound to. The kernel is asked first (sock_diag: the
// listening unix sockets and the inode each is bound to), so a live server is
// recognised without being touched. Only when no listener shows up — or
// sock_diag is unavailable — does a connect confirm it: a refused connect
// proves the file stale, while one that succeeds finds a server the dump
// cannot see (another network namespace sharing the file system), which is
// then left alone. The connect is non-blocking, and for AF_UNIX it answers
// at once, so nothing here blocks the shard.
#include <ringlet/net/local.hpp>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ringlet::local {
namespace {

bool is_unix(const net::address& a) noexcept {
    return a.family() == net::address_family::unix_path || a.family() == net::address_family::unix_abstract;
}

/// The kernel's dev_t encoding (major << 20 | minor), as sock_diag reports it, against st_dev.
bool same_device(std::uint32_t kernel_dev, dev_t dev) noexcept {
    return (kernel_dev >> 20) == major(dev) && (kernel_dev & 0xfffff) == minor(dev);
}

/// 1 when a listening unix socket is bound to the file `file`, 0 when none
/// is, -1 when sock_diag cannot tell. @see sock_diag(7)
int listener_bound_to(const struct stat& file) {
    const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return -1;
    struct {
        nlmsghdr header;
        unix_diag_req body;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.body.sdiag_family = AF_UNIX;
    request.body.udiag_states = 1u << TCP_LISTEN;
    request.body.udiag_show = UDIAG_SHOW_VFS;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    int found = -1;
    if (::sendto(nl, &request, sizeof request, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
        ::close(nl);
        return -1;
    }
    std::vector<char> storage(32 * 1024);  // headers are memcpy'd out, so alignment does not matter
    char* const buffer = storage.data();
    for (bool done = false; !done;) {  // ends with NLMSG_DONE, an error, or a failed recv
        const ssize_t got = ::recv(nl, buffer, storage.size(), 0);
        if (got <= 0) break;
        const auto size = static_cast<std::size_t>(got);
        for (std::size_t at = 0; at + sizeof(nlmsghdr) <= size;) {
            nlmsghdr h;
            std::memcpy(&h, buffer + at, sizeof h);
            if (h.nlmsg_len < sizeof h || at + h.nlmsg_len > size || h.nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            if (h.nlmsg_type == NLMSG_DONE) {
                if (found < 0) found = 0;
                done = true;
                break;
            }
            const std::size_t end = at + h.nlmsg_len;
            for (std::size_t a = at + NLMSG_ALIGN(sizeof(nlmsghdr)) + NLMSG_ALIGN(sizeof(unix_diag_msg));
                 a + sizeof(rtattr) <= end;) {
                rtattr attr;
                std::memcpy(&attr, buffer + a, sizeof attr);
                if (attr.rta_len < sizeof attr || a + attr.rta_len > end) break;
                if (attr.rta_type == UNIX_DIAG_VFS && attr.rta_len >= RTA_LENGTH(sizeof(unix_diag_vfs))) {
                    unix_diag_vfs vfs;
                    std::memcpy(&vfs, buffer + a + RTA_LENGTH(0), sizeof vfs);
                    if (vfs.udiag_vfs_ino == static_cast<std::uint32_t>(file.st_ino) &&
                        same_device(vfs.udiag_vfs_dev, file.st_dev)) {
                        found = 1;
                    }
                }
                a += RTA_ALIGN(attr.rta_len);
            }
            at += NLMSG_ALIGN(h.nlmsg_len);
        }
    }
    ::close(nl);
    return found;
}

/// True when `where` is a socket file that nothing listens on (see the file comment).
bool is_stale(const net::address& where) {
    struct stat st {};
    if (::lstat(where.unix_name().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    if (listener_bound_to(st) == 1) return false;
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) return false;
    const int rc = ::connect(probe, where.data(), where.size());
    const int error = errno;
    ::close(probe);
    return rc != 0 && error == ECONNREFUSED;
}

/// Removes `path` when it is still the file `ours` describes (not one a
/// process bound after us).
void remove_if_same(const std::string& path, const struct stat& ours) noexcept {
    struct stat now {};
    if (ours.st_ino != 0 && ::lstat(path.c_str(), &now) == 0 && now.st_dev == ours.st_dev &&
        now.st_ino == ours.st_ino) {
        ::unlink(path.c_str());
    }
}

}  // namespace

result<credentials> stream::peer_credentials() const noexcept {
    ucred cred{};
    socklen_t size = sizeof cred;
    if (::getsockopt(socket().fd(), SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) return unexpected{errno_code(errno)};
    return credentials{cred.pid, cred.uid, cred.gid};
}

result<listener> listen(const net::address& local, listen_options options) {
    if (!is_unix(local)) return unexpected{errc::invalid_argument};
    auto s = net::socket::open(AF_UNIX, SOCK_STREAM);
    if (!s) return unexpected{s.error()};
    const bool is_path = local.family() == net::address_family::unix_path;
    auto bound = s->bind(local);
    if (!bound && bound.error() == std::errc::address_in_use && is_path && options.replace_stale &&
        is_stale(local)) {
        ::unlink(local.unix_name().c_str());
        bound = s->bind(local);
    }
    if (!bound) return unexpected{bound.error()};
    // The socket file is ours from here: a failure removes it again, and the
    // listener removes it when closed or destroyed (unlink_on_close).
    struct stat ours {};
    if (is_path && ::lstat(local.unix_name().c_str(), &ours) != 0) ours = {};
    if (auto r = s->listen(options.backlog); !r) {
        remove_if_same(local.unix_name(), ours);
        return unexpected{r.error()};
    }
    net::listener l{std::move(*s)};
    if (is_path && options.unlink_on_close) {
        if (auto r = l.unlink_on_close(local.unix_name()); !r) return unexpected{r.error()};
    }
    return listener{std::move(l)};
}

task<result<stream>> connect(const net::address& peer, connect_options options) {
    if (!is_unix(peer)) co_return unexpected{errc::invalid_argument};
    auto s = net::socket::open(AF_UNIX, SOCK_STREAM);
    if (!s) co_return unexpected{s.error()};
    auto connected = co_await s->connect(peer, options.timeout);
    if (!connected) co_return unexpected{connected.error()};
    co_return stream{std::move(*s)};
}

result<std::pair<stream, stream>> pair() noexcept {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return unexpected{errno_code(errno)};
    return std::pair<stream, stream>{stream{net::socket{fds[0]}}, stream{net::socket{fds[1]}}};
}

}  // namespace ringlet::local

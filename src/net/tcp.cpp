// tcp::listen, tcp::connect and the TCP socket options.
#include <ringlet/net/tcp.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace ringlet::tcp {
namespace {

bool is_ip(const net::address& a) noexcept {
    return a.family() == net::address_family::ipv4 || a.family() == net::address_family::ipv6;
}

}  // namespace

result<void> stream::set_nodelay(bool enabled) noexcept {
    return socket().set_option(IPPROTO_TCP, TCP_NODELAY, enabled ? 1 : 0);
}

result<bool> stream::nodelay() const noexcept {
    auto v = socket().get_option(IPPROTO_TCP, TCP_NODELAY);
    if (!v) return unexpected{v.error()};
    return *v != 0;
}

result<void> stream::set_keepalive(bool enabled, keepalive_options options) noexcept {
    if (auto r = socket().set_option(SOL_SOCKET, SO_KEEPALIVE, enabled ? 1 : 0); !r || !enabled) return r;
    if (options.idle.count() > 0) {
        if (auto r = socket().set_option(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(options.idle.count())); !r) return r;
    }
    if (options.interval.count() > 0) {
        if (auto r = socket().set_option(IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(options.interval.count())); !r) {
            return r;
        }
    }
    if (options.probes > 0) return socket().set_option(IPPROTO_TCP, TCP_KEEPCNT, options.probes);
    return {};
}

result<listener> listen(const net::address& local, listen_options options) {
    if (!is_ip(local)) return unexpected{errc::invalid_argument};
    auto s = net::socket::open_for(local, SOCK_STREAM);
    if (!s) return unexpected{s.error()};
    if (options.reuse_address) {
        if (auto r = s->set_option(SOL_SOCKET, SO_REUSEADDR, 1); !r) return unexpected{r.error()};
    }
    if (options.reuse_port) {
        if (auto r = s->set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return unexpected{r.error()};
    }
    if (auto r = s->bind(local); !r) return unexpected{r.error()};
    if (auto r = s->listen(options.backlog); !r) return unexpected{r.error()};
    return listener{net::listener{std::move(*s)}};
}

task<result<stream>> connect(const net::address& peer, connect_options options) {
    if (!is_ip(peer)) co_return unexpected{errc::invalid_argument};
    auto s = net::socket::open_for(peer, SOCK_STREAM);
    if (!s) co_return unexpected{s.error()};
    if (options.bind) {
        // Port 0: take the port at connect time, so that binding the local
        // address does not use up an ephemeral port per (address, port) pair.
        if (options.bind->port() == 0) (void)s->set_option(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
        if (auto r = s->bind(*options.bind); !r) co_return unexpected{r.error()};
    }
    auto connected = co_await s->connect(peer, options.timeout);
    if (!connected) co_return unexpected{connected.error()};
    co_return stream{std::move(*s)};
}

}  // namespace ringlet::tcp

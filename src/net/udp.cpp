// UDP sockets: bind, connect and open, with their socket options.
#include <ringlet/net/socket_options.hpp>
#include <ringlet/net/udp.hpp>

namespace ringlet::udp {
namespace {

bool is_ip(net::address_family f) noexcept { return f == net::address_family::ipv4 || f == net::address_family::ipv6; }

int domain_of(net::address_family f) noexcept { return f == net::address_family::ipv4 ? AF_INET : AF_INET6; }

}  // namespace

result<socket> open(net::address_family family) {
    if (!is_ip(family)) return unexpected{errc::invalid_argument};
    auto s = net::socket::open(domain_of(family), SOCK_DGRAM, IPPROTO_UDP);
    if (!s) return unexpected{s.error()};
    return socket{std::move(*s)};
}

result<socket> bind(const net::address& local, bind_options options) {
    auto s = open(local.family());
    if (!s) return unexpected{s.error()};
    if (options.reuse_address) {
        if (auto r = net::set_option(*s, net::opt::reuse_address{true}); !r) return unexpected{r.error()};
    }
    if (options.reuse_port) {
        if (auto r = net::set_option(*s, net::opt::reuse_port{true}); !r) return unexpected{r.error()};
    }
    if (options.broadcast) {
        if (auto r = net::set_option(*s, net::opt::broadcast{true}); !r) return unexpected{r.error()};
    }
    if (auto r = s->bind(local); !r) return unexpected{r.error()};
    return s;
}

task<result<socket>> connect(const net::address& peer, connect_options options) {
    auto s = open(peer.family());
    if (!s) co_return unexpected{s.error()};
    if (options.broadcast) {
        if (auto r = net::set_option(*s, net::opt::broadcast{true}); !r) co_return unexpected{r.error()};
    }
    if (options.bind) {
        if (auto r = s->bind(*options.bind); !r) co_return unexpected{r.error()};
    }
    auto connected = co_await s->connect(peer, options.timeout);  // bound first: GCC 12.2, see tests/lint
    if (!connected) co_return unexpected{connected.error()};
    co_return std::move(*s);
}

}  // namespace ringlet::udp

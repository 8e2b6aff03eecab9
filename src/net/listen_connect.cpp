// net::listen / net::connect: the family's own function, its handle re-typed
// as the family-agnostic one (the listener and stream types differ only in
// what accept() and the extra per-family methods yield; the state is the same).
#include <ringlet/net/listen_connect.hpp>

#include <ringlet/net/local.hpp>
#include <ringlet/net/tcp.hpp>

namespace ringlet::net {
namespace {

bool is_ip(const address& a) noexcept {
    return a.family() == address_family::ipv4 || a.family() == address_family::ipv6;
}

bool is_named_unix(const address& a) noexcept {
    return a.family() == address_family::unix_path || a.family() == address_family::unix_abstract;
}

}  // namespace

result<stream_listener> listen(const address& local, listen_options options) {
    if (is_ip(local)) {
        auto l = tcp::listen(local, {.backlog = options.backlog,
                                     .reuse_address = options.reuse_address,
                                     .reuse_port = options.reuse_port});
        if (!l) return unexpected{l.error()};
        return stream_listener{std::move(l->base())};
    }
    if (is_named_unix(local)) {
        auto l = local::listen(local, {.backlog = options.backlog,
                                       .replace_stale = options.replace_stale,
                                       .unlink_on_close = options.unlink_on_close});
        if (!l) return unexpected{l.error()};
        return stream_listener{std::move(l->base())};
    }
    return unexpected{errc::invalid_argument};
}

task<result<stream>> connect(const address& peer, connect_options options) {
    if (is_ip(peer)) {
        auto s = co_await tcp::connect(peer, tcp::connect_options{.bind = options.bind, .timeout = options.timeout});
        if (!s) co_return unexpected{s.error()};
        co_return stream{std::move(*s)};
    }
    if (is_named_unix(peer) && !options.bind) {
        auto s = co_await local::connect(peer, local::connect_options{.timeout = options.timeout});
        if (!s) co_return unexpected{s.error()};
        co_return stream{std::move(*s)};
    }
    co_return unexpected{errc::invalid_argument};
}

}  // namespace ringlet::net

// tls::connect and tls::listen: the TCP plumbing around the handshakes.
#include <ringlet/net/resolve.hpp>
#include <ringlet/net/tcp.hpp>
#include <ringlet/tls/listener.hpp>
#include <ringlet/tls/stream.hpp>

namespace ringlet::tls {

task<result<stream>> connect(std::string host, std::uint16_t port, context ctx, connect_options options) {
    const timeout until = net::as_deadline(options.connect_timeout);
    auto addrs = co_await net::resolve(host, port, {.timeout = until});
    if (!addrs) co_return unexpected{addrs.error()};
    std::error_code last = make_error_code(ringlet::errc::invalid_argument);
    for (const net::address& a : *addrs) {
        auto conn = co_await tcp::connect(a, {.timeout = until});
        if (!conn) {
            last = conn.error();
            if (last == ringlet::errc::timed_out || last == ringlet::errc::operation_canceled) break;
            continue;
        }
        (void)conn->set_nodelay(true);
        client_handshake_options hs;
        hs.server_name = host;
        hs.handshake_timeout = options.handshake_timeout;
        hs.resume = options.resume;
        co_return co_await client_handshake(std::move(*conn), std::move(ctx), hs);
    }
    co_return unexpected{last};
}

result<listener> listen(const net::address& local, context ctx, tcp::listen_options tcp_options,
                        server_handshake_options options) {
    auto lst = tcp::listen(local, tcp_options);
    if (!lst) return unexpected{lst.error()};
    return listener{std::move(*lst), std::move(ctx), options};
}

}  // namespace ringlet::tls

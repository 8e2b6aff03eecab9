// tls::listener: a TCP listener whose accept() yields TLS streams.
//
//     auto lst = tls::listen(net::address::parse("127.0.0.1:8443").value(), ctx);
//     auto conn = co_await lst->accept();         // TCP accept, then the TLS handshake
//
// accept() runs the handshake itself, so a slow client delays the next
// accept by at most the handshake timeout; a server that must not wait
// accepts TCP streams (tcp_listener()) and spawns server_handshake per
// connection — tls::serve does exactly that.
//
// Thread safety: as net::listener (one shard); the context may be shared.
#pragma once

#include <ringlet/core/io.hpp>
#include <ringlet/core/result.hpp>
#include <ringlet/core/shard.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/task_group.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/connection_limits.hpp>
#include <ringlet/net/tcp.hpp>
#include <ringlet/tls/context.hpp>
#include <ringlet/tls/stream.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace ringlet::tls {

/// A listening TCP socket plus the server context its connections use.
class listener {
public:
    listener() noexcept = default;
    listener(tcp::listener tcp, context ctx, server_handshake_options options = {}) noexcept
        : tcp_(std::move(tcp)), ctx_(std::move(ctx)), options_(options) {}

    /// Accepts one TCP connection (within `limit`) and runs the server
    /// handshake on it (within the handshake timeout). Errors: accept's
    /// (errc::operation_canceled when stopping) and server_handshake's — a
    /// failed handshake ends only that connection; call accept() again.
    [[nodiscard]] task<result<stream>> accept(timeout limit = {}) {
        auto conn = co_await tcp_.accept(limit);
        if (!conn) co_return unexpected{conn.error()};
        co_return co_await server_handshake(std::move(*conn), ctx_, options_);
    }

    /// Closes the TCP listener. @see net::listener::close
    [[nodiscard]] task<result<void>> close() { return tcp_.close(); }
    [[nodiscard]] result<net::address> local_address() const noexcept { return tcp_.local_address(); }
    [[nodiscard]] tcp::listener& tcp_listener() noexcept { return tcp_; }
    [[nodiscard]] const context& tls_context() const noexcept { return ctx_; }
    [[nodiscard]] const server_handshake_options& options() const noexcept { return options_; }

private:
    tcp::listener tcp_;
    context ctx_;
    server_handshake_options options_;
};

/// tcp::listen(local, tcp_options) with TLS on top. Errors: tcp::listen's.
[[nodiscard]] result<listener> listen(const net::address& local, context ctx, tcp::listen_options tcp_options = {},
                                      server_handshake_options options = {});

/// Options of tls::serve.
struct serve_options {
    /// Applied to each TCP connection before its handshake (and kept by the
    /// TLS stream): 60 s idle and write timeouts, at most 10,000 connections
    /// (handshaking or not) on this listener's shard. See net::connection_limits.
    net::connection_limits limits{};
    /// Handshakes running at once on this listener's shard; a connection
    /// that arrives while this many are running is reset at once. A
    /// handshake holds about 100 KiB of wolfSSL state, and a stalled one
    /// holds it until the listener's handshake timeout (10 s by default,
    /// server_handshake_options): the cap bounds that memory. 0: no cap.
    std::size_t max_handshakes = 256;
};
static_assert(std::is_trivially_copyable_v<serve_options>);

namespace detail {
template <class Handler>
task<void> handshake_then(tcp::stream conn, context ctx, server_handshake_options options, Handler& handler,
                          std::size_t& handshaking) {
    auto tls = co_await server_handshake(std::move(conn), std::move(ctx), options);
    --handshaking;
    if (tls) co_await handler(std::move(*tls));
}

/// tls::serve's accept loop: runs until stopped (or a lasting accept error),
/// which it returns. Each connection passes `gate` (limits, the cap), then
/// the handshake cap.
template <class Handler>
task<std::error_code> accept_tls(listener& lst, task_group& connections, Handler& handler, net::connection_gate& gate,
                                 std::size_t max_handshakes, std::size_t& handshaking) {
    for (;;) {
        auto conn = co_await lst.tcp_listener().accept();
        if (conn) {
            if (max_handshakes != 0 && handshaking >= max_handshakes) {
                connections.spawn(net::connection_gate::refuse(std::move(*conn)));
                continue;
            }
            connections.spawn(gate.admit(std::move(*conn), [&](tcp::stream admitted) {
                ++handshaking;
                return handshake_then(std::move(admitted), lst.tls_context(), lst.options(), handler, handshaking);
            }));
            continue;
        }
        if (conn.error() == std::errc::too_many_files_open || conn.error() == std::errc::too_many_files_open_in_system) {
            auto slept = co_await sleep_for(std::chrono::milliseconds{100});
            if (slept) continue;
        }
        co_return conn.error();
    }
}
}  // namespace detail

/// Accepts connections until the awaiting task is stopped, the shard begins
/// to drain (a graceful stop, this_shard::drain_token()), or the listener
/// fails for another reason than running out of descriptors; runs each
/// handshake and then `handler(tls::stream)` (returning task<void>) in its
/// own task; connections whose handshake fails are dropped. Each connection
/// gets options.limits (net::connection_gate: idle and write timeouts, the
/// connection cap) before its handshake; above the cap or while
/// options.max_handshakes handshakes run, a new connection is reset at once.
/// Then closes the listener at once, waits for the connections (the hard
/// stop cancels them), and returns the error that ended accepting
/// (errc::operation_canceled on a stop or drain).
template <class Handler>
[[nodiscard]] task<result<void>> serve(listener& lst, Handler handler, serve_options options = {}) {
    net::connection_gate gate{options.limits};  // outlives `connections`
    std::size_t handshaking = 0;
    task_group connections;
    const std::error_code ended = co_await until_drain(
        detail::accept_tls(lst, connections, handler, gate, options.max_handshakes, handshaking));
    (void)co_await lst.close();
    co_await connections.wait();
    co_return unexpected{ended};
}

}  // namespace ringlet::tls

// TCP: streams, listeners and connecting.
//
//     auto lst = tcp::listen(net::address::parse("127.0.0.1:0").value());
//     if (!lst) { std::cerr << net::describe_error("listen", addr, lst.error()); ... }
//     auto conn = co_await lst->accept();                  // result<tcp::stream>
//
//     auto c = co_await tcp::connect(addr, {.timeout = 5s});  // result<tcp::stream>
//     auto d = co_await tcp::connect("example.com", 80, opts);  // resolve + Happy Eyeballs
//
//     co_return co_await tcp::serve(addr, handle);         // one listener per shard
//
// See net/serve below for serve() and tcp::server.
//
// Thread safety: as net::stream and net::listener.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/connection_limits.hpp>
#include <ringlet/net/listener.hpp>
#include <ringlet/net/resolve.hpp>
#include <ringlet/net/stream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace ringlet::tcp {

/// TCP keepalive probing; zero fields keep the kernel's defaults
/// (net.ipv4.tcp_keepalive_time / _intvl / _probes).
struct keepalive_options {
    std::chrono::seconds idle{0};      ///< idle time before the first probe (TCP_KEEPIDLE)
    std::chrono::seconds interval{0};  ///< time between probes (TCP_KEEPINTVL)
    int probes = 0;                    ///< unanswered probes before the connection is reset (TCP_KEEPCNT)
};

/// A connected TCP socket: every net::stream operation plus TCP options.
class stream : public net::stream {
public:
    using net::stream::stream;

    /// TCP_NODELAY: send small segments at once instead of coalescing them
    /// (Nagle). The seeds' `flush` maps here. @see tcp(7)
    result<void> set_nodelay(bool enabled = true) noexcept;
    [[nodiscard]] result<bool> nodelay() const noexcept;
    /// SO_KEEPALIVE, with the probe timing of `options`. A dead peer then
    /// surfaces as std::errc::timed_out (ETIMEDOUT) on the next read. @see tcp(7), socket(7)
    result<void> set_keepalive(bool enabled, keepalive_options options = {}) noexcept;
};

/// A listening TCP socket. @see net::listener
using listener = net::basic_listener<stream>;

/// Options of tcp::listen.
struct listen_options {
    int backlog = 4096;          ///< pending-connection queue; the kernel caps it at net.core.somaxconn
    bool reuse_address = true;   ///< SO_REUSEADDR: rebind at once over TIME_WAIT connections
    bool reuse_port = false;     ///< SO_REUSEPORT: several listeners (one per shard) share the port
};

/// Binds `local` and listens. Binding port 0 picks a free port (see
/// listener::local_address). Never blocks. Errors: std::errc::address_in_use
/// when another socket holds the address (say so with
/// net::describe_error("listen", local, error)), EACCES for a privileged
/// port, EADDRNOTAVAIL for an address not on this host, errc::invalid_argument
/// for a unix address. @see socket(2), bind(2), listen(2)
[[nodiscard]] result<listener> listen(const net::address& local, listen_options options = {});

/// Options of tcp::connect.
struct connect_options {
    /// Local address to bind before connecting (the seeds' bind host and
    /// port); port 0 lets the kernel pick the port.
    std::optional<net::address> bind{};
    /// Limit for the connection attempt (none: the kernel's SYN retries,
    /// minutes); for a host name, for the whole call (resolution included).
    ringlet::timeout timeout{};
    /// Happy Eyeballs (several addresses): how long one attempt runs alone
    /// before the next starts beside it (RFC 8305's Connection Attempt Delay).
    std::chrono::milliseconds attempt_delay{250};
    /// For a host name: the families to resolve, and DNS servers to ask
    /// instead of /etc/resolv.conf's (see net::resolve_options; the text must
    /// live until the call's first suspension).
    net::ip_family family = net::ip_family::any;
    std::string_view servers{};
};
// Options are usually braced temporaries inside a co_await expression, which
// GCC 12 copies bytewise: they must stay trivially copyable.
static_assert(std::is_trivially_copyable_v<connect_options>);

/// Connects to `peer`. Errors: std::errc::connection_refused, network_unreachable,
/// errc::timed_out (the limit), errc::operation_canceled (the task was
/// stopped), the bind errors when options.bind is set, and
/// errc::invalid_argument for a unix address.
/// @see connect_op, connect(2)
[[nodiscard]] task<result<stream>> connect(const net::address& peer, connect_options options = {});

/// Connects to the first of `candidates` that answers, Happy Eyeballs style
/// (RFC 8305 section 5): attempts start in the given order (net::resolve's
/// order interleaves IPv6 and IPv4, IPv6 first), each `options.attempt_delay`
/// after the previous one or at once when the previous one fails; the first
/// success wins and the attempts still running are cancelled, their sockets
/// closed. With options.bind set, only candidates of its family are tried.
/// Errors: the last attempt's error when all fail; errc::timed_out when
/// options.timeout (for the whole call) expires; errc::invalid_argument for
/// an empty list; errc::operation_canceled when the task is stopped.
[[nodiscard]] task<result<stream>> connect(std::span<const net::address> candidates, connect_options options = {});

/// Resolves `host` (net::resolve, with options.family and options.servers;
/// numeric hosts skip DNS) and connects to its addresses as above.
/// Errors: net::resolve's (errc::resolve_not_found, ...), then as above.
/// @see net::resolve, RFC 8305
[[nodiscard]] task<result<stream>> connect(std::string host, std::uint16_t port, connect_options options = {});

// --- serving -----------------------------------------------------------------

/// Handles one accepted connection; the task owns it (and should close it).
using handler = std::function<task<void>(stream)>;

/// Options of tcp::serve and tcp::server::bind.
struct serve_options {
    int backlog = 4096;  ///< per listener; the kernel caps it at net.core.somaxconn
    unsigned shards = 0; ///< shards to listen on, from shard 0; 0: every shard of the runtime
    /// Applied to every connection before the handler gets it: 60 s idle
    /// (read progress) timeout, 60 s write timeout, at most 10,000
    /// connections per shard (above: reset at once). See net::connection_limits;
    /// e.g. {.limits = {.idle_timeout = 5s, .max_connections = 0}}.
    net::connection_limits limits{};
};
static_assert(std::is_trivially_copyable_v<serve_options>);

/// A TCP server: one SO_REUSEPORT listener per shard on one address (the
/// kernel spreads connections over them) and one handler task per
/// connection, on the shard that accepted it.
///
/// Each connection reaches the handler with serve_options::limits applied
/// (net::connection_gate): its reads fail with errc::timed_out after the
/// idle timeout without a byte, its writes after the write timeout without
/// progress, so a handler that ends on an error (as it must anyway) frees a
/// silent or non-reading peer's connection. A connection above the per-shard
/// cap is reset at once and counted in refused().
///
/// Accept survives running out of descriptors (EMFILE/ENFILE) and other
/// transient accept errors: that shard backs off (10 ms, doubling up to
/// 500 ms), says so on stderr at most once a second per process, keeps
/// serving the connections it has, and accepts again once it can (the
/// waiting connections stay in the kernel's backlog meanwhile).
///
/// Thread safety: bind and serve on one shard (the "home" shard); the
/// listeners move to their shards when serving starts. Not movable while serving.
class server {
public:
    /// Binds one listener per shard on the calling shard (SO_REUSEADDR, and
    /// SO_REUSEPORT when more than one); port 0 picks one free port for all.
    /// Errors: as tcp::listen (describe them with net::describe_error("listen",
    /// where, error)); errc::not_on_shard off a shard. @see tcp::listen
    [[nodiscard]] static result<server> bind(const net::address& where, serve_options options = {});

    /// The bound address, with the real port.
    [[nodiscard]] const net::address& local_address() const noexcept { return address_; }

    /// Accepts on every listener's shard and runs `handle` for each
    /// connection, until the runtime begins a graceful stop (each shard's
    /// drain token) or stops (on the home shard also until the awaiting task
    /// is stopped); then closes the listeners at once and waits for the
    /// connection tasks to end (the runtime's hard stop, at the end of its
    /// drain_timeout, cancels their pending operations).
    [[nodiscard]] task<void> serve(handler handle);

    /// Connections accepted so far, and accept errors seen (all shards).
    [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_; }
    [[nodiscard]] std::uint64_t accept_errors() const noexcept { return accept_errors_; }
    /// Connections reset at once because their shard was at limits.max_connections.
    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }

private:
    task<void> serve_one(unsigned index, handler handle);

    net::address address_;
    net::connection_limits limits_;
    std::vector<listener> listeners_;
    // Summed on the home shard after each shard's loop ends.
    std::uint64_t accepted_ = 0;
    std::uint64_t accept_errors_ = 0;
    std::uint64_t refused_ = 0;
};

/// Binds `where` (tcp::server::bind) and serves it with `handle` until the
/// runtime stops, draining on a graceful stop (see server::serve) — the
/// DESIGN.md shape:
///     return rt.run([] { return tcp::serve(addr, handle); });
/// Errors: bind's (nothing is served then). @see tcp::server
[[nodiscard]] task<result<void>> serve(const net::address& where, handler handle, serve_options options = {});

}  // namespace ringlet::tcp

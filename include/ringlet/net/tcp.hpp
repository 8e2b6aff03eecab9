// TCP: streams, listeners and connecting.
//
//     auto lst = tcp::listen(net::address::parse("127.0.0.1:0").value());
//     if (!lst) { std::cerr << net::describe_error("listen", addr, lst.error()); ... }
//     auto conn = co_await lst->accept();                  // result<tcp::stream>
//
//     auto c = co_await tcp::connect(addr, {.timeout = 5s});  // result<tcp::stream>
//
// tcp::connect takes a resolved net::address today; a host-name overload
// (resolve + Happy Eyeballs) joins it once ringlet's resolver is in.
//
// Thread safety: as net::stream and net::listener.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/listener.hpp>
#include <ringlet/net/stream.hpp>

#include <chrono>
#include <optional>
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
    std::optional<net::address> bind;
    /// Limit for the connection attempt (none: the kernel's SYN retries, minutes).
    ringlet::timeout timeout;
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

}  // namespace ringlet::tcp

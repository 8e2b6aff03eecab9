// Family-agnostic stream sockets: net::listen and net::connect take any
// stream address — IPv4, IPv6, a unix path or an abstract name — as the
// seeds' net/listen and net/connect do, and yield one listener type and one
// stream type whatever the family.
//
//     auto where = net::address::parse(argv[1]);            // "127.0.0.1:0", "[::1]:80", "unix:/run/x.sock", "@x"
//     auto lst = net::listen(*where);                        // result<net::stream_listener>
//     auto conn = co_await lst->accept(5s);                  // result<net::stream>
//     auto peer = co_await net::connect(*where, {.timeout = 2s});  // result<net::stream>
//
// These are tcp::listen / local::listen and tcp::connect / local::connect
// chosen by the address's family, with the options both share; the family's
// own functions stay for what only it has (tcp::stream::set_nodelay,
// local::stream::peer_credentials, Happy Eyeballs over host names). Socket
// options of either family are set on a net::stream with net::set_option.
//
// Thread safety: as net::stream and net::listener.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/listener.hpp>
#include <ringlet/net/stream.hpp>

#include <optional>
#include <type_traits>

namespace ringlet::net {

/// A listening stream socket of any family; accept() yields net::stream.
using stream_listener = basic_listener<stream>;

/// Options of net::listen. Each applies where its family has it.
struct listen_options {
    int backlog = 4096;           ///< pending-connection queue (capped by net.core.somaxconn)
    bool reuse_address = true;    ///< IP: SO_REUSEADDR (rebind over TIME_WAIT at once)
    bool reuse_port = false;      ///< IP: SO_REUSEPORT (several listeners share the port)
    bool replace_stale = true;    ///< unix path: replace a socket file nothing answers on
    bool unlink_on_close = true;  ///< unix path: remove the socket file when the listener closes
};
// Trivially copyable, like every options struct: see tcp::connect_options.
static_assert(std::is_trivially_copyable_v<listen_options>);

/// Binds `local` and listens: tcp::listen for an IP address, local::listen
/// for a unix path or abstract name. Never blocks. Binding port 0 picks a
/// free port (local_address() says which). Errors: those of tcp::listen or
/// local::listen (std::errc::address_in_use, EACCES, EADDRNOTAVAIL, ENOENT
/// for a missing directory, ...); errc::invalid_argument for an unnamed unix
/// address. Say why with net::describe_error("listen", local, error).
/// @see socket(2), bind(2), listen(2)
[[nodiscard]] result<stream_listener> listen(const address& local, listen_options options = {});

/// Options of net::connect.
struct connect_options {
    /// Limit for the attempt (none: TCP's SYN retries, minutes).
    ringlet::timeout timeout{};
    /// IP only: the local address to bind first (port 0: the kernel's pick).
    std::optional<address> bind{};
};
static_assert(std::is_trivially_copyable_v<connect_options>);

/// Connects to `peer`: tcp::connect for an IP address, local::connect for a
/// unix path or abstract name. Errors: std::errc::connection_refused (nobody
/// listens), no_such_file_or_directory (no such unix path),
/// network_unreachable, errc::timed_out (options.timeout), and
/// errc::invalid_argument for an unnamed unix address or options.bind with a
/// unix peer. Cancellation: stopping the awaiting task cancels the connect in
/// the kernel and yields errc::operation_canceled. @see connect(2)
[[nodiscard]] task<result<stream>> connect(const address& peer, connect_options options = {});

}  // namespace ringlet::net

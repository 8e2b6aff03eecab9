// UDP: datagram sockets on IPv4 and IPv6.
//
//     auto server = udp::bind(net::address::parse("0.0.0.0:8009").value());   // the seeds' datagram listen
//     std::array<std::byte, 2048> buf;
//     auto got = co_await server->recv_from(buf, 30s);      // result<net::received_from>
//     co_await server->send_to(got->from, std::span{buf}.first(got->size));
//
//     auto conn = co_await udp::connect(peer);              // the seeds' datagram "fake connection"
//     co_await conn->send("ping");
//     auto reply = co_await conn->recv(buf, 1s);            // result<net::received_message>
//
// A connected socket receives only from its peer, and an ICMP "port
// unreachable" for an earlier datagram surfaces as
// std::errc::connection_refused on a later send or recv. Options (broadcast,
// multicast, buffer sizes) go through net::set_option (socket_options.hpp).
// For many datagrams per second use receive_batch / send_batch
// (net::datagram_socket).
//
// Thread safety: as net::datagram_socket.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/datagram.hpp>

#include <optional>

namespace ringlet::udp {

/// A UDP socket: every net::datagram_socket operation. Move-only.
class socket : public net::datagram_socket {
public:
    using net::datagram_socket::datagram_socket;
};

/// Options of udp::bind.
struct bind_options {
    /// SO_REUSEADDR: several sockets may bind the same address and port —
    /// how multicast receivers on one host share a group's port.
    bool reuse_address = false;
    /// SO_REUSEPORT: sockets bound to the same address share its datagrams
    /// (one per shard; the kernel hashes each sender to one socket).
    bool reuse_port = false;
    /// SO_BROADCAST: may send to broadcast addresses.
    bool broadcast = false;
};

/// A UDP socket bound to `local` (port 0: a free port; local_address() has
/// it). Never blocks. Errors: std::errc::address_in_use, EACCES (a privileged
/// port), EADDRNOTAVAIL (not an address of this host), errc::invalid_argument
/// for a unix address. @see socket(2), bind(2), udp(7)
[[nodiscard]] result<socket> bind(const net::address& local, bind_options options = {});

/// Options of udp::connect.
struct connect_options {
    /// Local address to bind first (the seeds' bind host); none: the kernel
    /// picks an address and port.
    std::optional<net::address> bind{};
    /// SO_BROADCAST, to connect to a broadcast address.
    bool broadcast = false;
    ringlet::timeout timeout{};
};

/// A UDP socket connected to `peer`: no packet is sent (UDP has no
/// handshake); the kernel fixes the peer and picks a route. Errors:
/// ENETUNREACH (no route), EACCES (a broadcast peer without `broadcast`),
/// the bind errors when options.bind is set, errc::invalid_argument for a
/// unix address. @see connect_op, connect(2), udp(7)
[[nodiscard]] task<result<socket>> connect(const net::address& peer, connect_options options = {});

/// An unbound UDP socket of `family` (ipv4 or ipv6) for send_to; the kernel
/// binds it to a free port on the first send. Errors: errc::invalid_argument
/// for a unix family; socket(2)'s errno.
[[nodiscard]] result<socket> open(net::address_family family);

}  // namespace ringlet::udp

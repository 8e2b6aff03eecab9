// Typed socket options: one get/set API for every socket, a text form for
// each value, and a raw level/name/value escape hatch.
//
//     net::set_option(sock, net::opt::broadcast{true});
//     net::set_option(sock, net::opt::ip_multicast_ttl{4});
//     auto ttl = net::get_option<net::opt::ip_multicast_ttl>(sock);     // result<opt::ip_multicast_ttl>
//     auto join = net::opt::ip_add_membership::parse("239.1.2.3%eth0");  // the seeds' string forms
//     if (!join) die(net::opt::ip_add_membership::describe_parse_error("239.1.2.3%eth0"));
//     net::set_option(sock, *join);
//     net::set_option(sock, "ipv6-join-group", "ff02::1%lo");           // by name, as the seeds' setsockopt
//     net::set_option(sock, IPPROTO_IP, IP_TOS, 0x10);                   // anything else, raw
//
// "Every socket": the functions take a net::socket_ref, which any ringlet
// handle converts to (net::socket, tcp/local streams and listeners, udp and
// unix datagram sockets) — anything with fd() or socket().fd().
//
// Each option is a small struct holding its value, with
//   - level / name / label: the setsockopt(2) level, name, and "SO_BROADCAST";
//   - check(): "" when the value may be set, otherwise the reason, naming the
//     option and the value ("IP_MULTICAST_TTL: 300 is out of range 0..255");
//   - to_string() / parse() / describe_parse_error() / from_string(): the
//     text form, read back by parse.
// Options whose struct has `readable == true` can be read with get_option;
// the membership options are write-only in the kernel.
//
// Errors follow net::address (address.hpp): nothing throws except
// from_string. A value that check() or parse() rejects is
// errc::invalid_argument and nothing reaches the kernel; the reason is the
// describe_* companion's. A kernel refusal is its errno (ENODEV for a missing
// interface, EADDRINUSE for joining a group twice, ENOPROTOOPT for an option
// the socket's protocol lacks), and describe_option_error names the option
// and the value: "IP_ADD_MEMBERSHIP 239.1.2.3%eth9: No such device (ENODEV)".
//
// Text forms:
//   flags         true/false, on/off, yes/no, 1/0
//   integers      decimal, within the option's range
//   interface     an interface name ("eth0"), an index ("2"), or for IPv4 an
//                 interface address ("192.168.1.5")
//   IPv4 group    "239.1.2.3" (the kernel picks the interface),
//                 "239.1.2.3%eth0" / "239.1.2.3%2" (by interface name or index),
//                 "239.1.2.3@192.168.1.5" (by interface address)
//   IPv4 source   "232.1.2.3 from 10.0.0.1", optionally "232.1.2.3@192.168.1.5 from 10.0.0.1"
//   IPv6 group    "ff02::1%eth0", "ff02::1%2", "ff15::1" (interface index 0)
// Interface names are looked up with if_nametoindex (one syscall) while
// parsing, so parse in setup code, not per packet.
//
// Thread safety: option structs are plain values; setting an option is one
// setsockopt(2) on the calling thread.
#pragma once

#include <ringlet/core/result.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace ringlet::net {

/// A borrowed socket descriptor to read or set options on. Converts from any
/// handle with fd() or socket().fd(); never owns or closes anything.
class socket_ref {
public:
    template <class Handle>
        requires requires(const Handle& h) {
            { h.fd() } -> std::convertible_to<int>;
        }
    socket_ref(const Handle& handle) noexcept : fd_(handle.fd()) {}  // NOLINT: implicit by design
    template <class Handle>
        requires(!requires(const Handle& h) { h.fd(); }) && requires(const Handle& h) {
            { h.socket().fd() } -> std::convertible_to<int>;
        }
    socket_ref(const Handle& handle) noexcept : fd_(handle.socket().fd()) {}  // NOLINT: implicit by design

    /// A descriptor that is not a ringlet handle (still not owned).
    [[nodiscard]] static socket_ref from_fd(int fd) noexcept { return socket_ref{fd, 0}; }
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    socket_ref(int fd, int) noexcept : fd_(fd) {}
    int fd_;
};

namespace detail {

// One tag per option: the setsockopt level and name, the printed label, and
// for integers the accepted range.
#define RINGLET_OPTION_TAG(tag, lvl, nm)          \
    struct tag {                                  \
        static constexpr int level = lvl;         \
        static constexpr int name = nm;           \
        static constexpr std::string_view label = #nm; \
    }
RINGLET_OPTION_TAG(so_broadcast, SOL_SOCKET, SO_BROADCAST);
RINGLET_OPTION_TAG(so_reuseaddr, SOL_SOCKET, SO_REUSEADDR);
RINGLET_OPTION_TAG(so_reuseport, SOL_SOCKET, SO_REUSEPORT);
RINGLET_OPTION_TAG(so_keepalive, SOL_SOCKET, SO_KEEPALIVE);
RINGLET_OPTION_TAG(tcp_nodelay, IPPROTO_TCP, TCP_NODELAY);
RINGLET_OPTION_TAG(ip_multicast_loop, IPPROTO_IP, IP_MULTICAST_LOOP);
RINGLET_OPTION_TAG(ipv6_multicast_loop, IPPROTO_IPV6, IPV6_MULTICAST_LOOP);
RINGLET_OPTION_TAG(so_rcvbuf, SOL_SOCKET, SO_RCVBUF);
RINGLET_OPTION_TAG(so_sndbuf, SOL_SOCKET, SO_SNDBUF);
RINGLET_OPTION_TAG(ip_multicast_ttl, IPPROTO_IP, IP_MULTICAST_TTL);
RINGLET_OPTION_TAG(ipv6_multicast_hops, IPPROTO_IPV6, IPV6_MULTICAST_HOPS);
RINGLET_OPTION_TAG(ip_add_membership, IPPROTO_IP, IP_ADD_MEMBERSHIP);
RINGLET_OPTION_TAG(ip_drop_membership, IPPROTO_IP, IP_DROP_MEMBERSHIP);
RINGLET_OPTION_TAG(ip_add_source_membership, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP);
RINGLET_OPTION_TAG(ip_drop_source_membership, IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP);
RINGLET_OPTION_TAG(ipv6_join_group, IPPROTO_IPV6, IPV6_JOIN_GROUP);
RINGLET_OPTION_TAG(ipv6_leave_group, IPPROTO_IPV6, IPV6_LEAVE_GROUP);
#undef RINGLET_OPTION_TAG

}  // namespace detail

/// An on/off option (an int 0/1 in the kernel).
template <class Tag>
struct flag_option {
    bool value = true;

    static constexpr int level = Tag::level;
    static constexpr int name = Tag::name;
    static constexpr std::string_view label = Tag::label;
    static constexpr bool readable = true;

    [[nodiscard]] std::string check() const { return {}; }
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<flag_option> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static flag_option from_string(std::string_view text);
    /// setsockopt(2); what set_option calls.
    result<void> apply(socket_ref s) const;
    /// getsockopt(2); what get_option calls.
    [[nodiscard]] static result<flag_option> read(socket_ref s);
};

/// An int option accepted within [Min, Max].
template <class Tag, int Min, int Max>
struct int_option {
    int value = 0;

    static constexpr int level = Tag::level;
    static constexpr int name = Tag::name;
    static constexpr std::string_view label = Tag::label;
    static constexpr bool readable = true;
    static constexpr int min = Min;
    static constexpr int max = Max;

    [[nodiscard]] std::string check() const;
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<int_option> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static int_option from_string(std::string_view text);
    result<void> apply(socket_ref s) const;
    [[nodiscard]] static result<int_option> read(socket_ref s);
};

/// Joining or leaving an IPv4 group (struct ip_mreqn): on the interface with
/// index `interface_index`, else the one with `interface_address`, else
/// (both zero) the one the kernel routes the group to.
template <class Tag>
struct ipv4_membership_option {
    in_addr group{};
    in_addr interface_address{};
    int interface_index = 0;

    static constexpr int level = Tag::level;
    static constexpr int name = Tag::name;
    static constexpr std::string_view label = Tag::label;
    static constexpr bool readable = false;

    /// Rejects a group outside 224.0.0.0/4 and a negative index.
    [[nodiscard]] std::string check() const;
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<ipv4_membership_option> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static ipv4_membership_option from_string(std::string_view text);
    result<void> apply(socket_ref s) const;
};

/// Source-specific membership (struct ip_mreq_source): datagrams sent to
/// `group` by `source` only, on the interface with `interface_address`
/// (0.0.0.0: the kernel's choice).
template <class Tag>
struct ipv4_source_membership_option {
    in_addr group{};
    in_addr source{};
    in_addr interface_address{};

    static constexpr int level = Tag::level;
    static constexpr int name = Tag::name;
    static constexpr std::string_view label = Tag::label;
    static constexpr bool readable = false;

    /// Rejects a group outside 224.0.0.0/4 and a source that is not unicast.
    [[nodiscard]] std::string check() const;
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<ipv4_source_membership_option> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static ipv4_source_membership_option from_string(std::string_view text);
    result<void> apply(socket_ref s) const;
};

/// Joining or leaving an IPv6 group (struct ipv6_mreq) on the interface with
/// `interface_index` (0: the kernel routes the group).
template <class Tag>
struct ipv6_membership_option {
    in6_addr group{};
    unsigned interface_index = 0;

    static constexpr int level = Tag::level;
    static constexpr int name = Tag::name;
    static constexpr std::string_view label = Tag::label;
    static constexpr bool readable = false;

    /// Rejects a group outside ff00::/8.
    [[nodiscard]] std::string check() const;
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<ipv6_membership_option> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static ipv6_membership_option from_string(std::string_view text);
    result<void> apply(socket_ref s) const;
};

namespace opt {

/// SO_BROADCAST: may send to broadcast addresses (else EACCES). Off by default. @see socket(7)
using broadcast = flag_option<detail::so_broadcast>;
/// SO_REUSEADDR: bind over TIME_WAIT connections; for UDP, several sockets may
/// bind the same address (how multicast receivers share a port). @see socket(7)
using reuse_address = flag_option<detail::so_reuseaddr>;
/// SO_REUSEPORT: sockets of one user bound to the same address share its
/// traffic (one per shard). @see socket(7)
using reuse_port = flag_option<detail::so_reuseport>;
/// SO_KEEPALIVE: TCP keepalive probes (timing: tcp::stream::set_keepalive). @see socket(7)
using keep_alive = flag_option<detail::so_keepalive>;
/// TCP_NODELAY: send small segments at once (no Nagle). ENOPROTOOPT on non-TCP sockets. @see tcp(7)
using tcp_no_delay = flag_option<detail::tcp_nodelay>;
/// IP_MULTICAST_LOOP: this host's members receive the socket's own multicast. On by default. @see ip(7)
using ip_multicast_loop = flag_option<detail::ip_multicast_loop>;
/// IPV6_MULTICAST_LOOP: as ip_multicast_loop, for IPv6. @see ipv6(7)
using ipv6_multicast_loop = flag_option<detail::ipv6_multicast_loop>;

/// SO_RCVBUF in bytes. Reads back doubled (the kernel counts its bookkeeping),
/// clamped to net.core.rmem_max. @see socket(7)
using receive_buffer = int_option<detail::so_rcvbuf, 0, 0x7fffffff>;
/// SO_SNDBUF in bytes; reads back doubled, clamped to net.core.wmem_max. @see socket(7)
using send_buffer = int_option<detail::so_sndbuf, 0, 0x7fffffff>;
/// IP_MULTICAST_TTL, 0..255: how many routers multicast may cross (1 by default: the link). @see ip(7)
using ip_multicast_ttl = int_option<detail::ip_multicast_ttl, 0, 255>;
/// IPV6_MULTICAST_HOPS, 0..255: the hop limit of outgoing multicast (1 by default). @see ipv6(7)
using ipv6_multicast_hops = int_option<detail::ipv6_multicast_hops, 0, 255>;

/// IP_ADD_MEMBERSHIP: join an IPv4 group. @see ip(7)
using ip_add_membership = ipv4_membership_option<detail::ip_add_membership>;
/// IP_DROP_MEMBERSHIP: leave it (EADDRNOTAVAIL if not joined). @see ip(7)
using ip_drop_membership = ipv4_membership_option<detail::ip_drop_membership>;
/// IP_ADD_SOURCE_MEMBERSHIP: join a group for one source (SSM). @see ip(7)
using ip_add_source_membership = ipv4_source_membership_option<detail::ip_add_source_membership>;
/// IP_DROP_SOURCE_MEMBERSHIP: leave it. @see ip(7)
using ip_drop_source_membership = ipv4_source_membership_option<detail::ip_drop_source_membership>;
/// IPV6_JOIN_GROUP (IPV6_ADD_MEMBERSHIP): join an IPv6 group. @see ipv6(7)
using ipv6_join_group = ipv6_membership_option<detail::ipv6_join_group>;
/// IPV6_LEAVE_GROUP (IPV6_DROP_MEMBERSHIP): leave it. @see ipv6(7)
using ipv6_leave_group = ipv6_membership_option<detail::ipv6_leave_group>;

/// IP_MULTICAST_IF: the interface outgoing IPv4 multicast leaves by — the one
/// with `interface_index`, else the one with `address`; both zero: the
/// kernel's route. Reading it back yields the address only (the kernel does
/// not report an index: an interface chosen by index reads back as 0.0.0.0).
/// @see ip(7)
struct ip_multicast_if {
    in_addr address{};
    int interface_index = 0;

    static constexpr int level = IPPROTO_IP;
    static constexpr int name = IP_MULTICAST_IF;
    static constexpr std::string_view label = "IP_MULTICAST_IF";
    static constexpr bool readable = true;

    [[nodiscard]] std::string check() const;
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<ip_multicast_if> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static ip_multicast_if from_string(std::string_view text);
    result<void> apply(socket_ref s) const;
    [[nodiscard]] static result<ip_multicast_if> read(socket_ref s);
};

/// IPV6_MULTICAST_IF: the interface (by index; 0 = the kernel's route)
/// outgoing IPv6 multicast leaves by. @see ipv6(7)
struct ipv6_multicast_if {
    unsigned interface_index = 0;

    static constexpr int level = IPPROTO_IPV6;
    static constexpr int name = IPV6_MULTICAST_IF;
    static constexpr std::string_view label = "IPV6_MULTICAST_IF";
    static constexpr bool readable = true;

    [[nodiscard]] std::string check() const { return {}; }
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static result<ipv6_multicast_if> parse(std::string_view text);
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    [[nodiscard]] static ipv6_multicast_if from_string(std::string_view text);
    result<void> apply(socket_ref s) const;
    [[nodiscard]] static result<ipv6_multicast_if> read(socket_ref s);
};

}  // namespace opt

/// The message of `error` and, for an errno, its name: "No such device (ENODEV)".
[[nodiscard]] std::string describe_errno(std::error_code error);

/// What every option type above provides.
template <class Option>
concept socket_option = requires(const Option& o, socket_ref s) {
    { Option::label } -> std::convertible_to<std::string_view>;
    { o.check() } -> std::same_as<std::string>;
    { o.apply(s) } -> std::same_as<result<void>>;
};

/// Sets `option` on `s`. Errors: errc::invalid_argument when option.check()
/// rejects the value (nothing reaches the kernel), else setsockopt's errno.
/// Say why with describe_option_error(option, error). @see setsockopt(2)
template <socket_option Option>
result<void> set_option(socket_ref s, const Option& option) {
    return option.apply(s);
}

/// Reads an option. Errors: getsockopt's errno (ENOPROTOOPT when the socket's
/// protocol lacks it). Only for options with `readable`. @see getsockopt(2)
template <socket_option Option>
    requires(Option::readable)
[[nodiscard]] result<Option> get_option(socket_ref s) {
    return Option::read(s);
}

/// "<label> <value>: <reason>" for a failed set_option: check()'s reason for
/// errc::invalid_argument, else the errno's message and name.
template <socket_option Option>
[[nodiscard]] std::string describe_option_error(const Option& option, std::error_code error) {
    if (error == errc::invalid_argument) {
        if (std::string why = option.check(); !why.empty()) return why;
    }
    return std::string(Option::label) + " " + option.to_string() + ": " + describe_errno(error);
}

/// Sets the option named `option_name` from its text form — the seeds'
/// setsockopt: "SO_BROADCAST", "so-broadcast" and ":so-broadcast" name the
/// same option (case and '-'/'_' do not matter). Errors: errc::invalid_argument
/// for an unknown name or a rejected value, else setsockopt's errno; the
/// reason is describe_set_option_error(option_name, value, error).
result<void> set_option(socket_ref s, std::string_view option_name, std::string_view value);
/// Why set_option(s, option_name, value) failed with `error`, naming both.
[[nodiscard]] std::string describe_set_option_error(std::string_view option_name, std::string_view value,
                                                    std::error_code error);

// --- the raw escape hatch --------------------------------------------------

/// setsockopt(2) with an int value. @see setsockopt(2)
result<void> set_option(socket_ref s, int level, int name, int value) noexcept;
/// setsockopt(2) with raw bytes (a struct linger, a struct timeval, ...).
result<void> set_option(socket_ref s, int level, int name, std::span<const std::byte> value) noexcept;
/// getsockopt(2) of an int-valued option.
[[nodiscard]] result<int> get_option(socket_ref s, int level, int name) noexcept;
/// getsockopt(2) into `buffer`; yields the size the kernel wrote.
[[nodiscard]] result<std::size_t> get_option(socket_ref s, int level, int name, std::span<std::byte> buffer) noexcept;

}  // namespace ringlet::net

// ringlet::net::resolve: asynchronous host name resolution (the seeds'
// net/address with `multi`, and resolve).
//
//     auto addrs = co_await net::resolve("example.com", 443, {.timeout = 3s});
//     if (!addrs) log(net::describe_resolve_error("example.com", addrs.error()));
//
// Resolution never blocks the shard: it is c-ares, driven by the shard's ring
// (sockets waited on with io::poll, c-ares' retry timers with sleeps). It reads
// /etc/hosts first and then asks the servers of /etc/resolv.conf (or the ones
// named in resolve_options::servers), with resolv.conf's search domains,
// ndots, timeout and attempts. Numeric hosts ("127.0.0.1", "::1", "[::1]",
// "fe80::1%lo") are converted on the spot and never reach DNS.
//
// Each shard keeps one c-ares channel per distinct `servers` setting, created
// by its first resolve and destroyed when the shard ends; concurrent resolves
// on a shard share it.
//
// Thread safety: resolve must be awaited on a shard thread; everything else
// here is a plain function or value.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ringlet::net {

/// Which IP families a resolution asks for.
enum class ip_family : std::uint8_t {
    any,   ///< IPv6 and IPv4 (AAAA and A queries)
    ipv4,  ///< IPv4 only (A)
    ipv6,  ///< IPv6 only (AAAA)
};

/// Options of one resolve call; every field has a usable default.
struct resolve_options {
    /// The families to return. Default: both.
    ip_family family = ip_family::any;
    /// A limit on the whole resolution (every server, every attempt), as a
    /// duration or an absolute deadline; unset means c-ares' own retry policy
    /// (resolv.conf's timeout and attempts) alone decides. Default: 10 s.
    ringlet::timeout timeout = std::chrono::seconds{10};
    /// The DNS servers to ask instead of /etc/resolv.conf's, as a comma
    /// separated list: "127.0.0.1:5353,[::1]:53" (port 53 when omitted).
    /// /etc/hosts is still read first. Default: empty (the system's servers).
    /// The text is read when the task starts (at its first co_await), so it
    /// must live until then. It is a view, not a std::string, so that the
    /// options stay trivially copyable: GCC 12 copies a braced temporary
    /// inside a co_await expression bytewise, which breaks a std::string.
    /// @see ares_set_servers_ports_csv(3)
    std::string_view servers{};
};

/// Resolves `host` to every address it has, each with `port`, in the order
/// to try them: c-ares' RFC 6724 destination order, then the families
/// interleaved starting with the first one (RFC 8305 section 4: v6, v4, v6,
/// v4, … when IPv6 sorts first), duplicates removed. The list is never empty.
///
/// Errors (compare with `==`):
///  - errc::resolve_not_found: the name does not exist (NXDOMAIN) or has no
///    address of the requested family;
///  - errc::resolve_server_failure: the servers failed (SERVFAIL), refused,
///    sent garbage or could not be contacted (ICMP unreachable);
///  - errc::timed_out: options.timeout expired, or every server stayed silent
///    through c-ares' attempts;
///  - errc::operation_canceled: the awaiting task was stopped;
///  - errc::invalid_argument: an empty or malformed host, or a malformed
///    `servers` list; errc::not_on_shard off a shard thread.
/// describe_resolve_error turns any of them into a message naming the host.
///
/// Cancellation: a stop of the awaiting task (or the timeout) resumes it at
/// once with the error. The c-ares query is cancelled when no other resolve
/// on the shard's channel is waiting; otherwise (c-ares cannot cancel one
/// query alone) it is left to end by itself and its answer is dropped.
/// @see ares_getaddrinfo(3), ares_cancel(3)
[[nodiscard]] task<result<std::vector<address>>> resolve(std::string host, std::uint16_t port,
                                                         resolve_options options = {});

/// resolve(target.host, target.port, options), for a parse_host_port result.
[[nodiscard]] task<result<std::vector<address>>> resolve(const host_port& target, resolve_options options = {});

/// A message for people naming the host and what went wrong:
/// "resolve example.invalid: host not found", "resolve db.local: timed out".
[[nodiscard]] std::string describe_resolve_error(std::string_view host, std::error_code error);

}  // namespace ringlet::net

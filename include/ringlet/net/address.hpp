// ringlet::net::address: a socket address held by value — IPv4, IPv6 (with a
// scope id), a unix path, or a Linux abstract unix name — and its text syntax.
//
// Text syntax (what address::parse accepts and to_string prints):
//   1.2.3.4:80         IPv4; the port is required (0 picks a free port when binding)
//   [::1]:80           IPv6, always in brackets
//   [fe80::1%lo]:80    IPv6 with a scope id by interface name, or by index: [fe80::1%2]:80
//   unix:/run/x.sock   a unix path, taken verbatim; relative paths too (unix:x.sock)
//   @name              an abstract unix name; `\xNN` writes any byte (NUL included) and
//                      `\\` a backslash, so every name has a text form that parses back
// Host names ("localhost:80") are not addresses: they need resolution. parse
// rejects them and says so; parse_host_port splits them for the resolver.
//
// Errors. Nothing here throws except from_string. A rejected input is
// errc::invalid_argument. A std::error_code cannot carry text, so each function
// that judges user input has a describe_*_error companion that returns the
// reason for people (command lines, config files), quoting the input —
//   address "127.0.0.1:99999": port "99999" is out of range 0..65535
// — or an empty string when the input is fine. Setup code that would rather
// throw uses address::from_string.
//
// Thread safety: address and host_port are plain values; const use is safe
// from any thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include <ringlet/core/result.hpp>

namespace ringlet::net {

/// What an address names. The unix kinds are all AF_UNIX.
enum class address_family : std::uint8_t {
    ipv4,           ///< AF_INET
    ipv6,           ///< AF_INET6
    unix_path,      ///< AF_UNIX bound to a file system path
    unix_abstract,  ///< AF_UNIX in Linux's abstract namespace (sun_path starts with NUL)
    unix_unnamed,   ///< AF_UNIX not bound to anything, as the kernel reports an unbound
                    ///< client or a socketpair; only from_sockaddr makes one, it has no
                    ///< text form that parses
};

/// A socket address by value (a sockaddr_storage and its length), ready for
/// bind/connect/sendto. Copyable and trivially so; compares and hashes by the
/// bytes that name the endpoint (family, address, port, scope id, path or
/// name). IPv6 flow info is not kept: it describes a flow, not an endpoint.
class address {
public:
    /// The longest unix path, in bytes: all of sun_path. A path shorter than
    /// that is stored with a NUL terminator; one of exactly 108 bytes without,
    /// as Linux binds and reports it — so every path the kernel reports has a
    /// text form that parses back.
    static constexpr std::size_t max_unix_path_length = sizeof(sockaddr_un::sun_path);
    /// The longest abstract name, in bytes, after the leading NUL.
    static constexpr std::size_t max_abstract_name_length = sizeof(sockaddr_un::sun_path) - 1;

    /// 0.0.0.0:0, so that an address can be a member that is filled in later.
    address() noexcept;

    /// 0.0.0.0:port — every IPv4 interface.
    [[nodiscard]] static address ipv4_any(std::uint16_t port) noexcept;
    /// 127.0.0.1:port.
    [[nodiscard]] static address ipv4_loopback(std::uint16_t port) noexcept;
    /// [::]:port — every IPv6 interface (and IPv4 too unless IPV6_V6ONLY is set).
    [[nodiscard]] static address ipv6_any(std::uint16_t port) noexcept;
    /// [::1]:port.
    [[nodiscard]] static address ipv6_loopback(std::uint16_t port) noexcept;

    /// A unix path address. Fails (errc::invalid_argument) when the path is
    /// empty, holds a NUL byte, or is longer than max_unix_path_length.
    /// The size is offsetof(sun_path) + length + 1, as the kernel reports it.
    [[nodiscard]] static result<address> unix_path(std::string_view path);
    /// Why unix_path(path) fails, naming the path and the limit; "" if it does not.
    [[nodiscard]] static std::string describe_unix_path_error(std::string_view path);

    /// An abstract unix address for `name` (any bytes, NULs included; no
    /// leading '@'). The size is exactly offsetof(sun_path) + 1 + name.size().
    /// Fails (errc::invalid_argument) when the name is empty or longer than
    /// max_abstract_name_length.
    [[nodiscard]] static result<address> abstract(std::string_view name);
    /// Why abstract(name) fails, naming the name and the limit; "" if it does not.
    [[nodiscard]] static std::string describe_abstract_error(std::string_view name);

    /// Copies an address the kernel filled in (accept, getsockname, getpeername,
    /// recvfrom/recvmsg), checking it. Errors: std::errc::address_family_not_supported
    /// for a family other than AF_INET/AF_INET6/AF_UNIX; errc::invalid_argument for a
    /// null pointer or a size too short for the family or larger than sockaddr_storage,
    /// and for an empty abstract name (it has no text form, as abstract("")).
    [[nodiscard]] static result<address> from_sockaddr(const sockaddr* addr, socklen_t size) noexcept;

    /// Parses the text syntax above. Fails with errc::invalid_argument; the
    /// reason is describe_parse_error(text). A scope id by name is looked up
    /// with if_nametoindex (one syscall), so parse early, not per operation.
    [[nodiscard]] static result<address> parse(std::string_view text);
    /// Why parse(text) fails, quoting text: `address "1.2.3:80": "1.2.3" is not
    /// a valid IPv4 address`. "" if it does not fail.
    [[nodiscard]] static std::string describe_parse_error(std::string_view text);
    /// parse for setup code: throws std::invalid_argument(describe_parse_error(text)).
    [[nodiscard]] static address from_string(std::string_view text);

    [[nodiscard]] address_family family() const noexcept;
    /// The port in host byte order; 0 for unix addresses.
    [[nodiscard]] std::uint16_t port() const noexcept;
    /// A copy with another port; unix addresses are returned unchanged.
    [[nodiscard]] address with_port(std::uint16_t port) const noexcept;
    /// The numeric host without the port or brackets ("127.0.0.1", "::1",
    /// "fe80::1%lo"); "" for unix addresses.
    [[nodiscard]] std::string host() const;
    /// The unix path ("/run/x.sock"), or '@' followed by the abstract name as
    /// the seeds write it ("@abc"; raw bytes, NULs included, not escaped as
    /// to_string does); "" for IP and unnamed addresses.
    [[nodiscard]] std::string unix_name() const;
    /// 127.0.0.0/8, ::1, or an IPv4-mapped 127.0.0.0/8. False for unix addresses.
    [[nodiscard]] bool is_loopback() const noexcept;
    /// 0.0.0.0 or ::. False for unix addresses.
    [[nodiscard]] bool is_unspecified() const noexcept;

    /// The text syntax above, which parse reads back to an equal address:
    /// "1.2.3.4:80", "[::1]:80", "[fe80::1%lo]:80", "unix:/path", "@name".
    /// A scope id is shown by interface name when if_indextoname knows it (one
    /// syscall), else by number. In "@name", bytes outside 0x20..0x7e are shown
    /// as \xNN and a backslash as \\. An unnamed unix address prints as
    /// "(unnamed unix socket)".
    [[nodiscard]] std::string to_string() const;

    /// For bind, connect, sendto: the sockaddr and its exact length.
    [[nodiscard]] const sockaddr* data() const noexcept;
    [[nodiscard]] socklen_t size() const noexcept { return size_; }

    [[nodiscard]] std::size_t hash() const noexcept;
    friend bool operator==(const address& a, const address& b) noexcept;

private:
    address(const void* sockaddr_bytes, socklen_t size) noexcept;

    // Invariant: bytes past size_ are zero, and so are the bytes inside size_
    // that name nothing (sin_zero, sin6_flowinfo), so equality is a memcmp.
    sockaddr_storage storage_;
    socklen_t size_;
};

/// Writes a.to_string().
std::ostream& operator<<(std::ostream& out, const address& a);

/// A host (name or numeric) and a port, split from "name:port", "[v6]:port"
/// or "1.2.3.4:port" — the address argument of ringlet's programs before
/// resolution. The host is kept without brackets ("::1", "fe80::1%lo").
struct host_port {
    std::string host{};
    std::uint16_t port = 0;

    /// "name:port", "1.2.3.4:port" or "[v6]:port".
    [[nodiscard]] std::string to_string() const;
    friend bool operator==(const host_port&, const host_port&) = default;
};

/// Splits "host:port". Checks the syntax only: the port is decimal 0..65535;
/// a bracketed host is an IPv6 literal (a scope name is not looked up); an
/// unbracketed host is a valid IPv4 address or a DNS name (letters, digits,
/// '-', '_', '.'; labels of 1..63 bytes, at most 253 in all). Unix forms are
/// not host:port. Fails with errc::invalid_argument; the reason is
/// describe_host_port_error(text).
[[nodiscard]] result<host_port> parse_host_port(std::string_view text);
/// Why parse_host_port(text) fails, quoting text; "" if it does not.
[[nodiscard]] std::string describe_host_port_error(std::string_view text);

/// Writes hp.to_string().
std::ostream& operator<<(std::ostream& out, const host_port& hp);

}  // namespace ringlet::net

template <>
struct std::hash<ringlet::net::address> {
    std::size_t operator()(const ringlet::net::address& a) const noexcept { return a.hash(); }
};

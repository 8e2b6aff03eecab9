// address as a value: construction from kernel sockaddrs, accessors, text
// output, equality and hash. Parsing text lives in address_parse.cpp.
//
// Design notes
// - Every address is normalised when it is made (from_sockaddr is the one
//   door): bytes past size_ are zero, sin_zero and sin6_flowinfo are zero, a
//   unix path is stored with its NUL and the kernel's length. Equality and
//   hash are then plain byte operations over size_ bytes, and an address read
//   back with getsockname compares equal to the one that was bound.
// - Typed views of the storage are memcpy'd copies, not casts: the storage is
//   a sockaddr_storage, and copying 16-28 bytes costs nothing next to the
//   aliasing questions a cast raises.
// - The abstract namespace is the one place where the length is the name:
//   sun_path[0] is NUL and the name is the size_ - offsetof(sun_path) - 1
//   bytes after it, NULs included. Nothing here treats it as a C string.
#include <ringlet/net/address.hpp>

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>
#include <ostream>

namespace ringlet::net {
namespace {

constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);
constexpr std::size_t sun_path_size = sizeof(sockaddr_un::sun_path);

template <class T>
T load(const void* bytes) noexcept {
    T value;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

sockaddr_in make_in(std::uint32_t host_order_addr, std::uint16_t port) noexcept {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(host_order_addr);
    return in;
}

sockaddr_in6 make_in6(const in6_addr& addr, std::uint16_t port) noexcept {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    in6.sin6_addr = addr;
    return in6;
}

bool is_ipv4_mapped(const in6_addr& a) noexcept {
    static constexpr unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.s6_addr, prefix, sizeof prefix) == 0;
}

// "@name" with bytes outside 0x20..0x7e as \xNN and '\' as "\\", so that
// address::parse reads it back byte for byte.
std::string escape_abstract(std::string_view name) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "@";
    for (const char c : name) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\\') {
            out += "\\\\";
        } else if (byte >= 0x20 && byte <= 0x7e) {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

// The scope id as an interface name when the kernel knows it, else its number.
std::string scope_text(std::uint32_t scope_id) {
    char name[IF_NAMESIZE];
    if (if_indextoname(scope_id, name) != nullptr) return name;
    return std::to_string(scope_id);
}

}  // namespace

address::address() noexcept : address(ipv4_any(0)) {}

address::address(const void* sockaddr_bytes, socklen_t size) noexcept : storage_{}, size_(size) {
    std::memcpy(&storage_, sockaddr_bytes, size);
}

address address::ipv4_any(std::uint16_t port) noexcept {
    const sockaddr_in in = make_in(INADDR_ANY, port);
    return {&in, sizeof in};
}

address address::ipv4_loopback(std::uint16_t port) noexcept {
    const sockaddr_in in = make_in(INADDR_LOOPBACK, port);
    return {&in, sizeof in};
}

address address::ipv6_any(std::uint16_t port) noexcept {
    const sockaddr_in6 in6 = make_in6(in6addr_any, port);
    return {&in6, sizeof in6};
}

address address::ipv6_loopback(std::uint16_t port) noexcept {
    const sockaddr_in6 in6 = make_in6(in6addr_loopback, port);
    return {&in6, sizeof in6};
}

result<address> address::from_sockaddr(const sockaddr* addr, socklen_t size) noexcept {
    if (addr == nullptr || size < sizeof(sa_family_t) || size > sizeof(sockaddr_storage))
        return unexpected{errc::invalid_argument};
    switch (load<sa_family_t>(addr)) {
        case AF_INET: {
            if (size < sizeof(sockaddr_in)) return unexpected{errc::invalid_argument};
            auto in = load<sockaddr_in>(addr);
            std::memset(in.sin_zero, 0, sizeof in.sin_zero);
            return address{&in, sizeof in};
        }
        case AF_INET6: {
            if (size < sizeof(sockaddr_in6)) return unexpected{errc::invalid_argument};
            auto in6 = load<sockaddr_in6>(addr);
            in6.sin6_flowinfo = 0;
            return address{&in6, sizeof in6};
        }
        case AF_UNIX: break;
        default: return unexpected{std::errc::address_family_not_supported};
    }

    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (size == path_offset) return address{&un, static_cast<socklen_t>(path_offset)};  // unnamed
    // The kernel may report up to sizeof(sockaddr_storage) bytes for a path
    // of exactly 108 bytes (it appends a NUL past sun_path), hence the view.
    const std::string_view sun{reinterpret_cast<const char*>(addr) + path_offset, size - path_offset};
    if (sun.front() == '\0') {
        const auto name = sun.substr(1);
        // An empty name is a real (if odd) kernel address, but it has no text
        // form ("@" names nothing), so it is refused like abstract("").
        if (name.empty() || name.size() > max_abstract_name_length) return unexpected{errc::invalid_argument};
        std::memcpy(un.sun_path + 1, name.data(), name.size());
        return address{&un, static_cast<socklen_t>(path_offset + 1 + name.size())};
    }
    const auto path = sun.substr(0, sun.find('\0'));
    if (path.size() > sun_path_size) return unexpected{errc::invalid_argument};
    std::memcpy(un.sun_path, path.data(), path.size());
    // With its NUL, as the kernel reports it, unless a 108-byte path leaves no room.
    return address{&un, static_cast<socklen_t>(path_offset + std::min(path.size() + 1, sun_path_size))};
}

address_family address::family() const noexcept {
    switch (storage_.ss_family) {
        case AF_INET: return address_family::ipv4;
        case AF_INET6: return address_family::ipv6;
        default: break;  // AF_UNIX: nothing else gets in
    }
    if (size_ == path_offset) return address_family::unix_unnamed;
    const auto* bytes = reinterpret_cast<const char*>(&storage_);
    return bytes[path_offset] == '\0' ? address_family::unix_abstract : address_family::unix_path;
}

std::uint16_t address::port() const noexcept {
    switch (family()) {
        case address_family::ipv4: return ntohs(load<sockaddr_in>(&storage_).sin_port);
        case address_family::ipv6: return ntohs(load<sockaddr_in6>(&storage_).sin6_port);
        default: return 0;
    }
}

address address::with_port(std::uint16_t port) const noexcept {
    address copy = *this;
    switch (family()) {
        case address_family::ipv4: {
            auto in = load<sockaddr_in>(&storage_);
            in.sin_port = htons(port);
            std::memcpy(&copy.storage_, &in, sizeof in);
            break;
        }
        case address_family::ipv6: {
            auto in6 = load<sockaddr_in6>(&storage_);
            in6.sin6_port = htons(port);
            std::memcpy(&copy.storage_, &in6, sizeof in6);
            break;
        }
        default: break;
    }
    return copy;
}

std::string address::host() const {
    char text[INET6_ADDRSTRLEN];
    switch (family()) {
        case address_family::ipv4: {
            const auto in = load<sockaddr_in>(&storage_);
            return inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
        }
        case address_family::ipv6: {
            const auto in6 = load<sockaddr_in6>(&storage_);
            std::string out = inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
            if (in6.sin6_scope_id != 0) out += '%' + scope_text(in6.sin6_scope_id);
            return out;
        }
        default: return {};
    }
}

std::string address::unix_name() const {
    const auto* sun = reinterpret_cast<const char*>(&storage_) + path_offset;
    switch (family()) {
        case address_family::unix_path: return {sun, ::strnlen(sun, size_ - path_offset)};
        case address_family::unix_abstract: return '@' + std::string{sun + 1, size_ - path_offset - 1};
        default: return {};
    }
}

bool address::is_loopback() const noexcept {
    switch (family()) {
        case address_family::ipv4: return (ntohl(load<sockaddr_in>(&storage_).sin_addr.s_addr) >> 24) == 127;
        case address_family::ipv6: {
            const in6_addr a = load<sockaddr_in6>(&storage_).sin6_addr;
            if (std::memcmp(&a, &in6addr_loopback, sizeof a) == 0) return true;
            return is_ipv4_mapped(a) && a.s6_addr[12] == 127;
        }
        default: return false;
    }
}

bool address::is_unspecified() const noexcept {
    switch (family()) {
        case address_family::ipv4: return load<sockaddr_in>(&storage_).sin_addr.s_addr == INADDR_ANY;
        case address_family::ipv6: {
            const in6_addr a = load<sockaddr_in6>(&storage_).sin6_addr;
            return std::memcmp(&a, &in6addr_any, sizeof a) == 0;
        }
        default: return false;
    }
}

std::string address::to_string() const {
    switch (family()) {
        case address_family::ipv4: return host() + ':' + std::to_string(port());
        case address_family::ipv6: return '[' + host() + "]:" + std::to_string(port());
        case address_family::unix_path: return "unix:" + unix_name();
        case address_family::unix_abstract: return escape_abstract(unix_name().substr(1));
        case address_family::unix_unnamed: break;
    }
    return "(unnamed unix socket)";
}

const sockaddr* address::data() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
}

std::size_t address::hash() const noexcept {
    // FNV-1a over the normalised bytes; the length is part of the identity.
    std::uint64_t h = 0xcbf29ce484222325ULL ^ size_;
    const auto* bytes = reinterpret_cast<const unsigned char*>(&storage_);
    for (socklen_t i = 0; i < size_; ++i) {
        h ^= bytes[i];
        h *= 0x100000001b3ULL;
    }
    return static_cast<std::size_t>(h);
}

bool operator==(const address& a, const address& b) noexcept {
    return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

std::ostream& operator<<(std::ostream& out, const address& a) {
    return out << a.to_string();
}

}  // namespace ringlet::net

// Judging text: address::parse, the unix factories, parse_host_port, and the
// describe_*_error companions that say why an input was rejected.
//
// Design notes
// - Each input is judged once, by a function that returns checked<T>: a value
//   or a reason. The public result-returning function keeps the value and
//   drops the reason (errc::invalid_argument); its describe_*_error companion
//   keeps the reason and prefixes the quoted input. Building the reason string
//   costs an allocation only on the failure path, which is not a hot one.
// - Numeric hosts go through inet_pton on a NUL-terminated stack copy, after
//   rejecting embedded NULs, so "1.2.3.4\0junk" is not 1.2.3.4. glibc's
//   inet_pton(AF_INET) takes only the strict dotted quad (no "1.2.3", no
//   octal), which is what an address argument should mean.
// - A host that is all digits and dots but not a dotted quad ("1.2.3") is
//   rejected rather than treated as a name: resolvers would read it as
//   inet_aton shorthand (1.2.0.3), which is never what was meant.
#include "net/c_text.hpp"

#include <ringlet/net/address.hpp>

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace ringlet::net {
namespace {

using detail::copy_text;
using detail::to_binary;
using detail::to_c_string;

constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);

// Why an input was rejected: a reason that does not repeat the input.
struct rejected {
    std::string why;
};

// A value, or why the input was rejected.
template <class T>
struct checked {
    T value{};
    std::string why;  // empty on success

    checked(T v) : value(std::move(v)) {}           // NOLINT: implicit, like result<T>
    checked(rejected r) : why(std::move(r.why)) {}  // NOLINT: implicit, like unexpected
};

// The input in double quotes, bytes outside 0x20..0x7e as \xNN so that a NUL
// or a newline in it cannot hide or garble the message.
std::string quote(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte <= 0x7e) {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out + '"';
}

bool is_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_digits_and_dots(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// A DNS name by RFC 1123 syntax (plus '_', which real names use): labels of
// 1..63 letters, digits, '-' or '_', at most 253 bytes, one trailing dot allowed.
bool is_host_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label != 0;
}

checked<std::uint16_t> parse_port(std::string_view port) {
    if (port.empty()) return rejected{"port missing after ':'"};
    if (!is_digits(port)) return rejected{"port " + quote(port) + " is not a decimal number"};
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value > 65535)
        return rejected{"port " + quote(port) + " is out of range 0..65535"};
    return static_cast<std::uint16_t>(value);
}

std::string port_missing(std::string_view text) {
    return "port missing (write " + quote(std::string(text) + ":PORT") + "; port 0 picks a free port)";
}

struct split_text {
    std::string_view host;  // without brackets
    std::string_view port;
    bool bracketed = false;
};

// "host:port" or "[v6]:port" into its parts; the parts are judged by the caller.
checked<split_text> split_host_port(std::string_view text) {
    if (text.empty()) return rejected{"empty; expected host:port, [v6]:port, unix:/path or @name"};
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return rejected{"missing ']' after the IPv6 address"};
        const auto host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (host.empty()) return rejected{"empty IPv6 address between the brackets"};
        if (rest.empty())
            return rejected{port_missing(text)};
        if (rest.front() != ':') return rejected{"expected ':' and a port after ']'"};
        return split_text{host, rest.substr(1), true};
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return rejected{port_missing(text)};
    const auto host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos)
        return rejected{"an IPv6 address needs brackets before its port, as in \"[::1]:80\""};
    if (host.empty()) return rejected{"host missing before ':'"};
    return split_text{host, text.substr(colon + 1), false};
}

// A scope id: a number, or an interface name looked up only when asked to.
checked<std::uint32_t> parse_scope(std::string_view scope, bool look_up) {
    if (scope.empty()) return rejected{"empty scope id after '%'"};
    if (is_digits(scope)) {
        std::uint32_t index = 0;
        const auto [end, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), index);
        if (ec != std::errc{} || end != scope.data() + scope.size())
            return rejected{"scope id " + quote(scope) + " is out of range"};
        return index;
    }
    char name[IF_NAMESIZE];
    if (!to_c_string(scope, name)) return rejected{"no network interface is named " + quote(scope)};
    if (!look_up) return std::uint32_t{0};
    const unsigned index = if_nametoindex(name);
    if (index == 0) return rejected{"no network interface is named " + quote(scope)};
    return std::uint32_t{index};
}

// The inside of "[...]": an IPv6 literal with an optional %scope.
checked<sockaddr_in6> parse_bracketed(std::string_view host, bool look_up_scope) {
    const auto percent = host.find('%');
    const auto literal = host.substr(0, percent);
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    if (!to_binary(AF_INET6, literal, &in6.sin6_addr)) {
        in_addr v4{};
        if (to_binary(AF_INET, literal, &v4))
            return rejected{"brackets are only for IPv6 addresses; write IPv4 without them"};
        return rejected{quote(literal) + " is not a valid IPv6 address"};
    }
    if (percent != std::string_view::npos) {
        auto scope = parse_scope(host.substr(percent + 1), look_up_scope);
        if (!scope.why.empty()) return rejected{std::move(scope.why)};
        in6.sin6_scope_id = scope.value;
    }
    return in6;
}

// Why an unbracketed host that inet_pton refused is not an IPv4 address.
std::string not_ipv4_reason(std::string_view host) {
    if (is_digits_and_dots(host)) return quote(host) + " is not a valid IPv4 address";
    return quote(host) + " is not a valid host name";
}

checked<address> parse_ip(std::string_view text) {
    auto split = split_host_port(text);
    if (!split.why.empty()) return rejected{std::move(split.why)};
    const auto [host, port_text, bracketed] = split.value;

    sockaddr_storage storage{};
    socklen_t size = 0;
    if (bracketed) {
        auto in6 = parse_bracketed(host, true);
        if (!in6.why.empty()) return rejected{std::move(in6.why)};
        std::memcpy(&storage, &in6.value, sizeof in6.value);
        size = sizeof in6.value;
    } else {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        if (!to_binary(AF_INET, host, &in.sin_addr)) {
            if (!is_digits_and_dots(host) && is_host_name(host))
                return rejected{quote(host) + " is a host name, not a numeric address; it needs resolution "
                                     "(parse_host_port, then resolve)"};
            return rejected{not_ipv4_reason(host)};
        }
        std::memcpy(&storage, &in, sizeof in);
        size = sizeof in;
    }

    auto port = parse_port(port_text);
    if (!port.why.empty()) return rejected{std::move(port.why)};
    auto made = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), size);
    return made->with_port(port.value);  // from_sockaddr cannot refuse what was just built
}

std::string unix_path_reason(std::string_view path) {
    if (path.empty()) return "empty path";
    if (path.find('\0') != std::string_view::npos) return "the path contains a NUL byte";
    if (path.size() > address::max_unix_path_length)
        return "the path is " + std::to_string(path.size()) + " bytes, over the limit of " +
               std::to_string(address::max_unix_path_length) + " for a unix socket path";
    return {};
}

std::string abstract_reason(std::string_view name) {
    if (name.empty()) return "empty abstract name";
    if (name.size() > address::max_abstract_name_length)
        return "the abstract name is " + std::to_string(name.size()) + " bytes, over the limit of " +
               std::to_string(address::max_abstract_name_length);
    return {};
}

template <class Sockaddr>
address from_built(const Sockaddr& sa, std::size_t size) {
    return *address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), static_cast<socklen_t>(size));
}

address make_unix_path(std::string_view path) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    copy_text(un.sun_path, path);
    // With its NUL unless the path fills sun_path (as from_sockaddr keeps it).
    return from_built(un, path_offset + std::min(path.size() + 1, sizeof un.sun_path));
}

address make_abstract(std::string_view name) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    copy_text(un.sun_path + 1, name);
    return from_built(un, path_offset + 1 + name.size());
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The text after '@': "\xNN" is a byte, "\\" a backslash, anything else itself.
checked<std::string> unescape_abstract(std::string_view text) {
    std::string name;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            name += text[i];
            continue;
        }
        const auto escape = text.substr(i, 4);
        if (escape.size() >= 2 && escape[1] == '\\') {
            name += '\\';
            i += 1;
        } else if (escape.size() == 4 && escape[1] == 'x' && hex_value(escape[2]) >= 0 && hex_value(escape[3]) >= 0) {
            name += static_cast<char>(hex_value(escape[2]) * 16 + hex_value(escape[3]));
            i += 3;
        } else {
            return rejected{"bad escape " + quote(escape.substr(0, 2)) + " at byte " + std::to_string(i + 1) +
                   ": write \\xNN for a byte or \\\\ for a backslash"};
        }
    }
    return name;
}

checked<address> parse_text(std::string_view text) {
    if (text.substr(0, 5) == "unix:") {
        const auto path = text.substr(5);
        if (auto why = unix_path_reason(path); !why.empty()) return rejected{why};
        return make_unix_path(path);
    }
    if (text.substr(0, 1) == "@") {
        auto name = unescape_abstract(text.substr(1));
        if (!name.why.empty()) return rejected{std::move(name.why)};
        if (auto why = abstract_reason(name.value); !why.empty()) return rejected{why};
        return make_abstract(name.value);
    }
    return parse_ip(text);
}

checked<host_port> parse_host_port_text(std::string_view text) {
    if (text.substr(0, 5) == "unix:" || text.substr(0, 1) == "@")
        return rejected{"a unix address has no host and port"};
    auto split = split_host_port(text);
    if (!split.why.empty()) return rejected{std::move(split.why)};
    const auto [host, port_text, bracketed] = split.value;
    if (bracketed) {
        auto in6 = parse_bracketed(host, false);
        if (!in6.why.empty()) return rejected{std::move(in6.why)};
    } else {
        in_addr v4{};
        if (!to_binary(AF_INET, host, &v4) && (is_digits_and_dots(host) || !is_host_name(host)))
            return rejected{not_ipv4_reason(host)};
    }
    auto port = parse_port(port_text);
    if (!port.why.empty()) return rejected{std::move(port.why)};
    return host_port{std::string(host), port.value};
}

std::string describe(std::string_view text, const std::string& why) {
    return why.empty() ? std::string{} : "address " + quote(text) + ": " + why;
}

}  // namespace

result<address> address::unix_path(std::string_view path) {
    if (!unix_path_reason(path).empty()) return unexpected{errc::invalid_argument};
    return make_unix_path(path);
}

std::string address::describe_unix_path_error(std::string_view path) {
    const auto why = unix_path_reason(path);
    return why.empty() ? std::string{} : "unix path " + quote(path) + ": " + why;
}

result<address> address::abstract(std::string_view name) {
    if (!abstract_reason(name).empty()) return unexpected{errc::invalid_argument};
    return make_abstract(name);
}

std::string address::describe_abstract_error(std::string_view name) {
    const auto why = abstract_reason(name);
    return why.empty() ? std::string{} : "abstract name " + quote(name) + ": " + why;
}

result<address> address::parse(std::string_view text) {
    auto parsed = parse_text(text);
    if (!parsed.why.empty()) return unexpected{errc::invalid_argument};
    return parsed.value;
}

std::string address::describe_parse_error(std::string_view text) {
    return describe(text, parse_text(text).why);
}

address address::from_string(std::string_view text) {
    auto parsed = parse_text(text);
    if (!parsed.why.empty()) throw std::invalid_argument(describe(text, parsed.why));
    return parsed.value;
}

std::string host_port::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? '[' + host + ']' : host) + ':' + std::to_string(port);
}

result<host_port> parse_host_port(std::string_view text) {
    auto parsed = parse_host_port_text(text);
    if (!parsed.why.empty()) return unexpected{errc::invalid_argument};
    return std::move(parsed.value);
}

std::string describe_host_port_error(std::string_view text) {
    return describe(text, parse_host_port_text(text).why);
}

std::ostream& operator<<(std::ostream& out, const host_port& hp) {
    return out << hp.to_string();
}

}  // namespace ringlet::net

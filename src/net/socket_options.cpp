// Typed socket options: values to and from the kernel's structs, text forms,
// and the by-name entry point of the seeds' setsockopt.
//
// Design notes
// - The option templates are defined here and instantiated explicitly for
//   the options the header names, so the header stays free of parsing code
//   and of <net/if.h>.
// - Every text is judged by one function returning checked<T> (a value or a
//   reason that already quotes the text), as in address_parse.cpp: parse()
//   keeps the value, describe_parse_error() keeps the reason and puts the
//   option's label in front.
// - check() runs before every setsockopt, so a value the API rejects never
//   reaches the kernel, and the reason names the option and the value.
#include "net/c_text.hpp"
#include "net/option_text.hpp"

#include <ringlet/net/socket_options.hpp>

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace ringlet::net {
namespace {

using detail::get_raw;
using detail::quote;
using detail::set_raw;
using detail::to_binary;
using detail::to_c_string;

struct rejected {
    std::string why;
};

template <class T>
struct checked {
    T value{};
    std::string why;  // empty on success

    checked(T v) : value(std::move(v)) {}           // NOLINT: implicit, like result<T>
    checked(rejected r) : why(std::move(r.why)) {}  // NOLINT: implicit, like unexpected
};


/// `"whole"` when the part is the whole text, else `"whole": "part"`.
std::string quote_part(std::string_view whole, std::string_view part) {
    return part.size() == whole.size() ? quote(whole) : quote(whole) + ": " + quote(part);
}

bool is_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string text_of(const in_addr& a) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::string text_of(const in6_addr& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
    return buf;
}

/// An interface by name when the kernel knows the index, else by number.
std::string interface_text(unsigned index) {
    char name[IF_NAMESIZE] = {};
    if (index != 0 && if_indextoname(index, name)) return name;
    return std::to_string(index);
}

bool is_ipv4_group(const in_addr& a) { return (ntohl(a.s_addr) & 0xf0000000u) == 0xe0000000u; }
bool is_ipv6_group(const in6_addr& a) { return a.s6_addr[0] == 0xff; }

checked<bool> parse_flag(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "true" || lower == "on" || lower == "yes" || lower == "1") return true;
    if (lower == "false" || lower == "off" || lower == "no" || lower == "0") return false;
    return rejected{quote(text) + " is not a flag (write true/false, on/off, yes/no or 1/0)"};
}

checked<int> parse_int(std::string_view text, int min, int max) {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size() ||
        (text[0] != '-' && !std::isdigit(static_cast<unsigned char>(text[0])))) {
        return rejected{quote(text) + " is not a decimal integer"};
    }
    if (ec == std::errc::result_out_of_range || value < min || value > max) {
        return rejected{quote(text) + " is out of range " + std::to_string(min) + ".." + std::to_string(max)};
    }
    return static_cast<int>(value);
}

/// An interface index from a name or a decimal index; `whole` is the full
/// option text, for the message.
checked<unsigned> parse_interface(std::string_view whole, std::string_view text) {
    if (text.empty()) return rejected{quote(whole) + ": interface name or index missing"};
    if (is_digits(text)) {
        auto n = parse_int(text, 0, 0x7fffffff);
        if (!n.why.empty()) return rejected{quote(whole) + ": interface index " + quote(text) + " is too large"};
        return static_cast<unsigned>(n.value);
    }
    char name[IF_NAMESIZE];
    if (to_c_string(text, name)) {
        if (const unsigned index = if_nametoindex(name)) return index;
    }
    return rejected{quote(whole) + ": no interface named " + quote(text)};
}

checked<in_addr> parse_ipv4_group(std::string_view whole, std::string_view text) {
    in_addr a{};
    if (!to_binary(AF_INET, text, &a) || !is_ipv4_group(a)) {
        return rejected{quote_part(whole, text) + " is not an IPv4 group address (224.0.0.0 to 239.255.255.255)"};
    }
    return a;
}

checked<in_addr> parse_ipv4_unicast(std::string_view whole, std::string_view text, const char* what) {
    in_addr a{};
    if (!to_binary(AF_INET, text, &a) || is_ipv4_group(a)) {
        return rejected{quote_part(whole, text) + " is not an IPv4 " + what + " address"};
    }
    return a;
}

std::string range_error(std::string_view label, long long value, int min, int max) {
    return std::string(label) + ": " + std::to_string(value) + " is out of range " + std::to_string(min) + ".." +
           std::to_string(max);
}



/// The judge's verdict, except that an empty text is rejected first and for
/// every option alike: no option has an empty text form, and "empty value"
/// says more than "\"\" is not a flag".
template <class Judge>
auto judge_text(Judge judge, std::string_view text) -> decltype(judge(text)) {
    if (text.empty()) return rejected{"empty value"};
    return judge(text);
}

/// The parse / describe / from_string trio shared by every option, given its judge.
template <class Option, class Judge>
result<Option> parse_with(Judge judge, std::string_view text) {
    auto c = judge_text(judge, text);
    if (!c.why.empty()) return unexpected{errc::invalid_argument};
    return std::move(c.value);
}

template <class Option, class Judge>
std::string describe_with(Judge judge, std::string_view text) {
    auto c = judge_text(judge, text);
    return c.why.empty() ? std::string{} : std::string(Option::label) + ": " + c.why;
}

template <class Option, class Judge>
Option from_string_with(Judge judge, std::string_view text) {
    auto c = judge_text(judge, text);
    if (!c.why.empty()) throw std::invalid_argument(std::string(Option::label) + ": " + c.why);
    return std::move(c.value);
}

}  // namespace

// --- flag_option -------------------------------------------------------------

namespace {
template <class Option>
checked<Option> judge_flag(std::string_view text) {
    auto f = parse_flag(text);
    if (!f.why.empty()) return rejected{f.why};
    return Option{f.value};
}
}  // namespace

template <class Tag>
std::string flag_option<Tag>::to_string() const { return value ? "true" : "false"; }
template <class Tag>
result<flag_option<Tag>> flag_option<Tag>::parse(std::string_view text) {
    return parse_with<flag_option>(judge_flag<flag_option>, text);
}
template <class Tag>
std::string flag_option<Tag>::describe_parse_error(std::string_view text) {
    return describe_with<flag_option>(judge_flag<flag_option>, text);
}
template <class Tag>
flag_option<Tag> flag_option<Tag>::from_string(std::string_view text) {
    return from_string_with<flag_option>(judge_flag<flag_option>, text);
}
template <class Tag>
result<void> flag_option<Tag>::apply(socket_ref s) const {
    const int v = value ? 1 : 0;
    return set_raw(s, level, name, &v, sizeof v);
}
template <class Tag>
result<flag_option<Tag>> flag_option<Tag>::read(socket_ref s) {
    auto v = get_raw<int>(s, level, name);
    if (!v) return unexpected{v.error()};
    return flag_option{*v != 0};
}

// --- int_option ---------------------------------------------------------------

namespace {
template <class Option>
checked<Option> judge_int(std::string_view text) {
    auto n = parse_int(text, Option::min, Option::max);
    if (!n.why.empty()) return rejected{n.why};
    return Option{n.value};
}
}  // namespace

template <class Tag, int Min, int Max>
std::string int_option<Tag, Min, Max>::check() const {
    if (value < Min || value > Max) return range_error(label, value, Min, Max);
    return {};
}
template <class Tag, int Min, int Max>
std::string int_option<Tag, Min, Max>::to_string() const { return std::to_string(value); }
template <class Tag, int Min, int Max>
result<int_option<Tag, Min, Max>> int_option<Tag, Min, Max>::parse(std::string_view text) {
    return parse_with<int_option>(judge_int<int_option>, text);
}
template <class Tag, int Min, int Max>
std::string int_option<Tag, Min, Max>::describe_parse_error(std::string_view text) {
    return describe_with<int_option>(judge_int<int_option>, text);
}
template <class Tag, int Min, int Max>
int_option<Tag, Min, Max> int_option<Tag, Min, Max>::from_string(std::string_view text) {
    return from_string_with<int_option>(judge_int<int_option>, text);
}
template <class Tag, int Min, int Max>
result<void> int_option<Tag, Min, Max>::apply(socket_ref s) const {
    if (!check().empty()) return unexpected{errc::invalid_argument};
    return set_raw(s, level, name, &value, sizeof value);
}
template <class Tag, int Min, int Max>
result<int_option<Tag, Min, Max>> int_option<Tag, Min, Max>::read(socket_ref s) {
    auto v = get_raw<int>(s, level, name);
    if (!v) return unexpected{v.error()};
    return int_option{*v};
}

// --- ipv4_membership_option -----------------------------------------------------

namespace {
template <class Option>
checked<Option> judge_ipv4_membership(std::string_view text) {
    const std::size_t split = text.find_first_of("%@");
    auto group = parse_ipv4_group(text, text.substr(0, split));
    if (!group.why.empty()) return rejected{group.why};
    Option o;
    o.group = group.value;
    if (split == std::string_view::npos) return o;
    const std::string_view rest = text.substr(split + 1);
    if (text[split] == '%') {
        auto index = parse_interface(text, rest);
        if (!index.why.empty()) return rejected{index.why};
        o.interface_index = static_cast<int>(index.value);
    } else {
        auto address = parse_ipv4_unicast(text, rest, "interface");
        if (!address.why.empty()) return rejected{address.why};
        o.interface_address = address.value;
    }
    return o;
}
}  // namespace

template <class Tag>
std::string ipv4_membership_option<Tag>::check() const {
    if (!is_ipv4_group(group)) {
        return std::string(label) + ": " + text_of(group) + " is not an IPv4 group address (224.0.0.0 to 239.255.255.255)";
    }
    if (interface_index < 0) return std::string(label) + ": interface index " + std::to_string(interface_index) + " is negative";
    return {};
}
template <class Tag>
std::string ipv4_membership_option<Tag>::to_string() const {
    std::string text = text_of(group);
    if (interface_index > 0) return text + "%" + interface_text(static_cast<unsigned>(interface_index));
    if (interface_address.s_addr != 0) return text + "@" + text_of(interface_address);
    return text;
}
template <class Tag>
result<ipv4_membership_option<Tag>> ipv4_membership_option<Tag>::parse(std::string_view text) {
    return parse_with<ipv4_membership_option>(judge_ipv4_membership<ipv4_membership_option>, text);
}
template <class Tag>
std::string ipv4_membership_option<Tag>::describe_parse_error(std::string_view text) {
    return describe_with<ipv4_membership_option>(judge_ipv4_membership<ipv4_membership_option>, text);
}
template <class Tag>
ipv4_membership_option<Tag> ipv4_membership_option<Tag>::from_string(std::string_view text) {
    return from_string_with<ipv4_membership_option>(judge_ipv4_membership<ipv4_membership_option>, text);
}
template <class Tag>
result<void> ipv4_membership_option<Tag>::apply(socket_ref s) const {
    if (!check().empty()) return unexpected{errc::invalid_argument};
    ip_mreqn request{};
    request.imr_multiaddr = group;
    request.imr_address = interface_address;
    request.imr_ifindex = interface_index;
    return set_raw(s, level, name, &request, sizeof request);
}

// --- ipv4_source_membership_option ----------------------------------------------

namespace {
template <class Option>
checked<Option> judge_ipv4_source(std::string_view text) {
    constexpr std::string_view from = " from ";
    const std::size_t split = text.find(from);
    if (split == std::string_view::npos) return rejected{quote(text) + " names no source (write \"GROUP from SOURCE\")"};
    const std::string_view group_part = text.substr(0, split);
    const std::size_t at = group_part.find('@');
    auto group = parse_ipv4_group(text, group_part.substr(0, at));
    if (!group.why.empty()) return rejected{group.why};
    const std::string_view source_part = text.substr(split + from.size());
    auto source = parse_ipv4_unicast(text, source_part, "source");
    if (!source.why.empty()) return rejected{source.why};
    // As check() says: 0.0.0.0 names no sender (found by the fuzzer: parse
    // accepted what set_option then refused without a reason).
    if (source.value.s_addr == 0) return rejected{quote_part(text, source_part) + " is not an IPv4 source address"};
    Option o;
    o.group = group.value;
    o.source = source.value;
    if (at != std::string_view::npos) {
        auto address = parse_ipv4_unicast(text, group_part.substr(at + 1), "interface");
        if (!address.why.empty()) return rejected{address.why};
        o.interface_address = address.value;
    }
    return o;
}
}  // namespace

template <class Tag>
std::string ipv4_source_membership_option<Tag>::check() const {
    if (!is_ipv4_group(group)) {
        return std::string(label) + ": " + text_of(group) + " is not an IPv4 group address (224.0.0.0 to 239.255.255.255)";
    }
    if (is_ipv4_group(source) || source.s_addr == 0) {
        return std::string(label) + ": source " + text_of(source) + " is not a unicast address";
    }
    return {};
}
template <class Tag>
std::string ipv4_source_membership_option<Tag>::to_string() const {
    std::string text = text_of(group);
    if (interface_address.s_addr != 0) text += "@" + text_of(interface_address);
    return text + " from " + text_of(source);
}
template <class Tag>
result<ipv4_source_membership_option<Tag>> ipv4_source_membership_option<Tag>::parse(std::string_view text) {
    return parse_with<ipv4_source_membership_option>(judge_ipv4_source<ipv4_source_membership_option>, text);
}
template <class Tag>
std::string ipv4_source_membership_option<Tag>::describe_parse_error(std::string_view text) {
    return describe_with<ipv4_source_membership_option>(judge_ipv4_source<ipv4_source_membership_option>, text);
}
template <class Tag>
ipv4_source_membership_option<Tag> ipv4_source_membership_option<Tag>::from_string(std::string_view text) {
    return from_string_with<ipv4_source_membership_option>(judge_ipv4_source<ipv4_source_membership_option>, text);
}
template <class Tag>
result<void> ipv4_source_membership_option<Tag>::apply(socket_ref s) const {
    if (!check().empty()) return unexpected{errc::invalid_argument};
    ip_mreq_source request{};
    request.imr_multiaddr = group;
    request.imr_interface = interface_address;
    request.imr_sourceaddr = source;
    return set_raw(s, level, name, &request, sizeof request);
}

// --- ipv6_membership_option ------------------------------------------------------

namespace {
template <class Option>
checked<Option> judge_ipv6_membership(std::string_view text) {
    const std::size_t split = text.find('%');
    const std::string_view group_part = text.substr(0, split);
    Option o;
    if (!to_binary(AF_INET6, group_part, &o.group) || !is_ipv6_group(o.group)) {
        return rejected{quote_part(text, group_part) + " is not an IPv6 group address (ff00::/8)"};
    }
    if (split == std::string_view::npos) return o;
    auto index = parse_interface(text, text.substr(split + 1));
    if (!index.why.empty()) return rejected{index.why};
    o.interface_index = index.value;
    return o;
}
}  // namespace

template <class Tag>
std::string ipv6_membership_option<Tag>::check() const {
    if (!is_ipv6_group(group)) return std::string(label) + ": " + text_of(group) + " is not an IPv6 group address (ff00::/8)";
    return {};
}
template <class Tag>
std::string ipv6_membership_option<Tag>::to_string() const {
    std::string text = text_of(group);
    if (interface_index != 0) text += "%" + interface_text(interface_index);
    return text;
}
template <class Tag>
result<ipv6_membership_option<Tag>> ipv6_membership_option<Tag>::parse(std::string_view text) {
    return parse_with<ipv6_membership_option>(judge_ipv6_membership<ipv6_membership_option>, text);
}
template <class Tag>
std::string ipv6_membership_option<Tag>::describe_parse_error(std::string_view text) {
    return describe_with<ipv6_membership_option>(judge_ipv6_membership<ipv6_membership_option>, text);
}
template <class Tag>
ipv6_membership_option<Tag> ipv6_membership_option<Tag>::from_string(std::string_view text) {
    return from_string_with<ipv6_membership_option>(judge_ipv6_membership<ipv6_membership_option>, text);
}
template <class Tag>
result<void> ipv6_membership_option<Tag>::apply(socket_ref s) const {
    if (!check().empty()) return unexpected{errc::invalid_argument};
    ipv6_mreq request{};
    request.ipv6mr_multiaddr = group;
    request.ipv6mr_interface = interface_index;
    return set_raw(s, level, name, &request, sizeof request);
}

template struct flag_option<detail::so_broadcast>;
template struct flag_option<detail::so_reuseaddr>;
template struct flag_option<detail::so_reuseport>;
template struct flag_option<detail::so_keepalive>;
template struct flag_option<detail::tcp_nodelay>;
template struct flag_option<detail::ip_multicast_loop>;
template struct flag_option<detail::ipv6_multicast_loop>;
template struct int_option<detail::so_rcvbuf, 0, 0x7fffffff>;
template struct int_option<detail::so_sndbuf, 0, 0x7fffffff>;
template struct int_option<detail::ip_multicast_ttl, 0, 255>;
template struct int_option<detail::ipv6_multicast_hops, 0, 255>;
template struct ipv4_membership_option<detail::ip_add_membership>;
template struct ipv4_membership_option<detail::ip_drop_membership>;
template struct ipv4_source_membership_option<detail::ip_add_source_membership>;
template struct ipv4_source_membership_option<detail::ip_drop_source_membership>;
template struct ipv6_membership_option<detail::ipv6_join_group>;
template struct ipv6_membership_option<detail::ipv6_leave_group>;

// --- the multicast interface options ---------------------------------------------

namespace opt {
namespace {

checked<ip_multicast_if> judge_ip_multicast_if(std::string_view text) {
    ip_multicast_if o;
    if (to_binary(AF_INET, text, &o.address)) {
        if (is_ipv4_group(o.address)) return rejected{quote(text) + " is a group address, not an interface address"};
        return o;
    }
    if (text.empty() || (text.find('.') != std::string_view::npos && !is_digits(text))) {
        return rejected{quote(text) + " is not an interface name, index or IPv4 address"};
    }
    auto index = parse_interface(text, text);
    if (!index.why.empty()) return rejected{index.why};
    o.interface_index = static_cast<int>(index.value);
    return o;
}

checked<ipv6_multicast_if> judge_ipv6_multicast_if(std::string_view text) {
    auto index = parse_interface(text, text);
    if (!index.why.empty()) return rejected{index.why};
    return ipv6_multicast_if{index.value};
}

}  // namespace

std::string ip_multicast_if::check() const {
    if (interface_index < 0) return std::string(label) + ": interface index " + std::to_string(interface_index) + " is negative";
    if (is_ipv4_group(address)) return std::string(label) + ": " + text_of(address) + " is a group address, not an interface address";
    return {};
}
std::string ip_multicast_if::to_string() const {
    if (interface_index > 0) return interface_text(static_cast<unsigned>(interface_index));
    return text_of(address);
}
result<ip_multicast_if> ip_multicast_if::parse(std::string_view text) {
    return parse_with<ip_multicast_if>(judge_ip_multicast_if, text);
}
std::string ip_multicast_if::describe_parse_error(std::string_view text) {
    return describe_with<ip_multicast_if>(judge_ip_multicast_if, text);
}
ip_multicast_if ip_multicast_if::from_string(std::string_view text) {
    return from_string_with<ip_multicast_if>(judge_ip_multicast_if, text);
}
result<void> ip_multicast_if::apply(socket_ref s) const {
    if (!check().empty()) return unexpected{errc::invalid_argument};
    ip_mreqn request{};
    request.imr_address = address;
    request.imr_ifindex = interface_index;
    return set_raw(s, level, name, &request, sizeof request);
}
result<ip_multicast_if> ip_multicast_if::read(socket_ref s) {
    auto a = get_raw<in_addr>(s, level, name);
    if (!a) return unexpected{a.error()};
    ip_multicast_if o;
    o.address = *a;
    return o;
}

std::string ipv6_multicast_if::to_string() const { return interface_text(interface_index); }
result<ipv6_multicast_if> ipv6_multicast_if::parse(std::string_view text) {
    return parse_with<ipv6_multicast_if>(judge_ipv6_multicast_if, text);
}
std::string ipv6_multicast_if::describe_parse_error(std::string_view text) {
    return describe_with<ipv6_multicast_if>(judge_ipv6_multicast_if, text);
}
ipv6_multicast_if ipv6_multicast_if::from_string(std::string_view text) {
    return from_string_with<ipv6_multicast_if>(judge_ipv6_multicast_if, text);
}
result<void> ipv6_multicast_if::apply(socket_ref s) const {
    const int index = static_cast<int>(interface_index);
    return set_raw(s, level, name, &index, sizeof index);
}
result<ipv6_multicast_if> ipv6_multicast_if::read(socket_ref s) {
    auto index = get_raw<int>(s, level, name);
    if (!index) return unexpected{index.error()};
    return ipv6_multicast_if{static_cast<unsigned>(*index)};
}

}  // namespace opt

}  // namespace ringlet::net

// Socket options by name (the seeds' setsockopt), errno descriptions, and
// the raw level/name/value escape hatch.
#include "net/option_text.hpp"

#include <ringlet/net/socket_options.hpp>

#include <cctype>
#include <cstring>

namespace ringlet::net {

using detail::get_raw;
using detail::quote;
using detail::set_raw;

std::string describe_errno(std::error_code error) {
    std::string text = error.message();
    if (error.category() == std::generic_category() || error.category() == std::system_category()) {
        if (const char* name = strerrorname_np(error.value())) {
            text += " (";
            text += name;
            text += ')';
        }
    }
    return text;
}

// --- by name -----------------------------------------------------------------------

namespace {

struct named_option {
    std::string_view name;  // normalised: upper case, '_'
    result<void> (*set)(socket_ref s, std::string_view value);
    std::string (*describe)(std::string_view value);
    std::string_view label;
};

template <class Option>
result<void> set_from_text(socket_ref s, std::string_view value) {
    auto o = Option::parse(value);
    if (!o) return unexpected{o.error()};
    return o->apply(s);
}

template <class Option>
constexpr named_option entry(std::string_view alias = {}) {
    return {alias.empty() ? Option::label : alias, &set_from_text<Option>, &Option::describe_parse_error, Option::label};
}

constexpr named_option named_options[] = {
    entry<opt::broadcast>(),
    entry<opt::reuse_address>(),
    entry<opt::reuse_port>(),
    entry<opt::keep_alive>(),
    entry<opt::receive_buffer>(),
    entry<opt::send_buffer>(),
    entry<opt::tcp_no_delay>(),
    entry<opt::ip_multicast_ttl>(),
    entry<opt::ip_multicast_loop>(),
    entry<opt::ip_multicast_if>(),
    entry<opt::ip_add_membership>(),
    entry<opt::ip_drop_membership>(),
    entry<opt::ip_add_source_membership>(),
    entry<opt::ip_drop_source_membership>(),
    entry<opt::ipv6_multicast_hops>(),
    entry<opt::ipv6_multicast_loop>(),
    entry<opt::ipv6_multicast_if>(),
    entry<opt::ipv6_join_group>(),
    entry<opt::ipv6_leave_group>(),
    entry<opt::ipv6_join_group>("IPV6_ADD_MEMBERSHIP"),
    entry<opt::ipv6_leave_group>("IPV6_DROP_MEMBERSHIP"),
};

const named_option* find_option(std::string_view name) {
    if (!name.empty() && name.front() == ':') name.remove_prefix(1);
    std::string normal(name);
    for (char& c : normal) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const named_option& o : named_options) {
        if (o.name == normal) return &o;
    }
    return nullptr;
}

}  // namespace

result<void> set_option(socket_ref s, std::string_view option_name, std::string_view value) {
    const named_option* o = find_option(option_name);
    if (!o) return unexpected{errc::invalid_argument};
    return o->set(s, value);
}

std::string describe_set_option_error(std::string_view option_name, std::string_view value, std::error_code error) {
    const named_option* o = find_option(option_name);
    if (!o) return "unknown socket option " + quote(option_name);
    if (error == errc::invalid_argument) {
        if (std::string why = o->describe(value); !why.empty()) return why;
    }
    return std::string(o->label) + " " + std::string(value) + ": " + describe_errno(error);
}

// --- raw -------------------------------------------------------------------------------

result<void> set_option(socket_ref s, int level, int name, int value) noexcept {
    return set_raw(s, level, name, &value, sizeof value);
}

result<void> set_option(socket_ref s, int level, int name, std::span<const std::byte> value) noexcept {
    return set_raw(s, level, name, value.data(), value.size());
}

result<int> get_option(socket_ref s, int level, int name) noexcept { return get_raw<int>(s, level, name); }

result<std::size_t> get_option(socket_ref s, int level, int name, std::span<std::byte> buffer) noexcept {
    auto size = static_cast<socklen_t>(buffer.size());
    if (::getsockopt(s.fd(), level, name, buffer.data(), &size) != 0) return unexpected{errno_code(errno)};
    return static_cast<std::size_t>(size);
}

}  // namespace ringlet::net

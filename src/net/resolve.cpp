// net::resolve: numeric hosts on the spot, names through the shard's c-ares
// channel (net/resolve_channel.cpp), then the connect order.
//
// Design notes
// - A host with a ':' can only be an IPv6 literal (with or without brackets,
//   maybe with a %scope); a dotted quad is IPv4. Both go through
//   address::parse, so they are judged exactly as addresses are, and never
//   reach DNS. Anything else that is all digits and dots ("1.2.3") is
//   rejected, as address parsing does: resolvers would take it as inet_aton
//   shorthand, which is never what was meant.
// - Order: c-ares sorts by RFC 6724 (destination address selection, with the
//   source address each destination would use). We keep that order within
//   each family and interleave the families starting with the first one, as
//   RFC 8305 section 4 asks, so a Happy Eyeballs connect that walks the list
//   alternates families after one attempt.
#include <ringlet/net/resolve.hpp>

#include "net/resolve_channel.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <optional>
#include <type_traits>

namespace ringlet::net {

static_assert(std::is_trivially_copyable_v<resolve_options>,
              "resolve_options must survive GCC 12's bytewise copies of braced temporaries in co_await");

namespace {

bool digits_and_dots(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

/// `host` as an address with `port` when it is numeric; nullopt when it is a name.
std::optional<result<address>> numeric_host(std::string_view host, std::uint16_t port) {
    const std::string port_text = std::to_string(port);
    if (host.find(':') != std::string_view::npos) {
        if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        return address::parse("[" + std::string(host) + "]:" + port_text);
    }
    if (digits_and_dots(host)) return address::parse(std::string(host) + ":" + port_text);
    return std::nullopt;
}

bool has_family(const address& a, ip_family wanted) noexcept {
    switch (wanted) {
        case ip_family::ipv4: return a.family() == address_family::ipv4;
        case ip_family::ipv6: return a.family() == address_family::ipv6;
        case ip_family::any: break;
    }
    return true;
}

int ares_family(ip_family family) noexcept {
    switch (family) {
        case ip_family::ipv4: return AF_INET;
        case ip_family::ipv6: return AF_INET6;
        case ip_family::any: break;
    }
    return AF_UNSPEC;
}

/// c-ares' order, with `port`, duplicates removed, families interleaved.
std::vector<address> connect_order(const std::vector<address>& sorted, std::uint16_t port) {
    std::vector<address> v6;
    std::vector<address> v4;
    for (const address& found : sorted) {
        auto& same_family = found.family() == address_family::ipv6 ? v6 : v4;
        const address a = found.with_port(port);
        if (std::find(same_family.begin(), same_family.end(), a) == same_family.end()) same_family.push_back(a);
    }
    const bool v6_first = sorted.front().family() == address_family::ipv6;
    const auto& first = v6_first ? v6 : v4;
    const auto& second = v6_first ? v4 : v6;
    std::vector<address> order;
    order.reserve(v6.size() + v4.size());
    for (std::size_t i = 0; i < std::max(first.size(), second.size()); ++i) {
        if (i < first.size()) order.push_back(first[i]);
        if (i < second.size()) order.push_back(second[i]);
    }
    return order;
}

}  // namespace

task<result<std::vector<address>>> resolve(std::string host, std::uint16_t port, resolve_options options) {
    if (host.empty()) co_return unexpected{errc::invalid_argument};
    if (auto literal = numeric_host(host, port)) {
        if (!*literal) co_return unexpected{literal->error()};
        if (!has_family(**literal, options.family)) co_return unexpected{errc::resolve_not_found};
        co_return std::vector<address>{**literal};
    }

    const stop_token token = co_await this_task::stop_token();
    if (token.stop_requested()) co_return unexpected{errc::operation_canceled};
    const clock::time_point deadline = options.timeout.deadline();
    if (deadline <= clock::now()) co_return unexpected{errc::timed_out};
    auto channel = detail::dns_channel::for_this_shard(options.servers);
    if (!channel) co_return unexpected{channel.error()};

    // A named awaiter: it registers its own address (GCC 12 may copy a temporary one bytewise).
    detail::dns_lookup lookup{**channel, std::move(host), ares_family(options.family), deadline};
    auto found = co_await lookup;
    if (!found) co_return unexpected{found.error()};
    co_return connect_order(*found, port);
}

task<result<std::vector<address>>> resolve(const host_port& target, resolve_options options) {
    return resolve(target.host, target.port, options);
}

std::string describe_resolve_error(std::string_view host, std::error_code error) {
    return "resolve " + std::string(host) + ": " + error.message();
}

}  // namespace ringlet::net

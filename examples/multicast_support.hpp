// What multicast_sender and multicast_receiver share: the group argument and
// turning --interface / --source into socket options.
#pragma once

#include "example_support.hpp"

#include <ringlet/net/socket_options.hpp>
#include <ringlet/net/udp.hpp>

#include <arpa/inet.h>

#include <string>
#include <string_view>

namespace example {

/// The group argument ("239.1.2.3:5000", "[ff12::1%eth0]:5000"), or exits 2
/// with the reason.
inline net::address group_argument(const char* program, std::string_view text) {
    auto group = net::address::parse(text);
    if (!group) usage_error(program, net::address::describe_parse_error(text));
    const std::string host = group->host();
    in6_addr v6{};
    in_addr v4{};
    const bool is_group = group->family() == net::address_family::ipv4
                              ? inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 28) == 0xe
                              : group->family() == net::address_family::ipv6 &&
                                    inet_pton(AF_INET6, host.substr(0, host.find('%')).c_str(), &v6) == 1 &&
                                    v6.s6_addr[0] == 0xff;
    if (!is_group) {
        usage_error(program, "\"" + std::string(text) + "\" is not a multicast group (224.0.0.0/4 or ff00::/8) with a port");
    }
    if (group->port() == 0) usage_error(program, "\"" + std::string(text) + "\" needs a port other than 0");
    return *group;
}

/// The group's host without a scope: "239.1.2.3", "ff12::1".
inline std::string group_host(const net::address& group) {
    const std::string host = group.host();
    return host.substr(0, host.find('%'));
}

/// An IPv4 literal, as opposed to an interface name or index.
inline bool is_ipv4_literal(std::string_view text) {
    in_addr a{};
    return inet_pton(AF_INET, std::string(text).c_str(), &a) == 1;
}

}  // namespace example

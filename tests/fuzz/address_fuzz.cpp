// libFuzzer target: the text and sockaddr forms of net::address.
//
// Properties, for any input:
// - parse / parse_host_port / unix_path / abstract accept exactly when their
//   describe_*_error companion has nothing to say;
// - an accepted address prints (to_string) a text that parses back to an
//   equal address printing the same text, with the same hash;
// - unix_name() gives back the path, or "@" + the abstract name;
// - from_sockaddr accepts arbitrary bytes without reading past them, and what
//   it accepts (unnamed unix sockets aside) round-trips through its text.
#include "fuzz_support.hpp"

#include <ringlet/net/address.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

using ringlet::net::address;
using ringlet::net::address_family;

namespace {

void check_round_trip(const address& a, std::string_view input) {
    const std::string text = a.to_string();
    auto again = address::parse(text);
    FUZZ_CHECK(again.has_value(), "printed address does not parse: " + text + " from " + std::string(input));
    FUZZ_CHECK(*again == a, "printed address parses to another address: " + text);
    FUZZ_CHECK(again->to_string() == text, "printing is not stable: " + text + " vs " + again->to_string());
    FUZZ_CHECK(again->hash() == a.hash(), "equal addresses hash differently: " + text);
    auto copy = address::from_sockaddr(a.data(), a.size());
    FUZZ_CHECK(copy.has_value() && *copy == a, "from_sockaddr(data(), size()) differs: " + text);
}

void check_parse(std::string_view text) {
    auto a = address::parse(text);
    const std::string why = address::describe_parse_error(text);
    FUZZ_CHECK(a.has_value() == why.empty(), "parse and describe_parse_error disagree: " + std::string(text) + " / " + why);
    if (!a) return;
    check_round_trip(*a, text);
    switch (a->family()) {
        case address_family::unix_path:
            FUZZ_CHECK(text.substr(0, 5) == "unix:" && a->unix_name() == text.substr(5), "unix_name of " + std::string(text));
            break;
        case address_family::unix_abstract:
            FUZZ_CHECK(a->unix_name().front() == '@', "abstract unix_name without '@': " + a->unix_name());
            break;
        case address_family::ipv4:
        case address_family::ipv6:
            FUZZ_CHECK(a->unix_name().empty(), "IP address with a unix_name: " + std::string(text));
            FUZZ_CHECK(a->with_port(a->port()) == *a, "with_port(port()) differs: " + std::string(text));
            break;
        case address_family::unix_unnamed: FUZZ_CHECK(false, "parse made an unnamed address: " + std::string(text));
    }
}

void check_host_port(std::string_view text) {
    auto hp = ringlet::net::parse_host_port(text);
    const std::string why = ringlet::net::describe_host_port_error(text);
    FUZZ_CHECK(hp.has_value() == why.empty(), "parse_host_port and its description disagree: " + std::string(text));
    if (!hp) return;
    auto again = ringlet::net::parse_host_port(hp->to_string());
    FUZZ_CHECK(again.has_value() && *again == *hp, "host_port does not round-trip: " + hp->to_string());
}

void check_unix(std::string_view name) {
    auto path = address::unix_path(name);
    FUZZ_CHECK(path.has_value() == address::describe_unix_path_error(name).empty(), "unix_path disagrees with its description");
    if (path) {
        FUZZ_CHECK(path->unix_name() == name, "unix_path's unix_name differs: " + std::string(name));
        check_round_trip(*path, name);
    }
    auto abstract = address::abstract(name);
    FUZZ_CHECK(abstract.has_value() == address::describe_abstract_error(name).empty(), "abstract disagrees with its description");
    if (abstract) {
        FUZZ_CHECK(abstract->unix_name() == "@" + std::string(name), "abstract's unix_name differs: " + std::string(name));
        check_round_trip(*abstract, name);
    }
}

void check_sockaddr(const std::uint8_t* data, std::size_t size) {
    // An exact-size heap copy, so ASan catches a read past the given length.
    const std::size_t n = std::min(size, sizeof(sockaddr_storage));
    auto* bytes = new std::uint8_t[n == 0 ? 1 : n];
    if (n) std::memcpy(bytes, data, n);
    auto a = address::from_sockaddr(reinterpret_cast<const sockaddr*>(bytes), static_cast<socklen_t>(n));
    if (a && a->family() != address_family::unix_unnamed) check_round_trip(*a, "(sockaddr bytes)");
    delete[] bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    check_parse(text);
    check_host_port(text);
    check_unix(text);
    check_sockaddr(data, size);
    // The empty view with a null data() that callers pass, not only libFuzzer's.
    if (size == 0) {
        check_parse(std::string_view{});
        check_host_port(std::string_view{});
        check_unix(std::string_view{});
    }
    return 0;
}

// address and host_port: exact sockaddr bytes and lengths, the text syntax in
// both directions, the error text for every kind of bad input, and what the
// kernel reports back for addresses bound on loopback and unix sockets.
#include <ringlet/net/address.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace ringlet::net {
namespace {

using namespace std::string_literals;

constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);

template <class T>
T view_as(const address& a) {
    T out{};
    std::memcpy(&out, a.data(), std::min<std::size_t>(sizeof out, a.size()));
    return out;
}

std::vector<unsigned char> bytes_of(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    return {b, b + n};
}

address parsed(std::string_view text) {
    auto a = address::parse(text);
    EXPECT_TRUE(a.has_value()) << address::describe_parse_error(text);
    return a.value_or(address{});
}

unsigned loopback_index() {
    return if_nametoindex("lo");
}

// ---- exact bytes -----------------------------------------------------------

TEST(address, ipv4_bytes) {
    const address a = parsed("1.2.3.4:80");
    EXPECT_EQ(a.family(), address_family::ipv4);
    ASSERT_EQ(a.size(), sizeof(sockaddr_in));
    const auto in = view_as<sockaddr_in>(a);
    EXPECT_EQ(in.sin_family, AF_INET);
    EXPECT_EQ(bytes_of(&in.sin_port, 2), (std::vector<unsigned char>{0, 80}));
    EXPECT_EQ(bytes_of(&in.sin_addr, 4), (std::vector<unsigned char>{1, 2, 3, 4}));
    EXPECT_EQ(bytes_of(in.sin_zero, 8), std::vector<unsigned char>(8, 0));
    EXPECT_EQ(a.port(), 80);
    EXPECT_EQ(a.host(), "1.2.3.4");
    EXPECT_EQ(a.unix_name(), "");
    EXPECT_EQ(a.to_string(), "1.2.3.4:80");
}

TEST(address, ipv6_bytes) {
    const address a = parsed("[::1]:8080");
    EXPECT_EQ(a.family(), address_family::ipv6);
    ASSERT_EQ(a.size(), sizeof(sockaddr_in6));
    const auto in6 = view_as<sockaddr_in6>(a);
    EXPECT_EQ(in6.sin6_family, AF_INET6);
    EXPECT_EQ(bytes_of(&in6.sin6_port, 2), (std::vector<unsigned char>{0x1f, 0x90}));
    std::vector<unsigned char> loopback(16, 0);
    loopback[15] = 1;
    EXPECT_EQ(bytes_of(&in6.sin6_addr, 16), loopback);
    EXPECT_EQ(in6.sin6_scope_id, 0U);
    EXPECT_EQ(in6.sin6_flowinfo, 0U);
    EXPECT_EQ(a.port(), 8080);
    EXPECT_EQ(a.host(), "::1");
    EXPECT_EQ(a.to_string(), "[::1]:8080");
}

TEST(address, ipv6_is_printed_canonically) {
    EXPECT_EQ(parsed("[2001:DB8:0:0:0:0:0:1]:1").to_string(), "[2001:db8::1]:1");
    EXPECT_EQ(parsed("[::ffff:1.2.3.4]:80").host(), "::ffff:1.2.3.4");
}

TEST(address, unix_path_bytes) {
    const address a = parsed("unix:/tmp/ringlet.sock");
    EXPECT_EQ(a.family(), address_family::unix_path);
    ASSERT_EQ(a.size(), path_offset + 17 + 1);  // the path and its NUL, as the kernel reports it
    const auto un = view_as<sockaddr_un>(a);
    EXPECT_EQ(un.sun_family, AF_UNIX);
    EXPECT_EQ(std::string(un.sun_path, 18), "/tmp/ringlet.sock\0"s);
    EXPECT_EQ(a.unix_name(), "/tmp/ringlet.sock");
    EXPECT_EQ(a.port(), 0);
    EXPECT_EQ(a.host(), "");
    EXPECT_EQ(a.to_string(), "unix:/tmp/ringlet.sock");
    EXPECT_EQ(parsed("unix:relative/path").unix_name(), "relative/path");
}

TEST(address, abstract_length_is_exactly_the_name) {
    const address a = parsed("@ringlet");
    EXPECT_EQ(a.family(), address_family::unix_abstract);
    ASSERT_EQ(a.size(), path_offset + 1 + 7);
    const auto un = view_as<sockaddr_un>(a);
    EXPECT_EQ(un.sun_family, AF_UNIX);
    EXPECT_EQ(std::string(un.sun_path, 8), "\0ringlet"s);
    EXPECT_EQ(a.unix_name(), "@ringlet");  // as the seeds write it
    EXPECT_EQ(a.to_string(), "@ringlet");
}

TEST(address, abstract_keeps_an_embedded_nul) {
    const auto a = address::abstract("a\0b"s);
    ASSERT_TRUE(a.has_value());
    ASSERT_EQ(a->size(), path_offset + 1 + 3);
    EXPECT_EQ(std::string(view_as<sockaddr_un>(*a).sun_path, 4), "\0a\0b"s);
    EXPECT_EQ(a->unix_name(), "@a\0b"s);
    EXPECT_EQ(a->to_string(), "@a\\x00b");
    EXPECT_EQ(parsed("@a\\x00b"), *a);
    EXPECT_NE(parsed("@a"), *a);
}

TEST(address, abstract_escapes_backslash_and_non_printables) {
    const auto a = address::abstract("x\\y\xff\n z"s);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->to_string(), "@x\\\\y\\xff\\x0a z");
    EXPECT_EQ(parsed(a->to_string()), *a);
    EXPECT_EQ(parsed("@x\\\\y\\xFF\\x0A z"), *a);  // hex digits in either case
}

// ---- text round trips ------------------------------------------------------

class round_trip : public ::testing::TestWithParam<const char*> {};

TEST_P(round_trip, parse_then_to_string_is_identity) {
    const std::string text = GetParam();
    const address a = parsed(text);
    EXPECT_EQ(a.to_string(), text);
    EXPECT_EQ(parsed(a.to_string()), a);
    EXPECT_EQ(address::describe_parse_error(text), "");
    EXPECT_EQ(address::from_string(text), a);
}

INSTANTIATE_TEST_SUITE_P(address, round_trip,
                         ::testing::Values("1.2.3.4:80", "0.0.0.0:0", "255.255.255.255:65535", "127.0.0.1:8000",
                                           "[::1]:80", "[::]:0", "[2001:db8::a:b]:443", "[::ffff:1.2.3.4]:80",
                                           "unix:/tmp/x.sock", "unix:relative/path", "unix:a b", "unix:/",
                                           "@name", "@a\\x00b", "@\\\\", "@with space", "@\\x00"));

TEST(address, scope_by_interface_name) {
    const unsigned lo = loopback_index();
    if (lo == 0) GTEST_SKIP() << "no interface named lo";
    const address a = parsed("[fe80::1%lo]:80");
    EXPECT_EQ(view_as<sockaddr_in6>(a).sin6_scope_id, lo);
    EXPECT_EQ(a.host(), "fe80::1%lo");
    EXPECT_EQ(a.to_string(), "[fe80::1%lo]:80");
    EXPECT_EQ(parsed(a.to_string()), a);
}

TEST(address, scope_by_number_prints_the_interface_name) {
    const unsigned lo = loopback_index();
    if (lo == 0) GTEST_SKIP() << "no interface named lo";
    const address a = parsed("[fe80::1%" + std::to_string(lo) + "]:80");
    EXPECT_EQ(view_as<sockaddr_in6>(a).sin6_scope_id, lo);
    EXPECT_EQ(a, parsed("[fe80::1%lo]:80"));
    EXPECT_EQ(a.to_string(), "[fe80::1%lo]:80");
}

TEST(address, scope_without_an_interface_prints_the_number) {
    constexpr std::uint32_t index = 4'000'000'000U;
    char name[IF_NAMESIZE];
    if (if_indextoname(index, name) != nullptr) GTEST_SKIP() << "interface index " << index << " exists";
    const address a = parsed("[fe80::1%4000000000]:80");
    EXPECT_EQ(view_as<sockaddr_in6>(a).sin6_scope_id, index);
    EXPECT_EQ(a.to_string(), "[fe80::1%4000000000]:80");
    EXPECT_EQ(parsed(a.to_string()), a);
}

// ---- factories, predicates, ports ------------------------------------------

TEST(address, factories) {
    EXPECT_EQ(address::ipv4_any(80).to_string(), "0.0.0.0:80");
    EXPECT_EQ(address::ipv4_loopback(80).to_string(), "127.0.0.1:80");
    EXPECT_EQ(address::ipv6_any(80).to_string(), "[::]:80");
    EXPECT_EQ(address::ipv6_loopback(80).to_string(), "[::1]:80");
    EXPECT_EQ(address{}, address::ipv4_any(0));
    EXPECT_EQ(address::ipv4_loopback(65535), parsed("127.0.0.1:65535"));
    EXPECT_EQ(address::ipv6_loopback(1), parsed("[::1]:1"));
    EXPECT_EQ(address::unix_path("/x").value(), parsed("unix:/x"));
    EXPECT_EQ(address::abstract("x").value(), parsed("@x"));
}

TEST(address, loopback_and_unspecified) {
    for (const char* text : {"127.0.0.1:1", "127.255.0.9:1", "[::1]:1", "[::ffff:127.0.0.1]:1"}) {
        EXPECT_TRUE(parsed(text).is_loopback()) << text;
        EXPECT_FALSE(parsed(text).is_unspecified()) << text;
    }
    for (const char* text : {"1.2.3.4:1", "[::2]:1", "[::ffff:1.2.3.4]:1", "unix:/x", "@x"})
        EXPECT_FALSE(parsed(text).is_loopback()) << text;
    for (const char* text : {"0.0.0.0:1", "[::]:1"}) EXPECT_TRUE(parsed(text).is_unspecified()) << text;
    for (const char* text : {"1.2.3.4:1", "[::1]:1", "unix:/x", "@x"})
        EXPECT_FALSE(parsed(text).is_unspecified()) << text;
}

TEST(address, with_port) {
    EXPECT_EQ(parsed("1.2.3.4:80").with_port(443), parsed("1.2.3.4:443"));
    EXPECT_EQ(parsed("[::1]:80").with_port(0), parsed("[::1]:0"));
    if (loopback_index() != 0) {
        EXPECT_EQ(parsed("[fe80::1%lo]:80").with_port(1).to_string(), "[fe80::1%lo]:1");
    }
    EXPECT_EQ(parsed("unix:/x").with_port(80), parsed("unix:/x"));
    EXPECT_EQ(parsed("@x").with_port(80).size(), path_offset + 2);
}

TEST(address, equality_and_hash) {
    const std::hash<address> hash;
    EXPECT_EQ(parsed("1.2.3.4:80"), parsed("1.2.3.4:80"));
    EXPECT_EQ(hash(parsed("1.2.3.4:80")), hash(parsed("1.2.3.4:80")));
    EXPECT_EQ(hash(parsed("@a\\x00b")), hash(*address::abstract("a\0b"s)));
    EXPECT_NE(parsed("1.2.3.4:80"), parsed("1.2.3.4:81"));
    EXPECT_NE(parsed("1.2.3.4:80"), parsed("1.2.3.5:80"));
    EXPECT_NE(parsed("[::1]:80"), parsed("[::ffff:127.0.0.1]:80"));
    EXPECT_NE(parsed("[fe80::1%1]:80"), parsed("[fe80::1%2]:80"));
    EXPECT_NE(parsed("unix:x"), parsed("@x"));
    EXPECT_NE(parsed("@x"), parsed("@x\\x00"));  // the length is part of an abstract name

    const std::unordered_set<address> set{parsed("1.2.3.4:80"), parsed("1.2.3.4:80"), parsed("[::1]:80"),
                                          parsed("unix:/x"), parsed("@x"), parsed("@x\\x00")};
    EXPECT_EQ(set.size(), 5U);
    EXPECT_EQ(set.count(parsed("@x\\x00")), 1U);
}

TEST(address, equality_ignores_bytes_that_name_nothing) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(80);
    in.sin_addr.s_addr = htonl(0x01020304);
    std::memset(in.sin_zero, 0xab, sizeof in.sin_zero);
    const auto a = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(*a, parsed("1.2.3.4:80"));
    EXPECT_EQ(std::hash<address>{}(*a), std::hash<address>{}(parsed("1.2.3.4:80")));

    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(80);
    in6.sin6_addr = in6addr_loopback;
    in6.sin6_flowinfo = htonl(0x12345);
    const auto b = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(*b, parsed("[::1]:80"));
}

// ---- bad input ---------------------------------------------------------------

struct bad_text {
    std::string input;
    std::string message;  // describe_parse_error(input), exactly
};

std::ostream& operator<<(std::ostream& out, const bad_text& b) {
    return out << '{' << ::testing::PrintToString(b.input) << '}';
}

class bad_address : public ::testing::TestWithParam<bad_text> {};

TEST_P(bad_address, is_rejected_with_a_message_quoting_it) {
    const auto& [input, message] = GetParam();
    const auto a = address::parse(input);
    ASSERT_FALSE(a.has_value()) << a->to_string();
    EXPECT_EQ(a.error(), errc::invalid_argument);
    EXPECT_EQ(a.error(), std::errc::invalid_argument);
    EXPECT_EQ(address::describe_parse_error(input), message);
    try {
        (void)address::from_string(input);
        ADD_FAILURE() << "from_string did not throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(e.what(), message);
    }
}

INSTANTIATE_TEST_SUITE_P(
    address, bad_address,
    ::testing::Values(
        bad_text{"", R"(address "": empty; expected host:port, [v6]:port, unix:/path or @name)"},
        bad_text{"1.2.3:80", R"(address "1.2.3:80": "1.2.3" is not a valid IPv4 address)"},
        bad_text{"256.1.1.1:80", R"(address "256.1.1.1:80": "256.1.1.1" is not a valid IPv4 address)"},
        bad_text{"01.2.3.4:80", R"(address "01.2.3.4:80": "01.2.3.4" is not a valid IPv4 address)"},
        bad_text{"1.2.3.4", R"(address "1.2.3.4": port missing (write "1.2.3.4:PORT"; port 0 picks a free port))"},
        bad_text{"1.2.3.4:", R"(address "1.2.3.4:": port missing after ':')"},
        bad_text{"127.0.0.1:65536", R"(address "127.0.0.1:65536": port "65536" is out of range 0..65535)"},
        bad_text{"127.0.0.1:99999", R"(address "127.0.0.1:99999": port "99999" is out of range 0..65535)"},
        bad_text{"1.2.3.4:99999999999999999999999",
                 R"(address "1.2.3.4:99999999999999999999999": )"
                 R"(port "99999999999999999999999" is out of range 0..65535)"},
        bad_text{"1.2.3.4:-1", R"(address "1.2.3.4:-1": port "-1" is not a decimal number)"},
        bad_text{"1.2.3.4:+80", R"(address "1.2.3.4:+80": port "+80" is not a decimal number)"},
        bad_text{"1.2.3.4:80x", R"(address "1.2.3.4:80x": port "80x" is not a decimal number)"},
        bad_text{"1.2.3.4:0x50", R"(address "1.2.3.4:0x50": port "0x50" is not a decimal number)"},
        bad_text{"1.2.3.4: 80", R"(address "1.2.3.4: 80": port " 80" is not a decimal number)"},
        bad_text{"1.2.3.4:http", R"(address "1.2.3.4:http": port "http" is not a decimal number)"},
        bad_text{"[::1:80", R"(address "[::1:80": missing ']' after the IPv6 address)"},
        bad_text{"::1:80", R"(address "::1:80": an IPv6 address needs brackets before its port, as in "[::1]:80")"},
        bad_text{"::1", R"(address "::1": an IPv6 address needs brackets before its port, as in "[::1]:80")"},
        bad_text{"[::1]", R"(address "[::1]": port missing (write "[::1]:PORT"; port 0 picks a free port))"},
        bad_text{"[::1]80", R"(address "[::1]80": expected ':' and a port after ']')"},
        bad_text{"[]:80", R"(address "[]:80": empty IPv6 address between the brackets)"},
        bad_text{"[1.2.3.4]:80",
                 R"(address "[1.2.3.4]:80": brackets are only for IPv6 addresses; write IPv4 without them)"},
        bad_text{"[::g]:80", R"(address "[::g]:80": "::g" is not a valid IPv6 address)"},
        bad_text{"[fe80::1%]:80", R"(address "[fe80::1%]:80": empty scope id after '%')"},
        bad_text{"[fe80::1%nosuchif0]:80",
                 R"(address "[fe80::1%nosuchif0]:80": no network interface is named "nosuchif0")"},
        bad_text{"[fe80::1%99999999999]:80",
                 R"(address "[fe80::1%99999999999]:80": scope id "99999999999" is out of range)"},
        bad_text{"localhost:80", R"(address "localhost:80": "localhost" is a host name, not a numeric address; )"
                                 R"(it needs resolution (parse_host_port, then resolve))"},
        bad_text{":80", R"(address ":80": host missing before ':')"},
        bad_text{"a b:80", R"(address "a b:80": "a b" is not a valid host name)"},
        bad_text{"1.2.3.4\0:80"s, R"(address "1.2.3.4\x00:80": "1.2.3.4\x00" is not a valid host name)"},
        bad_text{"1.2.3.4:80\n", R"(address "1.2.3.4:80\x0a": port "80\x0a" is not a decimal number)"},
        bad_text{"unix:", R"(address "unix:": empty path)"},
        bad_text{"unix:/a\0b"s, R"(address "unix:/a\x00b": the path contains a NUL byte)"},
        bad_text{"@", R"(address "@": empty abstract name)"},
        bad_text{"@bad\\q", R"(address "@bad\q": bad escape "\q" at byte 4: )"
                             R"(write \xNN for a byte or \\ for a backslash)"},
        bad_text{"@bad\\x4", R"(address "@bad\x4": bad escape "\x" at byte 4: )"
                              R"(write \xNN for a byte or \\ for a backslash)"},
        bad_text{"@bad\\", R"(address "@bad\": bad escape "\" at byte 4: )"
                            R"(write \xNN for a byte or \\ for a backslash)"}));

TEST(address, too_long_unix_path_names_the_path_and_the_limit) {
    // 107 bytes and its NUL fill sun_path.
    const std::string with_nul = "/" + std::string(106, 'p');
    const auto ok = address::unix_path(with_nul);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->size(), path_offset + 107 + 1);
    EXPECT_EQ(ok->unix_name(), with_nul);
    EXPECT_EQ(address::describe_unix_path_error(with_nul), "");

    // 108 bytes fill it without a NUL, as the kernel binds and reports them
    // (found by the address fuzzer: such a path, read back with
    // from_sockaddr, used to print a text that did not parse).
    const std::string longest = with_nul + "p";
    ASSERT_EQ(longest.size(), address::max_unix_path_length);
    const auto full = address::unix_path(longest);
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(full->size(), path_offset + 108);
    EXPECT_EQ(full->unix_name(), longest);
    EXPECT_EQ(parsed(full->to_string()), *full);

    const std::string too_long = longest + "p";
    EXPECT_EQ(address::unix_path(too_long).error(), errc::invalid_argument);
    EXPECT_EQ(address::describe_unix_path_error(too_long),
              "unix path \"" + too_long + "\": the path is 109 bytes, over the limit of 108 for a unix socket path");
    EXPECT_EQ(address::describe_parse_error("unix:" + too_long),
              "address \"unix:" + too_long + "\": the path is 109 bytes, over the limit of 108 for a unix socket path");
    EXPECT_EQ(address::describe_unix_path_error(""), "unix path \"\": empty path");
    EXPECT_EQ(address::unix_path("a\0b"s).error(), errc::invalid_argument);
}

TEST(address, too_long_abstract_name_names_the_name_and_the_limit) {
    const std::string longest(address::max_abstract_name_length, 'n');
    const auto ok = address::abstract(longest);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->size(), sizeof(sockaddr_un));
    EXPECT_EQ(parsed("@" + longest), *ok);

    const std::string too_long = longest + "n";
    EXPECT_EQ(address::abstract(too_long).error(), errc::invalid_argument);
    EXPECT_EQ(address::describe_abstract_error(too_long),
              "abstract name \"" + too_long + "\": the abstract name is 108 bytes, over the limit of 107");
    EXPECT_FALSE(address::parse("@" + too_long).has_value());
    EXPECT_EQ(address::abstract("").error(), errc::invalid_argument);
    EXPECT_EQ(address::describe_abstract_error(""), "abstract name \"\": empty abstract name");
}

// ---- from_sockaddr -------------------------------------------------------------

TEST(address, from_sockaddr_rejects_what_it_cannot_hold) {
    sockaddr_storage ss{};
    const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
    EXPECT_EQ(address::from_sockaddr(nullptr, sizeof ss).error(), errc::invalid_argument);
    ss.ss_family = AF_INET;
    EXPECT_EQ(address::from_sockaddr(sa, 1).error(), errc::invalid_argument);
    EXPECT_EQ(address::from_sockaddr(sa, sizeof(sockaddr_in) - 1).error(), errc::invalid_argument);
    EXPECT_EQ(address::from_sockaddr(sa, sizeof ss + 1).error(), errc::invalid_argument);
    ss.ss_family = AF_INET6;
    EXPECT_EQ(address::from_sockaddr(sa, sizeof(sockaddr_in)).error(), errc::invalid_argument);
    ss.ss_family = AF_NETLINK;
    EXPECT_EQ(address::from_sockaddr(sa, sizeof ss).error(), std::errc::address_family_not_supported);
    // An abstract name longer than sun_path can hold.
    ss.ss_family = AF_UNIX;
    EXPECT_EQ(address::from_sockaddr(sa, sizeof(sockaddr_un) + 1).error(), errc::invalid_argument);
    // An empty abstract name (sun_path "\0", found by the address fuzzer): it
    // would print as "@", which parses to nothing, as abstract("") does not.
    EXPECT_EQ(address::from_sockaddr(sa, offsetof(sockaddr_un, sun_path) + 1).error(), errc::invalid_argument);
}

TEST(address, from_sockaddr_normalises_lengths) {
    sockaddr_storage ss{};
    ss.ss_family = AF_INET;
    const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
    const auto wide = address::from_sockaddr(sa, sizeof ss);  // a buffer's size, not the address's
    ASSERT_TRUE(wide.has_value());
    EXPECT_EQ(wide->size(), sizeof(sockaddr_in));
    EXPECT_EQ(*wide, address::ipv4_any(0));

    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, "/x", 2);
    const auto* su = reinterpret_cast<const sockaddr*>(&un);
    const auto no_nul = address::from_sockaddr(su, path_offset + 2);  // a length without the NUL
    ASSERT_TRUE(no_nul.has_value());
    EXPECT_EQ(no_nul->size(), path_offset + 3);
    EXPECT_EQ(*no_nul, parsed("unix:/x"));

    std::memset(un.sun_path, 'p', sizeof un.sun_path);  // 108 bytes: no room for a NUL
    const auto full = address::from_sockaddr(su, sizeof un);
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(full->family(), address_family::unix_path);
    EXPECT_EQ(full->size(), sizeof un);
    EXPECT_EQ(full->unix_name(), std::string(108, 'p'));

    const auto unnamed = address::from_sockaddr(su, path_offset);
    ASSERT_TRUE(unnamed.has_value());
    EXPECT_EQ(unnamed->family(), address_family::unix_unnamed);
    EXPECT_EQ(unnamed->size(), path_offset);
    EXPECT_EQ(unnamed->unix_name(), "");
    EXPECT_EQ(unnamed->port(), 0);
    EXPECT_EQ(unnamed->to_string(), "(unnamed unix socket)");
}

// ---- host_port -------------------------------------------------------------------

TEST(host_port, splits_names_and_numeric_hosts) {
    const std::vector<std::pair<std::string, host_port>> cases = {
        {"localhost:80", {"localhost", 80}},
        {"example.com.:443", {"example.com.", 443}},
        {"my_host-1.internal:0", {"my_host-1.internal", 0}},
        {"1.2.3.4:65535", {"1.2.3.4", 65535}},
        {"[::1]:8000", {"::1", 8000}},
        {"[fe80::1%eth9]:80", {"fe80::1%eth9", 80}},  // the scope is not looked up here
    };
    for (const auto& [text, expected] : cases) {
        const auto hp = parse_host_port(text);
        ASSERT_TRUE(hp.has_value()) << describe_host_port_error(text);
        EXPECT_EQ(*hp, expected) << text;
        EXPECT_EQ(hp->to_string(), text);
        EXPECT_EQ(describe_host_port_error(text), "");
    }
}

TEST(host_port, rejects_bad_text_quoting_it) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"localhost", R"(address "localhost": port missing (write "localhost:PORT"; port 0 picks a free port))"},
        {"localhost:99999", R"(address "localhost:99999": port "99999" is out of range 0..65535)"},
        {"::1:80", R"(address "::1:80": an IPv6 address needs brackets before its port, as in "[::1]:80")"},
        {"[::1:80", R"(address "[::1:80": missing ']' after the IPv6 address)"},
        {"[localhost]:80", R"(address "[localhost]:80": "localhost" is not a valid IPv6 address)"},
        {"1.2.3:80", R"(address "1.2.3:80": "1.2.3" is not a valid IPv4 address)"},
        {"bad host:80", R"(address "bad host:80": "bad host" is not a valid host name)"},
        {"a..b:80", R"(address "a..b:80": "a..b" is not a valid host name)"},
        {std::string(64, 'a') + ":1",
         R"(address ")" + std::string(64, 'a') + R"(:1": ")" + std::string(64, 'a') + R"(" is not a valid host name)"},
        {"unix:/x", R"(address "unix:/x": a unix address has no host and port)"},
        {"@x", R"(address "@x": a unix address has no host and port)"},
        {"", R"(address "": empty; expected host:port, [v6]:port, unix:/path or @name)"},
    };
    for (const auto& [text, message] : cases) {
        const auto hp = parse_host_port(text);
        EXPECT_EQ(hp.error(), errc::invalid_argument) << text;
        EXPECT_EQ(describe_host_port_error(text), message);
    }
}

// ---- what the kernel reports back ------------------------------------------------

// A socket closed at scope exit.
struct fd_guard {
    int fd;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

address local_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0) << std::strerror(errno);
    auto a = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
    EXPECT_TRUE(a.has_value()) << a.error().message();
    return a.value_or(address{});
}

TEST(address_kernel, ipv4_loopback_port_zero) {
    const fd_guard s{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    ASSERT_GE(s.fd, 0) << std::strerror(errno);
    const address bound = parsed("127.0.0.1:0");
    ASSERT_EQ(::bind(s.fd, bound.data(), bound.size()), 0) << std::strerror(errno);
    const address local = local_address(s.fd);
    EXPECT_EQ(local.family(), address_family::ipv4);
    EXPECT_EQ(local.host(), "127.0.0.1");
    EXPECT_NE(local.port(), 0);
    EXPECT_EQ(local, bound.with_port(local.port()));
    EXPECT_EQ(parsed(local.to_string()), local);
}

TEST(address_kernel, ipv6_loopback_port_zero) {
    const fd_guard s{::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0) GTEST_SKIP() << "no IPv6 sockets: " << std::strerror(errno);
    const address bound = parsed("[::1]:0");
    if (::bind(s.fd, bound.data(), bound.size()) != 0) GTEST_SKIP() << "cannot bind [::1]: " << std::strerror(errno);
    const address local = local_address(s.fd);
    EXPECT_EQ(local.family(), address_family::ipv6);
    EXPECT_EQ(local.host(), "::1");
    EXPECT_NE(local.port(), 0);
    EXPECT_EQ(local, bound.with_port(local.port()));
}

TEST(address_kernel, abstract_names_come_back_byte_for_byte) {
    const std::string base = "ringlet-address-test-" + std::to_string(::getpid());
    for (const std::string& name : {base, base + "\0nul\0"s}) {
        const fd_guard s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        ASSERT_GE(s.fd, 0) << std::strerror(errno);
        const auto bound = address::abstract(name);
        ASSERT_TRUE(bound.has_value());
        ASSERT_EQ(::bind(s.fd, bound->data(), bound->size()), 0) << bound->to_string() << ": " << std::strerror(errno);
        const address local = local_address(s.fd);
        EXPECT_EQ(local.family(), address_family::unix_abstract);
        EXPECT_EQ(local.size(), bound->size());
        EXPECT_EQ(local.unix_name(), "@" + name);
        EXPECT_EQ(local, *bound);
    }
}

TEST(address_kernel, unix_path_and_unnamed_peer) {
    char dir[] = "/tmp/ringlet-address-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr) << std::strerror(errno);
    const std::string path = std::string(dir) + "/s";
    {
        const fd_guard listener{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        ASSERT_GE(listener.fd, 0) << std::strerror(errno);
        const address bound = parsed("unix:" + path);
        ASSERT_EQ(::bind(listener.fd, bound.data(), bound.size()), 0) << std::strerror(errno);
        ASSERT_EQ(::listen(listener.fd, 1), 0) << std::strerror(errno);
        const address local = local_address(listener.fd);
        EXPECT_EQ(local.family(), address_family::unix_path);
        EXPECT_EQ(local.size(), bound.size());
        EXPECT_EQ(local, bound);

        // A client that never bound is unnamed, on both ends.
        const fd_guard client{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        ASSERT_GE(client.fd, 0) << std::strerror(errno);
        ASSERT_EQ(::connect(client.fd, bound.data(), bound.size()), 0) << std::strerror(errno);
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        const fd_guard accepted{::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC)};
        ASSERT_GE(accepted.fd, 0) << std::strerror(errno);
        const auto peer = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
        ASSERT_TRUE(peer.has_value());
        EXPECT_EQ(peer->family(), address_family::unix_unnamed);
        EXPECT_EQ(local_address(client.fd).family(), address_family::unix_unnamed);
    }
    EXPECT_EQ(::unlink(path.c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(::rmdir(dir), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace ringlet::net

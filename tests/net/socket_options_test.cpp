// Typed socket options: every readable option round-trips through the
// kernel, every bad value is rejected (before the kernel) with a message
// naming the option and the value, text forms read back, and the raw and
// by-name entry points. No group is joined here: that happens only inside
// the network namespaces of multicast_test.cpp.
#include "datagram_test_support.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include <stdexcept>
#include <string>
#include <tuple>

using namespace ringlet;
using ringlet::test::loopback4;

namespace {

net::socket open_socket(int family, int type) {
    auto s = net::socket::open(family, type);
    EXPECT_TRUE(s) << s.error().message();
    return std::move(*s);
}

in_addr ipv4(const char* text) {
    in_addr a{};
    EXPECT_EQ(inet_pton(AF_INET, text, &a), 1);
    return a;
}

template <class Flag>
void expect_flag_round_trip(net::socket_ref s) {
    for (bool value : {true, false}) {
        ASSERT_TRUE(net::set_option(s, Flag{value})) << Flag::label;
        auto back = net::get_option<Flag>(s);
        ASSERT_TRUE(back) << Flag::label << ": " << back.error().message();
        EXPECT_EQ(back->value, value) << Flag::label;
    }
}

template <class Int>
void expect_int_round_trip(net::socket_ref s, int value, int expected) {
    ASSERT_TRUE(net::set_option(s, Int{value})) << Int::label;
    auto back = net::get_option<Int>(s);
    ASSERT_TRUE(back) << Int::label << ": " << back.error().message();
    EXPECT_EQ(back->value, expected) << Int::label;
}

}  // namespace

TEST(SocketOptions, EveryReadableOptionRoundTripsThroughTheKernel) {
    net::socket udp4 = open_socket(AF_INET, SOCK_DGRAM);
    net::socket udp6 = open_socket(AF_INET6, SOCK_DGRAM);
    net::socket tcp4 = open_socket(AF_INET, SOCK_STREAM);
    expect_flag_round_trip<net::opt::broadcast>(udp4);
    expect_flag_round_trip<net::opt::reuse_address>(udp4);
    expect_flag_round_trip<net::opt::reuse_port>(udp4);
    expect_flag_round_trip<net::opt::keep_alive>(tcp4);
    expect_flag_round_trip<net::opt::tcp_no_delay>(tcp4);
    expect_flag_round_trip<net::opt::ip_multicast_loop>(udp4);
    expect_flag_round_trip<net::opt::ipv6_multicast_loop>(udp6);
    // The kernel doubles buffer sizes for its bookkeeping (socket(7)).
    expect_int_round_trip<net::opt::receive_buffer>(udp4, 65536, 131072);
    expect_int_round_trip<net::opt::send_buffer>(udp4, 65536, 131072);
    expect_int_round_trip<net::opt::ip_multicast_ttl>(udp4, 7, 7);
    expect_int_round_trip<net::opt::ip_multicast_ttl>(udp4, 0, 0);
    expect_int_round_trip<net::opt::ipv6_multicast_hops>(udp6, 9, 9);

    net::opt::ip_multicast_if by_address;
    by_address.address = ipv4("127.0.0.1");
    ASSERT_TRUE(net::set_option(udp4, by_address));
    auto back = net::get_option<net::opt::ip_multicast_if>(udp4);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->address.s_addr, by_address.address.s_addr);
    EXPECT_EQ(back->to_string(), "127.0.0.1");

    const unsigned lo = if_nametoindex("lo");
    ASSERT_NE(lo, 0u);
    ASSERT_TRUE(net::set_option(udp6, net::opt::ipv6_multicast_if{lo}));
    auto back6 = net::get_option<net::opt::ipv6_multicast_if>(udp6);
    ASSERT_TRUE(back6);
    EXPECT_EQ(back6->interface_index, lo);
    EXPECT_EQ(back6->to_string(), "lo");
}

TEST(SocketOptions, EveryRingletHandleTakesOptions) {
    auto u = udp::bind(loopback4());
    ASSERT_TRUE(u);
    EXPECT_TRUE(net::set_option(*u, net::opt::broadcast{true}));
    EXPECT_TRUE(net::get_option<net::opt::broadcast>(u->handle())->value);
    auto l = tcp::listen(loopback4());
    ASSERT_TRUE(l);
    EXPECT_TRUE(net::set_option(*l, net::opt::keep_alive{true}));
    auto pair = local::seqpacket_pair();
    ASSERT_TRUE(pair);
    EXPECT_TRUE(net::set_option(pair->first, net::opt::send_buffer{32768}));
    EXPECT_TRUE(net::get_option<net::opt::reuse_address>(net::socket_ref::from_fd(u->fd())));
}

TEST(SocketOptions, TheRawEscapeHatchSetsAndReadsAnything) {
    net::socket s = open_socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(net::set_option(s, IPPROTO_IP, IP_TOS, 0x10));
    EXPECT_EQ(*net::get_option(s, IPPROTO_IP, IP_TOS), 0x10);
    net::socket t = open_socket(AF_INET, SOCK_STREAM);
    const linger on{1, 5};
    ASSERT_TRUE(net::set_option(t, SOL_SOCKET, SO_LINGER, std::as_bytes(std::span{&on, 1})));
    linger got{};
    auto size = net::get_option(t, SOL_SOCKET, SO_LINGER, std::as_writable_bytes(std::span{&got, 1}));
    ASSERT_TRUE(size);
    EXPECT_EQ(*size, sizeof got);
    EXPECT_EQ(got.l_onoff, 1);
    EXPECT_EQ(got.l_linger, 5);
    EXPECT_EQ(net::get_option(net::socket_ref::from_fd(-1), SOL_SOCKET, SO_TYPE).error(), std::errc::bad_file_descriptor);
}

TEST(SocketOptions, TextFormsReadBack) {
    EXPECT_EQ(net::opt::ip_add_membership::from_string("239.1.2.3").to_string(), "239.1.2.3");
    EXPECT_EQ(net::opt::ip_add_membership::from_string("239.1.2.3%lo").to_string(), "239.1.2.3%lo");
    EXPECT_EQ(net::opt::ip_add_membership::from_string("239.1.2.3%1").to_string(), "239.1.2.3%lo");
    EXPECT_EQ(net::opt::ip_drop_membership::from_string("239.1.2.3@127.0.0.1").to_string(), "239.1.2.3@127.0.0.1");
    EXPECT_EQ(net::opt::ip_add_source_membership::from_string("232.1.2.3 from 10.0.0.1").to_string(),
              "232.1.2.3 from 10.0.0.1");
    EXPECT_EQ(net::opt::ip_drop_source_membership::from_string("232.1.2.3@127.0.0.1 from 10.0.0.1").to_string(),
              "232.1.2.3@127.0.0.1 from 10.0.0.1");
    EXPECT_EQ(net::opt::ipv6_join_group::from_string("ff02::1%lo").to_string(), "ff02::1%lo");
    EXPECT_EQ(net::opt::ipv6_leave_group::from_string("ff15::42").to_string(), "ff15::42");
    EXPECT_EQ(net::opt::ip_multicast_if::from_string("lo").to_string(), "lo");
    EXPECT_EQ(net::opt::ip_multicast_if::from_string("127.0.0.1").to_string(), "127.0.0.1");
    EXPECT_EQ(net::opt::ipv6_multicast_if::from_string("1").to_string(), "lo");
    EXPECT_EQ(net::opt::broadcast::from_string("on").to_string(), "true");
    EXPECT_EQ(net::opt::ip_multicast_loop::from_string("No").to_string(), "false");
    EXPECT_EQ(net::opt::ip_multicast_ttl::from_string("32").to_string(), "32");
    const auto join = net::opt::ip_add_membership::from_string("224.0.0.251%lo");
    EXPECT_EQ(join.interface_index, static_cast<int>(if_nametoindex("lo")));
    EXPECT_EQ(join.group.s_addr, ipv4("224.0.0.251").s_addr);
}

// Each (option, text, message): the text is rejected by parse, and the
// message names the option and quotes the value.
class BadOptionText : public ::testing::TestWithParam<std::tuple<const char*, const char*, const char*>> {};

TEST_P(BadOptionText, IsRejectedWithAMessageNamingOptionAndValue) {
    const auto [name, text, message] = GetParam();
    net::socket s = open_socket(std::string_view(name).find("IPV6") == 0 ? AF_INET6 : AF_INET, SOCK_DGRAM);
    auto r = net::set_option(s, name, text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::invalid_argument);
    EXPECT_EQ(net::describe_set_option_error(name, text, r.error()), message);
}

INSTANTIATE_TEST_SUITE_P(
    SocketOptions, BadOptionText,
    ::testing::Values(
        std::tuple{"SO_BROADCAST", "maybe", R"(SO_BROADCAST: "maybe" is not a flag (write true/false, on/off, yes/no or 1/0))"},
        std::tuple{"SO_REUSEADDR", "", R"(SO_REUSEADDR: empty value)"},
        std::tuple{"SO_REUSEPORT", "2", R"(SO_REUSEPORT: "2" is not a flag (write true/false, on/off, yes/no or 1/0))"},
        std::tuple{"SO_KEEPALIVE", "enabled", R"(SO_KEEPALIVE: "enabled" is not a flag (write true/false, on/off, yes/no or 1/0))"},
        std::tuple{"TCP_NODELAY", "y", R"(TCP_NODELAY: "y" is not a flag (write true/false, on/off, yes/no or 1/0))"},
        std::tuple{"SO_RCVBUF", "-5", R"(SO_RCVBUF: "-5" is out of range 0..2147483647)"},
        std::tuple{"SO_SNDBUF", "64k", R"(SO_SNDBUF: "64k" is not a decimal integer)"},
        std::tuple{"SO_SNDBUF", "99999999999", R"(SO_SNDBUF: "99999999999" is out of range 0..2147483647)"},
        std::tuple{"IP_MULTICAST_TTL", "300", R"(IP_MULTICAST_TTL: "300" is out of range 0..255)"},
        std::tuple{"IP_MULTICAST_TTL", "ten", R"(IP_MULTICAST_TTL: "ten" is not a decimal integer)"},
        std::tuple{"IP_MULTICAST_LOOP", "sometimes", R"(IP_MULTICAST_LOOP: "sometimes" is not a flag (write true/false, on/off, yes/no or 1/0))"},
        std::tuple{"IP_MULTICAST_IF", "nope0", R"(IP_MULTICAST_IF: "nope0": no interface named "nope0")"},
        std::tuple{"IP_MULTICAST_IF", "1.2.3", R"(IP_MULTICAST_IF: "1.2.3" is not an interface name, index or IPv4 address)"},
        std::tuple{"IP_MULTICAST_IF", "239.1.2.3", R"(IP_MULTICAST_IF: "239.1.2.3" is a group address, not an interface address)"},
        std::tuple{"IP_ADD_MEMBERSHIP", "239.1.2", R"(IP_ADD_MEMBERSHIP: "239.1.2" is not an IPv4 group address (224.0.0.0 to 239.255.255.255))"},
        std::tuple{"IP_ADD_MEMBERSHIP", "10.0.0.1", R"(IP_ADD_MEMBERSHIP: "10.0.0.1" is not an IPv4 group address (224.0.0.0 to 239.255.255.255))"},
        std::tuple{"IP_ADD_MEMBERSHIP", "239.1.2.3%nope0", R"(IP_ADD_MEMBERSHIP: "239.1.2.3%nope0": no interface named "nope0")"},
        std::tuple{"IP_ADD_MEMBERSHIP", "239.1.2.3%", R"(IP_ADD_MEMBERSHIP: "239.1.2.3%": interface name or index missing)"},
        std::tuple{"IP_DROP_MEMBERSHIP", "239.1.2.3@x", R"(IP_DROP_MEMBERSHIP: "239.1.2.3@x": "x" is not an IPv4 interface address)"},
        std::tuple{"IP_DROP_MEMBERSHIP", "ff02::1", R"(IP_DROP_MEMBERSHIP: "ff02::1" is not an IPv4 group address (224.0.0.0 to 239.255.255.255))"},
        std::tuple{"IP_ADD_SOURCE_MEMBERSHIP", "232.1.2.3", R"(IP_ADD_SOURCE_MEMBERSHIP: "232.1.2.3" names no source (write "GROUP from SOURCE"))"},
        std::tuple{"IP_ADD_SOURCE_MEMBERSHIP", "232.1.2.3 from 239.0.0.1", R"(IP_ADD_SOURCE_MEMBERSHIP: "232.1.2.3 from 239.0.0.1": "239.0.0.1" is not an IPv4 source address)"},
        std::tuple{"IP_ADD_SOURCE_MEMBERSHIP", "232.1.2.3@1.0.0.1 from 0.0.0.0", R"(IP_ADD_SOURCE_MEMBERSHIP: "232.1.2.3@1.0.0.1 from 0.0.0.0": "0.0.0.0" is not an IPv4 source address)"},
        std::tuple{"IP_DROP_SOURCE_MEMBERSHIP", "1.2.3.4 from 10.0.0.1", R"(IP_DROP_SOURCE_MEMBERSHIP: "1.2.3.4 from 10.0.0.1": "1.2.3.4" is not an IPv4 group address (224.0.0.0 to 239.255.255.255))"},
        std::tuple{"IPV6_MULTICAST_HOPS", "256", R"(IPV6_MULTICAST_HOPS: "256" is out of range 0..255)"},
        std::tuple{"IPV6_MULTICAST_LOOP", "-1", R"(IPV6_MULTICAST_LOOP: "-1" is not a flag (write true/false, on/off, yes/no or 1/0))"},
        std::tuple{"IPV6_MULTICAST_IF", "nope0", R"(IPV6_MULTICAST_IF: "nope0": no interface named "nope0")"},
        std::tuple{"IPV6_JOIN_GROUP", "fe80::1", R"(IPV6_JOIN_GROUP: "fe80::1" is not an IPv6 group address (ff00::/8))"},
        std::tuple{"IPV6_JOIN_GROUP", "ff02::1%nope0", R"(IPV6_JOIN_GROUP: "ff02::1%nope0": no interface named "nope0")"},
        std::tuple{"IPV6_LEAVE_GROUP", "ff02::zz%lo", R"(IPV6_LEAVE_GROUP: "ff02::zz%lo": "ff02::zz" is not an IPv6 group address (ff00::/8))"},
        std::tuple{"ipv6-join-group", "239.1.2.3", R"(IPV6_JOIN_GROUP: "239.1.2.3" is not an IPv6 group address (ff00::/8))"},
        std::tuple{":ip-multicast-ttl", "1000", R"(IP_MULTICAST_TTL: "1000" is out of range 0..255)"},
        std::tuple{"SO_BOGUS", "1", R"(unknown socket option "SO_BOGUS")"}));

TEST(SocketOptions, BadTypedValuesNeverReachTheKernel) {
    net::socket s = open_socket(AF_INET, SOCK_DGRAM);
    const auto rejected = [&](const auto& option, const std::string& message) {
        auto r = net::set_option(s, option);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::invalid_argument);  // ringlet's own code: no setsockopt ran
        EXPECT_EQ(option.check(), message);
        EXPECT_EQ(net::describe_option_error(option, r.error()), message);
    };
    rejected(net::opt::ip_multicast_ttl{300}, "IP_MULTICAST_TTL: 300 is out of range 0..255");
    rejected(net::opt::ip_multicast_ttl{-1}, "IP_MULTICAST_TTL: -1 is out of range 0..255");
    rejected(net::opt::ipv6_multicast_hops{1000}, "IPV6_MULTICAST_HOPS: 1000 is out of range 0..255");
    rejected(net::opt::receive_buffer{-1}, "SO_RCVBUF: -1 is out of range 0..2147483647");
    rejected(net::opt::send_buffer{-4096}, "SO_SNDBUF: -4096 is out of range 0..2147483647");
    net::opt::ip_add_membership unicast;
    unicast.group = ipv4("10.0.0.1");
    rejected(unicast, "IP_ADD_MEMBERSHIP: 10.0.0.1 is not an IPv4 group address (224.0.0.0 to 239.255.255.255)");
    net::opt::ip_drop_membership bad_index;
    bad_index.group = ipv4("239.1.2.3");
    bad_index.interface_index = -2;
    rejected(bad_index, "IP_DROP_MEMBERSHIP: interface index -2 is negative");
    net::opt::ip_add_source_membership multicast_source;
    multicast_source.group = ipv4("232.1.1.1");
    multicast_source.source = ipv4("224.0.0.1");
    rejected(multicast_source, "IP_ADD_SOURCE_MEMBERSHIP: source 224.0.0.1 is not a unicast address");
    net::opt::ip_drop_source_membership no_source;
    no_source.group = ipv4("232.1.1.1");
    rejected(no_source, "IP_DROP_SOURCE_MEMBERSHIP: source 0.0.0.0 is not a unicast address");
    net::opt::ipv6_join_group loopback6;
    loopback6.group = in6addr_loopback;
    rejected(loopback6, "IPV6_JOIN_GROUP: ::1 is not an IPv6 group address (ff00::/8)");
    net::opt::ip_multicast_if negative;
    negative.interface_index = -1;
    rejected(negative, "IP_MULTICAST_IF: interface index -1 is negative");
    EXPECT_EQ(net::get_option<net::opt::ip_multicast_ttl>(s)->value, 1);  // still the kernel's default
}

TEST(SocketOptions, KernelRefusalsNameTheOptionValueAndErrno) {
    net::socket u = open_socket(AF_INET, SOCK_DGRAM);
    auto r = net::set_option(u, net::opt::tcp_no_delay{true});
    ASSERT_FALSE(r);
    EXPECT_EQ(net::describe_option_error(net::opt::tcp_no_delay{true}, r.error()),
              "TCP_NODELAY true: " + r.error().message() + " (" + strerrorname_np(r.error().value()) + ")");
    auto by_name = net::set_option(u, "ipv6-multicast-hops", "4");  // an IPv6 option on an IPv4 socket
    ASSERT_FALSE(by_name);
    EXPECT_NE(by_name.error(), errc::invalid_argument);
    const std::string text = net::describe_set_option_error("ipv6-multicast-hops", "4", by_name.error());
    EXPECT_EQ(text.rfind("IPV6_MULTICAST_HOPS 4: ", 0), 0u) << text;
}

TEST(SocketOptions, ByNameAcceptsTheSeedsSpellings) {
    net::socket s = open_socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(net::set_option(s, ":so-broadcast", "true"));
    EXPECT_TRUE(net::get_option<net::opt::broadcast>(s)->value);
    ASSERT_TRUE(net::set_option(s, "so_reuseaddr", "1"));
    EXPECT_TRUE(net::get_option<net::opt::reuse_address>(s)->value);
    ASSERT_TRUE(net::set_option(s, "IP-MULTICAST-TTL", "12"));
    EXPECT_EQ(net::get_option<net::opt::ip_multicast_ttl>(s)->value, 12);
    ASSERT_TRUE(net::set_option(s, ":so-keepalive", "off"));
    EXPECT_FALSE(net::get_option<net::opt::keep_alive>(s)->value);
}

TEST(SocketOptions, FromStringThrowsTheDescription) {
    try {
        (void)net::opt::ip_add_membership::from_string("239.1.2");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), R"(IP_ADD_MEMBERSHIP: "239.1.2" is not an IPv4 group address (224.0.0.0 to 239.255.255.255))");
    }
    EXPECT_EQ(net::opt::ip_add_membership::describe_parse_error("239.1.2.3"), "");
    EXPECT_FALSE(net::opt::ipv6_join_group::parse("ff02::1%nope0"));
}

// An empty std::string_view{} has a null data(); the parsers once handed it
// to memcpy (undefined behaviour that UBSan reports, found by the
// socket_options fuzzer). Every option rejects an empty value, naming itself.
TEST(SocketOptions, EmptyValuesAreRejectedNamingTheOption) {
    net::socket s = open_socket(AF_INET, SOCK_DGRAM);
    for (const std::string_view name :
         {"SO_BROADCAST", "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_RCVBUF", "SO_SNDBUF", "TCP_NODELAY",
          "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP", "IP_MULTICAST_IF", "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP",
          "IP_ADD_SOURCE_MEMBERSHIP", "IP_DROP_SOURCE_MEMBERSHIP", "IPV6_MULTICAST_HOPS", "IPV6_MULTICAST_LOOP",
          "IPV6_MULTICAST_IF", "IPV6_JOIN_GROUP", "IPV6_LEAVE_GROUP", "IPV6_ADD_MEMBERSHIP", "IPV6_DROP_MEMBERSHIP"}) {
        SCOPED_TRACE(name);
        auto r = net::set_option(s, name, std::string_view{});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::invalid_argument);
        const std::string label = name == "IPV6_ADD_MEMBERSHIP"    ? "IPV6_JOIN_GROUP"
                                  : name == "IPV6_DROP_MEMBERSHIP" ? "IPV6_LEAVE_GROUP"
                                                                   : std::string(name);
        EXPECT_EQ(net::describe_set_option_error(name, std::string_view{}, r.error()), label + ": empty value");
    }
    EXPECT_EQ(net::opt::ip_add_membership::parse(std::string_view{}).error(), errc::invalid_argument);
    EXPECT_EQ(net::opt::ip_add_membership::describe_parse_error(std::string_view{}), "IP_ADD_MEMBERSHIP: empty value");
    EXPECT_EQ(net::opt::ipv6_join_group::parse(std::string_view{}).error(), errc::invalid_argument);
    EXPECT_EQ(net::opt::ip_multicast_if::parse(std::string_view{}).error(), errc::invalid_argument);
    EXPECT_THROW((void)net::opt::ip_add_source_membership::from_string(std::string_view{}), std::invalid_argument);
    // An empty part after a separator is a different message, and no UB either.
    EXPECT_EQ(net::opt::ip_add_membership::describe_parse_error("239.1.2.3@"),
              R"(IP_ADD_MEMBERSHIP: "239.1.2.3@": "" is not an IPv4 interface address)");
    EXPECT_EQ(net::get_option<net::opt::ip_multicast_ttl>(s)->value, 1);  // nothing reached the kernel
}

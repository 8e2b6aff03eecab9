// Multicast and broadcast for real — joining, leaving, loopback delivery,
// TTL / hop limit, source-specific membership, SO_BROADCAST — each test in
// a network namespace of its own (netns_support.hpp), so nothing is ever
// sent on, or joined on, a real interface.
//
// Topology: the sender leaves by v0. A member joined on v0 gets the copy
// the kernel loops back (IP_MULTICAST_LOOP); a member joined on v1 gets the
// copy that crossed the veth "wire". Members turn IP_MULTICAST_ALL off so
// each hears only its own groups, not every group any socket joined.
#include "datagram_test_support.hpp"
#include "netns_support.hpp"

#include <netinet/in.h>
#include <poll.h>

#include <array>
#include <functional>
#include <optional>
#include <string>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::ns_report;
using ringlet::test::quiet_runtime;
using ringlet::test::text_of;

namespace {

constexpr std::uint16_t port = 5000;
constexpr auto quiet = 300ms;  // how long "nothing arrives" is waited for

/// Runs `body` on a ringlet runtime (in the namespace child); its failures.
std::string in_runtime(task<void> (*body)(ns_report&)) {
    ns_report report;
    try {
        runtime rt{quiet_runtime()};
        rt.run([&]() -> task<void> { co_await body(report); });
    } catch (const ns_report::abort_body&) {
        report.note("(stopped at the fatal failure above)");
    }
    return report.text();
}

void run_in_namespace(task<void> (*body)(ns_report&)) {
    auto outcome = ringlet::test::run_in_network_namespace([body] { return in_runtime(body); });
    if (outcome.skipped) GTEST_SKIP() << outcome.failures;
    EXPECT_EQ(outcome.failures, "");
}

/// A member socket on *:port (shared) that hears only the groups it joins,
/// and only what arrives on `device` (IPv6 filters memberships by group,
/// not by interface, so without it a v0 member would hear v1's copy too).
udp::socket member(ns_report& r, bool v6, std::string_view device) {
    auto s = udp::bind(v6 ? net::address::ipv6_any(port) : net::address::ipv4_any(port), {.reuse_address = true});
    NS_REQUIRE(r, s);
    NS_REQUIRE(r, net::set_option(*s, SOL_SOCKET, SO_BINDTODEVICE, std::as_bytes(std::span{device})));
    if (v6) NS_REQUIRE(r, net::set_option(*s, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0));
    else NS_REQUIRE(r, net::set_option(*s, IPPROTO_IP, IP_MULTICAST_ALL, 0));
    return std::move(*s);
}

template <class Option>
void set(ns_report& r, udp::socket& s, const Option& o, int line) {
    auto done = net::set_option(s, o);
    r.require(static_cast<bool>(done), net::describe_option_error(o, done.error()), line);
}

/// The next datagram's text, or nullopt when none arrives within `limit`.
task<std::optional<std::string>> receive(ns_report& r, udp::socket& s, timeout limit) {
    std::array<std::byte, 256> buf{};
    auto got = co_await s.recv_from(buf, limit);
    if (!got) {
        NS_CHECK_EQ(r, got.error(), make_error_code(errc::timed_out));
        co_return std::nullopt;
    }
    co_return text_of(std::span{buf}.first(got->size));
}

/// Reads one datagram with a raw recvmsg and returns the int carried by the
/// control message (level, type) — the TTL or hop limit it arrived with.
std::optional<int> received_with(int fd, int level, int type) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return std::nullopt;
    char data[256];
    iovec part{data, sizeof data};
    alignas(cmsghdr) char control[256];
    msghdr m{};
    m.msg_iov = &part;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    if (::recvmsg(fd, &m, MSG_DONTWAIT) < 0) return std::nullopt;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != level || c->cmsg_type != type) continue;
        int value = 0;
        std::memcpy(&value, CMSG_DATA(c), sizeof value);
        return value;
    }
    return std::nullopt;
}

#define SET(r, s, o) set((r), (s), (o), __LINE__)

// --- IPv4 -------------------------------------------------------------------------

task<void> ipv4_members_receive_until_they_leave(ns_report& r) {
    const auto group = net::address::from_string("239.1.2.3:5000");
    auto on_v0 = member(r, false, "v0");
    auto on_v1 = member(r, false, "v1");
    SET(r, on_v0, net::opt::ip_add_membership::from_string("239.1.2.3%v0"));
    SET(r, on_v1, net::opt::ip_add_membership::from_string("239.1.2.3%v1"));
    auto sender = udp::open(net::address_family::ipv4);
    NS_REQUIRE(r, sender);
    SET(r, *sender, net::opt::ip_multicast_if::from_string("v0"));

    NS_REQUIRE(r, co_await sender->send_to(group, "one"));
    NS_CHECK_EQ(r, co_await receive(r, on_v0, 2s), std::optional<std::string>{"one"});
    NS_CHECK_EQ(r, co_await receive(r, on_v1, 2s), std::optional<std::string>{"one"});

    SET(r, on_v0, net::opt::ip_drop_membership::from_string("239.1.2.3%v0"));
    NS_REQUIRE(r, co_await sender->send_to(group, "two"));
    NS_CHECK_EQ(r, co_await receive(r, on_v1, 2s), std::optional<std::string>{"two"});
    NS_CHECK(r, !(co_await receive(r, on_v0, quiet)));

    SET(r, on_v1, net::opt::ip_drop_membership::from_string("239.1.2.3%v1"));
    NS_REQUIRE(r, co_await sender->send_to(group, "three"));
    NS_CHECK(r, !(co_await receive(r, on_v0, quiet)));
    NS_CHECK(r, !(co_await receive(r, on_v1, quiet)));
}

task<void> ipv4_loopback_delivery_on_and_off(ns_report& r) {
    const auto group = net::address::from_string("239.4.5.6:5000");
    auto on_v0 = member(r, false, "v0");
    auto on_v1 = member(r, false, "v1");
    SET(r, on_v0, net::opt::ip_add_membership::from_string("239.4.5.6%v0"));
    SET(r, on_v1, net::opt::ip_add_membership::from_string("239.4.5.6%v1"));
    auto sender = udp::open(net::address_family::ipv4);
    NS_REQUIRE(r, sender);
    SET(r, *sender, net::opt::ip_multicast_if::from_string("10.99.0.1"));  // v0, by address
    NS_CHECK(r, net::get_option<net::opt::ip_multicast_loop>(*sender)->value);  // on by default

    NS_REQUIRE(r, co_await sender->send_to(group, "loop on"));
    NS_CHECK_EQ(r, co_await receive(r, on_v0, 2s), std::optional<std::string>{"loop on"});
    NS_CHECK_EQ(r, co_await receive(r, on_v1, 2s), std::optional<std::string>{"loop on"});

    SET(r, *sender, net::opt::ip_multicast_loop{false});
    NS_CHECK(r, !net::get_option<net::opt::ip_multicast_loop>(*sender)->value);
    NS_REQUIRE(r, co_await sender->send_to(group, "loop off"));
    NS_CHECK_EQ(r, co_await receive(r, on_v1, 2s), std::optional<std::string>{"loop off"});  // still on the wire
    NS_CHECK(r, !(co_await receive(r, on_v0, quiet)));                                         // not looped back
}

task<void> ipv4_ttl_is_applied(ns_report& r) {
    const auto group = net::address::from_string("239.7.7.7:5000");
    auto on_v0 = member(r, false, "v0");
    auto on_v1 = member(r, false, "v1");
    SET(r, on_v0, net::opt::ip_add_membership::from_string("239.7.7.7@10.99.0.1"));  // v0, by address
    SET(r, on_v1, net::opt::ip_add_membership::from_string("239.7.7.7@10.99.0.2"));  // v1, by address
    NS_REQUIRE(r, net::set_option(on_v1, IPPROTO_IP, IP_RECVTTL, 1));
    auto sender = udp::open(net::address_family::ipv4);
    NS_REQUIRE(r, sender);
    SET(r, *sender, net::opt::ip_multicast_if::from_string("v0"));
    NS_CHECK_EQ(r, net::get_option<net::opt::ip_multicast_ttl>(*sender)->value, 1);  // the kernel's default
    SET(r, *sender, net::opt::ip_multicast_ttl{7});
    NS_CHECK_EQ(r, net::get_option<net::opt::ip_multicast_ttl>(*sender)->value, 7);

    NS_REQUIRE(r, co_await sender->send_to(group, "ttl 7"));
    NS_CHECK_EQ(r, received_with(on_v1.fd(), IPPROTO_IP, IP_TTL), std::optional<int>{7});
    NS_CHECK_EQ(r, co_await receive(r, on_v0, 2s), std::optional<std::string>{"ttl 7"});

    // TTL 0 keeps multicast on this host: the loopback copy only.
    SET(r, *sender, net::opt::ip_multicast_ttl{0});
    NS_REQUIRE(r, co_await sender->send_to(group, "ttl 0"));
    NS_CHECK_EQ(r, co_await receive(r, on_v0, 2s), std::optional<std::string>{"ttl 0"});
    NS_CHECK(r, !(co_await receive(r, on_v1, quiet)));
}

task<void> ipv4_source_specific_membership(ns_report& r) {
    const auto group = net::address::from_string("232.1.2.3:5000");
    auto listener = member(r, false, "v1");
    SET(r, listener, net::opt::ip_add_source_membership::from_string("232.1.2.3@10.99.0.2 from 10.99.0.1"));
    auto wanted = udp::bind(net::address::from_string("10.99.0.1:0"));
    auto other = udp::bind(net::address::from_string("10.99.0.3:0"));
    NS_REQUIRE(r, wanted && other);
    SET(r, *wanted, net::opt::ip_multicast_if::from_string("v0"));
    SET(r, *other, net::opt::ip_multicast_if::from_string("v0"));

    NS_REQUIRE(r, co_await other->send_to(group, "from 10.99.0.3"));
    NS_REQUIRE(r, co_await wanted->send_to(group, "from 10.99.0.1"));
    NS_CHECK_EQ(r, co_await receive(r, listener, 2s), std::optional<std::string>{"from 10.99.0.1"});
    NS_CHECK(r, !(co_await receive(r, listener, quiet)));  // the other source was filtered out

    SET(r, listener, net::opt::ip_drop_source_membership::from_string("232.1.2.3@10.99.0.2 from 10.99.0.1"));
    NS_REQUIRE(r, co_await wanted->send_to(group, "after leaving"));
    NS_CHECK(r, !(co_await receive(r, listener, quiet)));
}

task<void> ipv4_kernel_refusals_are_described(ns_report& r) {
    auto s = member(r, false, "v0");
    const auto join = net::opt::ip_add_membership::from_string("239.9.9.9%v0");
    NS_REQUIRE(r, net::set_option(s, join));
    auto again = net::set_option(s, join);
    NS_CHECK_EQ(r, again.error(), std::make_error_code(std::errc::address_in_use));
    NS_CHECK_EQ(r, net::describe_option_error(join, again.error()),
                std::string("IP_ADD_MEMBERSHIP 239.9.9.9%v0: Address already in use (EADDRINUSE)"));
    auto not_joined = net::set_option(s, net::opt::ip_drop_membership::from_string("239.9.9.8%v0"));
    NS_CHECK_EQ(r, not_joined.error(), std::make_error_code(std::errc::address_not_available));
    auto nowhere = net::set_option(s, net::opt::ip_add_membership::from_string("239.9.9.9%9999"));
    NS_CHECK_EQ(r, nowhere.error(), std::make_error_code(std::errc::no_such_device));
    NS_CHECK_EQ(r, net::describe_set_option_error("ip-add-membership", "239.9.9.9%9999", nowhere.error()),
                std::string("IP_ADD_MEMBERSHIP 239.9.9.9%9999: No such device (ENODEV)"));
    co_return;
}

// --- IPv6 -------------------------------------------------------------------------

task<void> ipv6_membership_loop_and_hops(ns_report& r) {
    const auto group = net::address::from_string("[ff12::4242%v0]:5000");
    auto on_v0 = member(r, true, "v0");
    auto on_v1 = member(r, true, "v1");
    SET(r, on_v0, net::opt::ipv6_join_group::from_string("ff12::4242%v0"));
    SET(r, on_v1, net::opt::ipv6_join_group::from_string("ff12::4242%v1"));
    NS_REQUIRE(r, net::set_option(on_v1, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1));
    auto sender = udp::open(net::address_family::ipv6);
    NS_REQUIRE(r, sender);
    SET(r, *sender, net::opt::ipv6_multicast_if::from_string("v0"));
    SET(r, *sender, net::opt::ipv6_multicast_hops{9});
    NS_CHECK_EQ(r, net::get_option<net::opt::ipv6_multicast_hops>(*sender)->value, 9);

    NS_REQUIRE(r, co_await sender->send_to(group, "hops 9"));
    NS_CHECK_EQ(r, received_with(on_v1.fd(), IPPROTO_IPV6, IPV6_HOPLIMIT), std::optional<int>{9});
    NS_CHECK_EQ(r, co_await receive(r, on_v0, 2s), std::optional<std::string>{"hops 9"});

    SET(r, *sender, net::opt::ipv6_multicast_loop{false});
    NS_CHECK(r, !net::get_option<net::opt::ipv6_multicast_loop>(*sender)->value);
    NS_REQUIRE(r, net::set_option(on_v1, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 0));
    NS_REQUIRE(r, co_await sender->send_to(group, "loop off"));
    NS_CHECK_EQ(r, co_await receive(r, on_v1, 2s), std::optional<std::string>{"loop off"});
    NS_CHECK(r, !(co_await receive(r, on_v0, quiet)));

    SET(r, *sender, net::opt::ipv6_multicast_loop{true});
    SET(r, on_v0, net::opt::ipv6_leave_group::from_string("ff12::4242%v0"));
    SET(r, on_v1, net::opt::ipv6_leave_group::from_string("ff12::4242%v1"));
    NS_REQUIRE(r, co_await sender->send_to(group, "after leaving"));
    NS_CHECK(r, !(co_await receive(r, on_v0, quiet)));
    NS_CHECK(r, !(co_await receive(r, on_v1, quiet)));
}

// --- broadcast ----------------------------------------------------------------------

task<void> broadcast_needs_so_broadcast(ns_report& r) {
    const auto everyone = net::address::from_string("10.99.0.255:5001");
    auto listener = udp::bind(net::address::ipv4_any(5001));
    NS_REQUIRE(r, listener);
    auto sender = udp::bind(net::address::from_string("10.99.0.1:0"));
    NS_REQUIRE(r, sender);
    auto refused = co_await sender->send_to(everyone, "no permission");
    NS_CHECK_EQ(r, refused.error(), std::make_error_code(std::errc::permission_denied));
    SET(r, *sender, net::opt::broadcast{true});
    NS_REQUIRE(r, co_await sender->send_to(everyone, "to everyone"));
    NS_CHECK_EQ(r, co_await receive(r, *listener, 2s), std::optional<std::string>{"to everyone"});

    // A connected socket needs it too; udp::connect sets it on request.
    auto plain = co_await udp::connect(everyone);
    NS_CHECK_EQ(r, plain.error(), std::make_error_code(std::errc::permission_denied));
    auto allowed = co_await udp::connect(everyone, {.broadcast = true});
    NS_REQUIRE(r, allowed);
    NS_REQUIRE(r, co_await allowed->send("connected broadcast"));
    bool heard = false;
    for (int i = 0; i < 3 && !heard; ++i) heard = co_await receive(r, *listener, 2s) == std::optional<std::string>{"connected broadcast"};
    NS_CHECK(r, heard);
}

}  // namespace

TEST(Multicast, Ipv4MembersReceiveUntilTheyLeave) { run_in_namespace(ipv4_members_receive_until_they_leave); }
TEST(Multicast, Ipv4LoopbackDeliveryOnAndOff) { run_in_namespace(ipv4_loopback_delivery_on_and_off); }
TEST(Multicast, Ipv4TtlIsApplied) { run_in_namespace(ipv4_ttl_is_applied); }
TEST(Multicast, Ipv4SourceSpecificMembership) { run_in_namespace(ipv4_source_specific_membership); }
TEST(Multicast, Ipv4KernelRefusalsAreDescribed) { run_in_namespace(ipv4_kernel_refusals_are_described); }
TEST(Multicast, Ipv6MembershipLoopbackAndHopLimit) { run_in_namespace(ipv6_membership_loop_and_hops); }
TEST(Broadcast, NeedsSoBroadcastAndReachesTheSubnet) { run_in_namespace(broadcast_needs_so_broadcast); }

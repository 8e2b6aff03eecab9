// udp:: sockets: send_to/recv_from, connected sockets and ECONNREFUSED,
// truncation, timeouts, the batched path (multishot recvmsg + buffer ring,
// batched sends) and 10,000 datagrams over loopback with none lost.
#include "datagram_test_support.hpp"

#include <array>
#include <chrono>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::as_bytes;
using ringlet::test::quiet_runtime;
using ringlet::test::text_of;

namespace {

net::address loopback6(std::uint16_t port = 0) { return net::address::ipv6_loopback(port); }

/// A socket bound to loopback port 0 and its address.
std::pair<udp::socket, net::address> bound(const net::address& where) {
    auto s = udp::bind(where);
    EXPECT_TRUE(s) << s.error().message();
    auto local = s->local_address();
    EXPECT_TRUE(local);
    return {std::move(*s), *local};
}

/// A loopback port with nothing bound to it (bound, then closed).
std::uint16_t dead_port() {
    auto s = udp::bind(ringlet::test::loopback4());
    return s->local_address()->port();
}

}  // namespace

class UdpFamilies : public ::testing::TestWithParam<bool> {};

TEST_P(UdpFamilies, SendToAndRecvFromCarryBytesAndSender) {
    const bool v6 = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([v6]() -> task<void> {
        auto server_bound = bound(v6 ? loopback6() : ringlet::test::loopback4());
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        auto client_bound = bound(v6 ? loopback6() : ringlet::test::loopback4());
        auto& client = client_bound.first;
        const net::address& client_address = client_bound.second;
        auto sent = co_await client.send_to(server_address, "hello, datagram", 2s);
        CO_ASSERT_OK(sent);
        EXPECT_EQ(*sent, 15u);
        std::array<std::byte, 64> buf{};
        auto got = co_await server.recv_from(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->size, 15u);
        EXPECT_FALSE(got->truncated);
        EXPECT_EQ(got->from, client_address);
        EXPECT_EQ(text_of(std::span{buf}.first(got->size)), "hello, datagram");
        CO_ASSERT_OK(co_await server.send_to(got->from, std::span<const std::byte>{buf}.first(got->size)));
        auto back = co_await client.recv_from(buf, 2s);
        CO_ASSERT_OK(back);
        EXPECT_EQ(back->from, server_address);
        EXPECT_EQ(text_of(std::span{buf}.first(back->size)), "hello, datagram");
        CO_ASSERT_OK(co_await server.close());
        CO_ASSERT_OK(co_await client.close());
    });
}

INSTANTIATE_TEST_SUITE_P(Udp, UdpFamilies, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "IPv6" : "IPv4"; });

TEST(Udp, TruncatedDatagramIsReportedNotSilentlyCut) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto server_bound = bound(ringlet::test::loopback4());
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        auto client = co_await udp::connect(server_address);
        CO_ASSERT_OK(client);
        const std::string long_message(100, 'x');
        CO_ASSERT_OK(co_await client->send(long_message));
        CO_ASSERT_OK(co_await client->send("short"));
        std::array<std::byte, 10> small{};
        auto cut = co_await server.recv_from(small, 2s);
        CO_ASSERT_OK(cut);
        EXPECT_TRUE(cut->truncated);
        EXPECT_EQ(cut->size, 10u);
        EXPECT_EQ(text_of(small), std::string(10, 'x'));
        auto whole = co_await server.recv_from(small, 2s);  // the next datagram is intact
        CO_ASSERT_OK(whole);
        EXPECT_FALSE(whole->truncated);
        EXPECT_EQ(text_of(std::span{small}.first(whole->size)), "short");

        // The same on a connected socket's recv().
        CO_ASSERT_OK(co_await server.send_to(*client->local_address(), long_message));
        auto r = co_await client->recv(small, 2s);
        CO_ASSERT_OK(r);
        EXPECT_TRUE(r->truncated);
        EXPECT_EQ(r->size, 10u);
    });
}

TEST(Udp, RecvFromTimesOutAndALaterDatagramStillArrives) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto server_bound = bound(ringlet::test::loopback4());
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        std::array<std::byte, 16> buf{};
        const auto started = clock::now();
        auto r = co_await server.recv_from(buf, 50ms);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::timed_out);
        EXPECT_GE(clock::now() - started, 50ms);
        // A deadline that has passed fails at once, even with nothing to wait for.
        auto late = co_await server.recv_from(buf, clock::now() - 1ms);
        EXPECT_EQ(late.error(), errc::timed_out);
        auto client = udp::open(net::address_family::ipv4);
        CO_ASSERT_OK(client);
        CO_ASSERT_OK(co_await client->send_to(server_address, "late"));
        auto got = co_await server.recv_from(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(text_of(std::span{buf}.first(got->size)), "late");
    });
}

TEST(Udp, ConnectedSocketReportsConnectionRefusedOnALaterCall) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const auto nobody = ringlet::test::loopback4(dead_port());
        auto conn = co_await udp::connect(nobody);
        CO_ASSERT_OK(conn);
        EXPECT_EQ(*conn->peer_address(), nobody);
        CO_ASSERT_OK(co_await conn->send("anyone?"));  // the send itself succeeds
        std::array<std::byte, 16> buf{};
        auto r = co_await conn->recv(buf, 2s);      // the ICMP port unreachable surfaces here
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();

        // The batched receiver reports it the same way.
        CO_ASSERT_OK(co_await conn->send("anyone?"));
        auto batch = co_await conn->receive_batch(2s);
        CO_ASSERT_FALSE(batch);
        EXPECT_EQ(batch.error(), std::errc::connection_refused) << batch.error().message();
    });
}

TEST(Udp, ConnectedSocketReceivesOnlyFromItsPeer) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto peer_bound = bound(ringlet::test::loopback4());
        auto& peer = peer_bound.first;
        const net::address& peer_address = peer_bound.second;
        auto stranger_bound = bound(ringlet::test::loopback4());
        auto& stranger = stranger_bound.first;
        auto conn = co_await udp::connect(peer_address);
        CO_ASSERT_OK(conn);
        const auto conn_address = *conn->local_address();
        CO_ASSERT_OK(co_await stranger.send_to(conn_address, "from a stranger"));
        CO_ASSERT_OK(co_await peer.send_to(conn_address, "from the peer"));
        std::array<std::byte, 32> buf{};
        auto got = co_await conn->recv(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(text_of(std::span{buf}.first(got->size)), "from the peer");
        auto nothing = co_await conn->recv(buf, 50ms);
        EXPECT_EQ(nothing.error(), errc::timed_out);
    });
}

TEST(Udp, BindErrorsAreReported) {
    auto first = bound(ringlet::test::loopback4());  // held open while the others try
    const net::address& where = first.second;
    auto second = udp::bind(where);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), std::errc::address_in_use);
    auto shared = udp::bind(where, {.reuse_address = true});
    EXPECT_FALSE(shared);  // the first socket did not allow sharing
    auto unix_address = udp::bind(net::address::abstract("not-udp").value());
    EXPECT_EQ(unix_address.error(), errc::invalid_argument);
    EXPECT_EQ(udp::open(net::address_family::unix_path).error(), errc::invalid_argument);
}

TEST(Udp, OperationsOnAClosedSocketFail) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto s_bound = bound(ringlet::test::loopback4());
        auto& s = s_bound.first;
        const net::address& where = s_bound.second;
        CO_ASSERT_OK(co_await s.close());
        std::array<std::byte, 8> buf{};
        EXPECT_EQ((co_await s.recv_from(buf)).error(), std::errc::bad_file_descriptor);
        EXPECT_EQ((co_await s.send_to(where, "x")).error(), std::errc::bad_file_descriptor);
        EXPECT_EQ((co_await s.receive_batch()).error(), std::errc::bad_file_descriptor);
    });
}

TEST(Udp, CloseCancelsAPendingRecvFrom) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto s_bound = bound(ringlet::test::loopback4());
        auto& s = s_bound.first;
        std::array<std::byte, 8> buf{};
        auto waiting = [&]() -> task<result<net::received_from>> { co_return co_await s.recv_from(buf); };
        auto closing = [&]() -> task<result<void>> {
            (void)co_await sleep_for(20ms);
            co_return co_await s.close();
        };
        auto [r, closed] = co_await when_all(waiting(), closing());
        EXPECT_EQ(r.error(), errc::operation_canceled);
        EXPECT_TRUE(closed);
    });
}

// tcp::connect over several candidates and by host name (RFC 8305 Happy
// Eyeballs): IPv6 first, the next attempt after the delay or at once after a
// failure, the first success wins and the losers are cancelled. The
// "blackholed" IPv6 address is a listener on ::1 with a full accept queue,
// which drops further SYNs, so connecting to it never completes.
#include "stream_test_support.hpp"

#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;

namespace {

/// A v6 listener on ::1 and a v4 one on 127.0.0.1 with the same port (bounded retries).
task<std::pair<tcp::listener, tcp::listener>> dual_listeners(int v6_backlog) {
    for (int i = 0; i < 20; ++i) {
        auto six = tcp::listen(net::address::ipv6_loopback(0), {.backlog = v6_backlog});
        CO_ASSERT_OK(six);
        const std::uint16_t port = six->local_address()->port();
        auto four = tcp::listen(net::address::ipv4_loopback(port));
        if (four) co_return std::pair<tcp::listener, tcp::listener>{std::move(*six), std::move(*four)};
    }
    ADD_FAILURE() << "no port free on both ::1 and 127.0.0.1";
    throw ringlet::test::assertion_failed{};
}

}  // namespace

TEST(HappyEyeballs, IPv6FirstWinsAtOnce) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [six, four] = co_await dual_listeners(16);
        const std::uint16_t port = six.local_address()->port();
        const net::address both[] = {net::address::ipv6_loopback(port), net::address::ipv4_loopback(port)};
        const auto start = clock::now();
        auto c = co_await tcp::connect(std::span<const net::address>{both}, {.timeout = 5s});
        CO_ASSERT_OK(c);
        EXPECT_LT(clock::now() - start, 200ms);
        EXPECT_EQ(c->peer_address()->family(), net::address_family::ipv6);
    });
}

TEST(HappyEyeballs, ARefusedIPv6StartsIPv4AtOnce) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto four = tcp::listen(net::address::ipv4_loopback(0));
        CO_ASSERT_OK(four);
        const std::uint16_t port = four->local_address()->port();
        const net::address both[] = {net::address::ipv6_loopback(port), net::address::ipv4_loopback(port)};
        const auto start = clock::now();
        auto c = co_await tcp::connect(std::span<const net::address>{both}, {.timeout = 5s, .attempt_delay = 2s});
        CO_ASSERT_OK(c);
        EXPECT_LT(clock::now() - start, 1s);  // not the 2 s delay
        EXPECT_EQ(c->peer_address()->family(), net::address_family::ipv4);

        // By name: /etc/hosts' localhost, numeric hosts, and every candidate refused.
        auto by_name = co_await tcp::connect("127.0.0.1", port, {.timeout = 5s});
        CO_ASSERT_OK(by_name);
        CO_ASSERT_OK(co_await four->close());
        auto refused = co_await tcp::connect(std::span<const net::address>{both}, {.timeout = 5s});
        CO_ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error(), std::errc::connection_refused);
        auto nobody = co_await tcp::connect("localhost", port, {.timeout = 5s});
        CO_ASSERT_FALSE(nobody);
        EXPECT_EQ(nobody.error(), std::errc::connection_refused);
    });
}

TEST(HappyEyeballs, ABlackholedIPv6LosesToIPv4AfterTheDelay) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [six, four] = co_await dual_listeners(0);
        const std::uint16_t port = six.local_address()->port();
        const net::address v6 = net::address::ipv6_loopback(port);
        // Fill the v6 accept queue (never accepted) until a connect hangs.
        std::vector<tcp::stream> fillers;
        bool hanging = false;
        for (int i = 0; i < 8 && !hanging; ++i) {
            auto c = co_await tcp::connect(v6, {.timeout = 100ms});
            if (c) fillers.push_back(std::move(*c));
            else hanging = c.error() == errc::timed_out;
        }
        CO_ASSERT_TRUE(hanging);

        const net::address both[] = {v6, net::address::ipv4_loopback(port)};
        const auto start = clock::now();
        auto c = co_await tcp::connect(std::span<const net::address>{both}, {.timeout = 5s, .attempt_delay = 250ms});
        const auto took = clock::now() - start;
        CO_ASSERT_OK(c);
        EXPECT_EQ(c->peer_address()->family(), net::address_family::ipv4);
        EXPECT_GE(took, 240ms);
        EXPECT_LT(took, 2s);  // the v6 attempt was cancelled, not waited for

        // With only the blackholed address, the call's timeout ends it.
        auto alone = co_await tcp::connect(std::span<const net::address>{both, 1}, {.timeout = 150ms});
        CO_ASSERT_FALSE(alone);
        EXPECT_EQ(alone.error(), errc::timed_out);
    });
}

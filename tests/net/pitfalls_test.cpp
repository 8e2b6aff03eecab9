// Pitfalls of sockets on Linux that ringlet handles, each proven here when no
// other test does already (README "Pitfalls" lists them all with their tests):
// SHUT_RD does not discard, SIGPIPE on unix streams, SO_REUSEPORT spreads
// connections over the shards, and the options of awaited operations stay
// safe from GCC 12's handling of temporaries in co_await expressions.
#include "stream_test_support.hpp"

#include <ringlet/core/task_group.hpp>
#include <ringlet/net/listen_connect.hpp>
#include <ringlet/net/local_datagram.hpp>
#include <ringlet/net/resolve.hpp>
#include <ringlet/net/udp.hpp>
#include <ringlet/tls/stream.hpp>

#include <signal.h>

#include <array>
#include <atomic>
#include <type_traits>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;
using ringlet::test::tcp_pair;

// GCC 12 miscompiles a braced temporary of a class with a non-trivial
// destructor inside a co_await expression: it builds it in one place, passes
// a bytewise copy, and destroys both (free(): invalid pointer). The options
// that are written that way — `co_await tcp::connect(a, {.timeout = 1s})` —
// are therefore trivially copyable and destructible, so the copy is exact
// and a double "destruction" does nothing. tls::client_options and
// server_options hold strings: context::client/server refuse temporaries.
static_assert(std::is_trivially_copyable_v<tcp::connect_options> && std::is_trivially_destructible_v<tcp::connect_options>);
static_assert(std::is_trivially_destructible_v<local::connect_options>);
static_assert(std::is_trivially_destructible_v<local::datagram_connect_options>);
static_assert(std::is_trivially_destructible_v<udp::connect_options>);
static_assert(std::is_trivially_destructible_v<net::resolve_options>);
static_assert(std::is_trivially_destructible_v<net::connect_options>);
static_assert(std::is_trivially_destructible_v<net::listen_options>);
static_assert(std::is_trivially_destructible_v<tls::client_handshake_options>);
static_assert(std::is_trivially_destructible_v<tls::server_handshake_options>);
static_assert(std::is_trivially_destructible_v<tls::connect_options>);

namespace {

std::string text_of(std::span<const char> bytes) { return {bytes.data(), bytes.size()}; }

std::array<std::atomic<int>, 2> served_per_shard{};

task<void> count_and_close(tcp::stream conn) {
    served_per_shard[this_shard::id()].fetch_add(1, std::memory_order_relaxed);
    (void)co_await conn.close();
}

}  // namespace

// shutdown(SHUT_RD) on Linux TCP discards nothing: queued bytes are still
// read, a read finding nothing queued returns 0 at once, and bytes the peer
// sends later still arrive (the peer is not told).
TEST(Pitfalls, ShutdownReadOnTcpStillDeliversQueuedAndLaterBytes) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await client.write_all("queued", 2s));
        (void)co_await sleep_for(20ms);
        CO_ASSERT_OK(co_await server.shutdown(net::shutdown_how::read));
        std::array<char, 64> buf{};
        auto queued = co_await server.read_some(buf, 2s);
        CO_ASSERT_OK(queued);
        EXPECT_EQ(text_of(std::span{buf}.first(*queued)), "queued");
        const auto start = clock::now();
        auto empty = co_await server.read_some(buf, 2s);
        CO_ASSERT_OK(empty);
        EXPECT_EQ(*empty, 0u);                        // looks like end of stream...
        EXPECT_LT(clock::now() - start, 1s);          // ...and comes at once
        CO_ASSERT_OK(co_await client.write_all("later", 2s));  // the peer was not told
        (void)co_await sleep_for(20ms);
        auto later = co_await server.read_some(buf, 2s);
        CO_ASSERT_OK(later);
        EXPECT_EQ(text_of(std::span{buf}.first(*later)), "later");  // ...but it was not
    });
}

// On unix streams the same call does stop the peer: its later writes fail
// with EPIPE (and raise no SIGPIPE: ringlet sends with MSG_NOSIGNAL).
TEST(Pitfalls, ShutdownReadOnUnixStreamsFailsThePeersWrites) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [a, b] = *p;
        CO_ASSERT_OK(co_await a.write_all("queued", 2s));
        CO_ASSERT_OK(co_await b.shutdown(net::shutdown_how::read));
        std::array<char, 64> buf{};
        auto queued = co_await b.read_some(buf, 2s);
        CO_ASSERT_OK(queued);
        EXPECT_EQ(text_of(std::span{buf}.first(*queued)), "queued");
        auto later = co_await a.write_all("later", 2s);
        CO_ASSERT_FALSE(later);
        EXPECT_EQ(later.error(), std::errc::broken_pipe);
    });
}

// SIGPIPE's default action kills the process; every ringlet write passes
// MSG_NOSIGNAL, so a write to a unix peer that has gone is EPIPE, with the
// default disposition in place.
TEST(Pitfalls, WritingToAClosedUnixPeerIsEpipeNotSigpipe) {
    struct sigaction old {};
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [a, b] = *p;
        CO_ASSERT_OK(co_await b.close());
        auto w = co_await a.write_all("into the void", 2s);
        CO_ASSERT_FALSE(w);
        EXPECT_EQ(w.error(), std::errc::broken_pipe);
        auto some = co_await a.write_some(ringlet::test::as_bytes("x"));
        CO_ASSERT_FALSE(some);
        EXPECT_EQ(some.error(), std::errc::broken_pipe);
    });
    ::sigaction(SIGPIPE, &old, nullptr);
}

// One SO_REUSEPORT listener per shard: the kernel spreads connections over
// them by the 4-tuple's hash, so two shards each take a fair share of 200
// connections from one client (binomial: each gets 100 ± 7; the bound here
// is 25 %).
TEST(Pitfalls, ReusePortSpreadsConnectionsOverTheShards) {
    static constexpr int total = 200;
    auto& per_shard = served_per_shard;
    runtime rt{quiet_runtime(2)};
    rt.run([&rt]() -> task<void> {
        auto server = tcp::server::bind(net::address::ipv4_loopback(0));
        CO_ASSERT_OK(server);
        const net::address where = server->local_address();
        task_group group;
        group.spawn(server->serve(&count_and_close));
        for (int i = 0; i < total; ++i) {
            auto c = co_await tcp::connect(where, {.timeout = 2s});
            CO_ASSERT_OK(c);
            std::array<char, 8> buf{};
            auto eof = co_await c->read_some(buf, 2s);  // the handler closed it: it was served
            CO_ASSERT_OK(eof);
            EXPECT_EQ(*eof, 0u);
            CO_ASSERT_OK(co_await c->close());
        }
        rt.request_stop();
        co_await group.wait();
    });
    EXPECT_EQ(per_shard[0] + per_shard[1], total);  // every connection was served
    EXPECT_GE(per_shard[0], total / 4) << "shard 0 took " << per_shard[0].load() << " of " << total;
    EXPECT_GE(per_shard[1], total / 4) << "shard 1 took " << per_shard[1].load() << " of " << total;
}

// The net layer under the fault-injecting backend (src/core/fault_backend.hpp),
// with seeds set here, so these run in every suite run — not only in CI's
// fault stage (which runs the whole net/tls/http/resp suites under three
// seeds): a TCP echo of 1 MiB in both receive modes and a UDP batch of
// datagrams arrive intact while reads and writes are cut short, interrupted,
// refused for lack of buffers and delayed; and a hostile reset surfaces as
// connection_reset with no descriptor leaked.
#include "../core/fault_test_support.hpp"
#include "datagram_test_support.hpp"
#include "stream_test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::as_bytes;
using ringlet::test::open_fd_count;
using ringlet::test::quiet_runtime;
using ringlet::test::tcp_pair;
using ringlet::test::text_of;
using ringlet::test::fault_env;
using ringlet::test::this_faults;

namespace {

bool on_epoll() { return runtime::choose_backend().backend == backend_choice::epoll; }

std::vector<std::byte> pattern(std::size_t n) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + i / 509) & 0xff);
    return v;
}

}  // namespace

class FaultStream : public ::testing::TestWithParam<net::receive_mode> {};

TEST_P(FaultStream, PingPongOfOneMebibyteArrivesIntactUnderThreeSeeds) {
    const net::receive_mode mode = GetParam();
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        SCOPED_TRACE("RINGLET_FAULT_SEED=" + std::to_string(seed));
        fault_env env{seed};
        runtime rt{quiet_runtime()};
        rt.run([mode]() -> task<void> {
            auto [client, server] = co_await tcp_pair();
            CO_ASSERT_OK(server.set_receive_mode(mode));
            const auto data = pattern(1 << 20);
            task_group g;
            result<void> echoed = unexpected{errc::invalid_argument};
            g.spawn([](tcp::stream& s, std::size_t total, result<void>& out) -> task<void> {
                std::size_t moved = 0;
                while (moved < total) {
                    auto got = co_await s.receive(10s);
                    if (!got) {
                        out = unexpected{got.error()};
                        co_return;
                    }
                    if (got->size() == 0) break;
                    auto w = co_await s.write_all(got->bytes(), 10s);
                    if (!w) {
                        out = unexpected{w.error()};
                        co_return;
                    }
                    moved += got->size();
                }
                out = result<void>{};
            }(server, data.size(), echoed));
            // Ping-pong in chunks of 1..2048 bytes, so most reads find the
            // socket empty and wait on the ring (where faults are injected).
            std::vector<std::byte> back(data.size());
            std::size_t have = 0;
            std::size_t sent = 0;
            std::uint64_t lcg = 12345;
            while (sent < data.size()) {
                lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
                const std::size_t chunk = std::min<std::size_t>(data.size() - sent, 1 + (lcg >> 33) % 2048);
                CO_ASSERT_OK(co_await client.write_all(std::span(data).subspan(sent, chunk), 10s));
                sent += chunk;
                while (have < sent) {
                    auto n = co_await client.read_some(std::span(back).subspan(have, sent - have), 10s);
                    CO_ASSERT_OK(n);
                    CO_ASSERT_TRUE(*n > 0);
                    have += *n;
                }
            }
            co_await g.wait();
            CO_ASSERT_OK(echoed);
            EXPECT_TRUE(back == data) << "bytes lost, duplicated or reordered";
            const detail::fault_stats& s = this_faults().stats();
            EXPECT_GT(s.interrupted + s.would_block, 0u);
            EXPECT_GT(s.delayed, 0u);
            if (!on_epoll()) {
                EXPECT_GT(s.shortened, 0u);
                if (mode == net::receive_mode::multishot) {
                    EXPECT_GT(s.no_buffers + s.ended_multishot, 0u);
                }
            }
            CO_ASSERT_OK(co_await client.close());
            CO_ASSERT_OK(co_await server.close());
        });
    }
}

INSTANTIATE_TEST_SUITE_P(Modes, FaultStream, ::testing::Values(net::receive_mode::readiness, net::receive_mode::multishot),
                         [](const ::testing::TestParamInfo<net::receive_mode>& p) {
                             return std::string(p.param == net::receive_mode::multishot ? "Multishot" : "Readiness");
                         });

TEST(FaultDatagram, BatchOfDatagramsArrivesIntactUnderThreeSeeds) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        for (bool multishot : {false, true}) {
            SCOPED_TRACE("RINGLET_FAULT_SEED=" + std::to_string(seed) + (multishot ? " multishot" : " single-shot"));
            fault_env env{seed};
            runtime rt{quiet_runtime()};
            rt.run([multishot]() -> task<void> {
                auto server = udp::bind(ringlet::test::loopback4());
                CO_ASSERT_OK(server);
                const auto server_address = server->local_address();
                CO_ASSERT_OK(server_address);
                CO_ASSERT_OK(server->set_batch_options(
                    {.buffers = 16, .max_datagram_size = 128, .max_batch = 8, .multishot = multishot}));
                auto client = udp::bind(ringlet::test::loopback4());
                CO_ASSERT_OK(client);
                constexpr int count = 300;
                std::vector<std::string> got;
                // In rounds of 10, so the loopback socket's buffer never drops one.
                for (int round = 0; round < count / 10; ++round) {
                    for (int i = round * 10; i < round * 10 + 10; ++i) {
                        CO_ASSERT_OK(co_await client->send_to(*server_address, "datagram " + std::to_string(i)));
                    }
                    while (got.size() < static_cast<std::size_t>(round * 10 + 10)) {
                        auto batch = co_await server->receive_batch(5s);
                        CO_ASSERT_OK(batch);
                        for (const net::datagram& d : *batch) {
                            EXPECT_FALSE(d.truncated);
                            got.push_back(text_of(d.payload));
                        }
                    }
                }
                CO_ASSERT_EQ(got.size(), static_cast<std::size_t>(count));
                for (int i = 0; i < count; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], "datagram " + std::to_string(i));
                const detail::fault_stats& s = this_faults().stats();
                EXPECT_GT(s.delayed, 0u);
                if (multishot && !on_epoll()) {
                    EXPECT_GT(s.no_buffers + s.ended_multishot, 0u);
                }
                CO_ASSERT_OK(co_await client->close());
                CO_ASSERT_OK(co_await server->close());
            });
        }
    }
}

// The hostile profile: ECONNRESET instead of stream reads and writes. It
// surfaces as connection_reset, named, from read_some and write_all alike,
// and closing both ends leaks nothing.
TEST(FaultReset, ResetSurfacesAsConnectionResetAndLeaksNothing) {
    const std::size_t before = open_fd_count();
    {
        fault_env env{9, "reset"};
        runtime rt{quiet_runtime()};
        rt.run([]() -> task<void> {
            auto [client, server] = co_await tcp_pair();
            std::error_code error;
            std::array<std::byte, 64> buf{};
            for (int i = 0; i < 200 && !error; ++i) {
                auto w = co_await client.write_all(as_bytes("ping"), 2s);
                if (!w) {
                    error = w.error();
                    break;
                }
                auto r = co_await server.read_some(buf, 2s);
                if (!r) error = r.error();
            }
            CO_ASSERT_TRUE(static_cast<bool>(error));
            EXPECT_EQ(error, std::errc::connection_reset);
            EXPECT_NE(error.message().find("reset"), std::string::npos) << error.message();
            EXPECT_GT(this_faults().stats().resets, 0u);
            CO_ASSERT_OK(co_await client.close());
            CO_ASSERT_OK(co_await server.close());
        });
    }
    EXPECT_EQ(open_fd_count(), before);
}

// The same hostile profile against a server: its connections see resets in
// the middle of their exchanges; the server keeps accepting and serving the
// others, each client sees its bytes echoed or a named error (never other
// bytes), and after a stop every descriptor is released.
TEST(FaultReset, ServerSurvivesResetConnectionsAndLeaksNothing) {
    const std::size_t before = open_fd_count();
    {
        fault_env env{21, "reset"};
        runtime rt{quiet_runtime()};
        rt.run([&rt]() -> task<void> {
            auto server = tcp::server::bind(ringlet::test::loopback4());
            CO_ASSERT_OK(server);
            const net::address where = server->local_address();
            task_group group;
            group.spawn(server->serve([](tcp::stream conn) -> task<void> {
                for (int i = 0; i < 100; ++i) {
                    auto got = co_await conn.receive(2s);
                    if (!got || got->empty()) break;
                    auto sent = co_await conn.write_all(got->bytes(), 2s);
                    if (!sent) break;
                }
                (void)co_await conn.close();
            }));
            int echoed = 0;
            int reset = 0;
            for (int i = 0; i < 40; ++i) {
                auto c = co_await tcp::connect(where, {.timeout = 2s});
                CO_ASSERT_OK(c);
                const std::string text = "hello " + std::to_string(i);
                std::error_code error;
                auto w = co_await c->write_all(text, 2s);
                if (!w) error = w.error();
                std::string back(text.size(), '\0');
                if (!error) {
                    auto r = co_await c->read_exact(std::span<char>{back}, 2s);
                    if (!r) error = r.error();
                }
                if (!error) {
                    EXPECT_EQ(back, text);
                    ++echoed;
                } else {
                    // The client's own reset, or end of stream when the server's side was reset.
                    EXPECT_TRUE(error == std::errc::connection_reset || error == errc::end_of_stream ||
                                error == std::errc::broken_pipe)
                        << error.message();
                    ++reset;
                }
                CO_ASSERT_OK(co_await c->close());
            }
            EXPECT_GT(reset, 0);
            EXPECT_GT(this_faults().stats().resets, 0u);
            rt.request_stop();
            co_await group.wait();
            EXPECT_EQ(server->accepted(), 40u);
        });
    }
    EXPECT_EQ(open_fd_count(), before);
}

// net::stream::receive(): leases on the shard's provided buffers, end of
// stream, timeouts, close with a receive pending, the fallback when every
// buffer is leased out, and a bulk transfer whose checksum matches.
#include "stream_test_support.hpp"

#include <ringlet/core/task_group.hpp>
#include <ringlet/net/receive.hpp>

#include <vector>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

TEST(Receive, LeasesBytesThenEmptyAtEndOfStream) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(co_await a.write_all("hello"));
        auto got = co_await b.receive(2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->text(), "hello");
        got->release();
        EXPECT_TRUE(got->empty());
        CO_ASSERT_OK(co_await a.close());
        auto end = co_await b.receive(2s);
        CO_ASSERT_OK(end);
        EXPECT_TRUE(end->empty());
    });
}

TEST(Receive, TimeoutIsTimedOutAndCloseIsCancelled) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        auto late = co_await b.receive(50ms);
        EXPECT_FALSE(late);
        if (!late) { EXPECT_EQ(late.error(), errc::timed_out); }
        b.set_read_deadline(30ms);
        auto past = co_await b.receive();
        EXPECT_FALSE(past);
        if (!past) { EXPECT_EQ(past.error(), errc::timed_out); }
        b.set_read_deadline(timeout::none());

        task_group g;
        result<net::received> pending = unexpected{errc::not_on_shard};
        g.spawn([](net::stream& s, result<net::received>& out) -> task<void> {
            out = co_await s.receive();
        }(b, pending));
        (void)co_await sleep_for(20ms);
        CO_ASSERT_OK(co_await b.close());
        co_await g.wait();
        EXPECT_FALSE(pending);
        if (!pending) { EXPECT_EQ(pending.error(), errc::operation_canceled); }
    });
}

// More receives than the shard has buffers, each lease held: the ones the
// ring cannot serve read into their own buffers, and every byte arrives.
TEST(Receive, MoreLeasesThanBuffersFallBackWithoutLosingBytes) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        constexpr int n = 160;  // the pool has 128 buffers
        std::vector<std::pair<tcp::stream, tcp::stream>> pairs;
        for (int i = 0; i < n; ++i) pairs.push_back(co_await tcp_pair());
        std::vector<net::received> held;
        for (int i = 0; i < n; ++i) {
            CO_ASSERT_OK(co_await pairs[i].first.write_all("message " + std::to_string(i)));
        }
        for (int i = 0; i < n; ++i) {
            auto got = co_await pairs[i].second.receive(2s);
            CO_ASSERT_OK(got);
            EXPECT_EQ(got->text(), "message " + std::to_string(i));
            held.push_back(std::move(*got));
        }
        // Receives pending while every buffer is leased out, then served.
        task_group g;
        std::vector<std::string> seen(n);
        for (int i = 0; i < n; ++i) {
            g.spawn([](net::stream& s, std::string& out) -> task<void> {
                auto got = co_await s.receive(2s);
                if (got) out = got->text();
            }(pairs[i].second, seen[i]));
        }
        (void)co_await sleep_for(10ms);
        for (int i = 0; i < n; ++i) CO_ASSERT_OK(co_await pairs[i].first.write_all("again " + std::to_string(i)));
        co_await g.wait();
        for (int i = 0; i < n; ++i) EXPECT_EQ(seen[i], "again " + std::to_string(i));
        held.clear();
        for (auto& [c, s] : pairs) {
            CO_ASSERT_OK(co_await c.close());
            CO_ASSERT_OK(co_await s.close());
        }
    });
}

TEST(Receive, BulkTransferChecksumMatches) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        std::string data(8 << 20, '\0');
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 11));
        task_group g;
        g.spawn([](tcp::stream& s, const std::string& d) -> task<void> {
            (void)co_await s.write_all(d);
            (void)co_await s.shutdown(net::shutdown_how::write);
        }(a, data));
        std::uint64_t h = 0xcbf29ce484222325ULL;
        std::size_t total = 0;
        for (int i = 0; i < 100000; ++i) {
            auto got = co_await b.receive(5s);
            CO_ASSERT_OK(got);
            if (got->empty()) break;
            h = fnv1a(got->bytes(), h);
            total += got->size();
        }
        co_await g.wait();
        EXPECT_EQ(total, data.size());
        EXPECT_EQ(h, fnv1a(as_bytes(data)));
    });
}

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

// What arrives while nobody receives waits in the stream's queue: a timed-out
// receive loses nothing, and small pieces sent apart come out joined, in order.
TEST(Receive, BytesArrivingBetweenReceivesQueueAndJoin) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(a.set_nodelay(true));
        auto none = co_await b.receive(20ms);  // arms the multishot recv
        EXPECT_FALSE(none);
        if (!none) { EXPECT_EQ(none.error(), errc::timed_out); }
        for (const char* piece : {"one ", "two ", "three"}) {
            CO_ASSERT_OK(co_await a.write_all(piece));
            (void)co_await sleep_for(5ms);  // separate segments, separate completions
        }
        std::string seen;
        for (int i = 0; i < 3 && seen.size() < 13; ++i) {
            auto got = co_await b.receive(2s);
            CO_ASSERT_OK(got);
            seen += got->text();
        }
        EXPECT_EQ(seen, "one two three");
        CO_ASSERT_OK(co_await a.close());
        auto end = co_await b.receive(2s);
        CO_ASSERT_OK(end);
        EXPECT_TRUE(end->empty());
        auto again = co_await b.receive(2s);  // end of stream stays end of stream
        CO_ASSERT_OK(again);
        EXPECT_TRUE(again->empty());
    });
}

// The armed receive would take bytes from under read_some, so once receive()
// has been used the plain reads are refused rather than racing it; so is a
// second receive() while one waits.
TEST(Receive, ReadSomeAfterReceiveAndTwoReceivesAreRefused) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(co_await a.write_all("x"));
        auto got = co_await b.receive(2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->text(), "x");
        char buf[8];
        auto n = co_await b.read_some(buf, 1s);
        EXPECT_FALSE(n);
        if (!n) { EXPECT_EQ(n.error(), std::errc::device_or_resource_busy); }
        auto exact = co_await b.read_exact(buf, 1s);
        EXPECT_FALSE(exact);

        task_group g;
        result<net::received> first = unexpected{errc::not_on_shard};
        g.spawn([](net::stream& s, result<net::received>& out) -> task<void> { out = co_await s.receive(2s); }(b, first));
        (void)co_await sleep_for(10ms);
        auto second = co_await b.receive(1s);
        EXPECT_FALSE(second);
        if (!second) { EXPECT_EQ(second.error(), std::errc::device_or_resource_busy); }
        CO_ASSERT_OK(co_await a.write_all("y"));
        co_await g.wait();
        CO_ASSERT_OK(first);
        EXPECT_EQ(first->text(), "y");
    });
}

// A stream moved after its first receive keeps receiving; one destroyed with
// its receive armed (and bytes queued) frees everything (ASan checks) and the
// peer sees the connection end.
TEST(Receive, MovedAndDestroyedStreamsWithArmedReceive) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(co_await a.write_all("before"));
        auto got = co_await b.receive(2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->text(), "before");
        tcp::stream moved = std::move(b);
        CO_ASSERT_OK(co_await a.write_all("after"));
        auto later = co_await moved.receive(2s);
        CO_ASSERT_OK(later);
        EXPECT_EQ(later->text(), "after");
        CO_ASSERT_OK(co_await a.write_all("queued, never taken"));
        (void)co_await sleep_for(10ms);
        { tcp::stream gone = std::move(moved); }  // destroyed: receive armed, bytes queued
        char buf[16];
        auto end = co_await a.read_some(buf, 2s);
        CO_ASSERT_OK(end);  // a FIN: the receiver had taken those bytes off the socket
        EXPECT_EQ(*end, 0u);
    });
}

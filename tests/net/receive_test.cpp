// net::stream::receive() in both receive modes (readiness and multishot):
// leases, end of stream, timeouts, close with a receive pending, more leases
// held than the provided-buffer ring has, a bulk transfer whose checksum
// matches; readiness mode's read sizes (64 KiB, 256 KiB after a full read)
// and its reads for woken waiters; and net::stream::try_write.
#include "stream_test_support.hpp"

#include "core/shard.hpp"

#include <ringlet/core/task_group.hpp>
#include <ringlet/net/receive.hpp>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <string>
#include <vector>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

class ReceiveModes : public ::testing::TestWithParam<net::receive_mode> {};

}  // namespace

TEST_P(ReceiveModes, LeasesBytesThenEmptyAtEndOfStream) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
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

TEST_P(ReceiveModes, TimeoutIsTimedOutAndCloseIsCancelled) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
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
TEST_P(ReceiveModes, MoreLeasesThanBuffersFallBackWithoutLosingBytes) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        constexpr int n = 160;  // the pool has 128 buffers
        std::vector<std::pair<tcp::stream, tcp::stream>> pairs;
        for (int i = 0; i < n; ++i) {
            pairs.push_back(co_await tcp_pair());
            CO_ASSERT_OK(pairs.back().second.set_receive_mode(mode));
        }
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
        // Still every ring buffer leased: the receives re-arm on an empty
        // ring, with bytes already waiting in the socket (not end of stream).
        for (int i = 0; i < n; ++i) CO_ASSERT_OK(co_await pairs[i].first.write_all("third " + std::to_string(i)));
        (void)co_await sleep_for(10ms);
        for (int i = 0; i < n; ++i) {
            auto got = co_await pairs[i].second.receive(2s);
            CO_ASSERT_OK(got);
            EXPECT_EQ(got->text(), "third " + std::to_string(i));
        }
        held.clear();
        for (auto& [c, s] : pairs) {
            CO_ASSERT_OK(co_await c.close());
            CO_ASSERT_OK(co_await s.close());
        }
    });
}

TEST_P(ReceiveModes, BulkTransferChecksumMatches) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
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
TEST_P(ReceiveModes, BytesArrivingBetweenReceivesQueueAndJoin) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
        CO_ASSERT_OK(a.set_nodelay(true));
        auto none = co_await b.receive(20ms);  // arms the multishot poll or recv
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
TEST_P(ReceiveModes, ReadSomeAfterReceiveAndTwoReceivesAreRefused) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
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
TEST_P(ReceiveModes, MovedAndDestroyedStreamsWithArmedReceive) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
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
        { tcp::stream gone = std::move(moved); }  // destroyed with its receive armed
        char buf[16];
        auto end = co_await a.read_some(buf, 2s);
        // The epoll backend has no buffer rings: a multishot receiver
        // receives as the readiness one does, which reads nothing ahead.
        if (mode == net::receive_mode::multishot && !on_epoll_backend()) {
            CO_ASSERT_OK(end);  // a FIN: the receiver had taken those bytes off the socket
            EXPECT_EQ(*end, 0u);
        } else {
            // The bytes were still unread in the socket: closing it resets the connection.
            EXPECT_FALSE(end);
            if (!end) { EXPECT_EQ(end.error(), std::errc::connection_reset); }
        }
    });
}

// The peer sends more than one receive takes, then its FIN, all while nobody
// receives: the receives that follow yield every byte and then the end of
// stream (the FIN is announced once, before the bytes in front of it are read).
TEST_P(ReceiveModes, EndOfStreamBehindQueuedBytesIsSeen) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        CO_ASSERT_OK(b.set_receive_mode(mode));
        auto none = co_await b.receive(10ms);  // arms the poll or recv
        EXPECT_FALSE(none);
        const std::string data(100 * 1024, 'd');
        CO_ASSERT_OK(co_await a.write_all(data));
        CO_ASSERT_OK(co_await a.shutdown(net::shutdown_how::write));
        (void)co_await sleep_for(20ms);  // the completions for bytes and FIN arrive unasked
        std::size_t total = 0;
        bool ended = false;
        for (int i = 0; i < 100 && !ended; ++i) {
            auto got = co_await b.receive(1s);
            CO_ASSERT_OK(got);
            total += got->size();
            ended = got->empty();
        }
        EXPECT_TRUE(ended);
        EXPECT_EQ(total, data.size());
    });
}

// A peer that resets the connection (SO_LINGER 0) while a receive waits, and
// one that resets behind bytes it sent: the bytes first, then
// connection_reset; never a hang.
TEST_P(ReceiveModes, ResetByPeerIsConnectionReset) {
    const net::receive_mode mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        const linger abort_on_close{1, 0};
        {
            auto [a, b] = co_await tcp_pair();
            CO_ASSERT_OK(b.set_receive_mode(mode));
            task_group g;
            result<net::received> waiting = unexpected{errc::not_on_shard};
            g.spawn([](net::stream& s, result<net::received>& out) -> task<void> { out = co_await s.receive(2s); }(
                b, waiting));
            (void)co_await sleep_for(10ms);
            CO_ASSERT_OK(a.socket().set_option(SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close));
            CO_ASSERT_OK(co_await a.close());
            co_await g.wait();
            EXPECT_FALSE(waiting);
            if (!waiting) { EXPECT_EQ(waiting.error(), std::errc::connection_reset); }
        }
        {
            auto [a, b] = co_await tcp_pair();
            CO_ASSERT_OK(b.set_receive_mode(mode));
            CO_ASSERT_OK(co_await a.write_all("last words"));
            (void)co_await sleep_for(10ms);
            CO_ASSERT_OK(a.socket().set_option(SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close));
            CO_ASSERT_OK(co_await a.close());
            (void)co_await sleep_for(10ms);
            auto words = co_await b.receive(2s);
            CO_ASSERT_OK(words);
            EXPECT_EQ(words->text(), "last words");
            auto reset = co_await b.receive(2s);
            EXPECT_FALSE(reset);
            if (!reset) { EXPECT_EQ(reset.error(), std::errc::connection_reset); }
        }
    });
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveModes,
                         ::testing::Values(net::receive_mode::readiness, net::receive_mode::multishot),
                         [](const auto& p) { return p.param == net::receive_mode::readiness ? "Readiness" : "Multishot"; });

TEST(Receive, ModeIsChosenBeforeTheFirstReceive) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        EXPECT_EQ(b.get_receive_mode(), net::receive_mode::readiness);
        CO_ASSERT_OK(b.set_receive_mode(net::receive_mode::multishot));
        EXPECT_EQ(b.get_receive_mode(), net::receive_mode::multishot);
        CO_ASSERT_OK(co_await a.write_all("z"));
        auto got = co_await b.receive(2s);
        CO_ASSERT_OK(got);
        auto late = b.set_receive_mode(net::receive_mode::readiness);
        EXPECT_FALSE(late);
        if (!late) { EXPECT_EQ(late.error(), std::errc::device_or_resource_busy); }
        tcp::stream moved = std::move(b);
        EXPECT_EQ(moved.get_receive_mode(), net::receive_mode::multishot);
    });
}

// A readiness receive reads only when asked: what the peer sends while nobody
// receives stays in the socket (the kernel's flow control holds the sender
// back) instead of piling up in the process.
TEST(Receive, ReadinessLeavesUnaskedBytesInTheSocket) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        auto none = co_await b.receive(10ms);  // arms the poll
        EXPECT_FALSE(none);
        CO_ASSERT_OK(co_await a.write_all("unasked"));
        (void)co_await sleep_for(20ms);  // the poll's completion has arrived
        int queued = 0;
        EXPECT_EQ(::ioctl(b.socket().fd(), FIONREAD, &queued), 0);
        EXPECT_EQ(queued, 7);
        auto got = co_await b.receive(2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->text(), "unasked");
    });
}

namespace {

/// Waits (up to 2 s) until `fd` has at least `bytes` queued; yields what it has.
task<int> queued_at_least(int fd, int bytes) {
    int queued = 0;
    for (int i = 0; i < 200; ++i) {
        if (::ioctl(fd, FIONREAD, &queued) != 0 || queued >= bytes) break;
        (void)co_await sleep_for(10ms);
    }
    co_return queued;
}

}  // namespace

// Readiness mode sizes its reads to the stream: a read takes at most 68 KiB
// until one has taken that much, then up to 260 KiB (so a bulk stream needs
// a quarter of the reads and sends); a read that takes less than 4 KiB
// goes back to 68 KiB. Every byte arrives, in order. (The sizes are
// src/net/stream_receiver.hpp's kSpareSize and kLargeSpareSize.)
TEST(Receive, ReadinessReadsGrowAfterAFull64KiBReadAndShrinkBack) {
    runtime rt{quiet_runtime()};
    std::string skip;
    rt.run([&skip]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        const int big = 1 << 20;  // capped by net.core.rmem_max: the kernel holds a few hundred KiB
        EXPECT_EQ(::setsockopt(b.socket().fd(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big), 0);
        std::string data(1 << 20, '\0');
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 11));
        task_group g;
        g.spawn([](tcp::stream& s, const std::string& d) -> task<void> { (void)co_await s.write_all(d, 10s); }(a, data));
        constexpr int small = 68 * 1024;
        constexpr int large = 260 * 1024;
        const int before_first = co_await queued_at_least(b.socket().fd(), 2 * small + 4096);
        if (before_first <= 2 * small) {
            g.request_stop();
            co_await g.wait();
            skip = "the kernel queued only " + std::to_string(before_first) + " bytes (net.core.rmem_max too small)";
            co_return;
        }
        std::string seen;
        std::vector<std::size_t> sizes;
        while (seen.size() < data.size()) {
            auto got = co_await b.receive(5s);
            CO_ASSERT_OK(got);
            CO_ASSERT_FALSE(got->empty());
            sizes.push_back(got->size());
            seen.append(got->text());
        }
        co_await g.wait();
        EXPECT_TRUE(seen == data) << "the bytes differ";
        CO_ASSERT_TRUE(sizes.size() >= 2u);
        EXPECT_EQ(sizes[0], std::size_t{small});  // the first read: 68 KiB, full
        EXPECT_GT(sizes[1], std::size_t{small});  // then a larger one
        for (std::size_t n : sizes) EXPECT_LE(n, std::size_t{large});
        // A short read (less than 4 KiB) makes the next read 68 KiB again.
        CO_ASSERT_OK(co_await a.write_all("short"));
        auto got = co_await b.receive(5s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->text(), "short");
        got->release();
        g.spawn([](tcp::stream& s, const std::string& d) -> task<void> { (void)co_await s.write_all(d, 10s); }(a, data));
        const int before_again = co_await queued_at_least(b.socket().fd(), small + 4096);
        CO_ASSERT_TRUE(before_again >= small + 4096);
        auto again = co_await b.receive(5s);
        CO_ASSERT_OK(again);
        EXPECT_EQ(again->size(), std::size_t{small});
        again->release();
        std::size_t rest = data.size() - small;
        while (rest > 0) {
            auto more = co_await b.receive(5s);
            CO_ASSERT_OK(more);
            CO_ASSERT_FALSE(more->empty());
            rest -= std::min(rest, more->size());
        }
        co_await g.wait();
    });
    if (!skip.empty()) GTEST_SKIP() << skip;
}

// Waits woken by readiness in the same loop turn each read their own
// stream's bytes (from the ready queue, right before their task runs) and
// leave no deadline behind; a wait that times out leaves none either.
TEST(Receive, WokenWaitsReadTheirOwnBytesAndLeaveNoDeadlineQueued) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        constexpr int n = 64;
        std::vector<std::pair<tcp::stream, tcp::stream>> pairs;
        for (int i = 0; i < n; ++i) pairs.push_back(co_await tcp_pair());
        auto& timers = ringlet::detail::shard::current()->timers();
        const std::size_t idle_deadlines = timers.size();
        task_group g;
        std::vector<std::string> seen(n);
        for (int i = 0; i < n; ++i) {
            g.spawn([](net::stream& s, std::string& out) -> task<void> {
                auto got = co_await s.receive(60s);
                if (!got) co_return;
                out = got->text();
                (void)co_await s.write_all(got->bytes());  // echoed while the lease is held
            }(pairs[i].second, seen[i]));
        }
        (void)co_await sleep_for(10ms);  // every task waits, each with its deadline queued
        EXPECT_EQ(timers.size(), idle_deadlines + n);
        // One write each, back to back: the polls' completions arrive together.
        for (int i = 0; i < n; ++i) {
            const std::string message = "to " + std::to_string(i);
            auto sent = pairs[i].first.try_write(as_bytes(message));
            CO_ASSERT_OK(sent);
            CO_ASSERT_EQ(*sent, message.size());
        }
        co_await g.wait();
        EXPECT_EQ(timers.size(), idle_deadlines);
        for (int i = 0; i < n; ++i) {
            const std::string want = "to " + std::to_string(i);
            EXPECT_EQ(seen[i], want);
            std::string echo(want.size(), '\0');  // read_exact: a short read (fault injection) is legal
            CO_ASSERT_OK(co_await pairs[i].first.read_exact(std::span<char>{echo}, 2s));
            EXPECT_EQ(echo, want);
        }
        auto none = co_await pairs[0].second.receive(10ms);
        CO_ASSERT_FALSE(none);
        EXPECT_EQ(none.error(), errc::timed_out);
        EXPECT_EQ(timers.size(), idle_deadlines);
    });
}

// try_write sends what fits without waiting, says would-block when nothing
// fits, and reports a closed stream and a vanished peer as errors.
TEST(TryWrite, SendsWhatFitsThenWouldBlockThenErrors) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [a, b] = co_await tcp_pair();
        const std::string hello = "hello";
        auto n = a.try_write(as_bytes(hello));
        CO_ASSERT_OK(n);
        EXPECT_EQ(*n, hello.size());
        auto got = co_await b.receive(2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->text(), "hello");
        got->release();

        // Nobody reads b: a's send buffer and b's receive buffer fill up.
        const std::string chunk(256 * 1024, 'x');
        std::size_t sent = 0;
        result<std::size_t> last = 0u;
        for (int i = 0; i < 10000; ++i) {
            last = a.try_write(as_bytes(chunk));
            if (!last) break;
            sent += *last;
        }
        EXPECT_FALSE(last);
        if (!last) { EXPECT_EQ(last.error(), std::errc::operation_would_block); }
        EXPECT_GT(sent, 0u);

        CO_ASSERT_OK(co_await b.close());  // unread bytes: the peer is reset
        (void)co_await sleep_for(20ms);
        auto gone = a.try_write(as_bytes(hello));
        EXPECT_FALSE(gone);
        if (!gone) {
            EXPECT_TRUE(gone.error() == std::errc::connection_reset || gone.error() == std::errc::broken_pipe)
                << gone.error().message();
        }
        CO_ASSERT_OK(co_await a.close());
        auto closed = a.try_write(as_bytes(hello));
        EXPECT_FALSE(closed);
        if (!closed) { EXPECT_EQ(closed.error(), std::errc::bad_file_descriptor); }
    });
}

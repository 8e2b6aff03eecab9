// net::listener: multishot accept, its queue and FIFO of waiters, timeouts,
// close and destruction while armed, runtime stop, and EMFILE recovery.
#include "stream_test_support.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::loopback4;
using ringlet::test::quiet_runtime;

namespace {

/// Waits (bounded) until the listener has queued `n` connections.
task<bool> until_queued(tcp::listener& lst, std::size_t n) {
    for (int i = 0; i < 500 && lst.base().queued() < n; ++i) (void)co_await sleep_for(2ms);
    co_return lst.base().queued() >= n;
}

}  // namespace

TEST(Listener, AcceptTimesOutAndALaterConnectionIsNotLost) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        const auto start = clock::now();
        auto none = co_await lst->accept(25ms);
        CO_ASSERT_FALSE(none);
        EXPECT_EQ(none.error(), errc::timed_out);
        EXPECT_GE(clock::now() - start, 25ms);
        EXPECT_TRUE(lst->base().multishot());

        auto c = co_await tcp::connect(*lst->local_address());
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        EXPECT_EQ(*s->peer_address(), *c->local_address());
        auto past = co_await lst->accept(clock::now() - 1s);  // an expired deadline with nothing queued
        CO_ASSERT_FALSE(past);
        EXPECT_EQ(past.error(), errc::timed_out);
    });
}

TEST(Listener, ConnectionsWithoutAWaiterAreQueuedAndHandedOutAtOnce) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        (void)co_await lst->accept(1ms);  // arms the multishot accept
        std::vector<tcp::stream> clients;
        for (int i = 0; i < 5; ++i) {
            auto c = co_await tcp::connect(where);
            CO_ASSERT_OK(c);
            clients.push_back(std::move(*c));
        }
        CO_ASSERT_TRUE(co_await until_queued(*lst, 5));
        EXPECT_EQ(lst->base().queued(), 5u);
        for (int i = 0; i < 5; ++i) {
            auto s = co_await lst->accept(clock::now() - 1s);  // queued: no waiting, so no timeout either
            CO_ASSERT_OK(s);
            EXPECT_EQ(*s->peer_address(), *clients[i].local_address());
        }
        EXPECT_EQ(lst->base().queued(), 0u);
    });
}

TEST(Listener, WaitersAreServedInTheOrderTheyCame) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        std::vector<net::address> peers(3);
        task_group group;
        for (int i = 0; i < 3; ++i) {
            group.spawn([](tcp::listener& l, net::address& out) -> task<void> {
                auto s = co_await l.accept(5s);
                CO_ASSERT_OK(s);
                out = *s->peer_address();
            }(*lst, peers[i]));
        }
        co_await yield();
        std::vector<tcp::stream> clients;
        for (int i = 0; i < 3; ++i) {
            auto c = co_await tcp::connect(where);
            CO_ASSERT_OK(c);
            clients.push_back(std::move(*c));
            for (int k = 0; k < 200 && peers[i].port() == 0; ++k) (void)co_await sleep_for(1ms);
        }
        co_await group.wait();
        for (int i = 0; i < 3; ++i) EXPECT_EQ(peers[i], *clients[i].local_address()) << "waiter " << i;
    });
}

TEST(Listener, AcceptIsCancelledByAStopAndLosesNoConnection) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        task_group group;
        result<tcp::stream> r = unexpected{errc::invalid_argument};
        group.spawn([](tcp::listener& l, result<tcp::stream>& out) -> task<void> {
            out = co_await l.accept(1h);  // the timer must go when the stop comes
        }(*lst, r));
        co_await yield();
        group.request_stop();
        co_await group.wait();
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::operation_canceled);

        auto c = co_await tcp::connect(*lst->local_address());
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
    });
}

TEST(Listener, CloseFailsWaitersClosesQueuedConnectionsAndTheSocket) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        (void)co_await lst->accept(1ms);
        auto queued_client = co_await tcp::connect(where);
        CO_ASSERT_OK(queued_client);
        CO_ASSERT_TRUE(co_await until_queued(*lst, 1));

        // Now nothing is queued for the next waiter: it waits until close().
        auto taken = co_await lst->accept(2s);
        CO_ASSERT_OK(taken);
        task_group group;
        result<tcp::stream> waiting = unexpected{errc::invalid_argument};
        group.spawn([](tcp::listener& l, result<tcp::stream>& out) -> task<void> {
            out = co_await l.accept(5s);
        }(*lst, waiting));
        co_await yield();
        auto late_client = co_await tcp::connect(where);  // goes to the waiter or the queue
        CO_ASSERT_OK(late_client);

        CO_ASSERT_OK(co_await lst->close());
        co_await group.wait();
        EXPECT_FALSE(lst->is_open());
        if (!waiting) {
            EXPECT_EQ(waiting.error(), errc::operation_canceled);
            // The connection that nobody accepted was closed: its client sees EOF or a reset.
            char c;
            auto r = co_await late_client->read_some(std::span{&c, 1}, 2s);
            EXPECT_TRUE(!r ? r.error() == std::errc::connection_reset : *r == 0u);
        }
        auto after = co_await lst->accept(1s);
        CO_ASSERT_FALSE(after);
        EXPECT_EQ(after.error(), std::errc::bad_file_descriptor);
        CO_ASSERT_OK(co_await lst->close());
        auto refused = co_await tcp::connect(where, {.timeout = 2s});
        CO_ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error(), std::errc::connection_refused);
    });
}

TEST(Listener, QueueLimitLeavesTheRestInTheBacklog) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        (void)co_await lst->accept(1ms);
        constexpr std::size_t extra = 40;
        std::vector<tcp::stream> clients;
        for (std::size_t i = 0; i < net::listener::queue_limit + extra; ++i) {
            auto c = co_await tcp::connect(where, {.timeout = 2s});
            CO_ASSERT_OK(c);
            clients.push_back(std::move(*c));
        }
        CO_ASSERT_TRUE(co_await until_queued(*lst, net::listener::queue_limit));
        (void)co_await sleep_for(20ms);
        EXPECT_LT(lst->base().queued(), net::listener::queue_limit + extra);
        for (std::size_t i = 0; i < clients.size(); ++i) {
            auto s = co_await lst->accept(2s);
            CO_ASSERT_OK(s);
        }
        auto none = co_await lst->accept(10ms);
        CO_ASSERT_FALSE(none);
        EXPECT_EQ(none.error(), errc::timed_out);
    });
}

TEST(Listener, DestroyingAnArmedListenerLeaksNothing) {
    const std::size_t before = ringlet::test::open_fd_count();
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        net::address where;
        {
            auto lst = tcp::listen(loopback4());
            CO_ASSERT_OK(lst);
            where = *lst->local_address();
            (void)co_await lst->accept(1ms);  // the multishot stays armed
            auto c = co_await tcp::connect(where);
            CO_ASSERT_OK(c);
            CO_ASSERT_TRUE(co_await until_queued(*lst, 1));
            tcp::listener moved = std::move(*lst);  // moving an armed listener is fine
            EXPECT_EQ(moved.base().queued(), 1u);
        }
        (void)co_await sleep_for(5ms);  // the orphaned multishot's last completion
        auto refused = co_await tcp::connect(where, {.timeout = 2s});
        CO_ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error(), std::errc::connection_refused);
    });
    EXPECT_EQ(ringlet::test::open_fd_count(), before);
}

TEST(Listener, RuntimeStopEndsAPendingAcceptAndTheArmedMultishot) {
    runtime rt{quiet_runtime()};
    result<tcp::stream> outcome = unexpected{errc::invalid_argument};
    rt.run([&]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        // Spawned tasks run under the shard's root token; returning from the
        // entry stops the runtime, which must end this accept.
        spawn([](tcp::listener l, result<tcp::stream>& out) -> task<void> {
            out = co_await l.accept();
        }(std::move(*lst), outcome));
        co_await yield();
    });
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error(), errc::operation_canceled);
}

// Out of descriptors, accept reports EMFILE, keeps the connection in the
// backlog, and accepts it once a descriptor is free again. In a child
// process, whose RLIMIT_NOFILE can be lowered safely.
TEST(Listener, AcceptReportsEmfileAndRecovers) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 0;
        try {
            runtime rt{quiet_runtime()};
            code = rt.run([]() -> task<int> {
                auto lst = tcp::listen(loopback4());
                if (!lst) co_return 10;
                const auto where = *lst->local_address();
                auto client = net::socket::open(AF_INET, SOCK_STREAM);
                if (!client) co_return 11;
                const rlimit low{ringlet::test::open_fd_count() + 4, ringlet::test::open_fd_count() + 4};
                if (::setrlimit(RLIMIT_NOFILE, &low) != 0) co_return 12;
                std::vector<net::socket> filler;
                for (int i = 0; i < 64; ++i) {
                    auto s = net::socket::open(AF_INET, SOCK_STREAM);
                    if (!s) break;
                    filler.push_back(std::move(*s));
                }
                if (filler.empty() || filler.size() == 64) co_return 13;
                auto connected = co_await client->connect(where, 2s);
                if (!connected) co_return 14;
                auto failed = co_await lst->accept(2s);
                if (failed || failed.error() != std::errc::too_many_files_open) co_return 15;
                filler.pop_back();
                auto ok = co_await lst->accept(2s);
                if (!ok) co_return 16;
                co_return 0;
            });
        } catch (...) {
            code = 20;
        }
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's exit code names the failed step";
}

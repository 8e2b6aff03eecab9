// tcp::serve / tcp::server: one listener per shard, one task per connection,
// a held port fails loudly, and accept surviving EMFILE (in a child process
// with a low RLIMIT_NOFILE) while existing connections keep being served.
#include "stream_test_support.hpp"

#include <ringlet/core/task_group.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::loopback4;
using ringlet::test::quiet_runtime;

namespace {

task<void> echo(tcp::stream conn) {
    for (int i = 0; i < 1000; ++i) {
        auto got = co_await conn.receive();
        if (!got || got->empty()) break;
        auto sent = co_await conn.write_all(got->bytes());
        if (!sent) break;
    }
    (void)co_await conn.close();
}

/// Sends `text` and reads it back; true when it matches.
task<bool> round_trip(net::stream& s, std::string text) {
    auto sent = co_await s.write_all(text, 2s);
    if (!sent) co_return false;
    std::string back(text.size(), '\0');
    auto r = co_await s.read_exact(std::span<char>{back}, 2s);
    co_return r && back == text;
}

}  // namespace

TEST(Serve, EveryShardServesAndAHeldPortFailsLoudly) {
    runtime rt{quiet_runtime(2)};
    rt.run([&rt]() -> task<void> {
        auto holder = tcp::listen(loopback4());  // no SO_REUSEPORT: the port is taken
        CO_ASSERT_OK(holder);
        auto taken = tcp::server::bind(*holder->local_address());
        CO_ASSERT_FALSE(taken);
        EXPECT_EQ(taken.error(), std::errc::address_in_use);

        auto server = tcp::server::bind(loopback4());
        CO_ASSERT_OK(server);
        const net::address where = server->local_address();
        EXPECT_NE(where.port(), 0);

        task_group group;
        group.spawn(server->serve(&echo));
        std::vector<tcp::stream> clients;
        for (int i = 0; i < 16; ++i) {
            auto c = co_await tcp::connect(where, {.timeout = 2s});
            CO_ASSERT_OK(c);
            clients.push_back(std::move(*c));
        }
        for (int i = 0; i < 16; ++i) {
            const bool ok = co_await round_trip(clients[i], "hello " + std::to_string(i));
            EXPECT_TRUE(ok) << "client " << i;
        }
        for (auto& c : clients) CO_ASSERT_OK(co_await c.close());
        rt.request_stop();
        co_await group.wait();
        EXPECT_EQ(server->accepted(), 16u);
    });
}

// Out of descriptors, the server backs off, complains at most about once a
// second, keeps echoing on the connection it has, and accepts the waiting
// connection once a descriptor is free. In a child process, whose
// RLIMIT_NOFILE can be lowered safely; its stderr goes to a memfd we read.
TEST(Serve, AcceptSurvivesEmfileAndKeepsServing) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 0;
        try {
            const int log = ::memfd_create("serve-stderr", 0);
            if (log < 0 || ::dup2(log, STDERR_FILENO) < 0) ::_exit(9);
            runtime rt{quiet_runtime()};
            code = rt.run([&rt, log]() -> task<int> {
                // Lowered before the first accept is armed: the kernel takes
                // the limit when an accept is submitted.
                const rlimit low{ringlet::test::open_fd_count() + 16, ringlet::test::open_fd_count() + 16};
                if (::setrlimit(RLIMIT_NOFILE, &low) != 0) co_return 14;
                auto server = tcp::server::bind(loopback4());
                if (!server) co_return 10;
                const auto where = server->local_address();
                task_group group;
                group.spawn(server->serve(&echo));
                auto first = co_await tcp::connect(where, {.timeout = 2s});
                if (!first) co_return 11;
                const bool before = co_await round_trip(*first, "before");
                if (!before) co_return 12;
                auto second = net::socket::open(AF_INET, SOCK_STREAM);
                if (!second) co_return 13;
                std::vector<net::socket> filler;
                for (int i = 0; i < 64; ++i) {
                    auto s = net::socket::open(AF_INET, SOCK_STREAM);
                    if (!s) break;
                    filler.push_back(std::move(*s));
                }
                if (filler.empty() || filler.size() == 64) co_return 15;
                auto connected = co_await second->connect(where, 2s);
                if (!connected) co_return 16;
                // Accept now fails (EMFILE) for 1.5 s; the first connection is still served.
                for (int i = 0; i < 15; ++i) {
                    (void)co_await sleep_for(100ms);
                    const bool during = co_await round_trip(*first, "during " + std::to_string(i));
                    if (!during) co_return 17;
                }
                if (server->accepted() != 0 || server->accept_errors() != 0) co_return 18;  // summed at the end
                filler.clear();
                tcp::stream late{std::move(*second)};
                const bool after = co_await round_trip(late, "after");
                if (!after) co_return 19;
                rt.request_stop();
                co_await group.wait();
                if (server->accepted() != 2) co_return 20;
                if (server->accept_errors() < 3) co_return 40 + static_cast<int>(server->accept_errors());  // it did retry
                // Complaints: at least one, at most one a second (+1 for the edges).
                char text[4096] = {};
                const ssize_t n = ::pread(log, text, sizeof text - 1, 0);
                if (n <= 0) co_return 22;
                const std::string_view said(text, static_cast<std::size_t>(n));
                if (said.find("Too many open files") == std::string_view::npos) co_return 23;
                // Only the complaints count: out of descriptors, a sanitizer
                // runtime may add reports of its own to the same stderr.
                std::size_t lines = 0;
                for (std::size_t at = said.find("Too many open files"); at != std::string_view::npos;
                     at = said.find("Too many open files", at + 1)) {
                    ++lines;
                }
                if (lines < 1 || lines > 3) co_return 24;
                co_return 0;
            });
        } catch (...) {
            code = 30;
        }
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's exit code names the failed step";
}

// --- the defaults every served connection gets (net::connection_limits) ------

namespace {

/// What a handler saw: the error that ended its read or write.
struct outcome {
    std::error_code error;
    clock::duration after{};
    bool done = false;
};

/// Serves one server on the current shard with `limits` and `handle` until
/// `body` (given the address) returns; then stops it and yields refused().
template <class Body>
task<std::uint64_t> with_server(net::connection_limits limits, tcp::handler handle, Body body) {
    auto server = tcp::server::bind(loopback4(), {.shards = 1, .limits = limits});
    CO_ASSERT_OK(server);
    task_group group;
    group.spawn(server->serve(std::move(handle)));
    co_await body(server->local_address());
    group.request_stop();
    co_await group.wait();
    co_return server->refused();
}

}  // namespace

// Slowloris: a partial line, then silence. The handler reads lines with no
// timeout of its own; the idle timeout ends the read with errc::timed_out,
// the handler closes, and the client sees the end of the stream.
TEST(ServeLimits, IdleConnectionIsClosedAfterTheIdleTimeout) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        outcome seen;
        auto handle = [&seen](tcp::stream conn) -> task<void> {
            const auto start = clock::now();
            net::buffered_reader in{conn};
            auto line = co_await in.read_line(1024);
            seen.error = line ? std::error_code{} : line.error();
            seen.after = clock::now() - start;
            seen.done = true;
            (void)co_await conn.close();
        };
        co_await with_server({.idle_timeout = 300ms}, handle, [&](net::address where) -> task<void> {
            auto c = co_await tcp::connect(where, {.timeout = 2s});
            CO_ASSERT_OK(c);
            CO_ASSERT_OK(co_await c->write_all("a line without its end", 2s));
            char byte;
            auto end = co_await c->read_some(std::span{&byte, 1}, 3s);
            CO_ASSERT_OK(end);
            EXPECT_EQ(*end, 0u) << "the server closes the idle connection";
        });
        EXPECT_TRUE(seen.done);
        EXPECT_EQ(seen.error, errc::timed_out);
        EXPECT_GE(seen.after, 300ms);
        EXPECT_LT(seen.after, 2s);
    });
}

// The idle timeout bounds each wait for a byte, not the whole request: a
// peer that keeps sending (slower than one line per timeout, faster than one
// byte per timeout) is not cut off.
TEST(ServeLimits, IdleTimeoutCountsFromTheLastByte) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await ringlet::test::tcp_pair();
        server.set_read_timeout(250ms);
        EXPECT_EQ(server.read_timeout(), 250ms);
        task_group trickle;
        trickle.spawn([](tcp::stream& c) -> task<void> {
            for (char ch : std::string_view{"abcdef"}) {
                (void)co_await sleep_for(100ms);
                (void)co_await c.write_all(std::string_view{&ch, 1}, 1s);
            }
        }(client));
        std::string got(6, '\0');
        CO_ASSERT_OK(co_await server.read_exact(std::span<char>{got}));  // 600 ms in all
        EXPECT_EQ(got, "abcdef");
        co_await trickle.wait();
        // Silence: the next read ends after the timeout. An explicit longer
        // limit does not lift it; a shorter one wins.
        char byte;
        const auto start = clock::now();
        auto idle = co_await server.read_some(std::span{&byte, 1}, 10s);
        EXPECT_FALSE(idle);
        if (!idle) { EXPECT_EQ(idle.error(), errc::timed_out); }
        EXPECT_LT(clock::now() - start, 2s);
        auto shorter = co_await server.read_some(std::span{&byte, 1}, 50ms);
        EXPECT_FALSE(shorter);
        server.set_read_timeout(clock::duration::zero());
        CO_ASSERT_OK(co_await client.write_all("z", 1s));
        auto after = co_await server.read_some(std::span{&byte, 1});
        CO_ASSERT_OK(after);
        EXPECT_EQ(byte, 'z');
    });
}

// A client that never reads: the handler's write_all of more than the socket
// buffers hold stops making progress and fails with errc::timed_out after
// the write timeout.
TEST(ServeLimits, NonReadingClientsWriteTimesOut) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        outcome seen;
        auto handle = [&seen](tcp::stream conn) -> task<void> {
            const std::string flood(64 << 20, 'x');
            auto written = co_await conn.write_all(flood);
            seen.error = written ? std::error_code{} : written.error();
            seen.done = true;
            (void)co_await conn.close();
        };
        co_await with_server({.write_timeout = 300ms}, handle, [&](net::address where) -> task<void> {
            auto c = co_await tcp::connect(where, {.timeout = 2s});
            CO_ASSERT_OK(c);
            for (int i = 0; i < 50 && !seen.done; ++i) (void)co_await sleep_for(100ms);
        });
        EXPECT_TRUE(seen.done) << "the write did not time out within 5 s";
        EXPECT_EQ(seen.error, errc::timed_out);
    });
}

// Above max_connections a new connection is reset at once; the ones held
// are still served, and a place freed is taken again.
TEST(ServeLimits, ConnectionsAboveTheCapAreReset) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const auto refused = co_await with_server(
            {.max_connections = 2}, &echo, [&](net::address where) -> task<void> {
                std::vector<tcp::stream> held;
                for (int i = 0; i < 2; ++i) {
                    auto c = co_await tcp::connect(where, {.timeout = 2s});
                    CO_ASSERT_OK(c);
                    const bool echoed = co_await round_trip(*c, "held " + std::to_string(i));
                    EXPECT_TRUE(echoed);
                    held.push_back(std::move(*c));
                }
                auto over = co_await tcp::connect(where, {.timeout = 2s});  // the kernel completes it
                CO_ASSERT_OK(over);
                char byte;
                auto r = co_await over->read_some(std::span{&byte, 1}, 2s);
                EXPECT_FALSE(r) << "read " << (r ? *r : 0) << " bytes";
                if (!r) { EXPECT_EQ(r.error(), std::errc::connection_reset); }
                const bool still = co_await round_trip(held[0], "still served");
                EXPECT_TRUE(still);
                CO_ASSERT_OK(co_await held[1].close());
                (void)co_await sleep_for(50ms);  // the handler sees the end and leaves
                auto again = co_await tcp::connect(where, {.timeout = 2s});
                CO_ASSERT_OK(again);
                const bool freed = co_await round_trip(*again, "a freed place");
                EXPECT_TRUE(freed);
            });
        EXPECT_EQ(refused, 1u);
    });
}

// Defaults are on: nginx's 60 s / 60 s and 10,000 per shard.
TEST(ServeLimits, DefaultsAreOn) {
    const tcp::serve_options o{};
    EXPECT_EQ(o.limits.idle_timeout, 60s);
    EXPECT_EQ(o.limits.write_timeout, 60s);
    EXPECT_EQ(o.limits.max_connections, 10'000u);
    const net::stream plain;
    EXPECT_EQ(plain.read_timeout(), clock::duration::zero());
    EXPECT_EQ(plain.write_timeout(), clock::duration::zero());
}

// After a burst, the caches give their memory back: the frame pool keeps
// nothing once release_cached_memory() ran (the gate calls it when its
// connections fall to half of a peak of at least 64).
TEST(ServeLimits, ReleaseCachedMemoryEmptiesTheFramePool) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        task_group burst;
        for (int i = 0; i < 1000; ++i) burst.spawn([]() -> task<void> { (void)co_await sleep_for(1ms); }());
        co_await burst.wait();
        EXPECT_GT(this_thread_frame_pool_stats().cached_bytes, 0u);
        const std::size_t freed = net::release_cached_memory();
        EXPECT_GT(freed, 0u);
        EXPECT_EQ(this_thread_frame_pool_stats().cached_bytes, 0u);
    });
}

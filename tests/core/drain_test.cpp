// Graceful stop: the drain token, the drain timeout, a stop requested before
// run(), signals (a second one, SIGHUP's choices), tcp::serve draining, unix
// socket files, and the signal mask of forked children.
#include "test_support.hpp"

#include <ringlet/net/local.hpp>
#include <ringlet/net/tcp.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::open_fd_count;

namespace {

/// A runtime for these tests: `shards` shards, signals left alone unless asked.
runtime_options options_with(unsigned shards, std::chrono::milliseconds drain, bool signals = false) {
    runtime_options o{};
    o.shards = shards;
    o.handle_signals = signals;
    o.drain_timeout = drain;
    return o;
}

/// Sleeps until the shard begins to drain; yields true when it did (rather
/// than being cancelled by a hard stop or waiting an hour).
task<bool> wait_for_drain() {
    auto slept = co_await until_drain([]() -> task<result<void>> { co_return co_await sleep_for(1h); }());
    co_return !slept && this_shard::drain_token().stop_requested();
}

/// Sleeps `d`; yields whether the sleep was cancelled.
task<bool> sleep_canceled(clock::duration d) {
    auto slept = co_await sleep_for(d);
    co_return !slept && slept.error() == errc::operation_canceled;
}

/// Counts in `finished` when it ends on its own 50 ms after the drain began.
task<void> finish_after_drain(std::atomic<int>& finished) {
    const bool drained = co_await wait_for_drain();
    if (!drained) co_return;
    const bool canceled = co_await sleep_canceled(50ms);
    if (!canceled) ++finished;  // well within the drain
}

/// Counts in `canceled` when a stop cancels its hour of sleep.
task<void> count_cancellation(std::atomic<int>& canceled) {
    const bool was_canceled = co_await sleep_canceled(1h);
    if (was_canceled) ++canceled;
}

/// Echoes until the peer's FIN.
task<void> echo(tcp::stream conn) {
    char buf[256];
    for (;;) {
        auto n = co_await conn.read_some(std::span<char>{buf});
        if (!n || *n == 0) break;
        auto written = co_await conn.write_all(std::string_view{buf, *n});
        if (!written) break;
    }
    (void)co_await conn.close();
}

/// Seconds since `start`.
double since(clock::time_point start) { return std::chrono::duration<double>(clock::now() - start).count(); }

/// The path of a fresh, unused unix socket file name under /tmp.
std::string socket_path(const char* tag) {
    return "/tmp/ringlet-drain-" + std::string(tag) + "-" + std::to_string(getpid()) + ".sock";
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

// The race that TSan saw: a stop requested just before run() used to be
// reset by run() and lost. Now it is that run's: it begins already draining.
TEST(Drain, StopRequestedBeforeRunIsThatRunsStop) {
    runtime rt{options_with(2, 10s)};
    rt.request_stop();
    const auto start = clock::now();
    const int seen = rt.run([]() -> task<int> {
        // Applied before the first task of each shard runs.
        const bool drain0 = this_shard::drain_token().stop_requested();
        const bool stop0 = this_shard::stop_token().stop_requested();
        const bool drain1 = co_await submit_to(1, [] { return this_shard::drain_token().stop_requested(); });
        co_return (drain0 ? 1 : 0) + (stop0 ? 10 : 0) + (drain1 ? 100 : 0);
    });
    EXPECT_EQ(seen, 101);  // draining on both shards, nothing cancelled yet
    EXPECT_LT(since(start), 5.0);
    // Consumed: the next run starts afresh.
    const bool draining = rt.run([]() -> task<bool> { co_return this_shard::drain_token().stop_requested(); });
    EXPECT_FALSE(draining);
}

// A stop from another thread racing the start of run() (before it, while
// the shards start, or once they run) is never lost; under TSan, it touches
// nothing run() writes unguarded.
TEST(Drain, StopRacingTheStartOfRunIsNeverLost) {
    runtime rt{options_with(2, 10s)};
    for (int round = 0; round < 20; ++round) {
        std::thread stopper([&] {
            for (int i = 0; i < round % 4; ++i) std::this_thread::yield();
            rt.request_stop();
        });
        const bool drained = rt.run([]() -> task<bool> {
            // At most 5 s: a lost stop fails the test instead of hanging it.
            auto slept = co_await until_drain([]() -> task<result<void>> { co_return co_await sleep_for(5s); }());
            co_return !slept;
        });
        stopper.join();
        EXPECT_TRUE(drained) << "round " << round;
    }
}

TEST(Drain, StopNowRequestedBeforeRunCancelsThatRun) {
    runtime rt{options_with(1, 10s)};
    rt.request_stop_now();
    const bool canceled = rt.run([]() -> task<bool> {
        CO_ASSERT_TRUE(this_shard::stop_token().stop_requested());
        CO_ASSERT_TRUE(this_shard::drain_token().stop_requested());
        co_return co_await sleep_canceled(1h);
    });
    EXPECT_TRUE(canceled);
    EXPECT_TRUE(rt.run([]() -> task<bool> {
        const bool second_canceled = co_await sleep_canceled(1ms);
        co_return !second_canceled;
    }));
}

// Tasks that end within the drain finish untouched; the rest are cancelled
// once drain_timeout has passed, not before.
TEST(Drain, DrainLetsTasksFinishThenCancelsTheRest) {
    runtime rt{options_with(2, 300ms)};
    std::atomic<int> finished{0};
    std::atomic<int> canceled{0};
    std::atomic<double> drained_after{0};
    const auto start = clock::now();
    std::thread stopper([&] {
        std::this_thread::sleep_for(50ms);
        rt.request_stop();
    });
    rt.run_on_all([&](unsigned) -> task<void> {
        spawn(finish_after_drain(finished));
        spawn(count_cancellation(canceled));
        CO_ASSERT_TRUE(co_await wait_for_drain());
        drained_after = since(start);
        CO_ASSERT_FALSE(this_shard::stop_token().stop_requested());
        // The entry waits too: the hard stop comes at the drain deadline.
        CO_ASSERT_TRUE(co_await sleep_canceled(1h));
    });
    stopper.join();
    const double total = since(start);
    EXPECT_EQ(finished, 2);
    EXPECT_EQ(canceled, 2);
    EXPECT_GE(drained_after.load(), 0.04);
    EXPECT_GE(total, 0.3);
    EXPECT_LT(total, 5.0);
}

// When every entry has ended, the rest is cancelled at once, drain or not.
TEST(Drain, EntryEndingDuringTheDrainStopsAtOnce) {
    runtime rt{options_with(2, 30s)};
    std::atomic<int> canceled{0};
    const auto start = clock::now();
    rt.run([&]() -> task<void> {
        co_await invoke_on_all([&] { spawn(count_cancellation(canceled)); });
        rt.request_stop();
        CO_ASSERT_TRUE(co_await wait_for_drain());
    });
    EXPECT_EQ(canceled, 2);
    EXPECT_LT(since(start), 5.0);
}

TEST(Drain, ZeroDrainTimeoutStopsAtOnce) {
    runtime rt{options_with(1, 0ms)};
    const auto start = clock::now();
    const bool canceled = rt.run([&]() -> task<bool> {
        rt.request_stop();
        CO_ASSERT_TRUE(this_shard::drain_token().stop_possible());
        co_return co_await sleep_canceled(1h);
    });
    EXPECT_TRUE(canceled);
    EXPECT_LT(since(start), 5.0);
}

// The first SIGTERM drains, the second cancels at once.
TEST(Drain, SecondSignalStopsAtOnce) {
    runtime rt{options_with(2, 60s, true)};
    const auto start = clock::now();
    const int outcome = rt.run([]() -> task<int> {
        kill(getpid(), SIGTERM);
        const bool drained = co_await wait_for_drain();
        if (!drained) co_return 1;
        if (this_shard::stop_token().stop_requested()) co_return 2;
        kill(getpid(), SIGINT);
        const bool canceled = co_await sleep_canceled(1h);
        co_return canceled ? 0 : 3;
    });
    EXPECT_EQ(outcome, 0);
    EXPECT_LT(since(start), 10.0);
    sigset_t pending;
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGTERM));
    EXPECT_FALSE(sigismember(&pending, SIGINT));
}

TEST(Drain, SighupStopsByDefault) {
    runtime rt{options_with(1, 60s, true)};
    const bool drained = rt.run([]() -> task<bool> {
        kill(getpid(), SIGHUP);
        co_return co_await wait_for_drain();
    });
    EXPECT_TRUE(drained);
}

TEST(Drain, SighupCanBeIgnored) {
    auto o = options_with(1, 60s, true);
    o.sighup = sighup_action::ignore;
    runtime rt{o};
    const int outcome = rt.run([]() -> task<int> {
        kill(getpid(), SIGHUP);
        kill(getpid(), SIGHUP);
        // Signals are read through the ring: 200 ms is plenty for them to arrive and be dropped.
        const bool canceled = co_await sleep_canceled(200ms);
        if (canceled) co_return 1;
        if (this_shard::drain_token().stop_requested()) co_return 2;
        co_return 0;
    });
    EXPECT_EQ(outcome, 0);
    sigset_t pending;
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGHUP));
}

TEST(Drain, SighupCanCallTheApplication) {
    std::atomic<int> calls{0};
    std::atomic<unsigned> called_on{99};
    auto o = options_with(2, 60s, true);
    o.sighup = sighup_action::call;
    o.on_sighup = [&] {
        called_on = this_shard::id();
        ++calls;
    };
    runtime rt{o};
    const int outcome = rt.run([&]() -> task<int> {
        for (int i = 0; i < 2; ++i) {
            const int before = calls;
            kill(getpid(), SIGHUP);
            for (int wait = 0; wait < 500 && calls == before; ++wait) (void)co_await sleep_for(2ms);
        }
        if (this_shard::drain_token().stop_requested()) co_return 2;
        co_return 0;
    });
    EXPECT_EQ(outcome, 0);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(called_on, 0u);
}

TEST(Drain, SighupCallWithoutACallbackIsRejected) {
    auto o = options_with(1, 1s);
    o.sighup = sighup_action::call;
    EXPECT_THROW(runtime{o}, std::invalid_argument);
}

// tcp::serve at a graceful stop: new connections are refused at once, the
// ones it has go on until they end, and then run() returns without waiting
// for the drain timeout.
TEST(Drain, TcpServeStopsAcceptingAndLetsConnectionsFinish) {
    runtime rt{options_with(2, 30s)};
    const auto fds_before = open_fd_count();
    const auto start = clock::now();
    const int outcome = rt.run([&]() -> task<int> {
        auto server = tcp::server::bind(net::address::parse("127.0.0.1:0").value());
        CO_ASSERT_TRUE(server.has_value());
        const net::address where = server->local_address();
        task_group work;
        std::atomic<int> result{-1};
        work.spawn(server->serve(echo));
        auto client = co_await tcp::connect(where);
        CO_ASSERT_TRUE(client.has_value());
        CO_ASSERT_TRUE((co_await client->write_all(std::string_view{"before"})).has_value());
        char got[16] = {};
        CO_ASSERT_TRUE((co_await client->read_exact(std::span<char>{got, 6})).has_value());
        EXPECT_EQ(std::string(got, 6), "before");

        rt.request_stop();
        CO_ASSERT_TRUE(co_await wait_for_drain());
        (void)co_await sleep_for(50ms);  // every shard's listener closes
        auto late = co_await tcp::connect(where, {.timeout = 2s});
        EXPECT_FALSE(late.has_value());
        if (!late) {
            EXPECT_EQ(late.error(), std::errc::connection_refused) << late.error().message();
        }

        // The connection it had still works during the drain.
        CO_ASSERT_TRUE((co_await client->write_all(std::string_view{"during"})).has_value());
        CO_ASSERT_TRUE((co_await client->read_exact(std::span<char>{got, 6})).has_value());
        EXPECT_EQ(std::string(got, 6), "during");
        (void)co_await client->shutdown(net::shutdown_how::write);
        auto eof = co_await client->read_some(std::span<char>{got});
        result = eof && *eof == 0 ? 0 : 1;
        (void)co_await client->close();
        co_await work.wait();  // serve returns once its connection has ended
        co_return result.load();
    });
    EXPECT_EQ(outcome, 0);
    EXPECT_LT(since(start), 10.0);  // not the 30 s drain timeout
    EXPECT_EQ(open_fd_count(), fds_before);
}

// A unix listener's socket file goes on every exit path: closed by a loop
// that drains, or destroyed without close() after the run ended.
TEST(Drain, UnixSocketFileGoesAtAGracefulStop) {
    const std::string closed_path = socket_path("closed");
    const std::string dropped_path = socket_path("dropped");
    ::unlink(closed_path.c_str());
    ::unlink(dropped_path.c_str());
    runtime rt{options_with(1, 10s)};
    bool existed = false;
    rt.run([&]() -> task<void> {
        auto closed = local::listen(net::address::parse("unix:" + closed_path).value());
        auto dropped = local::listen(net::address::parse("unix:" + dropped_path).value());
        CO_ASSERT_TRUE(closed.has_value() && dropped.has_value());
        existed = exists(closed_path) && exists(dropped_path);
        rt.request_stop();
        // The serve loop shape: accept until the drain, then close.
        auto conn = co_await until_drain([&]() -> task<result<local::stream>> { co_return co_await closed->accept(); }());
        EXPECT_FALSE(conn.has_value());
        if (!conn) {
            EXPECT_EQ(conn.error(), errc::operation_canceled);
        }
        (void)co_await closed->close();
        EXPECT_FALSE(exists(closed_path));
    });  // `dropped` is destroyed unclosed
    EXPECT_TRUE(existed);
    EXPECT_FALSE(exists(closed_path));
    EXPECT_FALSE(exists(dropped_path));
}

// Trap (d): a child forked (and exec'd) from a shard thread starts with the
// mask its thread had before the runtime blocked SIGINT/SIGTERM/SIGHUP, so
// it can be stopped; a signal the application itself blocked stays blocked.
TEST(Drain, ForkedChildrenGetTheMaskFromBeforeTheRuntime) {
    sigset_t own, old;
    sigemptyset(&own);
    sigaddset(&own, SIGUSR1);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &own, &old), 0);
    const auto child_mask = []() -> std::string {
        int out[2];
        if (pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
        const pid_t pid = fork();
        if (pid == 0) {
            dup2(out[1], STDOUT_FILENO);
            execl("/bin/grep", "grep", "^SigBlk:", "/proc/self/status", static_cast<char*>(nullptr));
            _exit(127);
        }
        close(out[1]);
        std::string text;
        char buf[256];
        for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
        close(out[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        return text;
    };
    runtime rt{options_with(2, 1s, true)};
    const auto masks = rt.run([&]() -> task<std::vector<std::string>> {
        co_return co_await invoke_on_all([&] { return child_mask(); });
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ASSERT_EQ(masks.size(), 2u);
    for (const std::string& line : masks) {
        ASSERT_EQ(line.rfind("SigBlk:", 0), 0u) << line;
        const unsigned long long blocked = std::strtoull(line.c_str() + 7, nullptr, 16);
        const auto bit = [](int signo) { return 1ull << (signo - 1); };
        EXPECT_EQ(blocked & bit(SIGINT), 0u) << line;
        EXPECT_EQ(blocked & bit(SIGTERM), 0u) << line;
        EXPECT_EQ(blocked & bit(SIGHUP), 0u) << line;
        EXPECT_NE(blocked & bit(SIGUSR1), 0u) << line;  // the application's own stays
    }
}

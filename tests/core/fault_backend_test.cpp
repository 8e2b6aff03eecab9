// The fault-injecting backend decorator (core/fault_backend.hpp): its PRNG
// and settings, that one seed gives one fault sequence, and that each kind
// of fault reaches the callers as specified — byte-preserving ones absorbed
// (no byte lost, duplicated or reordered), ECONNRESET surfaced as an error
// that names it, the small rings' full-SQ and CQ-overflow paths taken.
#include "core/shard.hpp"
#include "core/uring_backend.hpp"
#include "fault_test_support.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;
using ringlet::test::fault_env;
using ringlet::test::socket_pair;
using ringlet::test::this_faults;

namespace {

std::vector<std::byte> pattern(std::size_t n, unsigned salt) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + salt + i / 251) & 0xff);
    return v;
}

/// Writes all of `data` through the ring, looping on short writes.
task<result<void>> write_all(int fd, std::span<const std::byte> data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const std::size_t chunk = std::min<std::size_t>(data.size() - done, 64 * 1024);
        auto n = co_await io::write(fd, data.subspan(done, chunk), 10s);
        if (!n) co_return unexpected{n.error()};
        done += static_cast<std::size_t>(*n);
    }
    co_return result<void>{};
}

/// Reads exactly `size` bytes through the ring in reads of up to 16 KiB.
task<result<std::vector<std::byte>>> read_exactly(int fd, std::size_t size) {
    std::vector<std::byte> out(size);
    std::size_t done = 0;
    while (done < size) {
        const std::size_t chunk = std::min<std::size_t>(size - done, 16 * 1024);
        auto n = co_await io::read(fd, std::span(out).subspan(done, chunk), 10s);
        if (!n) co_return unexpected{n.error()};
        if (*n == 0) co_return unexpected{std::make_error_code(std::errc::connection_aborted)};
        done += static_cast<std::size_t>(*n);
    }
    co_return out;
}

/// 300 sequential round trips of 100 bytes: a fixed sequence of operations.
detail::fault_stats sequential_round_trips(std::uint64_t seed) {
    fault_env env{seed};
    runtime rt{quiet_runtime()};
    return rt.run([]() -> task<detail::fault_stats> {
        socket_pair sp;
        const auto data = pattern(100, 7);
        for (int i = 0; i < 300; ++i) {
            CO_ASSERT_TRUE(co_await write_all(sp.fds[1], data));
            auto got = co_await read_exactly(sp.fds[0], data.size());
            CO_ASSERT_TRUE(got);
            CO_ASSERT_TRUE(*got == data);
        }
        co_return this_faults().stats();
    });
}

}  // namespace

TEST(FaultRng, IsSplitMix64) {
    // The reference sequence of splitmix64 from state 0 (Vigna's splitmix64.c).
    detail::fault_rng rng{0};
    EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);
    EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ULL);
    EXPECT_EQ(rng.next(), 0x06c45d188009454fULL);
    EXPECT_EQ(rng.next(), 0xf88bb8a8724c81ecULL);
}

TEST(FaultSettings, ReadFromTheEnvironment) {
    {
        fault_env env{1234, "reset"};
        const auto s = detail::fault_settings::from_environment();
        ASSERT_TRUE(s.has_value());
        EXPECT_EQ(s->seed, 1234u);
        EXPECT_EQ(s->profile, detail::fault_profile::reset);
    }
    {
        fault_env env{1, "integrity"};
        setenv("RINGLET_FAULT_SEED", "12x", 1);
        try {
            (void)detail::fault_settings::from_environment();
            ADD_FAILURE() << "a malformed seed was accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("RINGLET_FAULT_SEED"), std::string::npos) << e.what();
        }
        setenv("RINGLET_FAULT_SEED", "5", 1);
        setenv("RINGLET_FAULT_PROFILE", "chaos", 1);
        EXPECT_THROW((void)detail::fault_settings::from_environment(), std::invalid_argument);
        unsetenv("RINGLET_FAULT_SEED");
        EXPECT_FALSE(detail::fault_settings::from_environment().has_value());
    }
}

TEST(FaultInjection, SameSeedSameFaults) {
    const detail::fault_stats a = sequential_round_trips(42);
    const detail::fault_stats b = sequential_round_trips(42);
    const detail::fault_stats c = sequential_round_trips(43);
    EXPECT_EQ(a.decision_hash, b.decision_hash);
    EXPECT_EQ(a.submitted, b.submitted);
    EXPECT_EQ(a.interrupted, b.interrupted);
    EXPECT_EQ(a.would_block, b.would_block);
    EXPECT_EQ(a.shortened, b.shortened);
    EXPECT_NE(a.decision_hash, c.decision_hash);
    EXPECT_GT(a.interrupted + a.would_block, 0u);
}

TEST(FaultInjection, StreamBytesSurviveEveryFault) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        SCOPED_TRACE("RINGLET_FAULT_SEED=" + std::to_string(seed));
        fault_env env{seed};
        runtime rt{quiet_runtime()};
        rt.run([]() -> task<void> {
            socket_pair sp;
            const auto data = pattern(768 * 1024, 3);
            task_group group;
            result<void> wrote = unexpected{errc::invalid_argument};
            group.spawn([](int fd, std::span<const std::byte> d, result<void>& out) -> task<void> {
                out = co_await write_all(fd, d);
            }(sp.fds[1], data, wrote));
            auto got = co_await read_exactly(sp.fds[0], data.size());
            co_await group.wait();
            CO_ASSERT_TRUE(wrote);
            CO_ASSERT_TRUE(got);
            EXPECT_TRUE(*got == data) << "bytes lost, duplicated or reordered";
            const detail::fault_stats& s = this_faults().stats();
            EXPECT_GT(s.interrupted, 0u);
            EXPECT_GT(s.would_block, 0u);
            EXPECT_GT(s.delayed, 0u);
            if (!test::on_epoll_backend()) {
                EXPECT_GT(s.shortened, 0u);  // SQE lengths: io_uring only
            }
        });
    }
}

TEST(FaultInjection, CancelRaceDeliversTheRealResultOrCanceledNeverBoth) {
    fault_env env{7};
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        socket_pair sp;
        constexpr int rounds = 300;
        std::vector<unsigned char> received;
        int real = 0;
        int canceled = 0;
        for (int i = 0; i < rounds; ++i) {
            const auto byte = static_cast<unsigned char>(i);
            unsigned char buf[1] = {};
            result<std::size_t> r = unexpected{errc::invalid_argument};
            task_group group;
            group.spawn([](int fd, unsigned char* b, result<std::size_t>& out) -> task<void> {
                auto n = co_await io::read(fd, std::as_writable_bytes(std::span(b, 1)));
                if (n) out = static_cast<std::size_t>(*n);
                else out = unexpected{n.error()};
            }(sp.fds[0], buf, r));
            if (i % 2 == 0) (void)co_await io::nop();  // let the read reach the kernel first
            const ssize_t wrote = ::write(sp.fds[1], &byte, 1);
            CO_ASSERT_EQ(wrote, 1);
            if (i % 3 == 0) (void)co_await io::nop();
            group.request_stop();
            co_await group.wait();
            if (r) {
                CO_ASSERT_EQ(*r, 1u);
                received.push_back(buf[0]);
                ++real;
            } else {
                CO_ASSERT_TRUE(r.error() == errc::operation_canceled);  // never another error
                ++canceled;
            }
            // What a cancelled read did not take is still in the socket, in order
            // (taken now: a unix socket's buffer holds only a few hundred 1-byte sends).
            unsigned char rest[16];
            const ssize_t n = ::recv(sp.fds[0], rest, sizeof rest, MSG_DONTWAIT);
            if (n > 0) received.insert(received.end(), rest, rest + n);
        }
        CO_ASSERT_EQ(received.size(), static_cast<std::size_t>(rounds));
        for (int i = 0; i < rounds; ++i) CO_ASSERT_EQ(received[static_cast<std::size_t>(i)], static_cast<unsigned char>(i));
        EXPECT_GT(real, 0);
        EXPECT_GT(canceled, 0);
        const detail::fault_stats& s = this_faults().stats();
        EXPECT_GT(s.deferred_cancels + s.late_cancels, 0u);
    });
}

TEST(FaultInjection, SmallRingsTakeTheFullSqAndCqOverflowPaths) {
    SKIP_ON_EPOLL("the SQ and CQ of an io_uring");
    fault_env env{11};
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        detail::uring_backend* ring = detail::as_uring(detail::shard::current()->io());
        CO_ASSERT_TRUE(ring != nullptr);
        const detail::ring_stats before = ring->stats();
        constexpr int count = 200;  // > SQ (16) and > CQ (32) in one loop turn
        std::vector<int> results(count, -1);
        task_group group;
        for (int i = 0; i < count; ++i) {
            group.spawn([](int& out) -> task<void> {
                auto r = co_await io::nop();
                out = r ? *r : -1;
            }(results[static_cast<std::size_t>(i)]));
        }
        co_await group.wait();
        for (int r : results) CO_ASSERT_EQ(r, 0);
        EXPECT_GT(ring->stats().sq_full_submits, before.sq_full_submits);
        EXPECT_GT(ring->stats().cq_overflows, before.cq_overflows);
    });
}

TEST(FaultInjection, ResetProfileSurfacesConnectionResetCleanly) {
    const std::size_t fds_before = test::open_fd_count();
    {
        fault_env env{5, "reset"};
        runtime rt{quiet_runtime()};
        rt.run([]() -> task<void> {
            socket_pair sp;
            const auto data = pattern(4096, 1);
            std::error_code error;
            for (int i = 0; i < 200 && !error; ++i) {
                auto w = co_await write_all(sp.fds[1], data);
                if (!w) {
                    error = w.error();
                    break;
                }
                auto r = co_await read_exactly(sp.fds[0], data.size());
                if (!r) error = r.error();
            }
            CO_ASSERT_TRUE(static_cast<bool>(error));
            EXPECT_EQ(error, std::errc::connection_reset);
            EXPECT_NE(error.message().find("reset"), std::string::npos) << error.message();
            EXPECT_GT(this_faults().stats().resets, 0u);
        });
    }
    EXPECT_EQ(test::open_fd_count(), fds_before);
}

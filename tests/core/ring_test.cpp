// The ring underneath: backpressure, overflow, stale completions, and what
// happens when io_uring is not available at all.
#include "core/uring_backend.hpp"
#include "core/shard.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <seccomp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

using namespace ringlet;
using namespace std::chrono_literals;

namespace {

detail::uring_backend& this_ring() {
    detail::uring_backend* ring = detail::as_uring(detail::shard::current()->io());
    if (!ring) throw std::logic_error("this_ring: the shard's backend is not io_uring");
    return *ring;
}

/// Runs `fn` in a forked child whose seccomp filter makes io_uring_setup fail
/// with `err`; returns what the child wrote to its pipe.
template <class F>
std::string run_in_child_without_io_uring(int err, F fn) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        close(out[0]);
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<unsigned>(err)), SCMP_SYS(io_uring_setup), 0) != 0 ||
            seccomp_load(ctx) != 0) {
            _exit(3);
        }
        const std::string text = fn();
        [[maybe_unused]] auto n = write(out[1], text.data(), text.size());
        _exit(0);
    }
    close(out[1]);
    std::string text;
    char buf[1024];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return text;
}

/// io_uring asked for explicitly (and RINGLET_BACKEND, which would override it, set to match).
std::string construct_runtime() {
    setenv("RINGLET_BACKEND", "io_uring", 1);
    try {
        runtime rt{{.shards = 1, .backend = backend_choice::io_uring, .handle_signals = false}};
        return "constructed";
    } catch (const std::runtime_error& e) {
        return e.what();
    }
}

}  // namespace

TEST(Ring, UsesTheBestSetupFlagsTheKernelTakes) {
    SKIP_ON_EPOLL("the ring's setup flags and opcodes");
    runtime rt{test::quiet_runtime()};
    rt.run([]() -> task<void> {
        const unsigned flags = this_ring().setup_flags();
        // Build machines run 6.x kernels: DEFER_TASKRUN must have been accepted there.
        EXPECT_TRUE(flags & IORING_SETUP_SINGLE_ISSUER);
        EXPECT_TRUE(flags & IORING_SETUP_DEFER_TASKRUN);
        EXPECT_TRUE(this_ring().supports_opcode(IORING_OP_ASYNC_CANCEL));
        EXPECT_NE(this_shard::describe_ring().find("DEFER_TASKRUN"), std::string::npos);
        co_return;
    });
}

TEST(Ring, ConcurrentOperationsShareOneEnterPerLoopTurn) {
    SKIP_ON_EPOLL("counts io_uring_enter calls");
    runtime rt{test::quiet_runtime()};
    rt.run([]() -> task<void> {
        constexpr int tasks = 32;
        constexpr int rounds = 200;
        const auto enters_before = this_ring().stats().enters;
        task_group group;
        for (int t = 0; t < tasks; ++t) {
            group.spawn([]() -> task<void> {
                for (int i = 0; i < rounds; ++i) (void)co_await io::nop();
            }());
        }
        co_await group.wait();
        const auto enters = this_ring().stats().enters - enters_before;
        // 6,400 operations: one enter per loop turn means about one per round, not one per operation.
        EXPECT_LE(enters, static_cast<std::uint64_t>(rounds) * 2 + 10);
        EXPECT_GE(enters, static_cast<std::uint64_t>(rounds));
    });
}

TEST(Ring, TinyRingLosesNoOperationInABurst) {
    SKIP_ON_EPOLL("the SQ and CQ sizes and their full-queue stats");
    runtime rt{{.shards = 1, .sq_entries = 4, .cq_entries = 8, .handle_signals = false}};
    rt.run([]() -> task<void> {
        constexpr int burst = 10'000;
        const std::size_t idle_in_flight = this_ring().in_flight();  // the shard's own wake-up read
        int completed = 0;
        task_group group;
        for (int i = 0; i < burst; ++i) {
            group.spawn([](int& done) -> task<void> {
                auto r = co_await io::nop();
                if (r && *r == 0) ++done;
            }(completed));
        }
        co_await group.wait();
        EXPECT_EQ(completed, burst);
        const auto& stats = this_ring().stats();
        EXPECT_GT(stats.sq_full_submits, 0u);  // the SQ filled up and was submitted, never dropped
        EXPECT_EQ(this_ring().in_flight(), idle_in_flight);
        RecordProperty("cq_overflows", static_cast<int>(stats.cq_overflows));
    });
}

TEST(Ring, TinyRingSurvivesABurstOfTimers) {
    runtime rt{{.shards = 1, .sq_entries = 4, .cq_entries = 8, .handle_signals = false}};
    rt.run([]() -> task<void> {
        int expired = 0;
        task_group group;
        const auto when = clock::now() + 20ms;  // all fire together: far more CQEs than the CQ holds
        for (int i = 0; i < 2000; ++i) {
            group.spawn([](int& count, clock::time_point at) -> task<void> {
                auto slept = co_await sleep_until(at);
                if (slept) ++count;
            }(expired, when));
        }
        co_await group.wait();
        EXPECT_EQ(expired, 2000);
    });
}

TEST(Ring, StaleCompletionNeverResumesTheNewWaiter) {
    SKIP_ON_EPOLL("injects a CQE with a stale user_data");
    runtime rt{test::quiet_runtime()};
    rt.run([]() -> task<void> {
        detail::uring_backend& ring = this_ring();
        // Finish one operation, remembering the user_data it had.
        auto first = io::nop();
        (void)co_await first;
        const std::uint64_t stale = detail::uring_backend::user_data_of(first);
        const auto stale_before = ring.stats().stale_completions;
        const std::size_t idle_in_flight = ring.in_flight();  // the shard's own wake-up read

        // A new operation reuses the slot with a new generation...
        int fds[2];
        CO_ASSERT_EQ(pipe(fds), 0);
        char byte = 0;
        task_group group;
        result<std::size_t> got = 0;
        group.spawn([](int fd, char* b, result<std::size_t>& out) -> task<void> {
            out = co_await io::read(fd, {reinterpret_cast<std::byte*>(b), 1});
        }(fds[0], &byte, got));
        co_await yield();

        // ...and a completion carrying the old user_data arrives.
        io_uring_sqe* sqe = ring.get_sqe();
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, stale);
        (void)co_await sleep_for(5ms);
        EXPECT_EQ(ring.stats().stale_completions, stale_before + 1);
        EXPECT_EQ(ring.in_flight(), idle_in_flight + 1);  // the read is still waiting

        CO_ASSERT_EQ(write(fds[1], "k", 1), 1);
        co_await group.wait();
        CO_ASSERT_TRUE(got);
        EXPECT_EQ(byte, 'k');
        close(fds[0]);
        close(fds[1]);
    });
}

TEST(Ring, UnavailableBecauseOfSeccompNamesCauseAndRemedy) {
    const std::string message = run_in_child_without_io_uring(EPERM, construct_runtime);
    EXPECT_NE(message.find("io_uring is unavailable"), std::string::npos) << message;
    EXPECT_NE(message.find("Operation not permitted (EPERM"), std::string::npos) << message;
    EXPECT_NE(message.find("a seccomp filter denies it"), std::string::npos) << message;
    EXPECT_NE(message.find("Remedy: run it with a seccomp profile that allows io_uring_setup"), std::string::npos)
        << message;
}

// A filter's ENOSYS is the filter's, not the kernel's (backend_choice_test
// covers the kernel's own ENOSYS, which this machine cannot produce).
TEST(Ring, UnavailableBecauseOfSeccompEnosysBlamesTheFilterNotTheKernel) {
    const std::string message = run_in_child_without_io_uring(ENOSYS, construct_runtime);
    EXPECT_NE(message.find("Function not implemented (ENOSYS"), std::string::npos) << message;
    EXPECT_NE(message.find("a seccomp filter denies it"), std::string::npos) << message;
    EXPECT_EQ(message.find("CONFIG_IO_URING"), std::string::npos) << message;
    EXPECT_EQ(message.find("older than"), std::string::npos) << message;
}

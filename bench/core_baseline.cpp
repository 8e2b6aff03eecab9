// Hand-written liburing baselines for the core micro-benchmarks: the same
// work as core_bench.cpp's NOP, sleep(0) and cross-shard benchmarks, with no
// framework in between, so each ringlet figure can be read as a ratio to the
// floor measured in the same run (on a shared 2-vCPU machine only same-run
// ratios mean anything).
//
// Rings are set up the way a shard sets up its own (SINGLE_ISSUER |
// DEFER_TASKRUN | SUBMIT_ALL, CQ 8 × SQ) and the threads are pinned to the
// same CPUs as shards 0 and 1.
#include "bench_util.hpp"

#include <liburing.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <exception>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using ringlet_bench::latency_recorder;
using ringlet_bench::pin_to_allowed_cpu;

constexpr unsigned sq_entries = 1024;

/// A ring with the flags a shard uses; the calling thread becomes its issuer.
class raw_ring {
public:
    raw_ring() {
        io_uring_params params{};
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
                       IORING_SETUP_CQSIZE;
        params.cq_entries = sq_entries * 8;
        const int rc = io_uring_queue_init_params(sq_entries, &ring_, &params);
        if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init_params");
    }
    ~raw_ring() { io_uring_queue_exit(&ring_); }
    raw_ring(const raw_ring&) = delete;
    raw_ring& operator=(const raw_ring&) = delete;

    int fd() const noexcept { return ring_.ring_fd; }

    /// A free SQE (every batch here is far smaller than the SQ).
    io_uring_sqe* sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (!sqe) throw std::logic_error("SQ full");
        return sqe;
    }
    void submit() { io_uring_submit(&ring_); }

    /// Waits for at least `count` CQEs and consumes them; returns how many failed.
    unsigned wait_and_consume(unsigned count) {
        io_uring_submit_and_wait(&ring_, count);
        unsigned failures = 0;
        unsigned seen = 0;
        while (seen < count) {
            io_uring_cqe* cqes[64];
            const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, 64);
            if (n == 0) {
                io_uring_submit_and_wait(&ring_, 1);
                continue;
            }
            for (unsigned i = 0; i < n; ++i) failures += cqes[i]->res < 0 && cqes[i]->res != -ETIME;
            io_uring_cq_advance(&ring_, n);
            seen += n;
        }
        return failures;
    }

private:
    io_uring ring_{};
};

/// Runs `body` on a thread pinned like shard 0 (the benchmark's own thread is not).
template <class Body>
void on_pinned_thread(Body body) {
    std::thread worker([&] {
        pin_to_allowed_cpu(0);
        body();
    });
    worker.join();
}

// --- NOP batches: range(0) NOPs, one io_uring_enter, wait for all -------------

void BM_raw_nop_batch(benchmark::State& state) {
    on_pinned_thread([&] {
        raw_ring ring;
        const auto batch = static_cast<unsigned>(state.range(0));
        unsigned failures = 0;
        for (auto _ : state) {
            for (unsigned i = 0; i < batch; ++i) io_uring_prep_nop(ring.sqe());
            failures += ring.wait_and_consume(batch);
        }
        state.SetItemsProcessed(state.iterations() * state.range(0));
        if (failures) state.SkipWithError("NOP failed");
    });
}
BENCHMARK(BM_raw_nop_batch)->Arg(32)->Arg(1)->UseRealTime();

// --- a timeout at "now" (what sleep_for(0ns) submits) ------------------------

void BM_raw_timeout_now(benchmark::State& state) {
    on_pinned_thread([&] {
        raw_ring ring;
        unsigned failures = 0;
        for (auto _ : state) {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            __kernel_timespec at{now.tv_sec, now.tv_nsec};
            io_uring_prep_timeout(ring.sqe(), &at, 0, IORING_TIMEOUT_ABS);
            failures += ring.wait_and_consume(1);
        }
        if (failures) state.SkipWithError("timeout failed");
    });
}
BENCHMARK(BM_raw_timeout_now)->UseRealTime();

// --- MSG_RING ping-pong between two pinned threads, each blocking in its ring --

void BM_raw_msg_ring_round_trip(benchmark::State& state) {
    // Ring fds are exchanged once both rings exist; -2 means the other side failed.
    std::atomic<int> peer_fd{-1};
    std::atomic<int> origin_fd{-1};
    std::atomic<bool> done{false};
    const auto await_fd = [](const std::atomic<int>& fd) {
        while (fd.load(std::memory_order_acquire) == -1) std::this_thread::yield();
        return fd.load(std::memory_order_acquire);
    };
    // The peer answers every message with one back, until told to stop.
    std::thread peer([&] {
        pin_to_allowed_cpu(1);
        std::optional<raw_ring> ring;
        try {
            ring.emplace();
        } catch (...) {
            peer_fd.store(-2, std::memory_order_release);
            return;
        }
        peer_fd.store(ring->fd(), std::memory_order_release);
        const int reply_to = await_fd(origin_fd);
        if (reply_to < 0) return;
        for (;;) {
            ring->wait_and_consume(1);
            if (done.load(std::memory_order_acquire)) break;
            io_uring_sqe* sqe = ring->sqe();
            io_uring_prep_msg_ring(sqe, reply_to, 0, 1, 0);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        }
    });
    on_pinned_thread([&] {
        std::optional<raw_ring> ring;
        try {
            ring.emplace();
        } catch (const std::exception& e) {
            origin_fd.store(-2, std::memory_order_release);
            state.SkipWithError(e.what());
            return;
        }
        const int target = await_fd(peer_fd);
        origin_fd.store(ring->fd(), std::memory_order_release);
        if (target < 0) {
            state.SkipWithError("the peer ring could not be set up");
            return;
        }
        const auto send = [&] {
            io_uring_sqe* sqe = ring->sqe();
            io_uring_prep_msg_ring(sqe, target, 0, 1, 0);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        };
        latency_recorder latencies(state);
        for (auto _ : state) {
            const auto start = latency_recorder::now();
            send();
            ring->wait_and_consume(1);
            latencies.add(start);
        }
        latencies.report(state);
        done.store(true, std::memory_order_release);
        send();
        ring->submit();
    });
    peer.join();
}
BENCHMARK(BM_raw_msg_ring_round_trip)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

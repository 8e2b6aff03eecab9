// The epoll backend of one shard: the fallback where io_uring is denied
// (container seccomp profiles, kernel.io_uring_disabled, old kernels).
//
// Same contract as the io_uring backend (core/backend.hpp): an op is tried
// once at submit with its perform step; if that says -EAGAIN it waits for
// its descriptor's readiness (edge-triggered epoll) and is tried again. Its
// completion is always delivered from a later poll(), never from submit().
// Deadlines, pure timers and the time limit of every op live in the shard's
// timer_queue; epoll_wait sleeps until the earliest one.
//
// Thread safety: a backend belongs to its shard's thread.
#pragma once

#include "core/backend.hpp"
#include "core/timer_queue.hpp"

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace ringlet::detail {

struct epoll_stats {
    std::uint64_t waits = 0;            ///< epoll_wait calls made by poll()
    std::uint64_t performs = 0;         ///< perform steps run (first tries and retries)
    std::uint64_t would_block = 0;      ///< perform steps that answered -EAGAIN
    std::uint64_t registrations = 0;    ///< EPOLL_CTL_ADD calls that added a descriptor
    std::uint64_t timer_expiries = 0;   ///< ops ended by their deadline (or pure timers that fired)
};

class epoll_backend final : public backend {
public:
    /// Creates the epoll instance; throws std::system_error naming
    /// epoll_create1 and the errno when it cannot.
    explicit epoll_backend(timer_queue& timers);
    ~epoll_backend() override;

    // --- backend -----------------------------------------------------------
    [[nodiscard]] backend_kind kind() const noexcept override { return backend_kind::epoll; }
    void submit(io_op& op) override;
    void cancel(io_op& op) override;
    unsigned poll(bool block) override;
    [[nodiscard]] bool completions_pending() const noexcept override;
    /// multishot_accept (emulated) and cancel_fd (native); none of
    /// buffer_rings, multishot_recv, recv_bundle, msg_ring, send_zc.
    [[nodiscard]] bool supports(capability c) const noexcept override;
    [[nodiscard]] std::size_t in_flight() const noexcept override { return in_flight_; }
    [[nodiscard]] std::string describe() const override;
    /// Always false: the sender writes the target's eventfd.
    bool wake(backend&) noexcept override { return false; }

    [[nodiscard]] const epoll_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] int fd() const noexcept { return epoll_fd_; }

private:
    enum direction : unsigned { in = 0, out = 1 };
    struct fd_entry;

    /// The backend's record of one op in flight (the op's first backend word
    /// points at it). Pooled: records never move and are reused.
    struct waiter : timer_entry {
        explicit waiter(epoll_backend* owner) noexcept : timer_entry(&on_deadline), backend(owner) {}
        epoll_backend* backend;
        io_op* op = nullptr;
        waiter* prev[2] = {nullptr, nullptr};
        waiter* next[2] = {nullptr, nullptr};
        bool linked[2] = {false, false};
        int fd = -1;
        std::uint32_t events = 0;
        bool multishot = false;
        bool pure_timer = false;  // a timer op: its deadline completes it with -ETIME
        waiter* next_free = nullptr;
    };
    struct waiter_list {
        waiter* head = nullptr;
        waiter* tail = nullptr;
    };
    struct fd_entry {
        waiter_list lists[2];
        /// False after a perform in that direction said -EAGAIN, true again
        /// at the next edge: a new op skips a try that cannot succeed.
        bool ready[2] = {true, true};
    };
    struct completion {
        io_op* op;
        int res;
        std::uint32_t flags;
        bool more;
    };

    static void on_deadline(timer_entry& entry) noexcept;

    waiter* acquire(io_op& op);
    void release(waiter* w) noexcept;
    static waiter* waiter_of(const io_op& op) noexcept;
    fd_entry& entry(int fd);

    static bool is_multishot(const io_op& op) noexcept;
    /// False when `e` says no direction `w` waits for can be ready.
    static bool maybe_ready(const waiter& w, const fd_entry& e) noexcept;
    /// Sets O_NONBLOCK on `fd` for a perform step without a per-call flag
    /// (accept4, connect), which would block the shard on a blocking descriptor.
    static void make_nonblocking(int fd) noexcept;
    /// Runs the op's perform step once; notes would-block in `e`.
    int try_perform(waiter& w, fd_entry& e);
    /// Tries `w` if it may succeed; true when it finished (it is then gone).
    /// `edge`: the events of the readiness edge that prompted the retry (0
    /// at submit), which answer a poll without a syscall.
    bool retry_now(waiter& w, fd_entry& e, std::uint32_t edge = 0);
    /// Puts `w` on its descriptor's lists (registering the descriptor when
    /// nothing waits on it yet). Returns 0 or -errno.
    int start_waiting(waiter& w, fd_entry& e);
    void stop_waiting(waiter& w) noexcept;
    /// Ends every op waiting on `fd` with -ECANCELED (queued). Returns how
    /// many, or -ENOENT when none waited.
    int cancel_all(int fd) noexcept;
    /// `fd` is about to be closed: ends its waiters, deregisters it, and
    /// forgets its readiness state.
    void forget(int fd) noexcept;
    /// Retries the waiters of `fd` after an edge with `revents`.
    void on_ready(int fd, std::uint32_t revents);
    /// Queues the op's final completion and forgets it.
    void finish(waiter& w, int res) noexcept;
    void push(io_op& op, int res, bool more);
    unsigned dispatch();

    timer_queue& timers_;
    int epoll_fd_ = -1;
    std::deque<waiter> pool_;
    waiter* free_ = nullptr;
    std::vector<fd_entry> fds_;
    std::vector<completion> ready_;
    std::vector<completion> dispatching_;
    std::size_t in_flight_ = 0;
    bool has_pwait2_ = true;
    epoll_stats stats_;
};

}  // namespace ringlet::detail

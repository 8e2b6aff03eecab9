// A shard: one thread, one backend (io_uring), one ready queue, one root stop source.
//
// Thread safety: everything here is touched only by the shard's own thread,
// except post() (any thread), which may reach the backend's wake(target) on
// the sending shard's thread.
#pragma once

#include "core/backend.hpp"
#include "core/ops/ops.hpp"
#include "core/timer_queue.hpp"

#include <ringlet/core/io_op.hpp>
#include <ringlet/core/shard.hpp>
#include <ringlet/core/stop.hpp>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

namespace ringlet::detail {

class runtime_state;
struct ring_config;

/// Base of a per-shard service (see shard::service).
class shard_service {
public:
    virtual ~shard_service() = default;
};

/// FIFO of work ready to run: coroutines to resume, and calls (a function
/// and its argument) that run in the same place, in the same order — e.g. a
/// receiver that reads its socket right before it resumes its waiter, so the
/// bytes are still in cache when the waiter sends them. A growable
/// power-of-two ring buffer.
class ready_queue {
public:
    using call_fn = void (*)(void* arg);
    struct item {
        call_fn run;
        void* arg;
    };

    ready_queue() : items_(1024) {}
    void push(std::coroutine_handle<> h) { push({&resume_handle, h.address()}); }
    void push(item call) {
        if (tail_ - head_ == items_.size()) grow();
        items_[tail_++ & (items_.size() - 1)] = call;
    }
    /// Takes the oldest item and runs it.
    void run_one() {
        const item next = items_[head_++ & (items_.size() - 1)];
        next.run(next.arg);
    }
    [[nodiscard]] bool empty() const noexcept { return head_ == tail_; }
    [[nodiscard]] std::size_t size() const noexcept { return tail_ - head_; }

private:
    static void resume_handle(void* frame) { std::coroutine_handle<>::from_address(frame).resume(); }
    void grow();
    std::vector<item> items_;
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
};

/// Reads a descriptor (eventfd or signalfd) through the backend; the owner re-arms it.
class internal_read final : public io_op {
public:
    internal_read(int fd, std::function<void(int res)> on_read);
    void arm();
    void cancel();
    [[nodiscard]] bool armed() const noexcept { return armed_; }
    /// The bytes of the last completed read (e.g. a signalfd_siginfo).
    [[nodiscard]] const void* data() const noexcept { return value_; }

private:
    static ops::buffer_args view(io_op& op) noexcept;
    static void completed(io_op& op, int res, std::uint32_t flags, bool more) noexcept;
    int fd_;
    std::uint64_t value_[16] = {};  // big enough for a signalfd_siginfo
    std::function<void(int)> on_read_;
    bool armed_ = false;
};

class shard {
public:
    shard(runtime_state& rt, unsigned id, const ring_config& config);
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    /// The shard of the calling thread, or nullptr.
    [[nodiscard]] static shard* current() noexcept;

    [[nodiscard]] unsigned id() const noexcept { return id_; }
    /// The backend every operation of this shard goes through.
    [[nodiscard]] backend& io() noexcept { return *backend_; }
    /// The shard's deadlines (ops' time limits, timers), earliest first; the backend expires them.
    [[nodiscard]] timer_queue& timers() noexcept { return timers_; }
    [[nodiscard]] runtime_state& runtime() noexcept { return rt_; }
    [[nodiscard]] stop_token root_token() const noexcept { return root_stop_.get_token(); }
    /// Requested when a graceful stop begins, and at the latest with the root token.
    [[nodiscard]] stop_token drain_token() const noexcept { return drain_stop_.get_token(); }

    void schedule(std::coroutine_handle<> h) { ready_.push(h); }
    /// Runs `fn(arg)` from the ready queue, in turn with the coroutines
    /// scheduled before and after it (never from inside a completion).
    void schedule_call(ready_queue::call_fn fn, void* arg) { ready_.push({fn, arg}); }

    /// Starts a detached task; its end (or failure) is accounted here.
    void spawn(task<void> t, stop_token token);
    void report_failure(std::exception_ptr error) noexcept;
    void task_started() noexcept { ++live_tasks_; }
    void task_finished() noexcept;

    /// Notes cross-shard traffic: a reply or the next request is likely soon.
    void saw_message() noexcept { last_message_ = clock::now(); }
    /// Queues a message for this shard and wakes it. Any thread.
    void post(shard_message* message) noexcept;

    /// Runs the loop until the runtime has finished everywhere. Shard thread only.
    void run();
    /// This shard's instance of service T (derived from shard_service,
    /// constructible from shard&), created on first use: how layers keep
    /// per-shard state (receive buffers and their buffer ring, the DNS
    /// channels, HTTP's buffer pool) without a thread_local and an exit hook
    /// of their own. Services are destroyed in one place, once the loop has
    /// ended (every task finished), newest first, before the backend is
    /// drained, so what they still had in flight completes. Throws what T's
    /// constructor throws (std::bad_alloc). Shard thread only.
    template <class T>
    T& service() {
        if (T* found = find_service<T>()) return *found;
        auto made = std::make_unique<T>(*this);
        T& ref = *made;
        services_.push_back({&service_key<T>, std::move(made)});
        return ref;
    }
    /// This shard's instance of T if it has one (never creates it).
    template <class T>
    [[nodiscard]] T* find_service() const noexcept {
        for (const auto& [key, instance] : services_) {
            if (key == &service_key<T>) return static_cast<T*>(instance.get());
        }
        return nullptr;
    }
    /// Binds this shard to the calling thread (sets current()).
    void attach() noexcept;
    /// Makes `s` (or no shard) the calling thread's current(): what a thread
    /// that ran a shard inline had before.
    static void set_current(shard* s) noexcept;

private:
    void drain_inbox();
    static void woken_by_message(void* self) noexcept;
    void on_wakeup();
    void wake() noexcept;
    void check_finished() noexcept;
    /// Turns the runtime's stop flags into this shard's drain and root stops.
    void apply_stop_requests();
    bool poll_before_sleeping();

    void shutdown_internal_ops();

    runtime_state& rt_;
    const unsigned id_;
    timer_queue timers_;  // before backend_: the backend holds entries in it until it is destroyed
    std::unique_ptr<backend> backend_;
    ready_queue ready_;
    stop_source root_stop_;
    stop_source drain_stop_;
    std::size_t live_tasks_ = 0;
    bool finished_ = false;  // counted out of the runtime's busy count
    clock::time_point last_message_{};  // last cross-shard message sent or handled
    template <class T>
    static constexpr char service_key = 0;  // its address identifies T
    struct service_entry {
        const void* key;
        std::unique_ptr<shard_service> instance;
    };
    std::vector<service_entry> services_;  // in creation order

    int event_fd_;  // owned by the runtime
    internal_read wakeup_reader_;

    // Written by any thread.
    std::atomic<shard_message*> inbox_{nullptr};
    std::atomic<bool> wake_pending_{false};
};

}  // namespace ringlet::detail

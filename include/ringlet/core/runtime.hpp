// runtime: N shards, each a pinned thread with its own io_uring ring.
//
//     ringlet::runtime rt{{.shards = 2}};
//     int code = rt.run([]() -> task<int> { ...; co_return 0; });
//
// run() starts the shards, runs the entry task on shard 0 and returns its
// value once it has ended and every other task has been cancelled and has
// ended too. run_on_all() runs one entry per shard. SIGINT/SIGTERM (read
// through a signalfd on the ring) request a graceful stop: every shard's root
// stop token is triggered, so pending operations are cancelled in the kernel,
// and run returns once all tasks have finished, with every descriptor the
// runtime opened closed again.
//
// Thread safety: request_stop() may be called from any thread; everything
// else from the thread that owns the runtime.
#pragma once

#include <ringlet/core/shard.hpp>
#include <ringlet/core/task.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>

namespace ringlet {

struct runtime_options {
    /// Number of shards; 0 means one per CPU the process may run on.
    unsigned shards = 0;
    /// Submission queue size of each ring (a power of two).
    unsigned sq_entries = 1024;
    /// Completion queue size; 0 means 8 × sq_entries.
    unsigned cq_entries = 0;
    /// Pin shard i to the i-th allowed CPU.
    bool pin_threads = true;
    /// Turn SIGINT/SIGTERM into a graceful stop while run() is active.
    bool handle_signals = true;
    /// After cross-shard traffic, a shard with nothing to do polls its inbox
    /// and completion queue this long before sleeping in the kernel, so a
    /// cross-shard call costs no scheduler wake-up (~30 µs on a VM, < 1 µs
    /// polled). Shards that exchange no messages never poll. 0 turns it off.
    std::chrono::microseconds idle_poll{100};
    /// Called on the failing shard when a spawned task ends with an exception.
    /// Default: one line on stderr naming the shard and the exception.
    std::function<void(unsigned shard, std::exception_ptr error)> on_task_failure{};
};

namespace detail {
class runtime_state;

template <class F, class T>
task<void> run_entry(F& entry, call_outcome<T>& out) {
    try {
        if constexpr (std::is_void_v<T>) co_await entry();
        else out.value.emplace(co_await entry());
    } catch (...) {
        out.error = std::current_exception();
    }
}
}  // namespace detail

class runtime {
public:
    /// Checks that io_uring works here; throws std::runtime_error naming the
    /// cause and the remedy when it does not (ENOSYS, EPERM from seccomp or
    /// kernel.io_uring_disabled, ENOMEM).
    explicit runtime(runtime_options options = {});
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    [[nodiscard]] unsigned shard_count() const noexcept;

    /// Runs `entry()` (returning task<T>) on shard 0 and returns its value
    /// (rethrows its exception) after every shard has stopped.
    template <class F>
    auto run(F entry) -> typename detail::unwrap_task<std::invoke_result_t<F&>>::type {
        using value = typename detail::unwrap_task<std::invoke_result_t<F&>>::type;
        detail::call_outcome<value> out;
        run_shards([&](unsigned) { return detail::run_entry(entry, out); }, false);
        return out.take();
    }

    /// Runs `entry(shard_index)` (returning task<void>) on every shard; returns
    /// once all have ended. The first exception is rethrown.
    void run_on_all(std::function<task<void>(unsigned shard)> entry);

    /// Asks a running runtime to stop gracefully. Any thread; idempotent.
    void request_stop() noexcept;

    /// io_uring as a shard would set it up here: setup flags, features, opcodes.
    [[nodiscard]] static std::string describe_io_uring();

private:
    void run_shards(std::function<task<void>(unsigned)> entry, bool every_shard);
    std::unique_ptr<detail::runtime_state> state_;
};

}  // namespace ringlet

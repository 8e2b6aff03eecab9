// What the shards of one runtime share. Private.
//
// Stopping: request_drain() sets `drain_requested` and wakes every shard,
// which then requests its drain source and arms a timer for the drain
// deadline; request_stop_now() sets `stop_requested` (and the drain flag)
// and wakes every shard, which then triggers its root stop source. A shard
// whose tasks have all ended after that counts itself out of `busy`. A
// message between shards counts in `busy` until its receiver has it, so the
// count reaches zero only when no shard has work and no message is in
// flight; then every shard leaves its loop.
//
// The stop flags are only ever set by requests and cleared by run_shards()
// after the shard threads have ended, so a request made before a run (or
// while it starts) is seen by that run, never lost: each shard applies the
// flags before its first task runs. The wake eventfds exist during run();
// wake_all() (any thread) and their creation and closing hold wake_mutex_,
// so a request never writes a descriptor being closed or replaced.
//
// Thread safety: the atomics and the mutex-guarded members (wake_fds when
// written; shard threads read them without the lock, as they exist only
// between the writes) are shared; the shards vector is written before
// the startup latch and only read after it; the rest is written by the
// owning thread before the shard threads start.
#pragma once

#include "core/backend_choice.hpp"
#include "core/uring_backend.hpp"
#include "core/shard.hpp"

#include <ringlet/core/runtime.hpp>

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace ringlet::detail {

class runtime_state {
public:
    explicit runtime_state(runtime_options opts);

    runtime_options options;
    /// What every shard constructs (core/backend_choice.hpp decided it).
    backend_kind backend = backend_kind::io_uring;
    ring_config ring_settings;
    unsigned shard_count;
    std::vector<std::unique_ptr<shard>> shards;

    /// One eventfd per shard during run(); written under wake_mutex_.
    std::vector<int> wake_fds;
    std::atomic<bool> drain_requested{false};
    std::atomic<bool> stop_requested{false};
    /// When the drain ends in cancellation (clock ticks since its epoch); set
    /// before drain_requested, and again by run_shards() for a pending drain.
    std::atomic<std::int64_t> drain_deadline{0};
    std::atomic<long> busy{0};
    std::atomic<bool> all_done{false};
    int signal_fd = -1;
    /// With signal_fd: the mask the runtime's threads had before it blocked
    /// the signals, which each shard thread restores in its forked children.
    sigset_t pre_runtime_mask{};

    std::function<task<void>(unsigned)> entry;
    bool entry_on_every_shard = false;
    std::atomic<unsigned> entries_running{0};

    /// A shard thread: wakes shard `index` through its eventfd.
    void wake(unsigned index) const noexcept;
    /// Any thread, any time: wakes every shard of a running runtime.
    void wake_all() noexcept;
    /// Owning thread, around run(): creates / closes the eventfds. Throws std::system_error.
    void open_wake_fds();
    void close_wake_fds() noexcept;
    /// Any thread: begins a graceful stop (a hard one when drain_timeout is 0).
    void request_drain() noexcept;
    /// Any thread: flags the hard stop and wakes every shard.
    void request_stop_now() noexcept;
    /// Shard 0: a SIGINT/SIGTERM/SIGHUP arrived (`signo`).
    void on_signal(int signo);
    /// A shard's tasks have all ended after a stop (or a message it had was handled).
    void shard_finished() noexcept;
    /// A counted message is on its way.
    void message_sent() noexcept { busy.fetch_add(1, std::memory_order_relaxed); }
    void record_entry_error(std::exception_ptr error);
    std::exception_ptr take_entry_error();
    void report_task_failure(unsigned shard, std::exception_ptr error) noexcept;

private:
    std::mutex wake_mutex_;
    std::mutex error_mutex_;
    std::exception_ptr entry_error_;
};

}  // namespace ringlet::detail

// What the shards of one runtime share. Private.
//
// Stopping is a two-step protocol: request_stop() triggers every shard's root
// stop source; a shard whose tasks have all ended counts itself out of `busy`.
// A message between shards counts in `busy` until its receiver has it, so the
// count reaches zero only when no shard has work and no message is in flight;
// then every shard leaves its loop.
//
// Thread safety: the atomics and the mutex-guarded members are shared; the
// shards vector is written before the startup latch and only read after it.
#pragma once

#include "core/ring.hpp"
#include "core/shard.hpp"

#include <ringlet/core/runtime.hpp>

#include <atomic>
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
    ring_config ring_settings;
    unsigned shard_count;
    std::vector<std::unique_ptr<shard>> shards;

    /// One eventfd per shard, created before any shard thread starts, so any
    /// thread can wake any shard at any time during run().
    std::vector<int> wake_fds;
    std::atomic<bool> stop_requested{false};
    std::atomic<long> busy{0};
    std::atomic<bool> all_done{false};
    int signal_fd = -1;

    std::function<task<void>(unsigned)> entry;
    bool entry_on_every_shard = false;
    std::atomic<unsigned> entries_running{0};

    /// Any thread: wakes shard `index` through its eventfd.
    void wake(unsigned index) const noexcept;
    /// Any thread: flags the stop and wakes every shard.
    void request_stop() noexcept;
    /// A shard's tasks have all ended after a stop (or a message it had was handled).
    void shard_finished() noexcept;
    /// A counted message is on its way.
    void message_sent() noexcept { busy.fetch_add(1, std::memory_order_relaxed); }
    void record_entry_error(std::exception_ptr error);
    std::exception_ptr take_entry_error();
    void report_task_failure(unsigned shard, std::exception_ptr error) noexcept;

private:
    std::mutex error_mutex_;
    std::exception_ptr entry_error_;
};

}  // namespace ringlet::detail

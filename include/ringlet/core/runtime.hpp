// runtime: N shards, each a pinned thread with its own io_uring ring (or
// epoll, where io_uring is denied: see backend_choice).
//
//     ringlet::runtime rt{{.shards = 2}};
//     int code = rt.run([]() -> task<int> { ...; co_return 0; });
//
// run() starts the shards, runs the entry task on shard 0 and returns its
// value once it has ended and every other task has been cancelled and has
// ended too. run_on_all() runs one entry per shard. Shard 0 runs on the
// thread that called run() (pinned like the others while it runs; its
// affinity is put back after), shards 1..N-1 on threads of their own: a
// one-shard runtime is a single-threaded process.
//
// Stopping, in two steps:
// - A graceful stop (the first SIGINT/SIGTERM, SIGHUP by default, or
//   request_stop()) begins the drain: every shard's drain token
//   (this_shard::drain_token()) is requested. tcp::serve, tcp::server and
//   tls::serve stop accepting, close their listeners (a unix socket file is
//   removed) and wait for the connections they have; anything else may watch
//   the drain token to wind down. Nothing is cancelled yet.
// - The hard stop cancels: every shard's root stop token
//   (this_shard::stop_token()) is requested, so pending operations are
//   cancelled in the kernel. It comes when runtime_options::drain_timeout
//   has passed since the drain began, at a second SIGINT/SIGTERM/SIGHUP,
//   at request_stop_now(), or as soon as the entry task (every entry, for
//   run_on_all) has ended. A drain_timeout of 0 makes every stop a hard one.
// run returns once all tasks have finished, with every descriptor the
// runtime opened closed again; a server whose connections all ended within
// the drain loses none of them.
//
// A stop requested while no run() is active is kept for the next run(),
// which then begins already draining (its drain timeout counted from the
// start of that run); run() consumes it, so the run after starts afresh.
// A request that arrives while run() is returning is absorbed by that run.
//
// Signals (runtime_options::handle_signals): while run() is active, SIGINT,
// SIGTERM and SIGHUP are blocked in the runtime's threads and read through
// a signalfd on shard 0's ring; the old mask is restored when run()
// returns. SIGHUP does what runtime_options::sighup says (default: the
// same as SIGTERM). Processes started from a runtime thread with fork()
// (and so exec*(), which keep the mask) get the signal mask the thread had
// before the runtime blocked these signals: a pthread_atfork child handler
// restores it. posix_spawn(), system() and popen() do not run atfork
// handlers in glibc: give posix_spawn an empty mask yourself
// (posix_spawnattr_setsigmask + POSIX_SPAWN_SETSIGMASK), or its child
// starts with SIGINT/SIGTERM/SIGHUP blocked and ignores them.
//
// Thread safety: request_stop() and request_stop_now() may be called from
// any thread at any time during the runtime's life (before, during, between
// and after runs); everything else from the thread that owns the runtime.
#pragma once

#include <ringlet/core/shard.hpp>
#include <ringlet/core/task.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>

namespace ringlet {

/// The kernel interface a runtime's shards use (runtime_options::backend).
enum class backend_choice {
    /// io_uring when this process may use it; epoll when io_uring_setup is
    /// denied (EPERM/EACCES: a seccomp filter, kernel.io_uring_disabled),
    /// missing (ENOSYS) or short of locked memory (ENOMEM). The fallback
    /// prints one line on stderr per process naming the cause and how to
    /// get io_uring back.
    auto_select,
    /// io_uring, or the constructor throws naming the cause and the remedy.
    io_uring,
    /// epoll, without trying io_uring.
    epoll,
};

/// What SIGHUP does while run() is active (with handle_signals).
enum class sighup_action {
    stop,    ///< the same as SIGTERM: a graceful stop, a second one stops at once
    ignore,  ///< nothing (it is read and dropped, so the process survives it)
    call,    ///< runtime_options::on_sighup runs on shard 0
};

struct runtime_options {
    /// Number of shards; 0 means one per CPU the process may run on.
    unsigned shards = 0;
    /// Submission queue size of each ring (a power of two).
    unsigned sq_entries = 1024;
    /// Completion queue size; 0 means 8 × sq_entries.
    unsigned cq_entries = 0;
    /// The backend (default auto_select: io_uring, else epoll with one line
    /// on stderr). The environment variable RINGLET_BACKEND=auto|io_uring|epoll,
    /// when set, overrides it; another value makes the constructor throw.
    backend_choice backend = backend_choice::auto_select;
    /// Pin shard i to the i-th allowed CPU (shard 0: the calling thread,
    /// for the length of run()).
    bool pin_threads = true;
    /// Turn SIGINT/SIGTERM (and SIGHUP, see `sighup`) into a graceful stop
    /// while run() is active; a second one stops at once.
    bool handle_signals = true;
    /// How long a graceful stop lets tasks finish before it cancels them
    /// (see the file comment); 0 cancels at once.
    std::chrono::milliseconds drain_timeout{10'000};
    /// What SIGHUP does (handle_signals only): stop (default), ignore, call.
    sighup_action sighup = sighup_action::stop;
    /// With sighup = call: runs on shard 0's thread at each SIGHUP, between
    /// tasks (so it must not block). It may spawn() a task, e.g. to reload
    /// a configuration, or submit_to() other shards from one. An exception
    /// escaping it goes to on_task_failure. Required when sighup = call.
    std::function<void()> on_sighup{};
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
    /// Chooses the backend (options.backend, or RINGLET_BACKEND; see
    /// backend_choice). Throws std::runtime_error naming the cause and the
    /// remedy when io_uring is asked for and unavailable (ENOSYS, EPERM from
    /// a seccomp filter or kernel.io_uring_disabled, ENOMEM), or fails in a
    /// way epoll would not cure; std::invalid_argument for bad options
    /// (sq_entries 0, sighup = call without on_sighup, a RINGLET_BACKEND
    /// other than auto, io_uring or epoll).
    explicit runtime(runtime_options options = {});
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    [[nodiscard]] unsigned shard_count() const noexcept;
    /// The backend the shards use: backend_choice::io_uring or ::epoll.
    [[nodiscard]] backend_choice backend() const noexcept;

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

    /// Begins a graceful stop: drain, then cancel after drain_timeout (see
    /// the file comment). Any thread; idempotent. Before run(), it applies
    /// to the next run().
    void request_stop() noexcept;
    /// Cancels every task now (the shards' root stop tokens), whether or not
    /// a drain is under way. Any thread; idempotent; before run(), it
    /// applies to the next run().
    void request_stop_now() noexcept;

    /// The backend `kind` as a shard would set it up here, one fact per line
    /// (io_uring: setup flags, features, supported opcodes; epoll: how it
    /// waits and what it emulates). auto_select describes choose_backend()'s
    /// pick. Throws as the constructor does when `kind` cannot be set up.
    [[nodiscard]] static std::string describe_backend(backend_choice kind = backend_choice::auto_select);

    /// The backend a runtime constructed here with `requested` would use
    /// (RINGLET_BACKEND applied), and why in one line: for a fallback, the
    /// cause and how to get io_uring back. Prints nothing. Throws as the
    /// constructor does.
    struct backend_report {
        backend_choice backend;  ///< io_uring or epoll, never auto_select
        std::string reason;
    };
    [[nodiscard]] static backend_report choose_backend(backend_choice requested = backend_choice::auto_select);

private:
    void run_shards(std::function<task<void>(unsigned)> entry, bool every_shard);
    std::unique_ptr<detail::runtime_state> state_;
};

}  // namespace ringlet

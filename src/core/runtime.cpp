// Design notes
// - Each shard's ring is created on its own thread (SINGLE_ISSUER binds the
//   ring to its creator); a latch holds every shard until all rings exist, so
//   cross-shard messages always find their target. A failure on any shard
//   stops all of them and is rethrown by run().
// - Shard 0 runs on the thread that called run() (as Seastar's reactor 0 runs
//   on main): a one-shard runtime is a single-threaded process, and the
//   kernel takes no file reference per syscall for one (fdget's fast path
//   needs an unshared descriptor table: 1-2 % of a small-message echo).
//   The caller's affinity and shard are put back when run() returns.
// - SIGINT/SIGTERM/SIGHUP are blocked in every runtime thread and read
//   through a signalfd on shard 0's ring; the old mask is restored when run()
//   returns. Each runtime thread remembers the mask it had before (a
//   thread_local), and a pthread_atfork child handler puts it back, so a
//   process forked from a shard is not born deaf to SIGINT/SIGTERM.
// - The backend is chosen once, by the constructor (core/backend_choice.hpp:
//   options.backend, RINGLET_BACKEND, the io_uring probe); every shard of
//   every run constructs that one.
// - The wake eventfds exist only during run() (a runtime between runs holds
//   no descriptor); a stop requested from another thread writes them under
//   the mutex that guards their creation and closing, and the stop flags
//   outlive them (see runtime_state.hpp).
#include "core/epoll_backend.hpp"
#include "core/runtime_state.hpp"

#include <ringlet/core/io.hpp>

#include <ringlet/core/runtime.hpp>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <latch>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace ringlet {
namespace detail {

namespace {

unsigned allowed_cpu_count() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return std::max(1u, std::thread::hardware_concurrency());
    return static_cast<unsigned>(CPU_COUNT(&set));
}

/// Pins the calling thread to the `index`-th CPU the process may use.
void pin_to_cpu(unsigned index) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    const int count = CPU_COUNT(&allowed);
    if (count == 0) return;
    int wanted = static_cast<int>(index % static_cast<unsigned>(count));
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (wanted-- == 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof one, &one);  // best effort
            return;
        }
    }
}

task<void> entry_wrapper(runtime_state& rt, task<void> entry) {
    try {
        co_await std::move(entry);
    } catch (...) {
        rt.record_entry_error(std::current_exception());
    }
    if (rt.entries_running.fetch_sub(1) == 1) rt.request_stop_now();
}

/// The signal mask a runtime thread had before the runtime blocked its
/// signals; what a child forked from that thread gets back.
struct saved_mask {
    bool active = false;
    sigset_t mask{};
};
thread_local saved_mask pre_runtime_mask;

void restore_mask_in_child() noexcept {
    if (pre_runtime_mask.active) pthread_sigmask(SIG_SETMASK, &pre_runtime_mask.mask, nullptr);
}

void install_fork_handler() {
    static const int installed = pthread_atfork(nullptr, nullptr, &restore_mask_in_child);
    (void)installed;
}

}  // namespace

runtime_state::runtime_state(runtime_options opts)
    : options(std::move(opts)),
      ring_settings{options.sq_entries, options.cq_entries},
      shard_count(options.shards ? options.shards : allowed_cpu_count()) {}

void runtime_state::open_wake_fds() {
    std::lock_guard lock(wake_mutex_);
    wake_fds.reserve(shard_count);
    for (unsigned i = 0; i < shard_count; ++i) {
        const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) {
            const int error = errno;
            for (int open_fd : wake_fds) close(open_fd);
            wake_fds.clear();
            throw std::system_error(error, std::generic_category(), "ringlet: eventfd for shard wake-ups");
        }
        wake_fds.push_back(fd);
    }
}

void runtime_state::close_wake_fds() noexcept {
    std::lock_guard lock(wake_mutex_);
    for (int fd : wake_fds) close(fd);
    wake_fds.clear();
}

void runtime_state::wake_all() noexcept {
    std::lock_guard lock(wake_mutex_);
    for (unsigned i = 0; i < wake_fds.size(); ++i) wake(i);
}

void runtime_state::request_drain() noexcept {
    if (options.drain_timeout.count() <= 0) return request_stop_now();
    if (drain_requested.load(std::memory_order_acquire)) return;
    drain_deadline.store((clock::now() + options.drain_timeout).time_since_epoch().count(),
                         std::memory_order_relaxed);
    if (drain_requested.exchange(true, std::memory_order_acq_rel)) return;
    wake_all();
}

void runtime_state::request_stop_now() noexcept {
    if (stop_requested.exchange(true, std::memory_order_acq_rel)) return;
    wake_all();
}

void runtime_state::on_signal(int signo) {
    if (signo == SIGHUP) {
        if (options.sighup == sighup_action::ignore) return;
        if (options.sighup == sighup_action::call) {
            try {
                options.on_sighup();
            } catch (...) {
                report_task_failure(0, std::current_exception());
            }
            return;
        }
    }
    // The first signal drains; one during the drain (however it began) cancels.
    if (drain_requested.load(std::memory_order_acquire)) request_stop_now();
    else request_drain();
}

void runtime_state::shard_finished() noexcept {
    if (busy.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    all_done.store(true, std::memory_order_release);
    wake_all();
}

void runtime_state::wake(unsigned index) const noexcept {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the shard will wake anyway.
    [[maybe_unused]] ssize_t n = write(wake_fds[index], &one, sizeof one);
}

void runtime_state::record_entry_error(std::exception_ptr error) {
    std::lock_guard lock(error_mutex_);
    if (!entry_error_) entry_error_ = std::move(error);
}

std::exception_ptr runtime_state::take_entry_error() {
    std::lock_guard lock(error_mutex_);
    return std::exchange(entry_error_, nullptr);
}

void runtime_state::report_task_failure(unsigned shard, std::exception_ptr error) noexcept {
    if (options.on_task_failure) {
        try {
            options.on_task_failure(shard, error);
            return;
        } catch (...) {
            // A throwing handler must not take the shard down; fall back to stderr.
        }
    }
    const char* what = "unknown exception";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringlet: a spawned task on shard %u failed: %s\n", shard, e.what());
        return;
    } catch (...) {
    }
    std::fprintf(stderr, "ringlet: a spawned task on shard %u failed: %s\n", shard, what);
}

/// Blocks SIGINT/SIGTERM/SIGHUP for the runtime's threads (the shard
/// threads inherit the mask) and reads them through a signalfd.
class signal_guard {
public:
    explicit signal_guard(bool enabled) {
        if (!enabled) return;
        install_fork_handler();
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
        fd_ = signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd_ < 0) {
            pthread_sigmask(SIG_SETMASK, &old_, nullptr);
            return;
        }
        outer_ = pre_runtime_mask;
        pre_runtime_mask = {true, old_};
    }
    ~signal_guard() {
        if (fd_ < 0) return;
        close(fd_);
        pre_runtime_mask = outer_;
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    signal_guard(const signal_guard&) = delete;
    signal_guard& operator=(const signal_guard&) = delete;
    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// The mask the runtime's threads had before; for their forked children.
    [[nodiscard]] const sigset_t& old_mask() const noexcept { return old_; }

private:
    sigset_t set_{};
    sigset_t old_{};
    saved_mask outer_{};  // a runtime run from inside another runtime's thread
    int fd_ = -1;
};

/// What running shard 0 changes on the thread that called run(), put back
/// when it returns: the thread's CPU affinity (pinning) and which shard the
/// thread belongs to (a runtime run from inside another runtime's shard).
class caller_thread_state {
public:
    explicit caller_thread_state(bool pinning) noexcept
        : restore_affinity_(pinning && pthread_getaffinity_np(pthread_self(), sizeof affinity_, &affinity_) == 0),
          shard_(shard::current()) {}
    ~caller_thread_state() {
        if (restore_affinity_) pthread_setaffinity_np(pthread_self(), sizeof affinity_, &affinity_);
        shard::set_current(shard_);
    }
    caller_thread_state(const caller_thread_state&) = delete;
    caller_thread_state& operator=(const caller_thread_state&) = delete;

private:
    cpu_set_t affinity_{};
    bool restore_affinity_;
    shard* shard_;
};

/// One shard's life, on its thread (shard 0: the caller's). noexcept: a
/// shard loop that fails after start-up (io_uring_enter refusing the ring)
/// ends the process on every shard alike — shard 0 included, rather than
/// leaving run() waiting for the others, which wait for shard 0.
void run_shard_thread(runtime_state& rt, unsigned index, std::latch& rings_ready,
                      std::exception_ptr& startup_error, std::mutex& startup_mutex) noexcept {
    if (rt.options.pin_threads) pin_to_cpu(index);
    if (rt.signal_fd >= 0) pre_runtime_mask = {true, rt.pre_runtime_mask};
    try {
        rt.shards[index] = std::make_unique<shard>(rt, index, rt.ring_settings);
    } catch (...) {
        std::lock_guard lock(startup_mutex);
        if (!startup_error) startup_error = std::current_exception();
    }
    rings_ready.arrive_and_wait();
    {
        std::lock_guard lock(startup_mutex);
        if (startup_error) return;
    }
    shard& self = *rt.shards[index];
    self.attach();
    if (rt.entry_on_every_shard || index == 0) self.spawn(entry_wrapper(rt, rt.entry(index)), self.root_token());
    self.run();
}

}  // namespace detail

runtime::runtime(runtime_options options) : state_(std::make_unique<detail::runtime_state>(std::move(options))) {
    if (state_->ring_settings.sq_entries == 0) throw std::invalid_argument("ringlet: runtime_options.sq_entries must be > 0");
    if (state_->options.sighup == sighup_action::call && !state_->options.on_sighup) {
        throw std::invalid_argument("ringlet: runtime_options.sighup is sighup_action::call but on_sighup is empty");
    }
    // Throws with the cause and the remedy when io_uring is asked for and denied.
    state_->backend = detail::choose_and_announce_backend(state_->options.backend).kind;
}

runtime::~runtime() = default;

unsigned runtime::shard_count() const noexcept { return state_->shard_count; }

backend_choice runtime::backend() const noexcept {
    return state_->backend == detail::backend_kind::epoll ? backend_choice::epoll : backend_choice::io_uring;
}

void runtime::request_stop() noexcept { state_->request_drain(); }

void runtime::request_stop_now() noexcept { state_->request_stop_now(); }

void runtime::run_on_all(std::function<task<void>(unsigned)> entry) { run_shards(std::move(entry), true); }

void runtime::run_shards(std::function<task<void>(unsigned)> entry, bool every_shard) {
    auto& rt = *state_;
    rt.entry = std::move(entry);
    rt.entry_on_every_shard = every_shard;
    rt.entries_running = every_shard ? rt.shard_count : 1;
    rt.all_done = false;
    rt.busy = static_cast<long>(rt.shard_count);
    rt.shards.clear();
    rt.shards.resize(rt.shard_count);
    // A drain requested before this run counts its timeout from now. The stop
    // flags themselves are left alone: a request made before run() is this run's.
    if (rt.drain_requested.load(std::memory_order_acquire)) {
        rt.drain_deadline.store((clock::now() + rt.options.drain_timeout).time_since_epoch().count(),
                                std::memory_order_relaxed);
    }

    rt.open_wake_fds();
    detail::signal_guard signals{rt.options.handle_signals};
    rt.signal_fd = signals.fd();
    rt.pre_runtime_mask = signals.old_mask();

    std::latch rings_ready{static_cast<std::ptrdiff_t>(rt.shard_count)};
    std::exception_ptr startup_error;
    std::mutex startup_mutex;
    std::vector<std::thread> threads;
    threads.reserve(rt.shard_count - 1);
    for (unsigned i = 1; i < rt.shard_count; ++i) {
        threads.emplace_back(detail::run_shard_thread, std::ref(rt), i, std::ref(rings_ready), std::ref(startup_error),
                             std::ref(startup_mutex));
    }
    {
        detail::caller_thread_state caller{rt.options.pin_threads};
        detail::run_shard_thread(rt, 0, rings_ready, startup_error, startup_mutex);
        for (auto& t : threads) t.join();
        rt.shards.clear();  // closes the rings
    }
    rt.close_wake_fds();
    // This run has consumed its stop; the next one starts afresh.
    rt.drain_requested.store(false, std::memory_order_release);
    rt.stop_requested.store(false, std::memory_order_release);
    rt.signal_fd = -1;
    rt.entry = nullptr;
    if (startup_error) std::rethrow_exception(startup_error);
    if (auto error = rt.take_entry_error()) std::rethrow_exception(error);
}

runtime::backend_report runtime::choose_backend(backend_choice requested) {
    detail::backend_decision decision = detail::chosen_backend(requested);
    return {decision.kind == detail::backend_kind::epoll ? backend_choice::epoll : backend_choice::io_uring,
            std::move(decision.reason)};
}

std::string runtime::describe_backend(backend_choice kind) {
    if (kind == backend_choice::auto_select) kind = choose_backend().backend;
    if (kind == backend_choice::epoll) {
        detail::timer_queue timers;
        return detail::epoll_backend{timers}.describe();
    }
    return detail::uring_backend{{.sq_entries = 8, .cq_entries = 0}}.describe();
}

}  // namespace ringlet

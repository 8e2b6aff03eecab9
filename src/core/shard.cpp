// Design notes
// - One loop turn: resume the coroutines that were ready when the turn began,
//   then one backend poll (io_uring: one io_uring_enter) that submits
//   everything they queued and (if nothing else is ready) waits for a
//   completion, then dispatches the completions.
// - Waking a shard: a shard thread asks its own backend to wake the target's
//   (io_uring: IORING_OP_MSG_RING straight into the target's CQ); any other
//   thread (or a backend without msg_ring) writes the target's eventfd, which
//   the target keeps a read armed on. wake_pending_ collapses a burst of
//   messages into one wake-up.
// - Stopping: the runtime's flags (runtime_state.hpp) become this shard's
//   drain source (plus a task that sleeps until the drain deadline and then
//   asks for the hard stop) and root stop source, at the top of each loop
//   turn and at each wake-up, so a flag set before the shard started is seen
//   before its first task runs.
// - The inbox is a lock-free stack (many producers, one consumer that takes
//   everything at once and reverses it to keep arrival order).
#include "core/shard.hpp"

#include "core/epoll_backend.hpp"
#include "core/fault_backend.hpp"
#include "core/runtime_state.hpp"
#include "core/ops/ops.hpp"
#include "core/uring_backend.hpp"

#include <ringlet/core/io.hpp>

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace ringlet::detail {
namespace {

// initial-exec: a plain %fs-relative load instead of a __tls_get_addr call
// per access from the shared library (one pointer, so dlopen stays fine).
[[gnu::tls_model("initial-exec")]] thread_local shard* current_shard = nullptr;

/// Tells the CPU we are spinning (frees pipeline resources for the sibling hyperthread).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

/// Defers a task's start to the next loop turn, so spawn never re-enters its caller.
struct start_later {
    shard& owner;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { owner.schedule(h); }
    void await_resume() const noexcept {}
};

/// The frame of a detached task: frees itself at the end (suspend_never).
struct detached_frame {
    struct promise_type {
        static void* operator new(std::size_t size) { return allocate_frame(size); }
        static void operator delete(void* frame, std::size_t size) noexcept { deallocate_frame(frame, size); }
        detached_frame get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::terminate(); }  // the body catches everything
    };
};

/// Runs `body` detached: an escaping exception is reported, the end is accounted.
detached_frame run_detached(shard& owner, task<void> body) {
    co_await start_later{owner};
    try {
        co_await std::move(body);
    } catch (...) {
        owner.report_failure(std::current_exception());
    }
    owner.task_finished();
}

/// The shard's backend, as the runtime decided (core/backend_choice.hpp);
/// wrapped in the fault injector when RINGLET_FAULT_SEED is set (tests only,
/// core/fault_backend.hpp), with the small rings that force its full-SQ and
/// CQ-overflow paths.
std::unique_ptr<backend> make_backend(backend_kind kind, const ring_config& config, timer_queue& timers, unsigned id) {
    const std::optional<fault_settings> faults = fault_settings::from_environment();
    ring_config ring = config;
    if (faults) ring = {.sq_entries = fault_settings::sq_entries, .cq_entries = fault_settings::cq_entries};
    std::unique_ptr<backend> real;
    if (kind == backend_kind::epoll) real = std::make_unique<epoll_backend>(timers);
    else real = std::make_unique<uring_backend>(ring, timers);
    if (faults) return std::make_unique<fault_backend>(std::move(real), *faults, id);
    return real;
}

}  // namespace

void ready_queue::grow() {
    std::vector<item> bigger(items_.size() * 2);
    for (std::size_t i = 0; head_ + i < tail_; ++i) bigger[i] = items_[(head_ + i) & (items_.size() - 1)];
    tail_ -= head_;
    head_ = 0;
    items_ = std::move(bigger);
}

internal_read::internal_read(int fd, std::function<void(int res)> on_read)
    : io_op(ops::read_steps<&internal_read::view>), fd_(fd), on_read_(std::move(on_read)) {
    set_completion(&completed);
}

void internal_read::arm() {
    armed_ = true;
    start(std::noop_coroutine(), {});
}

void internal_read::cancel() {
    if (armed_) shard::current()->io().cancel(*this);
}

ops::buffer_args internal_read::view(io_op& op) noexcept {
    auto& self = static_cast<internal_read&>(op);
    return {self.fd_, self.value_, sizeof self.value_, 0};  // the fds are non-blocking
}

void internal_read::completed(io_op& op, int res, std::uint32_t, bool more) noexcept {
    auto& self = static_cast<internal_read&>(op);
    if (more) return;
    self.armed_ = false;
    if (res == -ECANCELED) return;
    self.on_read_(res);
}

shard::shard(runtime_state& rt, unsigned id, const ring_config& config)
    : rt_(rt),
      id_(id),
      backend_(make_backend(rt.backend, config, timers_, id)),
      event_fd_(rt.wake_fds.at(id)),
      wakeup_reader_(event_fd_, [this](int) {
          on_wakeup();
          if (!rt_.all_done.load(std::memory_order_acquire)) wakeup_reader_.arm();
      }) {
    backend_->set_wake_handler(&shard::woken_by_message, this);
}

shard::~shard() {
    if (current_shard == this) current_shard = nullptr;
}

shard* shard::current() noexcept { return current_shard; }

void shard::attach() noexcept { current_shard = this; }

void shard::set_current(shard* s) noexcept { current_shard = s; }

void shard::spawn(task<void> t, stop_token token) {
    ++live_tasks_;
    auto& promise = t.handle().promise();
    if (!promise.token().stop_possible()) promise.set_token(std::move(token));
    run_detached(*this, std::move(t));
}

void shard::report_failure(std::exception_ptr error) noexcept { rt_.report_task_failure(id_, std::move(error)); }

void shard::task_finished() noexcept { --live_tasks_; }

void shard::post(shard_message* message) noexcept {
    shard_message* head = inbox_.load(std::memory_order_relaxed);
    do {
        message->next = head;
    } while (!inbox_.compare_exchange_weak(head, message, std::memory_order_release, std::memory_order_relaxed));
    wake();
}

void shard::wake() noexcept {
    if (wake_pending_.exchange(true)) return;
    shard* sender = current_shard;
    if (sender && sender != this && sender->backend_->wake(*backend_)) return;
    rt_.wake(id_);
}

void shard::woken_by_message(void* self) noexcept { static_cast<shard*>(self)->on_wakeup(); }

void shard::on_wakeup() {
    wake_pending_.store(false);
    drain_inbox();
    apply_stop_requests();
}

namespace {

/// Asks for the hard stop when the drain deadline passes; the hard stop
/// (root token) cancels it first when the tasks ended in time.
task<void> cancel_at_drain_deadline(runtime_state& rt) {
    const clock::time_point deadline{clock::duration{rt.drain_deadline.load(std::memory_order_relaxed)}};
    auto slept = co_await sleep_until(deadline);  // (bound first: GCC 12, see tests/lint)
    if (slept) rt.request_stop_now();
}

}  // namespace

void shard::apply_stop_requests() {
    const bool stop_now = rt_.stop_requested.load(std::memory_order_acquire);
    if (!stop_now && drain_stop_.stop_requested()) return;
    if (!stop_now && !rt_.drain_requested.load(std::memory_order_acquire)) return;
    if (!drain_stop_.stop_requested()) {
        drain_stop_.request_stop();
        if (!stop_now) spawn(cancel_at_drain_deadline(rt_), root_token());
    }
    if (stop_now && !root_stop_.stop_requested()) root_stop_.request_stop();
}

void shard::drain_inbox() {
    shard_message* list = inbox_.exchange(nullptr, std::memory_order_acquire);
    if (list) saw_message();
    shard_message* ordered = nullptr;
    while (list) {
        shard_message* next = list->next;
        list->next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        shard_message* next = ordered->next;
        // The message's unit of `busy` becomes this shard's own if it had counted itself out.
        if (finished_) finished_ = false;
        else rt_.busy.fetch_sub(1, std::memory_order_acq_rel);
        ordered->run(ordered);
        ordered = next;
    }
}

// Sleeping in io_uring_enter and being woken costs a scheduler round trip
// (tens of µs on a VM whose idle vCPUs halt to the host). Right after
// cross-shard traffic another message is likely, so first submit what is
// queued and spin a bounded time on the inbox and the CQ. Returns true when
// there is something to do (the caller loops again), false to go to sleep.
bool shard::poll_before_sleeping() {
    const auto window = rt_.options.idle_poll;
    if (window.count() <= 0) return false;
    const auto deadline = last_message_ + window;
    if (clock::now() >= deadline) return false;
    if (backend_->poll(false) > 0) return true;
    for (unsigned spins = 1;; ++spins) {
        if (inbox_.load(std::memory_order_acquire) != nullptr) {
            drain_inbox();  // a wake-up may still be on its way; on_wakeup then finds the inbox empty
            return true;
        }
        if (backend_->completions_pending() || rt_.stop_requested.load(std::memory_order_relaxed) ||
            (!drain_stop_.stop_requested() && rt_.drain_requested.load(std::memory_order_relaxed))) {
            return true;
        }
        cpu_relax();
        if (spins % 64 == 0 && clock::now() >= deadline) return false;
    }
}

void shard::check_finished() noexcept {
    if (finished_ || live_tasks_ != 0 || !ready_.empty() || !root_stop_.stop_requested()) return;
    finished_ = true;
    rt_.shard_finished();
}

void shard::run() {
    wakeup_reader_.arm();
    std::unique_ptr<internal_read> signal_reader;
    if (id_ == 0 && rt_.signal_fd >= 0) {
        signal_reader = std::make_unique<internal_read>(rt_.signal_fd, [this, &signal_reader](int res) {
            if (res >= static_cast<int>(sizeof(signalfd_siginfo))) {
                signalfd_siginfo info;
                std::memcpy(&info, signal_reader->data(), sizeof info);
                rt_.on_signal(static_cast<int>(info.ssi_signo));
            }
            if (!rt_.all_done.load()) signal_reader->arm();  // later signals are read too
        });
        signal_reader->arm();
    }
    while (!rt_.all_done.load(std::memory_order_acquire)) {
        apply_stop_requests();
        for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) ready_.run_one();
        check_finished();
        if (rt_.all_done.load(std::memory_order_acquire)) break;
        if (ready_.empty() && poll_before_sleeping()) continue;
        backend_->poll(ready_.empty());
    }
    // Per-shard services end first, newest first, so whatever they still had
    // in the kernel is drained below.
    while (!services_.empty()) {
        auto last = std::move(services_.back().instance);
        services_.pop_back();
        last.reset();
    }
    // Let the internal reads end in the kernel before the backend and fds go away.
    wakeup_reader_.cancel();
    if (signal_reader) signal_reader->cancel();
    while (backend_->in_flight() > 0) backend_->poll(true);
}

// --- free functions behind the public shard API ------------------------------

void post_message(unsigned target, shard_message* message) {
    shard* self = shard::current();
    if (!self) throw_not_on_shard("post_message");
    runtime_state& rt = self->runtime();
    if (target >= rt.shard_count) {
        throw std::out_of_range("ringlet: shard index " + std::to_string(target) + " out of range (runtime has " +
                                std::to_string(rt.shard_count) + " shards)");
    }
    rt.message_sent();
    self->saw_message();
    rt.shards[target]->post(message);
}

void spawn_on_current(task<void> t) {
    shard* self = shard::current();
    if (!self) throw_not_on_shard("spawn");
    self->spawn(std::move(t), self->root_token());
}

void schedule_on_current(std::coroutine_handle<> h) {
    shard* self = shard::current();
    if (!self) throw_not_on_shard("schedule");
    self->schedule(h);
}

void throw_not_on_shard(const char* what) {
    throw std::logic_error(std::string("ringlet: ") + what +
                           " called outside a shard thread (only tasks run by ringlet::runtime may use it)");
}

}  // namespace ringlet::detail

namespace ringlet::this_shard {

unsigned id() {
    auto* s = detail::shard::current();
    if (!s) detail::throw_not_on_shard("this_shard::id");
    return s->id();
}

unsigned count() {
    auto* s = detail::shard::current();
    if (!s) detail::throw_not_on_shard("this_shard::count");
    return s->runtime().shard_count;
}

bool on_shard() noexcept { return detail::shard::current() != nullptr; }

ringlet::stop_token stop_token() {
    auto* s = detail::shard::current();
    if (!s) detail::throw_not_on_shard("this_shard::stop_token");
    return s->root_token();
}

ringlet::stop_token drain_token() {
    auto* s = detail::shard::current();
    if (!s) detail::throw_not_on_shard("this_shard::drain_token");
    return s->drain_token();
}

std::string describe_ring() {
    auto* s = detail::shard::current();
    if (!s) detail::throw_not_on_shard("this_shard::describe_ring");
    return s->io().describe();
}

}  // namespace ringlet::this_shard

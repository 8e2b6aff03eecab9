// The io_uring backend (see uring_backend.hpp and core/backend.hpp).
//
// Design notes
// - Setup tries SINGLE_ISSUER|DEFER_TASKRUN (6.1+: completions are processed
//   only when this thread enters the kernel, no IPIs), then COOP_TASKRUN
//   (5.19+), then plain flags; SUBMIT_ALL and CQSIZE ride along where accepted.
//   The CQ is sized well above the SQ so bursts of completions fit.
// - TASKRUN_FLAG rides along with DEFER_TASKRUN so a polling shard can see,
//   from user space, that the kernel holds completions for it.
// - user_data = generation << 32 | slot. A slot's generation changes every
//   time it is reused, so a completion for an operation that has already
//   finished (e.g. a late multishot CQE) can never resume a newer waiter.
// - Deadlines are the shard's timer_queue's (word 1 of an op's backend words
//   points at its entry). An op with a time limit is submitted alone; when
//   the limit passes, an IORING_OP_ASYNC_CANCEL ends it (-ECANCELED, which
//   io_op maps to timed_out, or its result if it won the race) — as a linked
//   timeout did, without a kernel timer per op: a keep-alive read that ends
//   before its limit (the common case) costs a heap insert and remove. A
//   timer op (sleep, a wait's timer) needs no kernel op at all.
// - One IORING_OP_TIMEOUT (tag `timer`) is armed for the queue's earliest
//   deadline, only to wake a blocked enter. It is moved only when a new
//   deadline is earlier than it (IORING_TIMEOUT_UPDATE, in place); a timer
//   that fires early because its entry left the queue costs one loop turn
//   and is armed afresh for the then-earliest. Expired entries are found by
//   comparing with the clock at each poll.
// - When io_uring itself is unavailable, construction throws a message that
//   names the cause and the remedy (core/backend_choice.cpp tells them apart).
#include "core/uring_backend.hpp"

#include "core/backend_choice.hpp"

#include <ringlet/core/io_op.hpp>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace ringlet::detail {
namespace {

constexpr std::uint32_t slot_base = 16;  // keeps slot user_data clear of any small tag

int try_setup(io_uring& ring, const ring_config& config, unsigned flags) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = config.cq_entries ? config.cq_entries : config.sq_entries * 8;
    return io_uring_queue_init_params(config.sq_entries, &ring, &params);
}

struct named_flag {
    unsigned flag;
    const char* name;
};
constexpr named_flag setup_flag_names[] = {
    {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"}, {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},   {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},
    {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},       {IORING_SETUP_CQSIZE, "CQSIZE"},
};
constexpr named_flag feature_names[] = {
    {IORING_FEAT_NODROP, "NODROP"},           {IORING_FEAT_SUBMIT_STABLE, "SUBMIT_STABLE"},
    {IORING_FEAT_FAST_POLL, "FAST_POLL"},     {IORING_FEAT_EXT_ARG, "EXT_ARG"},
    {IORING_FEAT_NATIVE_WORKERS, "NATIVE_WORKERS"}, {IORING_FEAT_CQE_SKIP, "CQE_SKIP"},
    {IORING_FEAT_LINKED_FILE, "LINKED_FILE"},
};
struct named_opcode {
    int opcode;
    const char* name;
};
constexpr named_opcode opcode_names[] = {
    {IORING_OP_NOP, "NOP"},           {IORING_OP_READ, "READ"},           {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_TIMEOUT, "TIMEOUT"},     {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},           {IORING_OP_RECVMSG, "RECVMSG"},
    {IORING_OP_SENDMSG, "SENDMSG"},   {IORING_OP_CLOSE, "CLOSE"},         {IORING_OP_SHUTDOWN, "SHUTDOWN"},
    {IORING_OP_SOCKET, "SOCKET"},     {IORING_OP_MSG_RING, "MSG_RING"},   {IORING_OP_PROVIDE_BUFFERS, "PROVIDE_BUFFERS"},
    {IORING_OP_SEND_ZC, "SEND_ZC"},
};

}  // namespace

uring_backend::uring_backend(const ring_config& config, timer_queue& timers)
    : timers_(timers), owner_(std::this_thread::get_id()) {
    set_up(config);
}

// Not delegating: the argument `own_timers_` of a delegated call would be a
// member access before the object's dynamic type exists (UBSan: vptr).
uring_backend::uring_backend(const ring_config& config) : timers_(own_timers_), owner_(std::this_thread::get_id()) {
    set_up(config);
}

void uring_backend::set_up(const ring_config& config) {
    constexpr unsigned common = IORING_SETUP_SUBMIT_ALL;
    const unsigned attempts[] = {
        // TASKRUN_FLAG lets an idle-polling shard see deferred completions without entering.
        common | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        common | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        common,
        0,
    };
    int rc = -EINVAL;
    for (unsigned flags : attempts) {
        rc = try_setup(ring_, config, flags);
        if (rc == 0) {
            setup_flags_ = flags | IORING_SETUP_CQSIZE;
            break;
        }
        // Only EINVAL means "flags not understood"; anything else will not improve.
        if (rc != -EINVAL) break;
    }
    if (rc < 0) throw std::runtime_error(io_uring_unavailable_message(-rc));

    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
        for (int op = 0; op <= probe->last_op && op < 256; ++op) {
            if (io_uring_opcode_supported(probe, op)) opcodes_.set(static_cast<unsigned>(op));
        }
        io_uring_free_probe(probe);
    }
    slots_.reserve(config.sq_entries);
}

uring_backend::~uring_backend() {
    for (deadline_entry& d : deadlines_) {
        if (d.armed()) timers_.remove(d);
    }
    io_uring_queue_exit(&ring_);
}

void uring_backend::assert_owner() const noexcept { assert(owner_ == std::this_thread::get_id()); }

io_uring_sqe* uring_backend::get_sqe() {
    assert_owner();
    for (;;) {
        if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
        // SQ full: hand what we have to the kernel and try again.
        ++stats_.sq_full_submits;
        const int rc = io_uring_submit(&ring_);
        if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
            throw std::system_error(-rc, std::generic_category(), "ringlet: io_uring_submit");
        }
        if (rc == -EBUSY || rc == -EAGAIN) io_uring_get_events(&ring_);  // CQ backlog: let the kernel drain
    }
}

std::uint64_t uring_backend::track(io_op* op) {
    assert_owner();
    std::uint32_t index = free_head_;
    if (index == UINT32_MAX) {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.push_back({});
    } else {
        free_head_ = slots_[index].next_free;
    }
    slot& s = slots_[index];
    s.op = op;
    if (++s.generation == 0) s.generation = 1;
    ++in_flight_;
    return (std::uint64_t{s.generation} << 32) | (index + slot_base);
}

namespace {

/// A timer op: no descriptor, and not done by itself (core/ops/timer.cpp:
/// -EAGAIN before its deadline, -ETIME after). A nop (0) is not one.
int timer_state(io_op& op, const op_steps& steps) noexcept {
    if (!steps.wait_for || !steps.perform || steps.wait_for(op).fd >= 0) return 0;
    return steps.perform(op);
}

}  // namespace

void uring_backend::submit(io_op& op) {
    const op_steps& steps = steps_of(op);
    words_of(op)[1] = 0;
    if (const int timer = timer_state(op, steps); timer == -EAGAIN || timer == -ETIME) {
        // A sleep or a wait's timer needs no kernel op: the queue's earliest
        // deadline is what the one kernel timer is armed for.
        words_of(op)[0] = 0;
        ++in_flight_;
        if (timer == -ETIME) deferred_.push_back({&op, -ETIME});  // already due
        else add_deadline(op, timeout{static_cast<const timer_op&>(op).deadline()}, true);
        return;
    }
    io_uring_sqe* sqe = get_sqe();
    steps.prepare(op, sqe);
    if (sqe_hook_) [[unlikely]] sqe_hook_(sqe_hook_context_, op, sqe);
    const std::uint64_t user_data = track(&op);
    words_of(op)[0] = user_data;
    io_uring_sqe_set_data64(sqe, user_data);
    if (const timeout& limit = op.time_limit(); limit.is_set()) add_deadline(op, limit, false);
}

void uring_backend::cancel(io_op& op) {
    auto* d = reinterpret_cast<deadline_entry*>(static_cast<std::uintptr_t>(words_of(op)[1]));
    if (d && d->timer_op) {
        // Still queued (an expired one has already completed): completes from the next poll().
        drop_deadline(op);
        deferred_.push_back({&op, -ECANCELED});
        return;
    }
    if (!words_of(op)[0]) return;  // a timer op that already completed
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, words_of(op)[0], 0);
    io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(ring_tag::ignore));
}

uring_backend::deadline_entry& uring_backend::add_deadline(io_op& op, const timeout& when, bool timer_op) {
    deadline_entry* d = free_deadlines_;
    if (d) free_deadlines_ = d->next_free;
    else d = &deadlines_.emplace_back(this);
    d->op = &op;
    d->timer_op = timer_op;
    words_of(op)[1] = reinterpret_cast<std::uintptr_t>(d);
    timers_.insert(when, *d);
    return *d;
}

void uring_backend::drop_deadline(io_op& op) noexcept {
    auto* d = reinterpret_cast<deadline_entry*>(static_cast<std::uintptr_t>(words_of(op)[1]));
    if (!d) return;
    timers_.remove(*d);
    words_of(op)[1] = 0;
    d->op = nullptr;
    d->next_free = free_deadlines_;
    free_deadlines_ = d;
}

void uring_backend::deadline_entry::expired(timer_entry& self) noexcept {
    auto& d = static_cast<deadline_entry&>(self);
    uring_backend& b = *d.owner;
    io_op& op = *d.op;
    b.drop_deadline(op);
    if (d.timer_op) {
        // Runs inside poll(): the timer op completes here, as its CQE would have.
        --b.in_flight_;
        b.complete(op, -ETIME, 0, false);
        return;
    }
    // The op's limit: cancel it as its linked timeout did; it completes with
    // -ECANCELED (outcome: timed_out) or, if it won the race, its result.
    ++b.stats_.limit_cancels;
    io_uring_sqe* sqe = b.get_sqe();
    io_uring_prep_cancel64(sqe, words_of(op)[0], 0);
    io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(ring_tag::ignore));
}

void uring_backend::arm_kernel_timer() {
    const clock::time_point next = timers_.next_deadline();
    if (next >= armed_) return;  // already due at or before it (or nothing to time)
    const std::int64_t ns = next.time_since_epoch().count();  // steady_clock is CLOCK_MONOTONIC
    kernel_deadline_.tv_sec = ns / 1'000'000'000;
    kernel_deadline_.tv_nsec = ns % 1'000'000'000;
    io_uring_sqe* sqe = get_sqe();
    if (kernel_timer_) {
        // Move the armed timer earlier in place. If it fired meanwhile the
        // update finds nothing (ENOENT); its CQE then re-arms from scratch.
        io_uring_prep_timeout_update(sqe, &kernel_deadline_, static_cast<std::uint64_t>(ring_tag::timer),
                                     IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(ring_tag::ignore));
        ++stats_.timer_updates;
    } else {
        io_uring_prep_timeout(sqe, &kernel_deadline_, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(ring_tag::timer));
        kernel_timer_ = true;
        ++stats_.timer_arms;
    }
    armed_ = next;
}

unsigned uring_backend::expire_deadlines() {
    if (timers_.empty() || timers_.next_deadline() > clock::now()) return 0;
    return static_cast<unsigned>(timers_.expire(clock::now()));
}

unsigned uring_backend::run_deferred() {
    if (deferred_.empty()) return 0;
    running_.swap(deferred_);
    for (const deferred_completion& c : running_) {
        --in_flight_;
        complete(*c.op, c.res, 0, false);
    }
    const auto count = static_cast<unsigned>(running_.size());
    running_.clear();
    return count;
}

unsigned uring_backend::poll(bool block) {
    assert_owner();
    // Completions that need no kernel (cancelled or expired timer ops) first;
    // then the one enter, sleeping only when nothing was dispatched.
    unsigned dispatched = run_deferred() + expire_deadlines();
    arm_kernel_timer();
    ++stats_.enters;
    const bool wait = block && dispatched == 0 && deferred_.empty();
    int rc = wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN) {
        throw std::system_error(-rc, std::generic_category(), "ringlet: io_uring_enter");
    }
    dispatched += reap();
    return dispatched + expire_deadlines();
}

unsigned uring_backend::reap() {
    if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) {
        // The kernel kept completions that did not fit (FEAT_NODROP); entering
        // with GETEVENTS flushes them into the CQ so none is lost.
        ++stats_.cq_overflows;
        io_uring_get_events(&ring_);
    }
    constexpr unsigned batch = 64;
    io_uring_cqe* cqes[batch];
    unsigned total = 0;
    for (;;) {
        const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, batch);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) {
            const std::uint64_t ud = cqes[i]->user_data;
            const int res = cqes[i]->res;
            const std::uint32_t flags = cqes[i]->flags;
            if (ud >> 32) dispatch(ud, res, flags);
            else if (static_cast<ring_tag>(ud) == ring_tag::wake) woken();
            else if (static_cast<ring_tag>(ud) == ring_tag::timer) {
                // The kernel timer fired (an update moves it without a CQE): arm afresh at the next poll.
                kernel_timer_ = false;
                armed_ = clock::time_point::max();
            }
        }
        io_uring_cq_advance(&ring_, n);
        total += n;
        if (n < batch) break;
    }
    stats_.completions += total;
    return total;
}

bool uring_backend::supports(capability c) const noexcept {
    switch (c) {
        // Multishot accept/poll/recv need newer kernels than the opcodes
        // themselves; their users fall back at run time on EINVAL.
        case capability::multishot_accept: return supports_opcode(IORING_OP_ACCEPT);
        case capability::multishot_poll: return supports_opcode(IORING_OP_POLL_ADD);
        case capability::multishot_recv: return supports_opcode(IORING_OP_RECV);
        case capability::buffer_rings: return supports_opcode(IORING_OP_PROVIDE_BUFFERS);
        case capability::msg_ring: return supports_opcode(IORING_OP_MSG_RING);
        case capability::send_zc: return supports_opcode(IORING_OP_SEND_ZC);
        case capability::recv_bundle: return false;  // not used yet
        case capability::cancel_fd: return supports_opcode(IORING_OP_ASYNC_CANCEL);
    }
    return false;
}

bool uring_backend::wake(backend& target) noexcept {
    uring_backend* other = as_uring(target);
    if (!other || other == this || !supports(capability::msg_ring)) return false;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_msg_ring(sqe, other->fd(), 0, static_cast<std::uint64_t>(ring_tag::wake), 0);
    io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(ring_tag::ignore));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    return true;
}

void uring_backend::dispatch(std::uint64_t user_data, int res, std::uint32_t flags) {
    const std::uint32_t index = static_cast<std::uint32_t>(user_data) - slot_base;
    const auto generation = static_cast<std::uint32_t>(user_data >> 32);
    if (index >= slots_.size() || slots_[index].generation != generation || !slots_[index].op) {
        ++stats_.stale_completions;
        return;
    }
    slot& s = slots_[index];
    io_op* op = s.op;
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) {
        s.op = nullptr;
        ++s.generation;  // any later CQE with the old generation is stale
        if (s.generation == 0) s.generation = 1;
        s.next_free = free_head_;
        free_head_ = index;
        --in_flight_;
        drop_deadline(*op);  // the op ended before its time limit
    }
    complete(*op, res, flags, more);
}

std::string uring_backend::describe() const {
    std::ostringstream out;
    out << "setup flags:";
    for (auto [flag, name] : setup_flag_names) {
        if (setup_flags_ & flag) out << ' ' << name;
    }
    out << "\nfeatures:";
    for (auto [flag, name] : feature_names) {
        if (ring_.features & flag) out << ' ' << name;
    }
    out << "\nsq entries: " << ring_.sq.ring_entries << ", cq entries: " << ring_.cq.ring_entries;
    out << "\nopcodes:";
    for (auto [opcode, name] : opcode_names) {
        out << ' ' << name << (supports_opcode(opcode) ? "" : "(missing)");
    }
    out << '\n';
    return out.str();
}

}  // namespace ringlet::detail

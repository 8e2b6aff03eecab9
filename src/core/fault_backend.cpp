// The fault-injecting backend decorator (see fault_backend.hpp for what it
// injects and how to switch it on).
//
// Design notes
// - An op's kind is read from its own prepare step, run into a scratch SQE
//   that never reaches a kernel (prepare steps only fill the SQE and, for
//   msghdr ops, refill the op's own msghdr: idempotent). Timer and nop ops,
//   and any op without a prepare step, are left alone.
// - Every decision draws from the shard's PRNG in submission order, so the
//   sequence depends only on the seed and the order of operations.
// - An injected completion is queued and delivered from the next poll(),
//   never from submit(). Held (delayed) completions of one op stay in one
//   FIFO, so an op's completions keep their order; different ops reorder.
// - A cancel reaches the real backend only while the real backend still has
//   the op (its final completion not seen): an epoll waiter record is
//   recycled after the final completion, so a late cancel must not reach it.
#include "core/fault_backend.hpp"

#include "core/ops/ops.hpp"
#include "core/uring_backend.hpp"

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace ringlet::detail {
namespace {

// The odds of each fault, as 1 in N.
constexpr std::uint64_t error_odds = 8;         // EINTR / EAGAIN instead of a data op
constexpr std::uint64_t shorten_odds = 3;       // a stream read/write cut short
constexpr std::uint64_t no_buffers_odds = 8;    // ENOBUFS instead of a multishot receive
constexpr std::uint64_t end_multishot_odds = 16;  // an armed multishot receive ended after a completion
constexpr std::uint64_t delay_odds = 4;         // a completion held for a later poll
constexpr std::uint64_t defer_cancel_odds = 2;  // an owner's cancel held for a later poll
constexpr std::uint64_t reset_odds = 4;         // profile reset: ECONNRESET instead of a stream op

enum decision : std::uint64_t {
    d_pass = 1, d_shorten, d_interrupt, d_would_block, d_no_buffers, d_end_multishot, d_reset, d_delay, d_defer_cancel,
};

bool is_stream_socket(int fd) noexcept {
    int type = 0;
    socklen_t size = sizeof type;
    return fd >= 0 && ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_STREAM;
}

bool is_shortenable(unsigned opcode) noexcept {
    return opcode == IORING_OP_RECV || opcode == IORING_OP_SEND || opcode == IORING_OP_READ ||
           opcode == IORING_OP_WRITE;
}

bool is_stream_transfer(unsigned opcode) noexcept {
    return is_shortenable(opcode) || opcode == IORING_OP_RECVMSG || opcode == IORING_OP_SENDMSG;
}

std::uint64_t parse_seed(const char* text) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        throw std::invalid_argument(std::string("RINGLET_FAULT_SEED: not an unsigned 64-bit number: '") + text + "'");
    }
    return v;
}

/// What every fault_backend of this process injected, printed at exit (so a
/// test run shows that the faults happened, not only that it passed).
struct process_totals {
    std::atomic<std::uint64_t> submitted{0}, shortened{0}, interrupted{0}, would_block{0}, no_buffers{0},
        ended_multishot{0}, resets{0}, delayed{0}, cancels{0};
};
process_totals totals;

void print_totals() {
    std::fprintf(stderr,
                 "ringlet: fault injection totals: %llu ops, %llu shortened, %llu EINTR, %llu EAGAIN, %llu ENOBUFS, "
                 "%llu multishots ended, %llu ECONNRESET, %llu completions delayed, %llu cancels raced\n",
                 static_cast<unsigned long long>(totals.submitted.load()),
                 static_cast<unsigned long long>(totals.shortened.load()),
                 static_cast<unsigned long long>(totals.interrupted.load()),
                 static_cast<unsigned long long>(totals.would_block.load()),
                 static_cast<unsigned long long>(totals.no_buffers.load()),
                 static_cast<unsigned long long>(totals.ended_multishot.load()),
                 static_cast<unsigned long long>(totals.resets.load()),
                 static_cast<unsigned long long>(totals.delayed.load()),
                 static_cast<unsigned long long>(totals.cancels.load()));
}

}  // namespace

const char* to_string(fault_profile p) noexcept { return p == fault_profile::reset ? "reset" : "integrity"; }

std::optional<fault_settings> fault_settings::from_environment() {
    const char* seed = std::getenv("RINGLET_FAULT_SEED");
    if (!seed || !*seed) return std::nullopt;
    fault_settings s;
    s.seed = parse_seed(seed);
    if (const char* profile = std::getenv("RINGLET_FAULT_PROFILE"); profile && *profile) {
        if (std::strcmp(profile, "integrity") == 0) s.profile = fault_profile::integrity;
        else if (std::strcmp(profile, "reset") == 0) s.profile = fault_profile::reset;
        else {
            throw std::invalid_argument(std::string("RINGLET_FAULT_PROFILE: '") + profile +
                                        "' is neither 'integrity' nor 'reset'");
        }
    }
    return s;
}

fault_backend::fault_backend(std::unique_ptr<backend> inner, const fault_settings& settings, unsigned shard_index)
    : inner_(std::move(inner)),
      settings_(settings),
      shard_index_(shard_index),
      rng_(fault_rng(settings.seed).next() + shard_index) {
    set_underlying(*inner_);
    inner_->set_completion_observer(this);
    inner_->set_wake_handler(&fault_backend::forward_wake, this);
    if (uring_backend* uring = as_uring(*inner_)) uring->set_sqe_hook(&fault_backend::shorten_sqe, this);
    static std::atomic<bool> announced{false};
    if (!announced.exchange(true)) {
        std::atexit(&print_totals);
        std::fprintf(stderr,
                     "ringlet: fault injection on: RINGLET_FAULT_SEED=%llu RINGLET_FAULT_PROFILE=%s (%s backend); "
                     "rerun a failure with the same variables and --gtest_filter=<its name>\n",
                     static_cast<unsigned long long>(settings.seed), to_string(settings.profile),
                     inner_->kind() == backend_kind::epoll ? "epoll" : "io_uring");
    }
}

fault_backend::~fault_backend() {
    totals.submitted += stats_.submitted;
    totals.shortened += stats_.shortened;
    totals.interrupted += stats_.interrupted;
    totals.would_block += stats_.would_block;
    totals.no_buffers += stats_.no_buffers;
    totals.ended_multishot += stats_.ended_multishot;
    totals.resets += stats_.resets;
    totals.delayed += stats_.delayed;
    totals.cancels += stats_.deferred_cancels + stats_.late_cancels + stats_.cancelled_injected;
    if (uring_backend* uring = as_uring(*inner_)) uring->set_sqe_hook(nullptr, nullptr);
    inner_->set_completion_observer(nullptr);
}

void fault_backend::forward_wake(void* self) noexcept { static_cast<fault_backend*>(self)->woken(); }

void fault_backend::note(std::uint64_t what) noexcept {
    stats_.decision_hash = (stats_.decision_hash ^ what) * 0x100000001b3ULL;  // FNV-1a step
}

void fault_backend::shorten_sqe(void* self, io_op&, io_uring_sqe* sqe) noexcept {
    auto& b = *static_cast<fault_backend*>(self);
    if (b.shorten_to_ && is_shortenable(sqe->opcode) && sqe->len > b.shorten_to_) sqe->len = b.shorten_to_;
    b.shorten_to_ = 0;
}

void fault_backend::inject(io_op& op, op_state& st, int res) {
    st.injected = true;
    st.injected_res = res;
    injected_.push_back({&op, st.id, turn_});
}

void fault_backend::submit(io_op& op) {
    ++stats_.submitted;
    const op_steps& steps = steps_of(op);
    op_state& st = ops_[&op];
    st = op_state{};
    st.id = next_id_++;
    if (!steps.prepare || &steps == &ops::timer_steps || &steps == &ops::nop_steps) {
        st.in_inner = true;
        inner_->submit(op);
        return;
    }
    io_uring_sqe scratch{};
    steps.prepare(op, &scratch);
    const unsigned opcode = scratch.opcode;
    st.fd = scratch.fd;
    note(opcode);

    if (opcode == IORING_OP_ASYNC_CANCEL && (scratch.cancel_flags & IORING_ASYNC_CANCEL_FD)) {
        // Cancel-by-descriptor finds the ops whose injected result is still
        // queued here too: they were never performed, so they are cancelled.
        for (const op_ref& r : injected_) {
            auto it = ops_.find(r.op);
            if (it != ops_.end() && it->second.id == r.id && it->second.fd == st.fd) {
                it->second.injected_res = -ECANCELED;
                ++stats_.cancelled_injected;
            }
        }
    }
    if (opcode == IORING_OP_CLOSE) std::erase(reset_fds_, st.fd);

    if (settings_.profile == fault_profile::reset && is_stream_transfer(opcode) && is_stream_socket(st.fd)) {
        const bool already = std::find(reset_fds_.begin(), reset_fds_.end(), st.fd) != reset_fds_.end();
        if (already || rng_.one_in(reset_odds)) {
            if (!already) reset_fds_.push_back(st.fd);
            ++stats_.resets;
            note(d_reset);
            inject(op, st, -ECONNRESET);
            return;
        }
    }
    if (steps.multishot && (scratch.flags & IOSQE_BUFFER_SELECT)) {
        if (rng_.one_in(no_buffers_odds)) {
            ++stats_.no_buffers;
            note(d_no_buffers);
            inject(op, st, -ENOBUFS);
            return;
        }
    } else if (steps.retry_transient && !steps.multishot) {
        if (rng_.one_in(error_odds)) {
            // -EAGAIN only where it means "nothing done" (io_op::on_cqe): on
            // a descriptor in O_NONBLOCK mode it is the owner's answer.
            const bool interrupt = rng_.one_in(2) || in_nonblocking_mode(st.fd);
            ++(interrupt ? stats_.interrupted : stats_.would_block);
            note(interrupt ? d_interrupt : d_would_block);
            inject(op, st, interrupt ? -EINTR : -EAGAIN);
            return;
        }
        if (is_shortenable(opcode) && scratch.len > 1 && as_uring(*inner_) && is_stream_socket(st.fd) &&
            rng_.one_in(shorten_odds)) {
            shorten_to_ = 1 + static_cast<std::uint32_t>(rng_.below(scratch.len - 1));
            ++stats_.shortened;
            note(d_shorten);
            note(shorten_to_);
        }
    }
    note(d_pass);
    st.in_inner = true;
    inner_->submit(op);
    shorten_to_ = 0;
}

void fault_backend::cancel(io_op& op) {
    auto it = ops_.find(&op);
    if (it == ops_.end()) return;  // its final completion was delivered already
    op_state& st = it->second;
    st.owner_cancelled = true;
    if (st.injected) {
        // Never performed: the cancel finds it first.
        if (st.injected_res != -ECANCELED) ++stats_.cancelled_injected;
        st.injected_res = -ECANCELED;
        return;
    }
    if (!st.in_inner) {
        ++stats_.late_cancels;  // its final completion is held: it wins the race
        return;
    }
    // Held only on io_uring, whose cancel is asynchronous anyway (the op
    // keeps its file until it ends). epoll ends a cancelled op at once; a
    // cancel held there would leave the op waiting on a descriptor that its
    // owner closes next (an orphaned receiver's socket), and a new file
    // behind that number would never be registered — a state the real
    // epoll backend cannot reach.
    if (as_uring(*inner_) && rng_.one_in(defer_cancel_odds)) {
        ++stats_.deferred_cancels;
        note(d_defer_cancel);
        deferred_cancels_.push_back({&op, st.id, turn_});
        return;
    }
    inner_->cancel(op);
}

void fault_backend::completed(io_op& op, int res, std::uint32_t flags, bool more) noexcept {
    auto it = ops_.find(&op);
    if (it == ops_.end()) {
        deliver(op, res, flags, more);
        return;
    }
    op_state& st = it->second;
    if (!more) st.in_inner = false;
    const op_steps& steps = steps_of(op);
    if (steps.multishot && more && res > 0 && !st.ending && !st.owner_cancelled &&
        rng_.one_in(end_multishot_odds)) {
        // End the multishot after this completion, as a drained buffer ring would.
        if (ops::has_selected_buffer(flags)) {
            st.ending = true;
            ++stats_.ended_multishot;
            note(d_end_multishot);
            inner_->cancel(op);
        }
    }
    if (!more && st.ending && !st.owner_cancelled && res == -ECANCELED) res = -ENOBUFS;
    if (st.held > 0 || rng_.one_in(delay_odds)) {
        ++st.held;
        if (!more) ++held_finals_;
        ++stats_.delayed;
        held_.push_back({&op, res, flags, more, turn_ + 1 + rng_.below(2)});
        return;
    }
    hand_over(op, res, flags, more);
}

void fault_backend::hand_over(io_op& op, int res, std::uint32_t flags, bool more) noexcept {
    if (!more) ops_.erase(&op);  // before: the op may be resubmitted (or destroyed) by its completion
    deliver(op, res, flags, more);
}

unsigned fault_backend::deliver_injected() {
    if (injected_.empty()) return 0;
    std::vector<op_ref> due;
    std::vector<op_ref> later;
    for (const op_ref& r : injected_) (r.turn < turn_ ? due : later).push_back(r);
    injected_ = std::move(later);
    for (const op_ref& r : due) {
        auto it = ops_.find(r.op);
        if (it == ops_.end() || it->second.id != r.id) continue;
        const int res = it->second.injected_res;
        hand_over(*r.op, res, 0, false);
    }
    return static_cast<unsigned>(due.size());
}

unsigned fault_backend::deliver_held() {
    if (held_.empty()) return 0;
    std::vector<held_completion> all;
    all.swap(held_);
    std::vector<io_op*> blocked;  // ops with an earlier completion not due: keep their order
    unsigned n = 0;
    for (const held_completion& h : all) {
        const bool behind = std::find(blocked.begin(), blocked.end(), h.op) != blocked.end();
        if (behind || h.due_turn > turn_) {
            if (!behind) blocked.push_back(h.op);
            held_.push_back(h);
            continue;
        }
        if (auto it = ops_.find(h.op); it != ops_.end()) --it->second.held;
        if (!h.more) --held_finals_;
        hand_over(*h.op, h.res, h.flags, h.more);
        ++n;
    }
    return n;
}

unsigned fault_backend::poll(bool block) {
    ++turn_;
    if (!deferred_cancels_.empty()) {
        std::vector<op_ref> cancels;
        cancels.swap(deferred_cancels_);
        for (const op_ref& r : cancels) {
            auto it = ops_.find(r.op);
            if (it != ops_.end() && it->second.id == r.id && it->second.in_inner) inner_->cancel(*r.op);
        }
    }
    unsigned n = deliver_injected() + deliver_held();
    const bool waiting_here = !injected_.empty() || !held_.empty() || !deferred_cancels_.empty();
    n += inner_->poll(block && n == 0 && !waiting_here);
    return n;
}

bool fault_backend::completions_pending() const noexcept {
    return !injected_.empty() || !held_.empty() || !deferred_cancels_.empty() || inner_->completions_pending();
}

std::size_t fault_backend::in_flight() const noexcept { return inner_->in_flight() + injected_.size() + held_finals_; }

std::string fault_backend::describe() const {
    std::ostringstream out;
    out << inner_->describe() << "fault injection: seed " << settings_.seed << ", profile " << to_string(settings_.profile)
        << ", shard " << shard_index_ << '\n';
    return out.str();
}

}  // namespace ringlet::detail

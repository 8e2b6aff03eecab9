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
// - When io_uring itself is unavailable, construction throws a message that
//   names the cause and the remedy (core/backend_choice.cpp tells them apart).
#include "core/ring.hpp"

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

ring::ring(const ring_config& config) : owner_(std::this_thread::get_id()) {
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

ring::~ring() { io_uring_queue_exit(&ring_); }

void ring::assert_owner() const noexcept { assert(owner_ == std::this_thread::get_id()); }

io_uring_sqe* ring::get_sqe() {
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

void ring::reserve(unsigned count) {
    if (io_uring_sq_space_left(&ring_) >= count) return;
    ++stats_.sq_full_submits;
    io_uring_submit(&ring_);
    while (io_uring_sq_space_left(&ring_) < count) io_uring_get_events(&ring_);
}

std::uint64_t ring::track(io_op* op) {
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

void ring::cancel(std::uint64_t user_data) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, user_data, 0);
    io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(ring_tag::ignore));
}

void ring::dispatch(std::uint64_t user_data, int res, std::uint32_t flags) {
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
    }
    op->on_cqe(res, flags, more);
}

void ring::submit(bool wait) {
    assert_owner();
    ++stats_.enters;
    int rc = wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN) {
        throw std::system_error(-rc, std::generic_category(), "ringlet: io_uring_enter");
    }
}

std::string ring::describe() const {
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
        out << ' ' << name << (supports(opcode) ? "" : "(missing)");
    }
    out << '\n';
    return out.str();
}

}  // namespace ringlet::detail

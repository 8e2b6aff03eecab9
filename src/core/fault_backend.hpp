// Deterministic fault injection at the backend seam (tests only).
//
// fault_backend decorates a shard's real backend (io_uring or epoll) and,
// from a seed, makes the kernel look as unkind as it is allowed to be:
//
//   kind              what the caller sees                     ops it hits
//   ----------------  ---------------------------------------  -----------------------------
//   shorten           a short read or write: the SQE's length  recv, send, read, write on a
//                     is cut before the kernel sees it         SOCK_STREAM socket (io_uring)
//   interrupt         -EINTR instead of doing the op           single-shot data ops and accept
//   would-block       -EAGAIN instead of doing the op          (op_steps::retry_transient)
//   no-buffers        -ENOBUFS ends a buffer-ring multishot    multishot recv / recvmsg with
//                     receive (at submission, or later by an   provided buffers
//                     internal cancel whose -ECANCELED is
//                     reported as -ENOBUFS)
//   delay             a completion held for 1-2 loop turns:    every op; never reorders two
//                     completions of different ops reorder    completions of one op
//   cancel race       the owner's cancel held for a loop turn  every op; held only on
//                     (the op may complete first: it then      io_uring (epoll ends a
//                     reports its real result), or it arrives  cancelled op at once: see
//                     after the completion was held (absorbed) fault_backend::cancel)
//   small rings       io_uring SQ of 16 and CQ of 32 entries:  the io_uring backend's real
//                     the full-SQ flush and the CQ-overflow    get_sqe() flush and
//                     (IORING_SQ_CQ_OVERFLOW) paths run        IORING_SQ_CQ_OVERFLOW reap
//   reset (profile    -ECONNRESET instead of the op, and for   recv/send/recvmsg/sendmsg on a
//   `reset` only)     every later op on the descriptor         SOCK_STREAM socket
//
// Left alone: connect, close and shutdown (their EINTR has effects: a
// connect goes on, a close released the descriptor), poll, cancel-by-fd
// and timers; and, on the epoll backend, lengths (it has no SQE to cut).
// Direct syscalls the net layer makes before using the ring (a write tried
// at once, a receive's fast path) never meet the seam, so no fault either.
//
// None of these loses, duplicates or reorders a byte: an injected error is
// delivered *instead of* the op (nothing consumed), a shortened op moves
// fewer bytes, a held completion is delivered later in its op's order. The
// layers above must absorb them (io_op retries EINTR/EAGAIN; receivers
// re-arm after ENOBUFS; writers loop on short writes) — that is what the
// test runs check. `reset` is hostile: its tests assert a clean
// connection_reset error instead of bytes.
//
// Switching it on: RINGLET_FAULT_SEED=<unsigned 64-bit> (and optionally
// RINGLET_FAULT_PROFILE=integrity|reset) in the environment of a process;
// each shard then wraps its backend, with a PRNG (splitmix64) seeded from
// the seed and the shard's index, so one seed gives one fault sequence per
// shard for the same sequence of operations. The first shard prints one
// line on stderr naming the seed and how to rerun, and the process prints
// the totals of each fault kind at exit. Reproduce a failure:
//
//   RINGLET_FAULT_SEED=1234 build/tests/net/net_tests --gtest_filter=Stream.*
//
// Always compiled, inert unless the variable is set: a separate build would
// double CI's build time, and the normal path pays only for two null-pointer
// tests (backend::complete's observer, uring_backend's SQE hook), each a
// predictable branch beside a syscall-sized operation.
//
// Thread safety: like every backend, touched only by its shard's thread.
#pragma once

#include "core/backend.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ringlet::detail {

/// splitmix64 (Steele, Lea, Flood 2014): tiny, full-period, and the same
/// sequence on every platform and standard library.
class fault_rng {
public:
    explicit fault_rng(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// True with probability 1/n.
    bool one_in(std::uint64_t n) noexcept { return next() % n == 0; }
    /// Uniform in [0, n).
    std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

private:
    std::uint64_t state_;
};

enum class fault_profile : std::uint8_t {
    integrity,  ///< every byte-preserving fault (the default)
    reset,      ///< integrity plus ECONNRESET on stream sockets (hostile)
};

struct fault_settings {
    std::uint64_t seed = 0;
    fault_profile profile = fault_profile::integrity;

    /// From RINGLET_FAULT_SEED and RINGLET_FAULT_PROFILE; nullopt when the
    /// seed is unset or empty. Throws std::invalid_argument naming the
    /// variable when a value is malformed.
    static std::optional<fault_settings> from_environment();
    /// The ring sizes a shard uses under fault injection (small, so the
    /// full-SQ and CQ-overflow paths are taken).
    static constexpr unsigned sq_entries = 16;
    static constexpr unsigned cq_entries = 32;
};

[[nodiscard]] const char* to_string(fault_profile p) noexcept;

/// How many faults of each kind were injected (tests assert on them).
struct fault_stats {
    std::uint64_t submitted = 0;         ///< ops seen by submit()
    std::uint64_t shortened = 0;         ///< reads/writes whose length was cut
    std::uint64_t interrupted = 0;       ///< -EINTR instead of the op
    std::uint64_t would_block = 0;       ///< -EAGAIN instead of the op
    std::uint64_t no_buffers = 0;        ///< -ENOBUFS instead of a multishot receive
    std::uint64_t ended_multishot = 0;   ///< multishot receives ended early with -ENOBUFS
    std::uint64_t resets = 0;            ///< -ECONNRESET instead of the op (profile reset)
    std::uint64_t delayed = 0;           ///< completions held for a later poll
    std::uint64_t deferred_cancels = 0;  ///< owner cancels held for a later poll
    std::uint64_t late_cancels = 0;      ///< owner cancels after the completion was held
    std::uint64_t cancelled_injected = 0;  ///< injected errors turned into -ECANCELED by a cancel
    /// A running hash of every decision (kind, op kind, length), in order:
    /// equal for equal seeds and op sequences.
    std::uint64_t decision_hash = 0;
};

class fault_backend final : public backend, private backend::completion_observer {
public:
    fault_backend(std::unique_ptr<backend> inner, const fault_settings& settings, unsigned shard_index);
    ~fault_backend() override;

    /// `b` as a fault_backend, or nullptr.
    [[nodiscard]] static fault_backend* of(backend& b) noexcept { return dynamic_cast<fault_backend*>(&b); }

    // --- backend -----------------------------------------------------------
    [[nodiscard]] backend_kind kind() const noexcept override { return inner_->kind(); }
    void submit(io_op& op) override;
    void cancel(io_op& op) override;
    unsigned poll(bool block) override;
    [[nodiscard]] bool completions_pending() const noexcept override;
    [[nodiscard]] bool supports(capability c) const noexcept override { return inner_->supports(c); }
    [[nodiscard]] std::size_t in_flight() const noexcept override;
    [[nodiscard]] std::string describe() const override;
    bool wake(backend& target) noexcept override { return inner_->wake(target); }

    [[nodiscard]] const fault_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const fault_settings& settings() const noexcept { return settings_; }

private:
    /// What the wrapper knows of one op between submit and its final delivery.
    struct op_state {
        std::uint64_t id = 0;       // tells a reused op address from the old op
        int fd = -1;
        bool in_inner = false;       // submitted to the real backend, final not seen yet
        bool injected = false;       // its completion is an injected one (not submitted)
        bool owner_cancelled = false;
        bool ending = false;         // an internal cancel will end this multishot (-> ENOBUFS)
        unsigned held = 0;           // completions of it in held_
        int injected_res = 0;
    };
    struct held_completion {
        io_op* op;
        int res;
        std::uint32_t flags;
        bool more;
        std::uint64_t due_turn;
    };
    struct op_ref {
        io_op* op;
        std::uint64_t id;
        std::uint64_t turn;  // injected: the turn it was queued in
    };

    void completed(io_op& op, int res, std::uint32_t flags, bool more) noexcept override;
    static void forward_wake(void* self) noexcept;
    static void shorten_sqe(void* self, io_op& op, io_uring_sqe* sqe) noexcept;
    void note(std::uint64_t what) noexcept;
    void inject(io_op& op, op_state& st, int res);
    /// Delivers to the op, forgetting it first when this is its final completion.
    void hand_over(io_op& op, int res, std::uint32_t flags, bool more) noexcept;
    unsigned deliver_injected();
    unsigned deliver_held();

    std::unique_ptr<backend> inner_;
    fault_settings settings_;
    unsigned shard_index_;
    fault_rng rng_;
    fault_stats stats_;
    std::unordered_map<io_op*, op_state> ops_;
    std::vector<op_ref> injected_;
    std::vector<op_ref> deferred_cancels_;
    std::vector<held_completion> held_;
    std::vector<int> reset_fds_;  // profile reset: descriptors that were "reset"
    std::uint64_t next_id_ = 1;
    std::uint64_t turn_ = 0;
    std::uint32_t shorten_to_ = 0;  // the length shorten_sqe puts in the next SQE (0: none)
    std::size_t held_finals_ = 0;
};

}  // namespace ringlet::detail

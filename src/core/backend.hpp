// The backend seam: the one interface between ringlet's operations and the
// kernel's I/O interface of a shard (io_uring today; epoll as the fallback
// where io_uring is denied). Private to src/: no liburing in it.
//
// Every operation is a detail::io_op carrying a `const op_steps&` with both
// ways of doing it: `prepare` fills an io_uring SQE (a completion-based
// backend), `perform` + `wait_for` try it without blocking and name what to
// wait for when it is not ready (a readiness-based backend). A backend runs
// the op one way and reports every completion through complete(), from
// poll() — never synchronously from submit() or cancel() — so an awaiting
// coroutine never resumes inside its own await_suspend.
//
// Thread safety: a backend belongs to its shard's thread; every member is
// called there only, except wake(target), which runs on the *sender's* shard
// thread with the target's backend as argument (and reads only what the
// target published at construction, e.g. io_uring's ring fd).
#pragma once

#include <ringlet/core/io_op.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

struct io_uring_sqe;  // filled by op_steps::prepare (io_uring backend only)

namespace ringlet::detail {

enum class backend_kind : std::uint8_t { io_uring, epoll };

/// What a backend can do natively. Callers ask before using an optimisation
/// and keep a fallback: a multishot op is emulated or replaced by repeated
/// single-shot ones, a receive without buffer rings reads into its own buffer.
enum class capability : std::uint8_t {
    multishot_accept,  ///< one accept submission, one completion per connection
    multishot_poll,    ///< one poll submission, one completion per readiness edge
    multishot_recv,    ///< one recv submission, one completion per chunk (needs buffer_rings)
    buffer_rings,      ///< provided-buffer rings (register_buffer_ring works)
    msg_ring,          ///< wake(target) reaches another shard without an eventfd write
    send_zc,           ///< zero-copy send
    recv_bundle,       ///< several provided buffers in one recv completion
    cancel_fd,         ///< cancel every operation on a descriptor in one operation
};

/// What a readiness backend waits for before calling perform() again.
struct readiness {
    int fd = -1;               ///< -1: no descriptor — a pure timer op (its deadline decides)
    std::uint32_t events = 0;  ///< POLLIN / POLLOUT (poll(2) bits)
};

/// What an operation does to its descriptor beyond its perform step, for a
/// readiness backend, which keeps per-descriptor state of its own (the
/// io_uring backend ignores it: the kernel does both itself).
enum class fd_effect : std::uint8_t {
    none,
    /// Cancels every operation on the descriptor; the backend does it instead
    /// of calling perform(). Result: how many were cancelled, or -ENOENT.
    cancel_all,
    /// Closes the descriptor: the backend forgets it (and ends any operation
    /// still waiting on it, with -ECANCELED) before perform() closes it.
    close,
};

/// The steps of one kind of operation. One constant per kind, with static
/// storage duration (ops hold a pointer); the steps of each family of
/// operations are written once, in src/core/ops/<family>.cpp (see ops.hpp).
struct op_steps {
    /// io_uring: fills `sqe` (opcode, fd, buffer, flags; not user_data, which
    /// the backend sets). Called once per submission, on the shard thread.
    /// Null for a timer op (ops::timer_steps): it needs no kernel operation.
    void (*prepare)(io_op& op, io_uring_sqe* sqe) noexcept;
    /// Readiness backends: tries the operation once without blocking. Returns
    /// its result (>= 0) or -errno; -EAGAIN means "not ready": the backend
    /// calls it again once wait_for() reports ready. May be called any number
    /// of times; only the call that does not return -EAGAIN has effects.
    int (*perform)(io_op& op) noexcept;
    /// Readiness backends: the descriptor and events perform() waits for.
    readiness (*wait_for)(const io_op& op) noexcept;
    /// A multishot op: one submission, a completion per result (more ==
    /// true) until it fails or is cancelled (the final one, more == false).
    /// A readiness backend emulates it: after each successful perform() it
    /// delivers with more == true and waits again.
    bool multishot = false;
    /// A final -EINTR, or -EAGAIN on a blocking descriptor, means nothing
    /// happened (a data transfer or an accept interrupted, or a spurious
    /// would-block; -EAGAIN on an O_NONBLOCK one is reported): io_op submits the
    /// op again instead of reporting it, unless it was asked to stop (or its
    /// owner vetoes: a socket being closed). Never set for close or connect,
    /// whose EINTR has effects.
    bool retry_transient = false;
    /// What the op does to its descriptor's other ops (readiness backends).
    fd_effect effect = fd_effect::none;
    /// Readiness backends: perform()'s syscall has no per-call non-blocking
    /// flag (accept4, connect), so the backend sets O_NONBLOCK on the
    /// descriptor before trying it.
    bool needs_nonblocking = false;
    /// Readiness backends: the result is the descriptor's readiness (a poll),
    /// so a readiness edge answers it without calling perform() again.
    bool yields_revents = false;
};

/// True when `fd` is in O_NONBLOCK mode (one fcntl; false for -1): there a
/// final -EAGAIN is the owner's answer, not a transient result.
[[nodiscard]] bool in_nonblocking_mode(int fd) noexcept;

/// Called for the completion of a wake (see backend::wake) on the target.
using wake_handler = void (*)(void* context) noexcept;

class backend {
public:
    backend() = default;
    backend(const backend&) = delete;
    backend& operator=(const backend&) = delete;
    virtual ~backend() = default;

    [[nodiscard]] virtual backend_kind kind() const noexcept = 0;

    /// Starts `op` (its steps, fd and buffers as set by its constructor) and
    /// with it `op.time_limit()` when set (a deadline that cancels the op:
    /// its completion is then -ECANCELED, which io_op maps to timed_out).
    /// Never completes synchronously: the op's completion (one, or for a
    /// multishot op several, the last with more == false) reaches
    /// io_op::on_cqe from a later poll(). Called by io_op::start. Never fails:
    /// a full submission queue is flushed, never dropped.
    virtual void submit(io_op& op) = 0;

    /// Asks for `op` to end early. Asynchronous: the op still completes later
    /// through poll(), with -ECANCELED — or with its real result if it won the
    /// race (bytes received, a connection accepted). A no-op for an op that
    /// already had its final completion. Called from io_op's stop callback
    /// and by owners of multishot ops.
    virtual void cancel(io_op& op) = 0;

    /// One loop turn of the kernel interface: submits what is queued; if
    /// `block`, waits until at least one completion (or a wake) is there;
    /// dispatches every available completion (to io_op::on_cqe, or to the
    /// wake handler). Returns how many it dispatched. Called by shard::run.
    virtual unsigned poll(bool block) = 0;

    /// True when poll(false) would dispatch something (a completion is ready,
    /// or the kernel holds completions for this thread). Cheap: no syscall.
    /// Called by the shard's idle spin.
    [[nodiscard]] virtual bool completions_pending() const noexcept = 0;

    [[nodiscard]] virtual bool supports(capability c) const noexcept = 0;

    /// Operations submitted whose final completion has not been dispatched
    /// (internal requests such as cancels and the kernel timer not counted).
    /// The shard drains until this is 0 before destroying the backend.
    [[nodiscard]] virtual std::size_t in_flight() const noexcept = 0;

    /// What this backend set up, one fact per line (ringlet_info,
    /// this_shard::describe_ring).
    [[nodiscard]] virtual std::string describe() const = 0;

    /// Sender side of a cross-shard wake-up, on the sender's shard thread:
    /// makes `target` (another shard's backend) dispatch its wake handler
    /// without a syscall of the sender's own (io_uring: IORING_OP_MSG_RING,
    /// submitted with this backend's next poll). Returns false when this
    /// backend cannot (no msg_ring capability, or target is another kind);
    /// the caller then writes the target's eventfd.
    virtual bool wake(backend& target) noexcept = 0;

    /// Registers what runs (from poll(), on this backend's thread) when
    /// another shard's wake(*this) arrives. Set once by the shard.
    void set_wake_handler(wake_handler fn, void* context) noexcept {
        on_wake_ = fn;
        wake_context_ = context;
    }

    /// The backend that really talks to the kernel: itself, or for a
    /// decorator (core/fault_backend.hpp, tests only) the one it wraps.
    /// as_uring() looks through it (buffer rings, MSG_RING targets).
    [[nodiscard]] backend& underlying() noexcept { return *underlying_; }

    /// Receives every completion this backend dispatches instead of the op
    /// (a decorator's hook: it may hold, rewrite or forward them with
    /// deliver()). Null, the normal case, costs one predictable branch.
    class completion_observer {
    public:
        virtual void completed(io_op& op, int res, std::uint32_t flags, bool more) noexcept = 0;

    protected:
        ~completion_observer() = default;
    };
    void set_completion_observer(completion_observer* observer) noexcept { observer_ = observer; }

protected:
    /// For implementations: dispatches one completion of `op`.
    void complete(io_op& op, int res, std::uint32_t flags, bool more) noexcept {
        if (observer_) [[unlikely]] observer_->completed(op, res, flags, more);
        else op.on_cqe(res, flags, more);
    }
    /// For decorators: hands a completion to the op itself.
    static void deliver(io_op& op, int res, std::uint32_t flags, bool more) noexcept { op.on_cqe(res, flags, more); }
    void set_underlying(backend& real) noexcept { underlying_ = &real; }
    static const op_steps& steps_of(const io_op& op) noexcept { return *op.steps_; }
    /// The per-op words a backend may use while the op is in flight (see io_op).
    static std::uint64_t* words_of(io_op& op) noexcept { return op.backend_words_; }
    static const std::uint64_t* words_of(const io_op& op) noexcept { return op.backend_words_; }
    void woken() noexcept {
        if (on_wake_) on_wake_(wake_context_);
    }

private:
    backend* underlying_ = this;
    completion_observer* observer_ = nullptr;
    wake_handler on_wake_ = nullptr;
    void* wake_context_ = nullptr;
};

}  // namespace ringlet::detail

// The receiver behind net::stream::receive(): one multishot poll (readiness
// mode) or one multishot recv on the shard's ring of provided buffers
// (multishot mode), and the queue of what was received that no receive() has
// taken yet. Private to src/net; the modes: src/net/receive.cpp.
//
// Lifetime: created by a stream's first receive(), owned by the stream. While
// its operation is armed the kernel holds a pointer to it, so a stream that
// goes away first abandons it (cancel; the last completion frees it). close()
// cancels it and waits for the last completion before the descriptor closes.
//
// Thread safety: touched only by the shard of its first receive().
#pragma once

#include "core/armed_op.hpp"
#include "core/buffer_ring.hpp"
#include "core/ops/ops.hpp"
#include "core/shard.hpp"

#include <ringlet/net/receive.hpp>

#include <coroutine>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringlet::net::detail {

constexpr unsigned kReceiveBuffers = 128;            // a power of two
constexpr unsigned kReceiveBufferSize = 64 * 1024;
constexpr std::size_t kFallbackSize = 16 * 1024;
// The spare buffers are 4 KiB larger than a power of two on purpose: a read
// that fills its buffer is taken to mean more is waiting (the next receive
// reads again at once), and peers keep round amounts in flight (16 × 16 KiB,
// 4 × 64 KiB); a buffer of exactly that size made every such read look full
// and the next recv find nothing (design notes in receive.cpp: sizing).
constexpr std::size_t kSpareSize = 68 * 1024;         // what a readiness receive reads first
constexpr std::size_t kLargeSpareSize = 260 * 1024;   // ... and once a read has filled kSpareSize
constexpr std::size_t kSparesKept = 64;               // idle spare buffers a shard keeps
constexpr std::size_t kLargeSparesKept = 16;          // idle large ones
constexpr std::size_t kBulkExit = 4 * 1024;           // a read below this goes back to kSpareSize

/// The shard's buffers for stream receives: the ring of provided buffers the
/// multishot recv picks from, and a stack of spare buffers the readiness
/// receive reads into (the most recently returned first: still in cache).
class receive_pool final : public ringlet::detail::shard_service {
public:
    /// The calling shard's pool (a shard service, created on first use), or
    /// nullptr off a shard or when out of memory.
    static receive_pool* current() noexcept;

    explicit receive_pool(ringlet::detail::shard& owner) noexcept;
    /// Whether the ring of provided buffers is there: mapped and registered
    /// on the first call (only multishot receivers use it); false when the
    /// kernel has no buffer rings.
    [[nodiscard]] bool ring_ready() noexcept;

    std::byte* buffer(unsigned id) const noexcept { return ring_.buffer(id); }
    [[nodiscard]] std::uint16_t group() const noexcept { return ring_.group(); }
    void give_back(std::uint16_t id) noexcept {
        ring_.give_back(id);
        ring_.publish();
    }

    /// A spare buffer of kSpareSize bytes, or kLargeSpareSize when `large`
    /// (nullptr when out of memory).
    std::unique_ptr<std::byte[]> take_spare(bool large) noexcept;
    /// Returns a buffer take_spare(large) gave out.
    void recycle(std::unique_ptr<std::byte[]> spare, bool large) noexcept;
    /// Frees the spare buffers beyond `keep` of each size (after a burst);
    /// yields the bytes freed.
    std::size_t trim(std::size_t keep) noexcept;
    /// The calling shard's pool if it has one already (never creates it).
    static receive_pool* existing() noexcept;

    ~receive_pool() override { ring_.release(io_); }

private:
    ringlet::detail::backend* io_;  // the shard's backend it is registered with
    ringlet::detail::buffer_ring ring_;
    bool ring_tried_ = false;
    std::vector<std::unique_ptr<std::byte[]>> spares_;        // capacity kSparesKept
    std::vector<std::unique_ptr<std::byte[]>> large_spares_;  // capacity kLargeSparesKept
};

class stream_receiver;

/// The receiving operation: a multishot poll for readability (readiness
/// mode), a multishot recv selecting pool buffers, or one plain recv into the
/// receiver's own heap buffer.
class stream_recv final : public ringlet::detail::io_op {
public:
    explicit stream_recv(stream_receiver& owner) noexcept;
    /// What the next start() arms, from the receiver's mode.
    void choose() noexcept;
    stream_receiver* owner;

private:
    static ringlet::detail::ops::fd_args poll_view(io_op& op) noexcept;
    static ringlet::detail::ops::selected_args selected_view(io_op& op) noexcept;
    static ringlet::detail::ops::buffer_args plain_view(io_op& op) noexcept;
};

class stream_receiver {
public:
    stream_receiver(int fd, receive_mode wanted) noexcept;
    stream_receiver(const stream_receiver&) = delete;
    stream_receiver& operator=(const stream_receiver&) = delete;
    ~stream_receiver();

    /// Arms the receiving operation unless it is armed (or can't be: an error).
    std::error_code ensure_armed() noexcept;
    /// Readiness mode: whether a recv now may find bytes (the socket was
    /// readable when last seen, or has not been looked at yet).
    [[nodiscard]] bool may_read_now() const noexcept {
        return how_ == mode::readiness && readable_ && !has_queued() && !closing;
    }
    /// Readiness mode: one non-blocking recv(2) into a spare buffer, queued
    /// (bytes, end of stream or error); nothing when the socket is empty.
    void read_now() noexcept;
    /// Readiness mode, the poll fired while a task waits: reads and resumes
    /// it from the shard's ready queue rather than from the completion, so
    /// each connection's read is followed at once by its task's work on the
    /// bytes (its send), while they are still in cache.
    void schedule_read() noexcept;
    static void read_for_waiter(void* self) noexcept;
    void on_completion(int res, std::uint32_t flags, bool more) noexcept;
    [[nodiscard]] bool has_queued() const noexcept { return count_ > 0 || slot_full_; }
    /// Hands out the oldest queued piece (joined with small ones after it).
    result<received> take() noexcept;
    /// Re-arms a multishot recv that ended (ENOBUFS), so bytes keep arriving
    /// while the caller works; plain mode arms only when asked to receive.
    void keep_receiving() noexcept;

    /// close(): refuses later receives, cancels the armed recv.
    void begin_close() noexcept;
    [[nodiscard]] bool armed() const noexcept { return lifecycle_.armed(); }
    /// Frees `r` now, or — while its recv is armed — cancels it and lets the
    /// last completion free it.
    static void abandon(stream_receiver* r) noexcept;

    /// close(): waits for the armed operation's final completion.
    [[nodiscard]] ringlet::detail::armed_op::final_completion until_unarmed() noexcept { return lifecycle_.until_final(); }

    receive_op* waiter = nullptr;
    bool closing = false;
    int fd;

private:
    enum class mode : std::uint8_t { readiness, multishot, plain };
    /// A queued completion: bytes in pool buffer `id` (or in plain_buffer_
    /// when `plain`), end of stream (res 0) or an error (res < 0).
    /// (Readiness mode uses slot_ instead: it reads only when asked, so it
    /// never holds more than one, and needs no allocation for it.)
    struct entry {
        std::int32_t res;
        std::uint16_t id;
        bool plain;
    };

    friend class stream_recv;
    void push(entry e);
    void fill_slot(entry e) noexcept;
    static mode initial_mode(receive_pool* pool, receive_mode wanted) noexcept;
    entry pop() noexcept;
    void cancel() noexcept;
    void drop_queue() noexcept;

    stream_recv op_;
    receive_pool* pool_;
    std::unique_ptr<std::byte[]> plain_buffer_;  // a plain recv's target, until handed out
    bool plain_is_spare_ = false;                // plain_buffer_ came from the pool's spares
    bool plain_is_large_ = false;                // ... its large ones
    bool bulk_ = false;  // readiness mode: read kLargeSpareSize (a read took kSpareSize, none since took < kBulkExit)
    std::vector<entry> queue_;                   // circular
    std::uint32_t head_ = 0;
    std::uint32_t count_ = 0;
    entry slot_{};            // readiness mode: what the last read yielded
    bool slot_full_ = false;
    ringlet::detail::armed_op lifecycle_;  // armed, cancel sent, orphaned, close()'s wait
    mode how_;
    bool plain_once_ = false;    // the pool was empty: one plain recv, then multishot again
    bool plain_queued_ = false;  // plain_buffer_ holds bytes nobody took yet
    bool armed_plain_ = false;   // what is armed is a plain recv
    bool saw_bytes_ = false;
    bool readable_ = true;  // readiness mode: a recv may find bytes
    bool hung_up_ = false;  // readiness mode: the poll saw the peer's FIN or an error
    bool read_scheduled_ = false;  // readiness mode: read_for_waiter is in the ready queue
};

}  // namespace ringlet::net::detail

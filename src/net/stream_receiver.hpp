// The receiver behind net::stream::receive(): one multishot recv on the
// shard's ring of provided buffers, and the queue of what it posted that no
// receive() has taken yet. Private to src/net.
//
// Lifetime: created by a stream's first receive(), owned by the stream. While
// its recv is armed the kernel holds a pointer to it, so a stream that goes
// away first abandons it (cancel; the last completion frees it). close()
// cancels it and waits for the last completion before the descriptor closes.
//
// Thread safety: touched only by the shard of its first receive().
#pragma once

#include "core/ring.hpp"
#include "core/shard.hpp"
#include "net/buffer_ring.hpp"

#include <ringlet/net/receive.hpp>

#include <coroutine>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringlet::net::detail {

constexpr unsigned kReceiveBuffers = 128;            // a power of two
constexpr unsigned kReceiveBufferSize = 64 * 1024;
constexpr std::size_t kFallbackSize = 16 * 1024;

/// The shard's ring of provided buffers for stream receives.
class receive_pool {
public:
    /// The calling shard's pool (created on first use), or nullptr off a
    /// shard or when the kernel has no buffer rings.
    static receive_pool* current() noexcept;

    /// Maps and registers the buffers on `io`; ready() says whether that worked.
    explicit receive_pool(io_uring* io) noexcept : io_(io) {
        (void)ring_.setup(io_, kReceiveBuffers, kReceiveBufferSize);
    }
    [[nodiscard]] bool ready() const noexcept { return ring_.ready(); }

    std::byte* buffer(unsigned id) const noexcept { return ring_.buffer(id); }
    [[nodiscard]] std::uint16_t group() const noexcept { return ring_.group(); }
    void give_back(std::uint16_t id) noexcept {
        ring_.give_back(id);
        ring_.publish();
    }
    ~receive_pool() { ring_.release(io_); }

private:
    io_uring* io_;  // the shard's ring it is registered on
    buffer_ring ring_;
};

class stream_receiver;

/// The receiving operation: a multishot recv selecting pool buffers, or one
/// plain recv into the receiver's own heap buffer.
class stream_recv final : public ringlet::detail::io_op {
public:
    explicit stream_recv(stream_receiver& owner) noexcept;
    stream_receiver* owner;
};

class stream_receiver {
public:
    explicit stream_receiver(int fd) noexcept;
    stream_receiver(const stream_receiver&) = delete;
    stream_receiver& operator=(const stream_receiver&) = delete;
    ~stream_receiver();

    /// Arms the receiving operation unless it is armed (or can't be: an error).
    std::error_code ensure_armed() noexcept;
    void on_completion(int res, std::uint32_t flags, bool more) noexcept;
    [[nodiscard]] bool has_queued() const noexcept { return count_ > 0; }
    /// Hands out the oldest queued piece (joined with small ones after it).
    result<received> take() noexcept;
    /// Re-arms a multishot recv that ended (ENOBUFS), so bytes keep arriving
    /// while the caller works; plain mode arms only when asked to receive.
    void keep_receiving() noexcept;

    /// close(): refuses later receives, cancels the armed recv.
    void begin_close() noexcept;
    [[nodiscard]] bool armed() const noexcept { return armed_; }
    /// Frees `r` now, or — while its recv is armed — cancels it and lets the
    /// last completion free it.
    static void abandon(stream_receiver* r) noexcept;

    struct close_wait {
        stream_receiver& r;
        bool await_ready() const noexcept { return !r.armed_; }
        void await_suspend(std::coroutine_handle<> h) noexcept { r.close_waiter_ = h; }
        void await_resume() const noexcept {}
    };

    receive_op* waiter = nullptr;
    bool closing = false;
    int fd;

private:
    enum class mode : std::uint8_t { multishot, plain };
    /// A queued completion: bytes in pool buffer `id` (or in plain_buffer_
    /// when `plain`), end of stream (res 0) or an error (res < 0).
    struct entry {
        std::int32_t res;
        std::uint16_t id;
        bool plain;
    };

    friend void prepare_stream_recv(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept;
    void push(entry e);
    entry pop() noexcept;
    void cancel() noexcept;
    void drop_queue() noexcept;

    stream_recv op_;
    receive_pool* pool_;
    ringlet::detail::shard* home_ = nullptr;
    std::unique_ptr<std::byte[]> plain_buffer_;  // a plain recv's target, until handed out
    std::vector<entry> queue_;                   // circular
    std::uint32_t head_ = 0;
    std::uint32_t count_ = 0;
    std::coroutine_handle<> close_waiter_;
    mode how_;
    bool plain_once_ = false;    // the pool was empty: one plain recv, then multishot again
    bool plain_queued_ = false;  // plain_buffer_ holds bytes nobody took yet
    bool armed_plain_ = false;   // what is armed is a plain recv
    bool armed_ = false;
    bool cancel_sent_ = false;
    bool orphaned_ = false;
    bool saw_bytes_ = false;
};

}  // namespace ringlet::net::detail

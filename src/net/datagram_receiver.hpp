// The receiver behind datagram_socket::receive_batch(): one multishot
// IORING_OP_RECVMSG on a ring of provided buffers, or one plain recvmsg per
// call where the kernel lacks them. Private to src/net.
//
// Thread safety: touched only by the shard of its first receive_batch().
#pragma once

#include "core/ring.hpp"
#include "core/shard.hpp"

#include <ringlet/net/datagram.hpp>

#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringlet::net::detail {

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING, kernel 5.19+) mapped
/// and registered by hand: liburing 2.3 has no io_uring_setup_buf_ring.
class buffer_ring {
public:
    buffer_ring() = default;
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;
    ~buffer_ring() { release(nullptr); }

    /// Maps `count` (a power of two) buffers of `size` bytes (each starting on
    /// a 64-byte boundary) and registers them on `ring` under a free group id.
    /// 0 or -errno (-EINVAL: no buffer rings in this kernel).
    int setup(io_uring* ring, unsigned count, unsigned size) noexcept;
    /// Unregisters (when `ring` is the one it was registered on, still alive)
    /// and unmaps. Safe to call twice.
    void release(io_uring* ring) noexcept;

    [[nodiscard]] bool ready() const noexcept { return ring_ != nullptr; }
    [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
    [[nodiscard]] unsigned buffer_size() const noexcept { return size_; }
    [[nodiscard]] std::byte* buffer(unsigned id) const noexcept { return buffers_ + std::size_t{id} * stride_; }
    /// Hands buffer `id` back to the kernel; visible after publish().
    void give_back(std::uint16_t id) noexcept;
    void publish() noexcept;

private:
    io_uring_buf_ring* ring_ = nullptr;
    std::byte* buffers_ = nullptr;
    std::size_t ring_bytes_ = 0;
    std::size_t buffer_bytes_ = 0;
    io_uring* registered_on_ = nullptr;
    unsigned count_ = 0;
    unsigned size_ = 0;
    unsigned stride_ = 0;
    unsigned pending_ = 0;  // given back, not yet published
    std::uint16_t group_ = 0;
};

class datagram_receiver;

/// The receiving operation: multishot recvmsg with buffer selection, or a
/// plain recvmsg into the receiver's own buffer.
class recvmsg_multishot final : public ringlet::detail::io_op {
public:
    explicit recvmsg_multishot(datagram_receiver& owner) noexcept;
    datagram_receiver* owner;
};

class datagram_receiver {
public:
    enum class mode : std::uint8_t { unset, multishot, plain };

    datagram_receiver(int fd, int family, const batch_options& options);

    /// Arms the receiving operation if it is not; an error when it cannot be.
    std::error_code ensure_armed() noexcept;
    void cancel() noexcept;
    void on_completion(int res, std::uint32_t flags, bool more) noexcept;
    /// Gives the buffers of the last batch back to the kernel.
    void recycle() noexcept;
    /// Moves queued completions into `batch` (see receive_batch for the order).
    result<std::span<const datagram>> collect() noexcept;
    /// Frees the buffer ring (unregistering it when on its shard).
    void release() noexcept;

    struct entry {
        int res;
        std::uint32_t flags;
    };
    [[nodiscard]] std::size_t queued() const noexcept { return count; }

    int fd;
    batch_options options;
    socklen_t name_size;
    msghdr header{};  // multishot: the layout template; plain: the message itself
    iovec plain_part{};
    sockaddr_storage plain_name{};
    std::vector<std::byte> plain_buffer;
    buffer_ring buffers;
    recvmsg_multishot op;

    std::vector<entry> queue;  // circular
    std::size_t head = 0;
    std::size_t count = 0;
    std::vector<std::uint16_t> handed;  // buffer ids of the last batch
    std::vector<datagram> batch;

    batch_wait* waiter = nullptr;
    ringlet::detail::shard* home = nullptr;
    stop_token root;
    std::coroutine_handle<> close_waiter;
    mode how = mode::unset;
    bool armed = false;
    bool cancel_sent = false;
    bool closing = false;
    bool orphaned = false;
    bool saw_datagram = false;

private:
    void push(int res, std::uint32_t flags) noexcept;
    bool parse(const entry& e, datagram& out) noexcept;
};

/// Frees `r` now, or — while its operation is armed — cancels it and lets
/// the last completion free it.
void abandon(datagram_receiver* r) noexcept;

}  // namespace ringlet::net::detail

// detail::buffer_ring: a ring of provided buffers for receives that let the
// kernel pick the buffer — stream receive() (src/net/receive.cpp) and UDP
// receive_batch() (src/net/datagram_receiver.cpp). Registered through the
// shard's backend: only the io_uring backend has them
// (capability::buffer_rings; IORING_REGISTER_PBUF_RING, kernel 5.19+); on
// any other, setup() fails and the receivers use their plain paths.
// Each ring gets the next free group id of its backend. Private to src/.
//
// Thread safety: its shard's thread only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringlet::detail {

class backend;

/// A provided-buffer ring mapped and registered by hand (liburing 2.3 has no
/// io_uring_setup_buf_ring).
class buffer_ring {
public:
    buffer_ring() = default;
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;
    ~buffer_ring() { release(nullptr); }

    /// Maps `count` (a power of two) buffers of `size` bytes (each starting on
    /// a 64-byte boundary) and registers them with `owner` under a free group
    /// id. 0 or -errno (-EOPNOTSUPP: the backend has no buffer rings; -EINVAL:
    /// the kernel has none).
    int setup(backend& owner, unsigned count, unsigned size) noexcept;
    /// Unregisters (when `owner` is the backend it was registered with, still
    /// alive: pass nullptr off its shard) and unmaps. Safe to call twice.
    void release(backend* owner) noexcept;

    [[nodiscard]] bool ready() const noexcept { return ring_ != nullptr; }
    [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
    [[nodiscard]] unsigned buffer_size() const noexcept { return size_; }
    [[nodiscard]] std::byte* buffer(unsigned id) const noexcept { return buffers_ + std::size_t{id} * stride_; }
    /// Hands buffer `id` back to the kernel; visible after publish().
    void give_back(std::uint16_t id) noexcept;
    void publish() noexcept;

private:
    void* ring_ = nullptr;  // the io_uring_buf_ring
    std::byte* buffers_ = nullptr;
    std::size_t ring_bytes_ = 0;
    std::size_t buffer_bytes_ = 0;
    backend* registered_on_ = nullptr;
    unsigned count_ = 0;
    unsigned size_ = 0;
    unsigned stride_ = 0;
    unsigned pending_ = 0;  // given back, not yet published
    std::uint16_t group_ = 0;
};

}  // namespace ringlet::detail

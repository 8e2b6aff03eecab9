// detail::buffer_ring: a ring of provided buffers (IORING_REGISTER_PBUF_RING,
// kernel 5.19+) for receives that let the kernel pick the buffer — stream
// receive() (src/net/receive.cpp) and UDP receive_batch() (datagram_receiver).
// Each ring gets the next free group id of its io_uring. Private to src/net.
#pragma once

#include "core/uring_backend.hpp"

#include <cstddef>
#include <cstdint>

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

}  // namespace ringlet::net::detail

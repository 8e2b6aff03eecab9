// Receiving into buffers the shard provides: net::received (a lease on the
// bytes of one receive) and receive_op, behind net::stream::receive().
//
//     auto got = co_await conn.receive(30s);         // result<net::received>
//     if (!got || got->empty()) co_return;           // error, or end of stream
//     co_await conn.write_all(got->bytes());         // the lease ends with `got`
//
// Each shard owns one ring of provided buffers (IORING_REGISTER_PBUF_RING,
// kernel 5.19+). A pending receive holds no buffer: the kernel picks one only
// when bytes arrive, so an idle connection costs no receive memory, and one
// receive can take up to a whole buffer (64 KiB) in one go. The lease gives the
// buffer back when it is destroyed or release()d. Where the kernel has no
// buffer rings, or the shard's buffers are all leased out at that moment, the
// receive reads into a heap buffer of its own instead (16 KiB); callers see no
// difference.
//
// Thread safety: a lease belongs to the shard that received it; release it
// (or let it go) on that shard, before the runtime stops.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/ops.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace ringlet::net {

namespace detail {
class receive_pool;
}  // namespace detail

/// The bytes of one receive, leased from the shard's buffer ring (or owned,
/// on the fallback path). Move-only; empty at end of stream.
class received {
public:
    received() noexcept = default;
    received(received&& other) noexcept;
    received& operator=(received&& other) noexcept;
    received(const received&) = delete;
    received& operator=(const received&) = delete;
    ~received() { release(); }

    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    [[nodiscard]] std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// True at end of stream (and for a moved-from or released lease).
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// Gives the buffer back now; the lease becomes empty.
    void release() noexcept;

private:
    friend class receive_op;
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    detail::receive_pool* pool_ = nullptr;  // set while data_ is a pool buffer
    std::uint16_t id_ = 0;
    std::unique_ptr<std::byte[]> owned_;    // the fallback path's buffer
};

/// recv(2) into a buffer the kernel selects from the shard's ring
/// (IOSQE_BUFFER_SELECT): yields the lease, empty at end of stream. Errors and
/// cancellation as every socket operation (net/ops.hpp); a receive cancelled
/// after bytes arrived still yields them.
/// @see io_uring_prep_recv(3), io_uring_register_buf_ring(3), IORING_OP_RECV
class [[nodiscard]] receive_op final : public detail::socket_op {
public:
    receive_op(socket& owner, timeout limit);
    result<received> await_resume() noexcept;

    // --- used by the prepare step ---
    detail::receive_pool* pool = nullptr;  // null: read into `owned`
    std::unique_ptr<std::byte[]> owned;
};

}  // namespace ringlet::net

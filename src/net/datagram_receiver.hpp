// The receiver behind datagram_socket::receive_batch(): one multishot
// recvmsg on a ring of provided buffers, or one plain recvmsg per call where
// the backend or the kernel lacks them. Private to src/net.
//
// Thread safety: touched only by the shard of its first receive_batch().
#pragma once

#include "core/buffer_ring.hpp"
#include "core/ops/ops.hpp"
#include "core/shard.hpp"

#include <ringlet/net/datagram.hpp>

#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringlet::net::detail {

class datagram_receiver;

/// The receiving operation: multishot recvmsg with buffer selection, or a
/// plain recvmsg into the receiver's own buffer.
class recvmsg_multishot final : public ringlet::detail::io_op {
public:
    explicit recvmsg_multishot(datagram_receiver& owner) noexcept;
    /// What the next start() arms, from the receiver's mode.
    void choose() noexcept;
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
    ringlet::detail::buffer_ring buffers;
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

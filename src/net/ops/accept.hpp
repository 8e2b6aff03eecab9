// The listener's accept submission (multishot, or single-shot on old kernels).
// Private: used by net::listener (src/net/listener.cpp).
#pragma once

struct io_uring_sqe;

namespace ringlet::net::detail {

/// Fills `sqe` with an accept on `fd` (SOCK_CLOEXEC, no peer address: a
/// multishot accept has nowhere to put one per connection; getpeername
/// supplies it on demand). @see io_uring_prep_multishot_accept(3)
void prepare_listener_accept(io_uring_sqe* sqe, int fd, bool multishot) noexcept;

}  // namespace ringlet::net::detail

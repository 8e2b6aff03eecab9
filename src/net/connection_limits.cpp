// net::connection_gate: per-shard connection counting and the defaults a
// server applies to each connection.
//
// Design notes
// - admit() decides synchronously, in the accept loop, so a burst of
//   accepts cannot overshoot the cap while tasks wait to start.
// - The count is a completion hook on the task_group's own frame for the
//   connection, not a coroutine around the handler: such a wrapper cost
//   one more frame per connection (144 bytes with malloc's header: an idle
//   keep-alive HTTP connection 1,994 -> 2,276 B, an idle echo connection
//   1,148 -> 1,334 B at 10,000, bench/idle_connections).
// - Memory after a burst (measured with bench/hostile_load.py, see
//   README "Server defaults"): the frame pool and the receive spares keep
//   what a burst freed, and glibc keeps freed pages in its arenas; a
//   release at each halving of the connection count returns both.
// - A refused connection is reset rather than closed with a FIN: under a
//   flood a FIN-close would leave one TIME_WAIT socket per refusal on the
//   server, and the client learns at once that it was turned away.
#include "net/stream_receiver.hpp"

#include <ringlet/core/frame_pool.hpp>
#include <ringlet/net/connection_limits.hpp>

#include <malloc.h>
#include <sys/socket.h>

namespace ringlet::net {
namespace {

// Spare receive buffers kept through a release: enough for the connections
// still busy to read without malloc, few enough not to matter (256 KiB).
constexpr std::size_t kSparesKeptAfterBurst = 4;

}  // namespace

void connection_gate::apply(stream& conn) const noexcept {
    conn.set_read_timeout(limits_.idle_timeout);
    conn.set_write_timeout(limits_.write_timeout);
}

std::size_t release_cached_memory() noexcept {
    std::size_t freed = trim_this_thread_frame_pool();
    if (auto* pool = detail::receive_pool::existing()) freed += pool->trim(kSparesKeptAfterBurst);
    ::malloc_trim(0);
    return freed;
}

void connection_gate::left(void* gate) noexcept {
    auto& self = *static_cast<connection_gate*>(gate);
    --self.active_;
    if (self.peak_ >= burst_threshold && self.active_ <= self.peak_ / 2) {
        self.peak_ = self.active_;
        (void)release_cached_memory();
    }
}

task<void> connection_gate::refuse(stream conn) {
    const ::linger reset{.l_onoff = 1, .l_linger = 0};
    (void)conn.socket().set_option(SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    (void)co_await conn.close();
}

}  // namespace ringlet::net

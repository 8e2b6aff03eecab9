// net::connection_gate: per-shard connection counting and the defaults a
// server applies to each connection.
//
// Design notes
// - admit() decides synchronously, in the accept loop, so a burst of
//   accepts cannot overshoot the cap while tasks wait to start.
// - A refused connection is reset rather than closed with a FIN: under a
//   flood a FIN-close would leave one TIME_WAIT socket per refusal on the
//   server, and the client learns at once that it was turned away.
#include <ringlet/net/connection_limits.hpp>

#include <sys/socket.h>

namespace ringlet::net {

void connection_gate::apply(stream& conn) const noexcept {
    conn.set_read_timeout(limits_.idle_timeout);
    conn.set_write_timeout(limits_.write_timeout);
}

task<void> connection_gate::count(task<void> handler_task) {
    struct release {
        std::size_t& active;
        ~release() { --active; }
    } place{active_};
    co_await std::move(handler_task);
}

task<void> connection_gate::refuse(stream conn) {
    const ::linger reset{.l_onoff = 1, .l_linger = 0};
    (void)conn.socket().set_option(SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    (void)co_await conn.close();
}

}  // namespace ringlet::net

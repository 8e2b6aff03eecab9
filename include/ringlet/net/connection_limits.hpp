// net::connection_limits and net::connection_gate: the limits a server puts
// on every connection it accepts, with nginx's defaults as the model.
//
//     net::connection_gate gate{{.idle_timeout = 30s}};        // one per shard's accept loop
//     for (;;) {
//         auto conn = co_await lst.accept();
//         if (conn) connections.spawn(gate.admit(std::move(*conn), handle));   // a task_group
//         ...
//     }
//
// tcp::serve, tls::serve and every example server apply them this way; a
// server with its own accept loop does the same with one gate per shard.
//
// Thread safety: a gate belongs to the shard whose accept loop owns it.
#pragma once

#include <ringlet/core/task.hpp>
#include <ringlet/core/task_group.hpp>
#include <ringlet/net/stream.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace ringlet::net {

/// What a server applies to each connection. Each field is on by default;
/// zero turns it off. Trivially copyable (options inside co_await
/// expressions, see tcp::connect_options).
struct connection_limits {
    /// A read that sees no byte for this long fails with errc::timed_out
    /// (stream::set_read_timeout): a silent or stalled peer — slowloris, a
    /// half-sent request, an idle keep-alive — is closed by its handler's
    /// error path. nginx: client_header_timeout 60 s, keepalive_timeout 75 s.
    std::chrono::milliseconds idle_timeout{60'000};
    /// A write the peer does not make room for (not one byte accepted) for
    /// this long fails with errc::timed_out (stream::set_write_timeout): a
    /// client that stops reading cannot pin the reply in memory. nginx: send_timeout 60 s.
    std::chrono::milliseconds write_timeout{60'000};
    /// Connections handled at once on one shard (nginx: worker_connections,
    /// which is per worker). A connection above the cap is accepted and reset
    /// at once (SO_LINGER 0: the client's next read or write fails with
    /// connection_reset, no TIME_WAIT is left behind) rather than left in the
    /// listen backlog, where a flood would make every later client wait for
    /// its SYN to time out, and where it holds kernel memory.
    std::size_t max_connections = 10'000;
};
static_assert(std::is_trivially_copyable_v<connection_limits>);

/// Gives the calling shard's idle cached memory back to the system: the
/// coroutine frames its frame pool keeps for reuse, the spare receive
/// buffers beyond a few (net::stream::receive), then malloc_trim(3), which
/// returns the free pages of every malloc arena. Yields the bytes the caches
/// freed (what malloc_trim returns on top is not counted). A connection_gate
/// calls it after a burst; call it yourself after other bursts (a batch
/// job, a flood of short tasks). Costs a walk of the heap: not per request.
std::size_t release_cached_memory() noexcept;

/// Counts one shard's connections against connection_limits. Must outlive
/// every task admit() returned (keep it beside the task_group they run in).
/// The count rides on the group's frame for each connection (a
/// completion_hook), so counting costs no memory per connection.
///
/// Memory after a burst: whenever the connections being handled fall to half
/// of their peak since the last release (with that peak at least
/// `burst_threshold`), the gate calls release_cached_memory(), so a shard's
/// memory returns near its baseline once a flood of connections (hostile or
/// not) has gone, instead of staying in caches at its high-water mark.
class connection_gate {
public:
    explicit connection_gate(connection_limits limits = {}) noexcept : limits_(limits) {}
    connection_gate(const connection_gate&) = delete;
    connection_gate& operator=(const connection_gate&) = delete;

    /// The task that serves `conn`, decided now, for task_group::spawn:
    /// below max_connections, it sets conn's progress timeouts (idle_timeout
    /// for reads, write_timeout for writes), calls `handle(std::move(conn))`
    /// at once and yields that task, counted as a connection until it ends
    /// (the group runs the completion hook; no frame of the gate's). At the
    /// cap, a task that resets and closes conn, counted in refused(). Spawn
    /// what it yields: a hooked_task dropped unspawned stays counted.
    /// Cancellation: the handler's, through the task's stop token.
    template <std::derived_from<stream> Stream, class Handler>
    [[nodiscard]] hooked_task<> admit(Stream conn, Handler&& handle) {
        if (limits_.max_connections != 0 && active_ >= limits_.max_connections) {
            ++refused_;
            return {refuse(stream{std::move(conn)}), {}};
        }
        apply(conn);
        task<void> body = handle(std::move(conn));
        if (++active_ > peak_) peak_ = active_;
        return {std::move(body), {&connection_gate::left, this}};
    }

    /// The smallest peak of connections after which the gate releases memory.
    static constexpr std::size_t burst_threshold = 64;

    /// Sets the progress timeouts of the limits on `conn` (as admit does).
    void apply(stream& conn) const noexcept;

    /// Whether one more connection fits under the cap now (without counting it).
    [[nodiscard]] bool has_room() const noexcept {
        return limits_.max_connections == 0 || active_ < limits_.max_connections;
    }
    /// Connections being handled now, and connections refused at the cap so far.
    [[nodiscard]] std::size_t active() const noexcept { return active_; }
    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }
    [[nodiscard]] const connection_limits& limits() const noexcept { return limits_; }

    /// Resets (SO_LINGER 0) and closes `conn`: how a connection over a cap
    /// is turned away. Errors are ignored (the peer may be gone already).
    [[nodiscard]] static task<void> refuse(stream conn);

private:
    /// A connection's completion hook: releases its place (and memory after a burst).
    static void left(void* gate) noexcept;

    connection_limits limits_;
    std::size_t active_ = 0;
    std::size_t peak_ = 0;  // most connections at once since the last release
    std::uint64_t refused_ = 0;
};

}  // namespace ringlet::net

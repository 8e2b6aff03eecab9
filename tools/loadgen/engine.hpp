// The load generator's stream engine: connections, their reader and writer
// tasks, the pacer, and what each shard measures. What is sent and how the
// responses are framed and checked is the protocol's (protocol.hpp: echo,
// http, resp); everything else is here, once.
//
// Per connection, two tasks share one stream: the writer sends requests in
// batches (one send / sendmsg for every request it may send now), the reader
// reads what has arrived (a multishot receive), hands it to the connection's
// response_checker and records one latency per completed response. Separate
// tasks, so that a writer blocked on a full socket buffer never stops the
// reading that would drain it (with depth × size larger than the socket
// buffers a single read-then-write loop would deadlock against an echo
// server). Two variants: --tls runs one task per connection (a TLS stream
// takes one operation at a time: write what may be sent, then read), and
// --new-connection one task that connects, sends one request, reads its
// response and closes, for every request.
//
// Ending: at the end of the timetable (or a connection's quota) the writer
// shuts down its sending side; the server echoes what is in flight and closes,
// so the reader drains to end of stream. A watchdog cancels whatever is still
// waiting `grace` seconds later. Every request sent but not answered by then
// is an error.
//
// Thread safety: a shard_state belongs to its shard; only the `live_*`
// atomics and `done` are read by shard 0's progress line while it runs.
#pragma once

#include "histogram.hpp"
#include "options.hpp"
#include "protocol.hpp"
#include "secure.hpp"

#include <ringlet/ringlet.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/stream.hpp>

#include <sys/uio.h>

#include <ctime>

#include <array>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace loadgen {

using ringlet::clock;

/// The expected bytes of every message: an 8-byte tag (connection and
/// sequence number; fewer bytes for smaller messages) and a body that depends
/// on the position and the sequence number, compared with memcmp against one
/// shared template. Catches lost, repeated, reordered, crossed and corrupted data.
class pattern {
public:
    explicit pattern(std::size_t size);
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t tag_size() const noexcept { return tag_size_; }
    /// The tag of message `seq` on connection `conn` (little-endian on the wire).
    [[nodiscard]] static std::uint64_t tag(std::uint64_t conn, std::uint64_t seq) noexcept {
        return seq ^ (conn << 40);
    }
    /// The message's bytes from offset tag_size() on.
    [[nodiscard]] const std::byte* body(std::uint64_t seq) const noexcept { return template_.data() + seq % 251 + tag_size_; }
    /// Writes the whole message.
    void write(std::byte* out, std::uint64_t conn, std::uint64_t seq) const noexcept;
    /// How many leading bytes of `data` equal bytes [from, from + n) of the
    /// message: n when all of them do.
    [[nodiscard]] std::size_t check(std::uint64_t conn, std::uint64_t seq, std::size_t from, const std::byte* data,
                                    std::size_t n) const noexcept;

private:
    std::size_t size_;
    std::size_t tag_size_;
    std::vector<std::byte> template_;
};

/// The run's timetable and shape, the same for every shard.
struct plan {
    const options* opts = nullptr;
    const stream_protocol* proto = nullptr;  // the stream engine's requests and checkers (not --udp)
    ringlet::net::address target;
    unsigned depth = 1;             // most requests in flight per connection
    std::size_t batch = 1;          // most requests per write
    bool vectored = false;          // proto->vectored(): sendmsg straight from the template, no copy
    std::int64_t interval_ns = 0;   // rate mode: time between one connection's requests
    clock::time_point start;        // the first scheduled send
    clock::time_point measure;      // start + warmup
    clock::time_point end;          // measure + duration: no request is scheduled from here on
    clock::time_point give_up;      // end + grace: what still waits is cancelled
    [[nodiscard]] bool open_loop() const noexcept { return interval_ns > 0; }

    /// Rate mode: connection `id`'s first slot, the connections' timetables
    /// staggered evenly across one interval.
    [[nodiscard]] clock::time_point first_slot_of(std::uint64_t id) const noexcept;
    /// Rate mode: `quota` cut to the slots before `end` of a timetable that
    /// starts at `first`; closed loop: `quota`.
    [[nodiscard]] std::uint64_t quota_within(clock::time_point first, std::uint64_t quota) const noexcept;
    /// Connection `id`'s quota: its share of --requests (all of them when
    /// not set), cut to its timetable (quota_within).
    [[nodiscard]] std::uint64_t quota_of(std::uint64_t id) const noexcept;
    /// How many of `quota` are due at `now` (rate mode: by the timetable that
    /// starts at `first`; closed loop: all of them).
    [[nodiscard]] std::uint64_t due(clock::time_point first, std::uint64_t quota, clock::time_point now) const noexcept;
};

/// Counts an error in `counter` and the live count; keeps the first message.
template <class Stats>
void note_error(Stats& st, std::uint64_t& counter, const std::string& what) {
    ++counter;
    st.live_errors.store(st.live_errors.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (st.first_error.empty()) st.first_error = what;
}

/// The writer of connection `c` waits here for credit or its next slot...
template <class Connection>
struct writer_idle {
    Connection& c;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const noexcept { c.writer_idle = h; }
    void await_resume() const noexcept {}
};

/// ...and is woken here (by a response, the pacer, or the end).
template <class Connection>
void wake(Connection& c) {
    if (auto h = std::exchange(c.writer_idle, {})) ringlet::detail::schedule_on_current(h);
}

struct connection {
    ringlet::net::stream stream;
    std::uint64_t id = 0;                  // global index; part of every tag
    std::uint64_t quota = UINT64_MAX;      // requests it may send in all
    clock::time_point first_slot;          // rate mode: scheduled time of request 0
    std::uint64_t sent = 0;                // requests handed to the kernel
    std::uint64_t answered = 0;            // requests whose response arrived complete (and checked)
    std::unique_ptr<response_checker> checker;  // frames and checks the responses (the protocol's)
    std::unique_ptr<secure_stream> secure; // --tls: the TLS stream (then `stream` is unused)
    std::vector<std::byte> rx;             // --tls: what read_some fills
    bool stopping = false;                 // send nothing more
    bool broken = false;                   // an error ended it: close instead of draining
    std::coroutine_handle<> writer_idle;   // the writer, waiting for credit or its next slot
    std::vector<clock::time_point> sent_at;  // closed loop: send time of request seq % depth
    std::vector<std::byte> tx;             // a batch of requests, copied
    std::vector<iovec> iov;                // a batch as tag + body pairs (vectored echo)
    std::vector<std::array<std::byte, 8>> tags;  // the tags those iovecs point to

    [[nodiscard]] clock::time_point slot(const plan& p, std::uint64_t seq) const noexcept {
        return first_slot + std::chrono::nanoseconds{p.interval_ns * static_cast<std::int64_t>(seq)};
    }
};

/// What both engines (TCP here, UDP in udp_engine.hpp) count per shard.
struct stats_common {
    std::atomic<std::uint64_t> live_responses{0};  // every verified response so far
    std::atomic<std::uint64_t> live_errors{0};
    std::atomic<bool> done{false};

    std::uint64_t window_responses = 0;  // responses that arrived inside [measure, end)
    std::uint64_t total_responses = 0;
    std::uint64_t total_sent = 0;
    std::uint64_t writes = 0;            // send operations (TCP: send / sendmsg; UDP: send_batch calls)
    std::uint64_t reads = 0;             // receive operations that returned data
    std::uint64_t bytes_read = 0;
    std::uint64_t mismatches = 0;        // TCP: connections ended by a wrong byte; UDP: wrong echoes
    std::uint64_t io_errors = 0;         // connections / sockets ended by an I/O error or an early close
    std::uint64_t connect_errors = 0;
    bool gave_up = false;                // the drain was cut short (watchdog / grace period)
    std::string first_error;
    histogram latency;                   // from the (scheduled) send to the last byte of the echo
    histogram send_lag;                  // rate mode: actual send − scheduled send
    histogram second;                    // latencies of the responses since the monitor last took them
                                         // (every phase): the per-second timeline; see take_second
    clockid_t cpu_clock{};               // this shard thread's CPU clock (read by the monitor)
    bool has_cpu_clock = false;

    /// Records the latency of one response that arrived at `now`: always in
    /// the timeline, in the run's histogram when it started inside the window.
    void record_latency(const plan& p, clock::time_point started, clock::time_point now) noexcept {
        const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now - started).count()));
        second.record(ns);
        if (started >= p.measure) latency.record(ns);
    }
    /// Notes this thread's CPU clock; called on the shard's own thread.
    void note_thread() noexcept;
};

struct alignas(64) shard_stats : stats_common {
    std::uint64_t unanswered = 0;     // requests sent and never answered
    std::uint64_t bad_responses = 0;  // well framed but wrong (HTTP >= 400, RESP error replies)
    std::uint64_t connects = 0;       // --new-connection: connections opened during the run
    std::map<std::string, std::uint64_t> counts;  // per status / command, from the checkers
};

struct shard_state {
    unsigned index = 0;
    const plan* run = nullptr;
    std::vector<std::unique_ptr<connection>> conns;
    std::unique_ptr<secure_client> tls;  // --tls: this shard's client context
    shard_stats stats;
};

/// Opens this shard's connections (global indexes index, index + shards, …).
/// False after the first failure, which stats.first_error describes.
[[nodiscard]] ringlet::task<bool> connect_shard(shard_state& s);

/// Runs the plan on this shard's connections, drains, closes them and fills in stats.
[[nodiscard]] ringlet::task<void> run_shard(shard_state& s);

}  // namespace loadgen

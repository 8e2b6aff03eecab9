// The load generator's UDP engine (--udp): N connected UDP sockets, each
// with P datagrams in flight.
//
// Per socket, P slots. A slot holds one datagram in flight: its sequence
// number and when it was sent (and, in rate mode, scheduled). Slot k sends
// sequence numbers k, k + P, k + 2P, …, so an echo's 8-byte tag (the same tag
// as the TCP engine's pattern: socket id and sequence number) names its slot
// directly, and the rest of the datagram is checked byte for byte against
// the pattern of that sequence number. Datagrams may be lost: a slot
// unanswered after --udp-timeout is counted lost and freed, and its next
// datagram goes out in its place (closed loop: at once; rate mode: at the
// next slot of the timetable). An echo that arrives after that is counted
// late, never as an answer.
//
// Per socket two tasks: the writer sends every datagram it may send now in
// one send_batch (one sendmsg SQE each, one io_uring_enter), the reader takes
// every echo that has arrived with receive_batch (multishot recvmsg on a
// buffer ring). One pacer per shard wakes writers on their timetable, frees
// timed-out slots, stops the writers at the end and ends the run once every
// slot is answered or lost (at most --udp-timeout later), bounded by --grace.
//
// Thread safety: a udp_shard_state belongs to its shard; only the `live_*`
// atomics and `done` are read by shard 0's progress line while it runs.
#pragma once

#include "engine.hpp"
#include "histogram.hpp"
#include "options.hpp"

#include <ringlet/ringlet.hpp>
#include <ringlet/net/udp.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loadgen {

/// One datagram in flight (or the last one, when free).
struct udp_slot {
    std::uint64_t seq = 0;          // sequence number of the datagram in flight
    std::uint64_t next_seq = 0;     // the next datagram's: index, index + depth, …
    clock::time_point started;      // latency counts from here (scheduled slot in rate mode)
    clock::time_point sent_at;      // the timeout counts from here
    bool busy = false;
};

struct udp_connection {
    ringlet::udp::socket socket;
    std::uint64_t id = 0;                   // global index; part of every tag
    std::uint64_t quota = UINT64_MAX;       // datagrams it may send in all (lost ones included)
    clock::time_point first_slot;           // rate mode: scheduled time of request 0
    std::uint64_t issued = 0;               // datagrams sent (rate mode: timetable entries used)
    std::uint32_t in_flight = 0;            // busy slots
    bool stopping = false;                  // send nothing more
    bool broken = false;                    // an error ended it
    std::coroutine_handle<> writer_idle;    // the writer, waiting for a free slot or its next time
    std::vector<udp_slot> slots;            // depth of them
    std::vector<std::uint32_t> free;        // indexes of free slots (a stack)
    std::vector<std::byte> tx;              // batch × size: the datagrams of one send_batch
    std::vector<ringlet::net::outgoing_datagram> out;

    [[nodiscard]] clock::time_point slot_time(const plan& p, std::uint64_t i) const noexcept {
        return first_slot + std::chrono::nanoseconds{p.interval_ns * static_cast<std::int64_t>(i)};
    }
};

/// What one shard measured.
struct alignas(64) udp_shard_stats : stats_common {
    std::atomic<std::uint64_t> live_lost{0};
    std::uint64_t lost = 0;  // unanswered after the timeout, or at the end of the run
    std::uint64_t late = 0;  // echoes of datagrams already counted lost (or repeated)
};

struct udp_shard_state {
    unsigned index = 0;
    const plan* run = nullptr;
    const pattern* bytes = nullptr;
    std::vector<std::unique_ptr<udp_connection>> conns;
    udp_shard_stats stats;
};

/// Opens this shard's sockets (global indexes index, index + shards, …).
/// False after the first failure, which stats.first_error describes.
[[nodiscard]] ringlet::task<bool> connect_shard(udp_shard_state& s);

/// Runs the plan on this shard's sockets, drains, closes them and fills in stats.
[[nodiscard]] ringlet::task<void> run_shard(udp_shard_state& s);

}  // namespace loadgen

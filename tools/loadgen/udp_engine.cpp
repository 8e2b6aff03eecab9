// Design notes
// - Cost per datagram is what matters, as in the TCP engine: the writer puts
//   every datagram it may send into one send_batch (one io_uring_enter), the
//   reader takes every echo that has arrived from one receive_batch (a
//   multishot recvmsg, so no submission per datagram), clock::now() is read
//   once per batch, and nothing is allocated after connecting.
// - Matching: slot k of a socket sends sequence numbers k, k + P, k + 2P, …
//   (P = depth), so an echo's tag names its slot without a lookup. An echo
//   whose sequence number is not the one its slot waits for is late (its
//   datagram was already counted lost) or repeated; one that was never sent,
//   or whose bytes differ from the pattern, is a mismatch (an error).
// - Loss: under overload the kernel drops datagrams (the server's receive
//   queue is full); nothing reports it. The pacer scans the busy slots every
//   timeout/8 (1..50 ms) and frees those older than --udp-timeout. Loss is
//   reported, never an error; the run ends at most one timeout after the
//   timetable (and never after --grace), whatever was lost.
// - The receive buffer of each socket is raised to hold its whole window,
//   so that the load generator is not where datagrams are lost (the kernel
//   clamps it to net.core.rmem_max).
#include "udp_engine.hpp"

#include <ringlet/net/socket_options.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

namespace loadgen {

using namespace std::chrono_literals;
namespace net = ringlet::net;

namespace {

constexpr std::uint64_t seq_mask = (std::uint64_t{1} << 40) - 1;  // pattern::tag keeps the id above bit 40

std::chrono::nanoseconds timeout_of(const plan& p) {
    return std::chrono::nanoseconds{static_cast<std::int64_t>(p.opts->udp_timeout_ms * 1e6)};
}

/// Datagrams the writer may send at `now`: due by the timetable (rate mode)
/// or the quota, and no more than there are free slots.
std::uint64_t sendable(const plan& p, const udp_connection& c, clock::time_point now) {
    const std::uint64_t due = p.due(c.first_slot, c.quota, now);
    if (due <= c.issued) return 0;
    return std::min({due - c.issued, static_cast<std::uint64_t>(c.free.size()), static_cast<std::uint64_t>(p.batch)});
}

ringlet::task<void> writer(udp_shard_state& s, udp_connection& c) {
    const plan& p = *s.run;
    const pattern& bytes = *s.bytes;
    const std::size_t size = bytes.size();
    for (;;) {
        if (c.stopping || c.issued >= c.quota) break;
        const auto now = clock::now();
        const std::uint64_t n = sendable(p, c, now);
        if (n == 0) {
            co_await writer_idle<udp_connection>{c};
            continue;
        }
        c.out.clear();
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint32_t k = c.free.back();
            c.free.pop_back();
            udp_slot& slot = c.slots[k];
            slot.seq = slot.next_seq;
            slot.next_seq += p.depth;
            slot.busy = true;
            slot.sent_at = now;
            slot.started = now;
            if (p.open_loop()) {
                slot.started = c.slot_time(p, c.issued + i);
                if (slot.started >= p.measure) s.stats.send_lag.record(static_cast<std::uint64_t>((now - slot.started).count()));
            }
            std::byte* datagram = c.tx.data() + i * size;
            bytes.write(datagram, c.id, slot.seq);
            c.out.push_back({std::span<const std::byte>{datagram, size}});
        }
        c.issued += n;
        c.in_flight += static_cast<std::uint32_t>(n);
        s.stats.total_sent += n;
        ++s.stats.writes;
        // Datagrams a failure left unsent stay in their slots and time out as lost.
        auto sent = co_await c.socket.send_batch(c.out);
        if (!sent) {
            if (sent.error() == ringlet::errc::operation_canceled) co_return;
            if (!c.broken) {
                c.broken = true;
                note_error(s.stats, s.stats.io_errors, net::describe_error("send to", s.run->target, sent.error()));
            }
            break;
        }
    }
    c.stopping = true;
}

std::string where(const udp_connection& c, std::uint64_t seq) {
    return "socket " + std::to_string(c.id) + ", datagram " + std::to_string(seq);
}

/// Checks and times one echo.
void consume(udp_shard_state& s, udp_connection& c, const net::datagram& d, clock::time_point now) {
    const plan& p = *s.run;
    const pattern& bytes = *s.bytes;
    const std::size_t size = bytes.size();
    s.stats.bytes_read += d.payload.size();
    if (d.truncated || d.payload.size() != size) {
        note_error(s.stats, s.stats.mismatches,
                    "socket " + std::to_string(c.id) + ": an echo of " + std::to_string(d.payload.size()) +
                        (d.truncated ? "+ bytes (truncated)" : " bytes") + ", expected " + std::to_string(size));
        return;
    }
    std::uint64_t tag = 0;
    for (std::size_t k = 0; k < 8; ++k) tag |= static_cast<std::uint64_t>(d.payload[k]) << (8 * k);
    const std::uint64_t seq = tag & seq_mask;
    udp_slot& slot = c.slots[seq % p.depth];
    if ((tag >> 40) != c.id || seq >= slot.next_seq) {
        note_error(s.stats, s.stats.mismatches,
                    "socket " + std::to_string(c.id) + ": an echo with tag " + std::to_string(tag) + " that was never sent");
        return;
    }
    const std::size_t good = bytes.check(c.id, seq, 0, d.payload.data(), size);
    if (good < size) {
        note_error(s.stats, s.stats.mismatches, where(c, seq) + ": the echo differs at byte " + std::to_string(good));
        return;
    }
    if (!slot.busy || slot.seq != seq) {
        ++s.stats.late;
        return;
    }
    slot.busy = false;
    c.free.push_back(static_cast<std::uint32_t>(seq % p.depth));
    --c.in_flight;
    s.stats.record_latency(p, slot.started, now);
    ++s.stats.total_responses;
    if (now >= p.measure && now < p.end) ++s.stats.window_responses;
}

ringlet::task<void> reader(udp_shard_state& s, udp_connection& c) {
    for (;;) {
        auto batch = co_await c.socket.receive_batch();
        if (!batch) {
            if (batch.error() != ringlet::errc::operation_canceled && !c.broken) {
                c.broken = true;
                note_error(s.stats, s.stats.io_errors, net::describe_error("receive from", s.run->target, batch.error()));
            }
            break;
        }
        ++s.stats.reads;
        const auto now = clock::now();
        for (const net::datagram& d : *batch) consume(s, c, d, now);
        s.stats.live_responses.store(s.stats.total_responses, std::memory_order_relaxed);
        wake(c);
    }
    // A broken socket sends no more; its slots in flight time out as lost.
    c.stopping = true;
    wake(c);
}

ringlet::task<void> all_sockets(udp_shard_state& s) {
    ringlet::task_group group;
    for (auto& c : s.conns) {
        group.spawn(reader(s, *c));
        group.spawn(writer(s, *c));
    }
    co_await group.wait();
}

/// Frees every slot older than the timeout, counting it lost; how many are still in flight.
std::uint64_t expire(udp_shard_state& s, clock::time_point now) {
    const auto oldest = now - timeout_of(*s.run);
    std::uint64_t in_flight = 0;
    for (auto& c : s.conns) {
        if (c->in_flight == 0) continue;
        bool freed = false;
        for (std::uint32_t k = 0; k < c->slots.size(); ++k) {
            udp_slot& slot = c->slots[k];
            if (!slot.busy || slot.sent_at > oldest) continue;
            slot.busy = false;
            c->free.push_back(k);
            --c->in_flight;
            ++s.stats.lost;
            freed = true;
        }
        if (freed) wake(*c);
        in_flight += c->in_flight;
    }
    s.stats.live_lost.store(s.stats.lost, std::memory_order_relaxed);
    return in_flight;
}

/// Wakes writers when their slot comes (rate mode) and expires lost
/// datagrams until the end of the timetable; then stops the writers and waits
/// until nothing is in flight, or until the grace period ends.
ringlet::task<void> pacer(udp_shard_state& s) {
    const plan& p = *s.run;
    const auto tick = std::chrono::nanoseconds{static_cast<std::int64_t>(p.opts->tick_us * 1000)};
    const auto scan = std::clamp<std::chrono::nanoseconds>(timeout_of(p) / 8, 1ms, 50ms);
    auto next_scan = clock::now();
    for (;;) {
        const auto now = clock::now();
        if (now >= p.end) break;
        if (now >= next_scan) {
            (void)expire(s, now);
            next_scan = now + scan;
        }
        auto next = std::min(p.end, next_scan);
        if (p.open_loop()) {
            for (auto& c : s.conns) {
                if (c->stopping || c->issued >= c->quota) continue;
                auto slot = c->slot_time(p, c->issued);
                if (slot <= now) {
                    wake(*c);
                    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(now - c->first_slot).count();
                    slot = c->slot_time(p, static_cast<std::uint64_t>(since / p.interval_ns) + 1);
                }
                next = std::min(next, slot);
            }
            next = std::max(next, now + tick);
        }
        auto slept = co_await ringlet::sleep_until(std::min(next, p.end));
        if (!slept) co_return;
    }
    for (auto& c : s.conns) {
        c->stopping = true;
        wake(*c);
    }
    for (;;) {
        const auto now = clock::now();
        if (expire(s, now) == 0) co_return;
        if (now >= p.give_up) break;
        auto slept = co_await ringlet::sleep_until(std::min(now + scan, p.give_up));
        if (!slept) co_return;
    }
    s.stats.gave_up = true;
}

}  // namespace

ringlet::task<bool> connect_shard(udp_shard_state& s) {
    const plan& p = *s.run;
    const options& opts = *p.opts;
    s.stats.note_thread();
    // A ring of at least twice the window, so a slow reader does not stall the multishot.
    const auto buffers = std::bit_ceil(std::clamp<std::uint32_t>(2 * p.depth, 64, 32768));
    const auto largest = static_cast<std::uint32_t>(std::max<std::size_t>(2048, opts.size));
    // What the kernel charges a queued datagram is about its size plus 1 KiB or so.
    const auto receive_buffer = static_cast<int>(std::min<std::size_t>(std::size_t{p.depth} * (opts.size + 2048), 64 << 20));
    for (std::uint64_t id = s.index; id < opts.connections; id += opts.shards) {
        auto c = std::make_unique<udp_connection>();
        c->id = id;
        ringlet::udp::connect_options how;
        how.timeout = 5s;
        auto r = co_await ringlet::udp::connect(p.target, how);
        if (!r) {
            note_error(s.stats, s.stats.connect_errors, net::describe_error("connect", p.target, r.error()));
            co_return false;
        }
        c->socket = std::move(*r);
        net::batch_options batching;
        batching.buffers = buffers;
        batching.max_datagram_size = largest;
        batching.max_batch = 64;
        if (auto set = c->socket.set_batch_options(batching); !set) {
            note_error(s.stats, s.stats.connect_errors, "receive_batch options: " + set.error().message());
            co_return false;
        }
        if (receive_buffer > 212992) (void)net::set_option(c->socket, net::opt::receive_buffer{receive_buffer});
        c->slots.resize(p.depth);
        for (std::uint32_t k = 0; k < p.depth; ++k) c->slots[k].next_seq = k;
        for (std::uint32_t k = p.depth; k > 0; --k) c->free.push_back(k - 1);
        c->tx.resize(p.batch * opts.size);
        c->out.reserve(p.batch);
        s.conns.push_back(std::move(c));
    }
    co_return true;
}

ringlet::task<void> run_shard(udp_shard_state& s) {
    const plan& p = *s.run;
    for (auto& c : s.conns) {
        c->first_slot = p.first_slot_of(c->id);
        c->quota = p.quota_of(c->id);
    }
    auto started = co_await ringlet::sleep_until(p.start);
    (void)started;
    auto outcome = co_await ringlet::when_any(all_sockets(s), pacer(s));
    (void)outcome;
    for (auto& c : s.conns) {
        s.stats.lost += c->in_flight;  // still unanswered when the grace period ended
        c->in_flight = 0;
        if (c->socket.is_open()) (void)co_await c->socket.close();
    }
    s.stats.live_lost.store(s.stats.lost, std::memory_order_relaxed);
    s.stats.done.store(true, std::memory_order_release);
}

}  // namespace loadgen

// Design notes
// - Cost per request is what matters: a load generator that spends more CPU
//   per request than the server measures itself. So a writer sends every
//   request it may send in one send (or one sendmsg for large echo messages,
//   straight from the shared template), a reader takes whatever has arrived
//   and checks and times every response in it, clock::now() is read once per
//   batch or read, and nothing is allocated after connecting (the HTTP and
//   RESP checkers copy only a response split across reads). What is left is
//   the kernel's TCP work (~95 % of the time on loopback), which is the same
//   per request as an echo server's: expect about the server's CPU per
//   request, not much less; bench/echo_compare.sh flags rounds in which this
//   side was the saturated one.
// - Open loop (--rate): each connection has a timetable (request i at
//   first_slot + i × interval; connections are staggered by 1/rate). One pacer
//   per shard wakes the writers whose next slot has come, sleeping until the
//   earliest next slot but at least --tick, so the timer costs stay bounded.
//   Latency counts from the slot, so a stall in the server (or here) shows.
// - The writer may be waiting for credit (closed loop), for its slot (rate
//   mode), or be stopped: one coroutine handle per connection, resumed through
//   the shard's ready queue by whoever changes those (reader, pacer, end of
//   run). Every wait loops on its condition, so a spurious wake is harmless.
#include "engine.hpp"

#include <ringlet/net/local.hpp>
#include <ringlet/net/tcp.hpp>

#include <algorithm>
#include <cstring>

#include <pthread.h>

namespace loadgen {

using namespace std::chrono_literals;
namespace net = ringlet::net;

pattern::pattern(std::size_t size) : size_(size), tag_size_(std::min<std::size_t>(size, 8)), template_(size + 251) {
    for (std::size_t i = 0; i < template_.size(); ++i) template_[i] = static_cast<std::byte>((i * 7 + 13) % 251);
}

void pattern::write(std::byte* out, std::uint64_t conn, std::uint64_t seq) const noexcept {
    const std::uint64_t t = tag(conn, seq);
    for (std::size_t k = 0; k < tag_size_; ++k) out[k] = static_cast<std::byte>(t >> (8 * k));
    std::memcpy(out + tag_size_, body(seq), size_ - tag_size_);
}

std::size_t pattern::check(std::uint64_t conn, std::uint64_t seq, std::size_t from, const std::byte* data,
                           std::size_t n) const noexcept {
    const std::size_t start = from;
    const std::size_t end = from + n;
    if (from < tag_size_) {
        const std::uint64_t t = tag(conn, seq);
        for (const std::size_t stop = std::min(end, tag_size_); from < stop; ++from, ++data) {
            if (*data != static_cast<std::byte>(t >> (8 * from))) return from - start;
        }
    }
    const std::byte* expected = body(seq) + (from - tag_size_);
    if (from >= end || std::memcmp(data, expected, end - from) == 0) return n;
    // Only on a mismatch: find the first differing byte for the message.
    while (*data == *expected) ++data, ++expected, ++from;
    return from - start;
}

clock::time_point plan::first_slot_of(std::uint64_t id) const noexcept {
    return start + std::chrono::nanoseconds{interval_ns * static_cast<std::int64_t>(id) /
                                            static_cast<std::int64_t>(opts->connections)};
}

std::uint64_t plan::quota_within(clock::time_point first, std::uint64_t quota) const noexcept {
    if (!open_loop()) return quota;
    // No request is scheduled at or after the end of the timetable.
    const auto span = std::chrono::duration_cast<std::chrono::nanoseconds>(end - first).count();
    return std::min<std::uint64_t>(quota, static_cast<std::uint64_t>((span + interval_ns - 1) / interval_ns));
}

std::uint64_t plan::quota_of(std::uint64_t id) const noexcept {
    std::uint64_t quota = UINT64_MAX;
    if (opts->requests > 0) quota = opts->requests / opts->connections + (id < opts->requests % opts->connections);
    return quota_within(first_slot_of(id), quota);
}

std::uint64_t plan::due(clock::time_point first, std::uint64_t quota, clock::time_point now) const noexcept {
    if (!open_loop()) return quota;
    if (now < first) return 0;
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(now - first).count();
    return std::min(quota, static_cast<std::uint64_t>(since / interval_ns) + 1);
}

void stats_common::note_thread() noexcept {
    has_cpu_clock = pthread_getcpuclockid(pthread_self(), &cpu_clock) == 0;
}

namespace {

bool is_unix(const net::address& a) {
    return a.family() == net::address_family::unix_path || a.family() == net::address_family::unix_abstract;
}

/// A new stream to the target (TCP with TCP_NODELAY, or unix), within 5 s.
ringlet::task<ringlet::result<net::stream>> open_stream(const plan& p) {
    if (is_unix(p.target)) {
        ringlet::local::connect_options how;
        how.timeout = 5s;
        auto r = co_await ringlet::local::connect(p.target, how);
        if (!r) co_return ringlet::unexpected{r.error()};
        co_return std::move(*r);
    }
    ringlet::tcp::connect_options how;
    how.timeout = 5s;
    auto r = co_await ringlet::tcp::connect(p.target, how);
    if (!r) co_return ringlet::unexpected{r.error()};
    (void)r->set_nodelay(true);  // each batch leaves at once, as a latency-minded client's would
    co_return std::move(*r);
}

/// Requests the writer may send at `now`: due by the timetable (rate mode) or
/// by the quota, and within the in-flight window.
std::uint64_t sendable(const plan& p, const connection& c, clock::time_point now) {
    const std::uint64_t due = p.due(c.first_slot, c.quota, now);
    if (due <= c.sent) return 0;
    const std::uint64_t window = p.depth - (c.sent - c.answered);
    return std::min({due - c.sent, window, static_cast<std::uint64_t>(p.batch)});
}

/// Sends the first `count` entries of c.iov (advanced in place after short
/// writes), one sendmsg per kernel call.
/// Request `seq` of `c` goes out `now`: open loop, how late it is against its
/// slot (measured window only); closed loop, its send time for the latency.
void note_send(shard_state& s, connection& c, std::uint64_t seq, clock::time_point now) {
    const plan& p = *s.run;
    if (p.open_loop()) {
        const auto slot = c.slot(p, seq);
        if (slot >= p.measure) s.stats.send_lag.record(static_cast<std::uint64_t>((now - slot).count()));
    } else {
        c.sent_at[seq % p.depth] = now;
    }
}

ringlet::task<ringlet::result<void>> send_vectored(shard_state& s, connection& c, std::size_t count) {
    std::size_t first = 0;
    while (first < count) {
        const std::span<const iovec> parts{c.iov.data() + first, std::min<std::size_t>(count - first, IOV_MAX)};
        auto n = co_await c.stream.socket().sendmsg(parts);
        if (!n) co_return ringlet::unexpected{n.error()};
        ++s.stats.writes;
        for (std::size_t left = *n; left > 0;) {
            iovec& v = c.iov[first];
            const std::size_t step = std::min(left, v.iov_len);
            v.iov_base = static_cast<std::byte*>(v.iov_base) + step;
            v.iov_len -= step;
            left -= step;
            if (v.iov_len == 0) ++first;
        }
        while (first < count && c.iov[first].iov_len == 0) ++first;
    }
    co_return ringlet::result<void>{};
}

/// Sends `bytes` from c.tx, continuing after short writes.
ringlet::task<ringlet::result<void>> send_contiguous(shard_state& s, connection& c, std::size_t bytes) {
    std::size_t done = 0;
    while (done < bytes) {
        auto n = co_await c.stream.write_some(std::span<const std::byte>{c.tx.data() + done, bytes - done});
        if (!n) co_return ringlet::unexpected{n.error()};
        ++s.stats.writes;
        done += *n;
    }
    co_return ringlet::result<void>{};
}

ringlet::task<void> writer(shard_state& s, connection& c) {
    const plan& p = *s.run;
    const stream_protocol& proto = *p.proto;
    for (;;) {
        if (c.stopping || c.sent >= c.quota) break;
        const auto now = clock::now();
        const std::uint64_t n = sendable(p, c, now);
        if (n == 0) {
            co_await writer_idle<connection>{c};
            continue;
        }
        std::size_t batch_bytes = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t seq = c.sent + i;
            note_send(s, c, seq, now);
            if (p.vectored) {
                (void)proto.request_iov(&c.iov[2 * i], c.tags[i], c.id, seq);
            } else {
                batch_bytes += proto.write_request(c.tx.data() + batch_bytes, c.id, seq);
            }
        }
        c.sent += n;
        s.stats.total_sent += n;
        // Named results and an if, never a co_await in a condition or in ?: (GCC 12 miscompiles both).
        ringlet::result<void> sent;
        if (p.vectored) {
            sent = co_await send_vectored(s, c, 2 * n);
        } else {
            sent = co_await send_contiguous(s, c, batch_bytes);
        }
        if (!sent) {
            if (sent.error() != ringlet::errc::operation_canceled && !c.broken) {
                c.broken = true;
                note_error(s.stats, s.stats.io_errors, "send: " + sent.error().message());
            }
            co_return;
        }
    }
    // The server echoes what is still in flight, then sees end of stream and
    // closes; the reader drains up to that.
    auto shut = co_await c.stream.shutdown(net::shutdown_how::write);
    (void)shut;
}

/// Frames, checks and times the response bytes (the protocol's checker);
/// false when they break the connection (its error is noted).
bool consume(shard_state& s, connection& c, const std::byte* data, std::size_t n, clock::time_point now) {
    const plan& p = *s.run;
    const feed_result r = c.checker->feed({data, n}, c.answered, c.sent - c.answered);
    for (std::uint64_t k = 0; k < r.completed; ++k, ++c.answered) {
        const auto started = p.open_loop() ? c.slot(p, c.answered) : c.sent_at[c.answered % p.depth];
        s.stats.record_latency(p, started, now);
    }
    s.stats.total_responses += r.completed;
    s.stats.live_responses.store(s.stats.total_responses, std::memory_order_relaxed);
    if (now >= p.measure && now < p.end) s.stats.window_responses += r.completed;
    if (r.bad > 0) {
        s.stats.bad_responses += r.bad - 1;  // note_error counts the first
        note_error(s.stats, s.stats.bad_responses, r.error);
    }
    if (r.broken) {
        c.broken = true;
        note_error(s.stats, s.stats.mismatches, r.error);
    }
    return !r.broken;
}

ringlet::task<void> reader(shard_state& s, connection& c) {
    const plan& p = *s.run;
    // receive() in multishot mode: the kernel reads each arrival as it lands
    // and the load generator pays no syscall per read (it must cost less per
    // request than the servers it measures). What it reads it only checks and
    // drops, so the cache argument for the readiness mode does not apply.
    (void)c.stream.set_receive_mode(net::receive_mode::multishot);
    for (;;) {
        auto got = co_await c.stream.receive();
        if (!got) {
            if (got.error() != ringlet::errc::operation_canceled && !c.broken) {
                c.broken = true;
                note_error(s.stats, s.stats.io_errors, "recv: " + got.error().message());
            }
            break;
        }
        if (got->empty()) {
            if (c.answered < c.sent && !c.broken) {
                c.broken = true;
                note_error(s.stats, s.stats.io_errors, "the server closed a connection with requests in flight");
            }
            break;
        }
        ++s.stats.reads;
        s.stats.bytes_read += got->size();
        const auto now = clock::now();
        if (!consume(s, c, got->data(), got->size(), now)) break;
        if (now >= p.end) c.stopping = true;
        wake(c);
    }
    c.stopping = true;
    wake(c);
    // A broken connection is not drained: closing cancels the writer's send too.
    if (c.broken) (void)co_await c.stream.close();
}

/// --new-connection: for each request (when the timetable says, in rate
/// mode) connect, send it, read its response, close. Latency counts from the
/// (scheduled) start, so it includes the connect.
ringlet::task<void> churn(shard_state& s, connection& c) {
    const plan& p = *s.run;
    const stream_protocol& proto = *p.proto;
    for (;;) {
        if (c.stopping || c.sent >= c.quota) break;
        const auto now = clock::now();
        if (p.due(c.first_slot, c.quota, now) <= c.sent) {
            co_await writer_idle<connection>{c};
            continue;
        }
        const std::uint64_t seq = c.sent;
        if (p.open_loop()) {
            if (c.slot(p, seq) >= p.measure) s.stats.send_lag.record(static_cast<std::uint64_t>((now - c.slot(p, seq)).count()));
        } else {
            c.sent_at[seq % p.depth] = now;
        }
        ++c.sent;
        ++s.stats.total_sent;
        auto opened = co_await open_stream(p);
        if (!opened) {
            if (opened.error() == ringlet::errc::operation_canceled) break;
            note_error(s.stats, s.stats.connect_errors, net::describe_error("connect", p.target, opened.error()));
            ++c.answered;  // counted as a connect error, not as unanswered
            continue;
        }
        ++s.stats.connects;
        if (s.tls) {
            auto secured = co_await s.tls->handshake(std::move(*opened));
            if (!secured) {
                if (secured.error() == ringlet::errc::operation_canceled) break;
                note_error(s.stats, s.stats.connect_errors, s.tls->describe(secured.error()));
                ++c.answered;
                continue;
            }
            c.secure = std::move(*secured);
        } else {
            c.stream = std::move(*opened);
        }
        c.checker->add_counts(s.stats.counts);  // the last connection's, before a fresh checker
        c.checker = proto.make_checker(c.id);
        const std::size_t size = proto.write_request(c.tx.data(), c.id, seq);
        const std::span<const std::byte> request{c.tx.data(), size};
        ringlet::result<void> sent;
        if (c.secure) {
            sent = co_await c.secure->write_all(request);
        } else {
            sent = co_await c.stream.write_all(request);
            (void)c.stream.set_receive_mode(net::receive_mode::multishot);
        }
        if (sent) ++s.stats.writes;
        while (sent && c.answered <= seq) {
            // One read: a lease from receive(), or read_some into rx under TLS.
            ringlet::result<std::span<const std::byte>> got{std::span<const std::byte>{}};
            if (c.secure) {
                auto n = co_await c.secure->read_some(c.rx);
                if (n) got = std::span<const std::byte>{c.rx.data(), *n};
                else got = ringlet::unexpected{n.error()};
            } else {
                auto lease = co_await c.stream.receive();
                if (lease) got = std::span<const std::byte>{lease->data(), lease->size()};
                else got = ringlet::unexpected{lease.error()};
                if (lease && !lease->empty()) {
                    ++s.stats.reads;
                    s.stats.bytes_read += lease->size();
                    if (!consume(s, c, lease->data(), lease->size(), clock::now())) c.answered = seq + 1;
                    continue;
                }
            }
            if (!got || got->empty()) {
                if (!got && got.error() == ringlet::errc::operation_canceled) break;
                note_error(s.stats, s.stats.io_errors,
                           got ? "the server closed a connection before its response" : "recv: " + got.error().message());
                ++c.answered;
                break;
            }
            ++s.stats.reads;
            s.stats.bytes_read += got->size();
            if (!consume(s, c, got->data(), got->size(), clock::now())) c.answered = seq + 1;
        }
        if (!sent && sent.error() != ringlet::errc::operation_canceled) {
            note_error(s.stats, s.stats.io_errors, "send: " + sent.error().message());
            c.answered = seq + 1;
        }
        if (c.secure) {
            co_await c.secure->close();
            c.secure.reset();
        } else {
            (void)co_await c.stream.close();
        }
        c.broken = false;
        if (c.answered <= seq) break;  // cancelled
    }
}

/// --tls: one task per connection writes what it may send, then reads (a
/// TLS stream takes one operation at a time). A due request waits while the
/// task waits for a read; its latency counts from its slot all the same.
ringlet::task<void> secure_loop(shard_state& s, connection& c) {
    const plan& p = *s.run;
    const stream_protocol& proto = *p.proto;
    for (;;) {
        const auto now = clock::now();
        const std::uint64_t n = c.stopping || c.sent >= c.quota ? 0 : sendable(p, c, now);
        if (n > 0) {
            std::size_t bytes = 0;
            for (std::uint64_t i = 0; i < n; ++i) {
                const std::uint64_t seq = c.sent + i;
                note_send(s, c, seq, now);
                bytes += proto.write_request(c.tx.data() + bytes, c.id, seq);
            }
            c.sent += n;
            s.stats.total_sent += n;
            auto written = co_await c.secure->write_all(std::span<const std::byte>{c.tx.data(), bytes});
            if (!written) {
                if (written.error() != ringlet::errc::operation_canceled) {
                    note_error(s.stats, s.stats.io_errors, "TLS send: " + written.error().message());
                }
                break;
            }
            ++s.stats.writes;
            continue;
        }
        if (c.answered < c.sent) {
            auto got = co_await c.secure->read_some(c.rx);
            if (!got || *got == 0) {
                if (!got && got.error() == ringlet::errc::operation_canceled) break;
                note_error(s.stats, s.stats.io_errors,
                           got ? "the server closed a connection with requests in flight" : "TLS recv: " + got.error().message());
                break;
            }
            ++s.stats.reads;
            s.stats.bytes_read += *got;
            const auto at = clock::now();
            if (!consume(s, c, c.rx.data(), *got, at)) break;
            if (at >= p.end) c.stopping = true;
            continue;
        }
        if (c.stopping || c.sent >= c.quota) break;
        co_await writer_idle<connection>{c};
    }
    c.stopping = true;
    co_await c.secure->close();
    c.secure.reset();
}

ringlet::task<void> all_connections(shard_state& s) {
    ringlet::task_group group;
    for (auto& c : s.conns) {
        if (s.run->opts->new_connection) {
            group.spawn(churn(s, *c));
            continue;
        }
        if (c->secure) {
            group.spawn(secure_loop(s, *c));
            continue;
        }
        group.spawn(reader(s, *c));
        group.spawn(writer(s, *c));
    }
    co_await group.wait();
}

/// Wakes writers when their slot comes (rate mode), stops every writer at the
/// end of the timetable, then waits out the grace period: finishing first
/// means the drain took too long and the connections are cancelled.
ringlet::task<void> pacer(shard_state& s) {
    const plan& p = *s.run;
    const auto tick = std::chrono::nanoseconds{static_cast<std::int64_t>(p.opts->tick_us * 1000)};
    for (;;) {
        const auto now = clock::now();
        if (now >= p.end) break;
        auto next = p.end;
        if (p.open_loop()) {
            for (auto& c : s.conns) {
                if (c->stopping || c->sent >= c->quota) continue;
                auto slot = c->slot(p, c->sent);
                if (slot <= now) {
                    wake(*c);
                    // Its next slot is the first one still in the future.
                    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(now - c->first_slot).count();
                    slot = c->slot(p, static_cast<std::uint64_t>(since / p.interval_ns) + 1);
                }
                next = std::min(next, slot);
            }
            next = std::min(std::max(next, now + tick), p.end);
        }
        auto slept = co_await ringlet::sleep_until(next);
        if (!slept) co_return;
    }
    for (auto& c : s.conns) {
        c->stopping = true;
        wake(*c);
    }
    auto slept = co_await ringlet::sleep_until(p.give_up);
    if (slept) s.stats.gave_up = true;
}

}  // namespace

ringlet::task<bool> connect_shard(shard_state& s) {
    const plan& p = *s.run;
    const options& opts = *p.opts;
    const unsigned shards = opts.shards;
    s.stats.note_thread();
    if (opts.tls) {
        std::string error;
        s.tls = make_secure_client(opts, error);
        if (!s.tls) {
            note_error(s.stats, s.stats.connect_errors, "--tls: " + error);
            co_return false;
        }
    }
    for (std::uint64_t id = s.index; id < opts.connections; id += shards) {
        auto c = std::make_unique<connection>();
        c->id = id;
        if (!opts.new_connection) {  // --new-connection: churn() connects for each request
            auto r = co_await open_stream(p);
            if (!r) {
                note_error(s.stats, s.stats.connect_errors, net::describe_error("connect", p.target, r.error()));
                co_return false;
            }
            if (s.tls) {
                auto secured = co_await s.tls->handshake(std::move(*r));
                if (!secured) {
                    note_error(s.stats, s.stats.connect_errors, s.tls->describe(secured.error()));
                    co_return false;
                }
                c->secure = std::move(*secured);
            } else {
                c->stream = std::move(*r);
            }
        }
        if (s.tls) c->rx.resize(64 * 1024);
        if (!p.open_loop()) c->sent_at.resize(p.depth);
        if (p.vectored) {
            c->iov.resize(2 * p.batch);
            c->tags.resize(p.batch);
        } else {
            c->tx.resize(p.batch * p.proto->max_request_size());
        }
        c->checker = p.proto->make_checker(c->id);
        s.conns.push_back(std::move(c));
    }
    co_return true;
}

ringlet::task<void> run_shard(shard_state& s) {
    const plan& p = *s.run;
    for (auto& c : s.conns) {
        c->first_slot = p.first_slot_of(c->id);
        c->quota = p.quota_of(c->id);
    }
    // Every shard starts at the same instant, so the first responses fall inside the plan.
    auto started = co_await ringlet::sleep_until(p.start);
    (void)started;
    auto outcome = co_await ringlet::when_any(all_connections(s), pacer(s));
    (void)outcome;
    for (auto& c : s.conns) {
        s.stats.unanswered += c->sent - c->answered;
        c->checker->add_counts(s.stats.counts);
        if (c->stream.is_open()) (void)co_await c->stream.close();
    }
    if (s.stats.unanswered > 0) {
        s.stats.live_errors.store(s.stats.live_errors.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        if (s.stats.first_error.empty()) {
            s.stats.first_error = std::to_string(s.stats.unanswered) + " requests unanswered" +
                                  (s.stats.gave_up ? " when the grace period ended" : "");
        }
    }
    s.stats.done.store(true, std::memory_order_release);
}

}  // namespace loadgen

// net::stream::receive(): the stream's receiver (a multishot poll, or a
// multishot recv on the shard's provided-buffer ring), its queue, and the
// awaitable that waits on it.
//
// Design notes
// - Two modes (net::receive_mode). Readiness, the default: one multishot poll
//   (POLLIN) per stream stays armed, and a receive reads with one
//   non-blocking recv(2) into a spare buffer (68 KiB, or 260 KiB for a bulk
//   stream: below) when the socket is or may be readable (not yet looked at,
//   the poll fired, or the last read filled the buffer); otherwise it waits
//   for the poll. Multishot: one multishot
//   recv per stream on the shard's ring of kReceiveBuffers x
//   kReceiveBufferSize provided buffers (a detail::buffer_ring, set up by
//   the shard's first multishot receiver, released with the shard's
//   receive_pool service at shard exit).
// - Why readiness is the default (bench/stream_fastpath.sh, echo servers that
//   differ only in this, interleaved rounds, same-round ratio medians, 50
//   connections, one shard on CPU 0, load generator on CPU 1, 2-vCPU VM):
//   readiness / multishot 16 KiB depth 16: 1.17x requests/s, 0.87x server CPU
//   per request; 64 B depth 1 and 16, 1 KiB depth 16: 0.96-0.99x (the load
//   generator was >= 95 % busy: it cannot tell them apart); 64 B at a fixed
//   50,000 requests/s: 1.02x server CPU per request. The reason is the cache:
//   the armed multishot recvs of a whole loop turn (up to 40 task-work items
//   per kernel entry, each reading everything queued on its socket) copy
//   ~2 MiB into ring buffers before the echo's sends of the next turn copy
//   it out again, by then from memory: perf put the send's copy at 1.4 us
//   per 16 KiB against 0.4 us for an epoll server that writes each 64 KiB
//   right after reading it (measured 2026-11-21). A readiness receive reads
//   only when asked, into the most recently returned spare buffer, and
//   write_all sends at once what fits (stream::try_write), so the bytes go
//   out while they are still in cache; the kernel also keeps its flow control
//   (nothing is read ahead of the application).
// - Reads for a waiting task happen in its turn (issue 13 item 3): when the
//   poll fires while a task waits, the receiver does not read from inside
//   the completion; it puts a call in the shard's ready queue
//   (shard::schedule_call) that reads and resumes the task right there
//   (timed_wait::wake_now), so each connection's read is followed at once by
//   its task's send. Reading from the completions read a whole loop turn's
//   worth (50 connections x 64 KiB = 3.2 MiB, more than the 2 MiB L2) before
//   the first send copied any of it out. A stale poll completion (the task
//   had read the bytes itself meanwhile) finds EAGAIN there: the wait goes
//   on, nothing is resumed.
// - Sizing (issue 13 item 3): a read takes at most kSpareSize (68 KiB) until
//   one has taken that much, then up to kLargeSpareSize (260 KiB, a second
//   stack of spares) until one takes less than kBulkExit (4 KiB). A bulk
//   stream thus reads what the socket holds in one recv and sends it back in
//   one send; a stream of small messages, or a peer that sends without
//   reading (whose echo blocks with its buffer leased), holds 68 KiB, not
//   260. (The figures below were taken with 64 and 256 KiB; the extra 4 KiB
//   came later, see the end of this item.) Measured 2026-12-06, bench/echo_compare.sh's setup through
//   `ringlet_loadgen compare --quota 0.5` (server in half a CPU, 50
//   connections, 3 rounds x 3 s, same-round medians, ringlet / the 256 KiB-read
//   epoll server; 2 vCPU Intel Xeon (Sapphire Rapids), load average 2):
//   before (64 KiB, read from the completion) 16 KiB x 16: 0.84 (server
//   CPU per request 1.21x); reading in the task's turn with 64 KiB: 0.84,
//   128 KiB 0.88 (1.14x), 256 KiB 1.00 (1.02x; 64 KiB x 4: 0.97, 1.04x).
//   Kept: 64 KiB, then 256 KiB while the stream is bulk (entered at a read of
//   64 KiB, left at one under kBulkExit): server CPU per request 1.02x /
//   1.00x always-256 KiB at 16 KiB x 16 / 64 KiB x 4 (same rounds, load
//   average 8); leaving at any read under 64 KiB instead: 1.06x / 1.09x.
//   The spares are 68 and 260 KiB since 2026-12-06 (4 KiB over the round
//   sizes, stream_receiver.hpp says why): at 16 KiB x 16 (256 KiB in
//   flight per connection) 56 % of the 256 KiB reads filled the buffer and
//   the next recv found nothing — 1.39 recvs per send; with 260 KiB, 1.01
//   (server in a 0.5-CPU quota, same setup): ringlet / epoll 0.92 -> 0.97.
//   Why not always 256 KiB: a peer that sends without reading holds the
//   first read's buffer while its echo is blocked (64 KiB, not 256 KiB). The same 256 KiB spare read from the completion
//   measured 0.92x the 64 KiB one (2026-12-05): the cache, not the size, was
//   what made large reads slow. Not tried: readv over two spares (a lease is
//   one span; 256 KiB in one buffer does the same with one send); recv
//   bundles and incremental buffer consumption (Linux 6.10 and 6.12) belong
//   to the multishot mode's provided-buffer ring, and perf put the readiness
//   mode's ring work at ~1 % of the server's CPU in bulk echo: the cost was in the kernel's TCP path per
//   send (fewer, larger sends: tcp_write_xmit and its softirq) and the send
//   copy from cold memory.
// - Against the older variants (same bench): a single-shot recv with
//   a kernel-selected buffer per call, 16 KiB depth 16: 1.67x requests/s; plain
//   read_some into a 64 KiB array per connection (which an idle connection
//   would hold): 1.70x. Small messages: 0.93-1.05x, load-generator-bound.
// - Multishot mode: arrivals queue per stream until receive() takes them,
//   each in its own ring buffer. Pieces taken together are copied into the
//   first's buffer (while they fit in it), so a burst costs one lease and one
//   write, as a single recv of everything would have. Against handing out
//   each arrival on its own: 16 KiB depth 16 1.12x requests/s, 1 KiB depth
//   16 1.00x.
// - Multishot mode: the kernel ends the multishot recv with ENOBUFS when
//   every buffer is out at the moment bytes arrive; then one plain recv into
//   a heap buffer of the receiver's own (kFallbackSize) follows, and the next
//   receive() arms the multishot again. Without buffer rings (the epoll
//   backend; kernels before 5.19) or multishot recv (before 6.0: EINVAL on
//   the first completion) the multishot mode receives as readiness does,
//   into the shard's spares; kernels without multishot poll (before 5.13)
//   use plain recvs into that heap buffer throughout.
#include "core/socket_calls.hpp"
#include "net/stream_receiver.hpp"

#include <ringlet/net/receive.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace ringlet::net {
namespace detail {

namespace {

ringlet::detail::shard* current_shard() noexcept { return ringlet::detail::shard::current(); }

}  // namespace

// --- receive_pool ----------------------------------------------------------------

receive_pool::receive_pool(ringlet::detail::shard& owner) noexcept : io_(&owner.io()) {
    try {
        spares_.reserve(kSparesKept);  // so that recycle() never allocates
        large_spares_.reserve(kLargeSparesKept);
    } catch (const std::bad_alloc&) {
    }
}

receive_pool* receive_pool::current() noexcept {
    auto* shard = current_shard();
    if (!shard) return nullptr;
    try {
        return &shard->service<receive_pool>();
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

bool receive_pool::ring_ready() noexcept {
    if (!std::exchange(ring_tried_, true)) (void)ring_.setup(*io_, kReceiveBuffers, kReceiveBufferSize);
    return ring_.ready();
}

std::unique_ptr<std::byte[]> receive_pool::take_spare(bool large) noexcept {
    auto& stack = large ? large_spares_ : spares_;
    if (stack.empty()) return std::unique_ptr<std::byte[]>(new (std::nothrow) std::byte[large ? kLargeSpareSize : kSpareSize]);
    auto spare = std::move(stack.back());
    stack.pop_back();
    return spare;
}

void receive_pool::recycle(std::unique_ptr<std::byte[]> spare, bool large) noexcept {
    auto& stack = large ? large_spares_ : spares_;
    if (stack.size() < stack.capacity()) stack.push_back(std::move(spare));
}

std::size_t receive_pool::trim(std::size_t keep) noexcept {
    std::size_t freed = 0;
    for (auto* stack : {&spares_, &large_spares_}) {
        if (stack->size() <= keep) continue;
        const std::size_t dropped = stack->size() - keep;
        // The coldest are at the front; the most recently returned stay (still in cache).
        stack->erase(stack->begin(), stack->begin() + static_cast<std::ptrdiff_t>(dropped));
        freed += dropped * (stack == &spares_ ? kSpareSize : kLargeSpareSize);
    }
    return freed;
}

receive_pool* receive_pool::existing() noexcept {
    auto* shard = current_shard();
    return shard ? shard->find_service<receive_pool>() : nullptr;
}

// --- stream_receiver -------------------------------------------------------------

namespace ops = ringlet::detail::ops;

ops::fd_args stream_recv::poll_view(io_op& op) noexcept {
    return {static_cast<stream_recv&>(op).owner->fd, POLLIN | POLLRDHUP};
}

ops::selected_args stream_recv::selected_view(io_op& op) noexcept {
    stream_receiver& r = *static_cast<stream_recv&>(op).owner;
    return {r.fd, r.pool_->group(), nullptr};
}

ops::buffer_args stream_recv::plain_view(io_op& op) noexcept {
    stream_receiver& r = *static_cast<stream_recv&>(op).owner;
    return {r.fd, r.plain_buffer_.get(), kFallbackSize, 0};
}

namespace {

void stream_recv_done(ringlet::detail::io_op& op, int res, std::uint32_t flags, bool more) noexcept {
    static_cast<stream_recv&>(op).owner->on_completion(res, flags, more);
}

}  // namespace

stream_recv::stream_recv(stream_receiver& r) noexcept : io_op(ops::poll_multishot_steps<&poll_view>), owner(&r) {
    set_completion(&stream_recv_done);
}

void stream_recv::choose() noexcept {
    const stream_receiver& r = *owner;
    if (r.how_ == stream_receiver::mode::readiness) set_steps(ops::poll_multishot_steps<&poll_view>);
    else if (r.how_ == stream_receiver::mode::multishot && !r.plain_once_) set_steps(ops::recv_selected_steps<&selected_view>);
    else set_steps(ops::recv_steps<&plain_view>);
}

stream_receiver::mode stream_receiver::initial_mode(receive_pool* pool, receive_mode wanted) noexcept {
    if (!pool) return mode::plain;
    // Without buffer rings (the epoll backend, kernels before 5.19) the
    // multishot mode receives as the default one does.
    if (wanted == receive_mode::multishot && pool->ring_ready()) return mode::multishot;
    return mode::readiness;
}

stream_receiver::stream_receiver(int fd_, receive_mode wanted) noexcept
    : fd(fd_), op_(*this), pool_(receive_pool::current()), how_(initial_mode(pool_, wanted)) {}

stream_receiver::~stream_receiver() { drop_queue(); }

std::error_code stream_receiver::ensure_armed() noexcept {
    if (lifecycle_.armed()) return {};
    if (closing || lifecycle_.orphaned()) return make_error_code(errc::operation_canceled);
    ringlet::detail::shard* here = current_shard();
    if (!here) return make_error_code(errc::not_on_shard);
    const bool plain = how_ == mode::plain || (how_ == mode::multishot && plain_once_);
    if (plain) {
        if (plain_queued_) return {};  // its one buffer still holds bytes nobody took
        if (!plain_buffer_) {
            plain_buffer_.reset(new (std::nothrow) std::byte[kFallbackSize]);
            if (!plain_buffer_) return std::make_error_code(std::errc::not_enough_memory);
            plain_is_spare_ = false;
        }
    }
    armed_plain_ = plain;
    op_.choose();
    return lifecycle_.arm(op_, here->root_token());
}

void stream_receiver::push(entry e) {
    if (count_ == queue_.size()) {
        std::vector<entry> bigger(std::max<std::size_t>(4, queue_.size() * 2));
        for (std::uint32_t i = 0; i < count_; ++i) bigger[i] = queue_[(head_ + i) % queue_.size()];
        queue_.swap(bigger);
        head_ = 0;
    }
    queue_[(head_ + count_) % queue_.size()] = e;
    ++count_;
}

stream_receiver::entry stream_receiver::pop() noexcept {
    const entry e = queue_[head_];
    head_ = static_cast<std::uint32_t>((head_ + 1) % queue_.size());
    --count_;
    return e;
}

void stream_receiver::on_completion(int res, std::uint32_t flags, bool more) noexcept {
    lifecycle_.completed(op_, more);
    const bool has_buffer = ringlet::detail::ops::has_selected_buffer(flags);
    const auto id = ringlet::detail::ops::selected_buffer(flags);
    if (lifecycle_.orphaned()) {
        if (has_buffer) pool_->give_back(id);
        if (!more) delete this;
        return;
    }
    try {
        if (how_ == mode::readiness) {
            if (res > 0) {
                readable_ = true;
                saw_bytes_ = true;
                // The peer's FIN or an error is reported once (the poll is
                // edge-triggered) but stays readable for good.
                if (res & (POLLRDHUP | POLLHUP | POLLERR)) hung_up_ = true;
                if (waiter) schedule_read();
            } else if (res == -EINVAL && !saw_bytes_ && !more) {
                how_ = mode::plain;  // no multishot poll (before 5.13)
            } else if (res < 0 && res != -ECANCELED) {
                fill_slot({res, 0, false});
            }
        } else if (armed_plain_) {
            plain_once_ = false;
            if (res != -ECANCELED) push({res, 0, true});
            plain_queued_ = res > 0;
        } else if (has_buffer) {
            saw_bytes_ = true;
            push({res, id, false});
        } else if (res == -ENOBUFS || (res == 0 && ringlet::detail::ops::socket_nonempty(flags))) {
            // Every buffer is out: the bytes wait in the socket. (Linux 6.18
            // was seen ending a multishot recv on an empty ring with 0 and
            // SOCK_NONEMPTY instead of ENOBUFS: bytes wait, so not the end.)
            plain_once_ = true;
        } else if (res == -EINVAL && !saw_bytes_ && !more) {
            how_ = mode::readiness;  // a kernel without multishot recv (before 6.0): receive as the default mode does
        } else if (res != -ECANCELED) {
            push({res, 0, false});  // end of stream (0) or the connection's error
        }
    } catch (const std::bad_alloc&) {
        // The queue could not grow: give the bytes back rather than lose track of the buffer.
        if (has_buffer) pool_->give_back(id);
        if (waiter) waiter->wake(std::make_error_code(std::errc::not_enough_memory));
    }
    if (!more) lifecycle_.resume_closer();
    if (!waiter) return;
    if (has_queued()) return waiter->wake();
    if (lifecycle_.armed()) return;
    if (closing || res == -ECANCELED) return waiter->wake(make_error_code(errc::operation_canceled));
    if (std::error_code e = ensure_armed()) waiter->wake(e);  // after ENOBUFS or EINVAL: go on plainly
}

void stream_receiver::schedule_read() noexcept {
    if (read_scheduled_) return;
    read_scheduled_ = true;
    current_shard()->schedule_call(&read_for_waiter, this);
}

void stream_receiver::read_for_waiter(void* self) noexcept {
    // Runs from the ready queue, before any task of this turn could close or
    // destroy the stream: every way a wait ends meanwhile (timer, stop)
    // schedules the waiter behind this call.
    auto& r = *static_cast<stream_receiver*>(self);
    r.read_scheduled_ = false;
    if (!r.waiter) return;  // the wait ended otherwise meanwhile
    if (r.may_read_now()) r.read_now();
    // Nothing there (the poll's news was stale: the waiter read it already):
    // the wait goes on, the poll stays armed.
    if (r.has_queued()) r.waiter->wake_now();  // last: the waiter may destroy the stream
}

void stream_receiver::read_now() noexcept {
    if (!plain_buffer_ || !plain_is_spare_ || plain_is_large_ != bulk_) {
        if (plain_buffer_ && plain_is_spare_) pool_->recycle(std::move(plain_buffer_), plain_is_large_);
        plain_buffer_ = pool_->take_spare(bulk_);
        plain_is_spare_ = true;
        plain_is_large_ = bulk_;
        if (!plain_buffer_) {
            fill_slot({-ENOMEM, 0, false});
            return;
        }
    }
    const std::size_t room = plain_is_large_ ? kLargeSpareSize : kSpareSize;
    ssize_t n;
    do {
        n = ringlet::detail::sys::recv(fd, plain_buffer_.get(), room, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    const int error = n < 0 ? errno : 0;
    if (n <= 0) pool_->recycle(std::move(plain_buffer_), plain_is_large_);  // an idle stream holds no buffer
    if (error == EAGAIN || error == EWOULDBLOCK) {
        readable_ = false;  // the armed poll says when bytes arrive
        return;
    }
    // A stream whose read fills kSpareSize reads kLargeSpareSize from then on, until a
    // read takes less than 4 KiB (design notes: sizing).
    if (static_cast<std::size_t>(n) >= kSpareSize) bulk_ = true;
    else if (n > 0 && static_cast<std::size_t>(n) < kBulkExit) bulk_ = false;
    // A full buffer suggests more is waiting; a short read that all is taken,
    // unless the peer has hung up (its end of stream is still to be read).
    // After end of stream or an error the next call sees the same again.
    readable_ = hung_up_ || n <= 0 || static_cast<std::size_t>(n) == room;
    if (n > 0) plain_queued_ = true;
    fill_slot({n < 0 ? -error : static_cast<std::int32_t>(n), 0, n > 0});
}

void stream_receiver::fill_slot(entry e) noexcept {
    // Full only with bytes read and not taken: an error the poll reports
    // meanwhile is reported again by the next recv.
    if (slot_full_) return;
    slot_ = e;
    slot_full_ = true;
}

result<received> stream_receiver::take() noexcept {
    entry e = slot_;
    if (slot_full_) slot_full_ = false;
    else e = pop();
    received out;
    if (e.res < 0) return unexpected{errno_code(-e.res)};
    if (e.res == 0) return out;  // end of stream
    out.size_ = static_cast<std::size_t>(e.res);
    if (e.plain) {
        plain_queued_ = false;
        out.data_ = plain_buffer_.get();
        out.owned_ = std::move(plain_buffer_);
        if (plain_is_spare_) out.pool_ = pool_;  // the lease gives it back to the spares
        out.large_ = plain_is_large_;
        return out;
    }
    out.pool_ = pool_;
    out.id_ = e.id;
    out.data_ = pool_->buffer(e.id);
    // Small pieces right behind it join it (one lease, one write for the caller).
    while (count_ > 0) {
        const entry& next = queue_[head_];
        if (next.plain || next.res <= 0 || out.size_ + static_cast<std::size_t>(next.res) > kReceiveBufferSize) break;
        std::memcpy(out.data_ + out.size_, pool_->buffer(next.id), static_cast<std::size_t>(next.res));
        out.size_ += static_cast<std::size_t>(next.res);
        pool_->give_back(next.id);
        (void)pop();
    }
    return out;
}

void stream_receiver::keep_receiving() noexcept {
    if (!lifecycle_.armed() && how_ == mode::multishot && !closing) (void)ensure_armed();
}

void stream_receiver::cancel() noexcept {
    lifecycle_.cancel(op_);  // only on its home shard
}

void stream_receiver::begin_close() noexcept {
    closing = true;
    cancel();
}

void stream_receiver::drop_queue() noexcept {
    // The pool outlives its shard's receivers unless a stream outlives the runtime.
    const bool pool_alive = pool_ && pool_ == receive_pool::existing();
    while (count_ > 0) {
        const entry e = pop();
        if (!e.plain && e.res > 0 && pool_alive) pool_->give_back(e.id);
    }
    slot_full_ = false;  // its bytes are in plain_buffer_, freed with it
}

void stream_receiver::abandon(stream_receiver* r) noexcept {
    if (!r) return;
    assert(!r->waiter && "net::stream destroyed while a task waits in receive()");
    if (!r->lifecycle_.armed()) {
        delete r;
        return;
    }
    r->lifecycle_.orphan();
    r->drop_queue();
    r->cancel();  // elsewhere than its shard the ring cannot be touched; the runtime's stop ends it
}

}  // namespace detail

// --- received ------------------------------------------------------------------

received::received(received&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      pool_(std::exchange(other.pool_, nullptr)),
      id_(other.id_),
      large_(other.large_),
      owned_(std::move(other.owned_)) {}

received& received::operator=(received&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        pool_ = std::exchange(other.pool_, nullptr);
        id_ = other.id_;
        large_ = other.large_;
        owned_ = std::move(other.owned_);
    }
    return *this;
}

void received::release() noexcept {
    if (detail::receive_pool* pool = std::exchange(pool_, nullptr)) {
        if (owned_) pool->recycle(std::move(owned_), large_);
        else pool->give_back(id_);
    }
    owned_.reset();
    data_ = nullptr;
    size_ = 0;
}

// --- receive_op ----------------------------------------------------------------

receive_op::receive_op(detail::stream_receiver* receiver, timeout limit, std::error_code refused) noexcept
    : timed_wait(&detach, refused, limit), receiver_(receiver) {
    if (!receiver_ && !error_) error_ = std::make_error_code(std::errc::bad_file_descriptor);
}

void receive_op::detach(timed_wait& self) noexcept { static_cast<receive_op&>(self).receiver_->waiter = nullptr; }

bool receive_op::await_ready() noexcept {
    if (error_) return true;
    if (receiver_->closing) {
        error_ = make_error_code(errc::operation_canceled);
        return true;
    }
    if (receiver_->waiter) {
        error_ = std::make_error_code(std::errc::device_or_resource_busy);
        return true;
    }
    if (deadline_passed()) return true;
    if (receiver_->may_read_now()) receiver_->read_now();
    return receiver_->has_queued();
}

bool receive_op::suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    if (!may_wait(token)) return false;
    if (std::error_code e = receiver_->ensure_armed()) {
        error_ = e;
        return false;
    }
    if (receiver_->has_queued()) return false;
    receiver_->waiter = this;
    begin_wait(waiter, token);
    return true;
}

result<received> receive_op::await_resume() noexcept {
    if (error_) return unexpected{error_};
    auto out = receiver_->take();
    // Keep the recv armed while the caller works on these bytes (it ended on
    // ENOBUFS, or this was end of stream: then the next receive re-arms).
    if (out && !out->empty()) receiver_->keep_receiving();
    return out;
}

}  // namespace ringlet::net

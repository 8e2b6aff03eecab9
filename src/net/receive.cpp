// net::stream::receive(): a multishot recv on the shard's provided-buffer
// ring, its queue, and the awaitable that waits on it.
//
// Design notes
// - One ring of kReceiveBuffers buffers of kReceiveBufferSize bytes per shard
//   (a detail::buffer_ring), created on the first receive on that shard and
//   released by a shard exit hook.
// - Multishot rather than one single-shot recv with IOSQE_BUFFER_SELECT per
//   call (the previous design): bench/stream_fastpath.sh, interleaved rounds,
//   same-round ratio medians multishot / single-shot, 50 connections, one
//   shard pinned (2-vCPU VM, load average 6-10 from builds):
//     16 KiB depth 16: 2.10x requests/s (server 4.3 vs 8.9 us per request);
//     64 B at a fixed 50,000 requests/s: 0.98x server CPU per request;
//     64 B depth 1 and 16, 1 KiB depth 16: 0.97-1.01x (the load generator
//     was >= 95 % busy, so those cannot tell the two apart).
//   A single-shot recv finds a few KiB queued and returns them; the armed
//   multishot recv takes each arrival as it lands, so the echo's writes stay
//   large and the kernel works on fewer, larger segments.
// - Arrivals queue per stream until receive() takes them, each in its own
//   ring buffer. Pieces taken together are copied into the first's buffer
//   (while they fit in it), so a burst costs one lease and one write, as a
//   single recv of everything would have. Against handing out each arrival
//   on its own (same bench, 4 rounds): 16 KiB depth 16 1.12x requests/s,
//   1 KiB depth 16 1.00x.
// - The kernel ends the multishot recv with ENOBUFS when every buffer is out
//   at the moment bytes arrive; then one plain recv into a heap buffer of the
//   receiver's own (kFallbackSize) follows, and the next receive() arms the
//   multishot again. Kernels without multishot recv (before 6.0: EINVAL on
//   the first completion) or without buffer rings use plain recvs throughout.
#include "net/stream_receiver.hpp"

#include <ringlet/net/receive.hpp>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace ringlet::net {
namespace detail {

namespace {

thread_local receive_pool* shard_pool = nullptr;
thread_local bool pool_unavailable = false;  // tried on this shard: no buffer rings

ringlet::detail::shard* current_shard() noexcept { return ringlet::detail::shard::current(); }

}  // namespace

// --- receive_pool ----------------------------------------------------------------

receive_pool* receive_pool::current() noexcept {
    if (shard_pool) return shard_pool;
    if (pool_unavailable) return nullptr;
    auto* shard = current_shard();
    if (!shard) return nullptr;
    auto* pool = new (std::nothrow) receive_pool(shard->io().raw());
    if (!pool || !pool->ready()) {
        delete pool;
        pool_unavailable = true;
        try {
            shard->at_exit([] { pool_unavailable = false; });
        } catch (...) {
        }
        return nullptr;
    }
    try {
        shard->at_exit([] { delete std::exchange(shard_pool, nullptr); });
    } catch (...) {
        delete pool;
        return nullptr;
    }
    shard_pool = pool;
    return pool;
}

// --- stream_receiver -------------------------------------------------------------

void prepare_stream_recv(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    stream_receiver& r = *static_cast<stream_recv&>(op).owner;
    if (r.how_ == stream_receiver::mode::multishot && !r.plain_once_) {
        io_uring_prep_recv_multishot(sqe, r.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = r.pool_->group();
    } else {
        io_uring_prep_recv(sqe, r.fd, r.plain_buffer_.get(), kFallbackSize, 0);
    }
}

namespace {

void stream_recv_done(ringlet::detail::io_op& op, int res, std::uint32_t flags, bool more) noexcept {
    static_cast<stream_recv&>(op).owner->on_completion(res, flags, more);
}

}  // namespace

stream_recv::stream_recv(stream_receiver& r) noexcept : io_op(&prepare_stream_recv), owner(&r) {
    set_completion(&stream_recv_done);
}

stream_receiver::stream_receiver(int fd_) noexcept
    : fd(fd_), op_(*this), pool_(receive_pool::current()), how_(pool_ ? mode::multishot : mode::plain) {}

stream_receiver::~stream_receiver() { drop_queue(); }

std::error_code stream_receiver::ensure_armed() noexcept {
    if (armed_) return {};
    if (closing || orphaned_) return make_error_code(errc::operation_canceled);
    ringlet::detail::shard* here = current_shard();
    if (!here) return make_error_code(errc::not_on_shard);
    assert((!home_ || home_ == here) && "stream::receive() used from two shards");
    home_ = here;
    const bool plain = how_ == mode::plain || plain_once_;
    if (plain) {
        if (plain_queued_) return {};  // its one buffer still holds bytes nobody took
        if (!plain_buffer_) {
            plain_buffer_.reset(new (std::nothrow) std::byte[kFallbackSize]);
            if (!plain_buffer_) return std::make_error_code(std::errc::not_enough_memory);
        }
    }
    armed_plain_ = plain;
    cancel_sent_ = false;
    if (!op_.start(std::noop_coroutine(), here->root_token())) return op_.outcome().error();
    armed_ = true;
    return {};
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
    if (!more) {
        armed_ = false;
        op_.deregister();
    }
    const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
    const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    if (orphaned_) {
        if (has_buffer) pool_->give_back(id);
        if (!more) delete this;
        return;
    }
    try {
        if (armed_plain_) {
            plain_once_ = false;
            if (res != -ECANCELED) push({res, 0, true});
            plain_queued_ = res > 0;
        } else if (has_buffer) {
            saw_bytes_ = true;
            push({res, id, false});
        } else if (res == -ENOBUFS) {
            plain_once_ = true;  // every buffer is out: the bytes wait in the socket
        } else if (res == -EINVAL && !saw_bytes_ && !more) {
            how_ = mode::plain;  // a kernel without multishot recv
        } else if (res != -ECANCELED) {
            push({res, 0, false});  // end of stream (0) or the connection's error
        }
    } catch (const std::bad_alloc&) {
        // The queue could not grow: give the bytes back rather than lose track of the buffer.
        if (has_buffer) pool_->give_back(id);
        if (waiter) waiter->wake(std::make_error_code(std::errc::not_enough_memory));
    }
    if (!more && close_waiter_) current_shard()->schedule(std::exchange(close_waiter_, {}));
    if (!waiter) return;
    if (count_ > 0) return waiter->wake();
    if (armed_) return;
    if (closing || res == -ECANCELED) return waiter->wake(make_error_code(errc::operation_canceled));
    if (std::error_code e = ensure_armed()) waiter->wake(e);  // after ENOBUFS or EINVAL: go on plainly
}

result<received> stream_receiver::take() noexcept {
    const entry e = pop();
    received out;
    if (e.res < 0) return unexpected{errno_code(-e.res)};
    if (e.res == 0) return out;  // end of stream
    out.size_ = static_cast<std::size_t>(e.res);
    if (e.plain) {
        plain_queued_ = false;
        out.data_ = plain_buffer_.get();
        out.owned_ = std::move(plain_buffer_);
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
    if (!armed_ && how_ == mode::multishot && !closing) (void)ensure_armed();
}

void stream_receiver::cancel() noexcept {
    if (!armed_ || cancel_sent_ || current_shard() != home_) return;
    cancel_sent_ = true;
    home_->io().cancel(op_.user_data_);
}

void stream_receiver::begin_close() noexcept {
    closing = true;
    cancel();
}

void stream_receiver::drop_queue() noexcept {
    // The pool outlives its shard's receivers unless a stream outlives the runtime.
    const bool pool_alive = pool_ && pool_ == shard_pool;
    while (count_ > 0) {
        const entry e = pop();
        if (!e.plain && e.res > 0 && pool_alive) pool_->give_back(e.id);
    }
}

void stream_receiver::abandon(stream_receiver* r) noexcept {
    if (!r) return;
    assert(!r->waiter && "net::stream destroyed while a task waits in receive()");
    if (!r->armed_) {
        delete r;
        return;
    }
    r->orphaned_ = true;
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
      owned_(std::move(other.owned_)) {}

received& received::operator=(received&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        pool_ = std::exchange(other.pool_, nullptr);
        id_ = other.id_;
        owned_ = std::move(other.owned_);
    }
    return *this;
}

void received::release() noexcept {
    if (pool_) std::exchange(pool_, nullptr)->give_back(id_);
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
    return deadline_passed() || receiver_->has_queued();
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

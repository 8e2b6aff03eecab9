// net::stream::receive(): recv with a buffer the kernel selects from the
// shard's provided-buffer ring.
//
// Design notes
// - One ring of kBuffers buffers of kBufferSize bytes per shard, created on
//   the first receive on that shard and released by a shard exit hook.
//   liburing 2.3 has no io_uring_setup_buf_ring: the ring memory is mapped
//   here and registered with io_uring_register_buf_ring.
// - Single-shot IORING_OP_RECV with IOSQE_BUFFER_SELECT rather than
//   multishot: it fits the socket_op accounting (close waits for it,
//   timeouts link to it, a stop cancels it) with no per-connection state, and
//   an idle connection holds no buffer either way.
// - The buffer size decides bulk echo: the epoll baseline reads 64 KiB per
//   wakeup, and echo through read_some into a 16 KiB array made 16 KiB echo
//   at depth 16 0.31-0.42x of it. With receive() and 64 KiB buffers,
//   bench/echo_compare.sh --realtime --rounds 3 --duration 3 (same-round
//   ratio medians, two runs, load average 3-10 from other builds):
//   64x1 1.055 / 1.028, 64x16 1.051 / 1.024, 1kx16 0.999 / 1.063,
//   16kx16 0.804 / 0.728, CPU per request at 50k req/s 1.068 / 1.023.
//   Better than the 16 KiB array on every bulk figure, so kept; 16 KiB echo
//   still costs ~2x the baseline's CPU per request (8.5 vs 3-4.7 us).
//   Not yet measured: multishot recv (saves re-arming the poll per read)
//   and recv bundles (IORING_RECVSEND_BUNDLE, 6.10+).
// - The kernel answers ENOBUFS when every buffer is leased out at the moment
//   bytes arrive; the op then retries once into a heap buffer of its own
//   (io_op::set_retry), so the caller never sees it.
#include "core/ring.hpp"
#include "core/shard.hpp"

#include <ringlet/net/receive.hpp>
#include <ringlet/net/socket.hpp>

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <utility>

namespace ringlet::net {
namespace detail {

constexpr unsigned kBuffers = 128;              // a power of two
constexpr unsigned kBufferSize = 64 * 1024;
constexpr std::size_t kFallbackSize = 16 * 1024;
constexpr std::uint16_t kGroup = 0x1000;        // one per ring; UDP uses 0x4000 and up

class receive_pool {
public:
    /// The calling shard's pool (created on first use), or nullptr off a
    /// shard or when the kernel has no buffer rings.
    static receive_pool* current() noexcept;

    std::byte* buffer(unsigned id) const noexcept { return buffers_ + std::size_t{id} * kBufferSize; }
    void give_back(std::uint16_t id) noexcept {
        io_uring_buf_ring_add(ring_, buffer(id), kBufferSize, id, io_uring_buf_ring_mask(kBuffers), 0);
        io_uring_buf_ring_advance(ring_, 1);
    }
    ~receive_pool();

private:
    int setup(io_uring* ring) noexcept;

    io_uring* registered_on_ = nullptr;
    io_uring_buf_ring* ring_ = nullptr;
    std::byte* buffers_ = nullptr;
};

namespace {

constexpr std::size_t ring_bytes = sizeof(io_uring_buf) * kBuffers;
constexpr std::size_t buffer_bytes = std::size_t{kBuffers} * kBufferSize;

// 0: not tried on this shard yet; 1: tried, unavailable.
thread_local receive_pool* shard_pool = nullptr;
thread_local bool pool_unavailable = false;

}  // namespace

receive_pool* receive_pool::current() noexcept {
    if (shard_pool) return shard_pool;
    if (pool_unavailable) return nullptr;
    auto* shard = ringlet::detail::shard::current();
    if (!shard) return nullptr;
    auto* pool = new (std::nothrow) receive_pool;
    if (!pool || pool->setup(shard->io().raw()) != 0) {
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

int receive_pool::setup(io_uring* ring) noexcept {
    void* r = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) return -errno;
    ring_ = static_cast<io_uring_buf_ring*>(r);
    void* b = ::mmap(nullptr, buffer_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return -errno;
    buffers_ = static_cast<std::byte*>(b);
    io_uring_buf_ring_init(ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_);
    reg.ring_entries = kBuffers;
    reg.bgid = kGroup;
    if (int rc = io_uring_register_buf_ring(ring, &reg, 0); rc != 0) return rc;
    registered_on_ = ring;
    for (unsigned id = 0; id < kBuffers; ++id) {
        io_uring_buf_ring_add(ring_, buffer(id), kBufferSize, static_cast<std::uint16_t>(id),
                              io_uring_buf_ring_mask(kBuffers), static_cast<int>(id));
    }
    io_uring_buf_ring_advance(ring_, kBuffers);
    return 0;
}

receive_pool::~receive_pool() {
    if (registered_on_) io_uring_unregister_buf_ring(registered_on_, kGroup);
    if (buffers_) ::munmap(buffers_, buffer_bytes);
    if (ring_) ::munmap(ring_, ring_bytes);
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

namespace {

void prepare_receive(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<receive_op&>(op);
    if (self.pool) {
        io_uring_prep_recv(sqe, self.fd(), nullptr, detail::kBufferSize, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = detail::kGroup;
    } else {
        io_uring_prep_recv(sqe, self.fd(), self.owned.get(), self.owned ? detail::kFallbackSize : 0, 0);
    }
}

bool retry_without_pool(ringlet::detail::io_op& op, int res, std::uint32_t /*flags*/) noexcept {
    auto& self = static_cast<receive_op&>(op);
    if (res != -ENOBUFS || !self.pool) return false;
    self.owned.reset(new (std::nothrow) std::byte[detail::kFallbackSize]);
    if (!self.owned) return false;
    self.pool = nullptr;
    self.resubmit();
    return true;
}

}  // namespace

receive_op::receive_op(socket& owner, timeout limit)
    : socket_op(&prepare_receive, owner, limit), pool(detail::receive_pool::current()) {
    if (!pool) owned = std::make_unique_for_overwrite<std::byte[]>(detail::kFallbackSize);
    else set_retry(&retry_without_pool);
}

result<received> receive_op::await_resume() noexcept {
    auto r = finish();
    received out;
    const std::uint32_t flags = cqe_flags();
    if (pool && (flags & IORING_CQE_F_BUFFER)) {
        // Even on an error the buffer (if the kernel picked one) goes back.
        out.pool_ = pool;
        out.id_ = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        out.data_ = pool->buffer(out.id_);
    } else if (owned) {
        out.data_ = owned.get();
        out.owned_ = std::move(owned);
    }
    if (!r) return unexpected{r.error()};
    out.size_ = static_cast<std::size_t>(*r);
    return out;
}

}  // namespace ringlet::net

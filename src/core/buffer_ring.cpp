// detail::buffer_ring (see buffer_ring.hpp).
#include "core/buffer_ring.hpp"

#include "core/uring_backend.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace ringlet::detail {
namespace {

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

// Group ids are per io_uring; each shard's thread hands them out in turn.
thread_local std::uint16_t next_group = 0x4000;

io_uring_buf_ring* as_buf_ring(void* r) noexcept { return static_cast<io_uring_buf_ring*>(r); }

}  // namespace

int buffer_ring::setup(backend& owner, unsigned count, unsigned size) noexcept {
    uring_backend* uring = as_uring(owner);
    if (!uring || !owner.supports(capability::buffer_rings)) return -EOPNOTSUPP;
    io_uring* ring = uring->raw();
    stride_ = static_cast<unsigned>(round_up(size, 64));
    ring_bytes_ = round_up(count * sizeof(io_uring_buf), 4096);
    buffer_bytes_ = round_up(std::size_t{count} * stride_, 4096);
    void* r = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) return -errno;
    void* b = ::mmap(nullptr, buffer_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
        const int err = errno;
        ::munmap(r, ring_bytes_);
        return -err;
    }
    ring_ = r;
    buffers_ = static_cast<std::byte*>(b);
    count_ = count;
    size_ = size;
    io_uring_buf_ring_init(as_buf_ring(ring_));
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_);
    reg.ring_entries = count;
    int rc = -EEXIST;
    // Group ids are per ring; other layers may hold some, so skip taken ones.
    for (int attempt = 0; attempt < 256 && rc == -EEXIST; ++attempt) {
        group_ = next_group;
        next_group = static_cast<std::uint16_t>(next_group == 0x7fff ? 0x4000 : next_group + 1);
        reg.bgid = group_;
        rc = io_uring_register_buf_ring(ring, &reg, 0);
    }
    if (rc < 0) {
        release(nullptr);
        return rc;
    }
    registered_on_ = &owner;
    for (unsigned id = 0; id < count; ++id) give_back(static_cast<std::uint16_t>(id));
    publish();
    return 0;
}

void buffer_ring::release(backend* owner) noexcept {
    if (registered_on_ && registered_on_ == owner) io_uring_unregister_buf_ring(as_uring(*owner)->raw(), group_);
    registered_on_ = nullptr;
    if (ring_) ::munmap(ring_, ring_bytes_);
    if (buffers_) ::munmap(buffers_, buffer_bytes_);
    ring_ = nullptr;
    buffers_ = nullptr;
}

void buffer_ring::give_back(std::uint16_t id) noexcept {
    io_uring_buf_ring_add(as_buf_ring(ring_), buffer(id), size_, id, io_uring_buf_ring_mask(count_), static_cast<int>(pending_));
    ++pending_;
}

void buffer_ring::publish() noexcept {
    if (pending_ == 0) return;
    io_uring_buf_ring_advance(as_buf_ring(ring_), static_cast<int>(pending_));
    pending_ = 0;
}

}  // namespace ringlet::detail

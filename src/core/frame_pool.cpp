// Design notes: size classes of 64 bytes up to 4 KiB; each class is a singly
// linked free list threaded through the freed frames themselves. Lists are
// capped so a burst of 100k tasks does not pin its peak memory forever.
// Larger frames go straight to the heap.
#include <ringlet/core/frame_pool.hpp>

#include <cstdlib>
#include <new>
#include <utility>

namespace ringlet {
namespace {

constexpr std::size_t granule = 64;
constexpr std::size_t class_count = 64;  // up to 4 KiB
constexpr std::size_t max_cached_per_class = 8192;

struct free_block {
    free_block* next;
};

struct thread_pool {
    free_block* heads[class_count] = {};
    std::size_t counts[class_count] = {};
    frame_pool_stats stats;

    ~thread_pool() {
        for (auto*& head : heads) {
            while (head) std::free(std::exchange(head, head->next));
        }
    }
};

thread_local thread_pool pool;

constexpr std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }

}  // namespace

frame_pool_stats this_thread_frame_pool_stats() noexcept { return pool.stats; }

namespace detail {

void* allocate_frame(std::size_t size) {
    const std::size_t cls = class_of(size);
    if (cls < class_count) {
        if (free_block* block = pool.heads[cls]) {
            pool.heads[cls] = block->next;
            --pool.counts[cls];
            ++pool.stats.pool_reuses;
            pool.stats.cached_bytes -= (cls + 1) * granule;
            return block;
        }
        size = (cls + 1) * granule;
    }
    ++pool.stats.heap_allocations;
    void* p = std::malloc(size);
    if (!p) throw std::bad_alloc();
    return p;
}

void deallocate_frame(void* frame, std::size_t size) noexcept {
    const std::size_t cls = class_of(size);
    if (cls < class_count && pool.counts[cls] < max_cached_per_class) {
        auto* block = static_cast<free_block*>(frame);
        block->next = pool.heads[cls];
        pool.heads[cls] = block;
        ++pool.counts[cls];
        pool.stats.cached_bytes += (cls + 1) * granule;
        return;
    }
    std::free(frame);
}

}  // namespace detail
}  // namespace ringlet

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

// The hot path reads one initial-exec pointer (a plain %fs-relative load, no
// __tls_get_addr call from the shared library); the owner object frees the
// pool when the thread exits.
[[gnu::tls_model("initial-exec")]] thread_local thread_pool* current_pool = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local bool pool_retired = false;  // the thread is exiting

struct pool_owner {
    thread_pool* pool = nullptr;
    ~pool_owner() {
        current_pool = nullptr;  // frames freed after this go straight to the heap
        pool_retired = true;
        delete pool;
    }
};
thread_local pool_owner owner;

thread_pool* local_pool() noexcept {
    if (current_pool) [[likely]] return current_pool;
    if (pool_retired) return nullptr;
    owner.pool = new (std::nothrow) thread_pool;
    current_pool = owner.pool;
    return current_pool;
}

frame_pool_stats empty_stats;

constexpr std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }

}  // namespace

frame_pool_stats this_thread_frame_pool_stats() noexcept {
    const thread_pool* pool = local_pool();
    return pool ? pool->stats : empty_stats;
}

std::size_t trim_this_thread_frame_pool() noexcept {
    thread_pool* pool = current_pool;
    if (!pool) return 0;
    std::size_t freed = 0;
    for (std::size_t cls = 0; cls < class_count; ++cls) {
        while (free_block* block = pool->heads[cls]) {
            pool->heads[cls] = block->next;
            std::free(block);
            freed += (cls + 1) * granule;
        }
        pool->counts[cls] = 0;
    }
    pool->stats.cached_bytes = 0;
    return freed;
}

namespace detail {

void* allocate_frame(std::size_t size) {
    const std::size_t cls = class_of(size);
    thread_pool* pool_ptr = local_pool();
    if (cls < class_count && pool_ptr) {
        thread_pool& pool = *pool_ptr;
        if (free_block* block = pool.heads[cls]) {
            pool.heads[cls] = block->next;
            --pool.counts[cls];
            ++pool.stats.pool_reuses;
            pool.stats.cached_bytes -= (cls + 1) * granule;
            return block;
        }
        size = (cls + 1) * granule;
    }
    if (pool_ptr) ++pool_ptr->stats.heap_allocations;
    void* p = std::malloc(size);
    if (!p) throw std::bad_alloc();
    return p;
}

void deallocate_frame(void* frame, std::size_t size) noexcept {
    const std::size_t cls = class_of(size);
    thread_pool* pool_ptr = current_pool;
    if (cls < class_count && pool_ptr && pool_ptr->counts[cls] < max_cached_per_class) {
        thread_pool& pool = *pool_ptr;
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

// Coroutine frames come from a per-thread pool: frames are recycled through
// size-class free lists, so a shard in steady state spawns and awaits tasks
// without calling malloc. Blocks are individual heap allocations, so a frame
// freed on another thread than the one that made it is still safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringlet {

/// Per-thread allocation counters of the frame pool.
struct frame_pool_stats {
    std::uint64_t heap_allocations = 0;  ///< frames that needed malloc (pool empty or frame too large)
    std::uint64_t pool_reuses = 0;       ///< frames served from the free lists
    std::uint64_t cached_bytes = 0;      ///< bytes held in the free lists now
};

/// The calling thread's counters.
[[nodiscard]] frame_pool_stats this_thread_frame_pool_stats() noexcept;

/// Frees every frame the calling thread's pool holds for reuse (after a
/// burst of tasks, so that malloc can return the memory); yields the bytes
/// freed. The pool refills as tasks run again.
std::size_t trim_this_thread_frame_pool() noexcept;

namespace detail {
[[nodiscard]] void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;
}  // namespace detail

}  // namespace ringlet

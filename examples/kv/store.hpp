// kv::store: one shard's keyspace for kv_server — string keys to string
// values with optional expiry, laid out to cost few bytes per key.
//
// Layout (why it is small): each key and its value live together in one
// block, [key length | value length | (expiry) | key | value], carved from
// 64 KiB slabs in size classes of 8 bytes (no per-allocation malloc header;
// blocks over 1 KiB use malloc). The expiry field exists only in the blocks
// of keys that have one. The index is an open-addressing table (linear
// probing, backward-shift deletion, no tombstones) of 8-byte slots holding
// the block's address and 16 bits of the key's hash; its size grows by 1.5×
// when 80 % full. For 16-byte keys with 32-byte values a key costs a
// 56-byte block plus 10–15 bytes of table.
//
// Expiry: lazy (an expired key found by a lookup is deleted then) plus
// sweep(), called by a timer task, which walks the table a slice at a time.
// Times are CLOCK_MONOTONIC milliseconds (now_ms()).
//
// Thread safety: a store belongs to one shard; only that shard's thread
// touches it. used_bytes() and the counters are also published in atomics
// (stats) that other shards may read.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace kv {

/// Milliseconds on CLOCK_MONOTONIC: what expiry times are measured in.
[[nodiscard]] std::int64_t now_ms() noexcept;

/// The hash of a key; its low bits pick the shard, its high bits the slot.
[[nodiscard]] std::uint64_t hash_key(std::string_view key) noexcept;

/// Figures of one store that other shards read (INFO, maxmemory).
struct stats {
    std::atomic<std::uint64_t> keys{0};
    std::atomic<std::uint64_t> expires{0};
    std::atomic<std::uint64_t> used_bytes{0};
};

class store {
public:
    /// Where a key's value is, while nothing else changes the store.
    struct found {
        std::string_view value;
        std::int64_t expire_at = 0;  ///< now_ms() time it expires; 0: never
    };

    explicit store(stats* published = nullptr);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// The live value of `key`; deletes it first if it has expired.
    [[nodiscard]] std::optional<found> get(std::string_view key, std::int64_t now);
    /// Sets `key` to `value` with expiry `expire_at` (0: none). Replaces any value.
    void set(std::string_view key, std::string_view value, std::int64_t expire_at);
    /// Deletes `key`; true if it existed (and had not expired).
    bool erase(std::string_view key, std::int64_t now);
    /// Sets or clears (0) the expiry of an existing live key; false if there is none.
    bool set_expiry(std::string_view key, std::int64_t expire_at, std::int64_t now);
    /// Deletes everything and gives the slabs back.
    void clear();
    /// Deletes expired keys, looking at up to `slots` table slots from where
    /// the last call stopped; yields how many it deleted.
    std::size_t sweep(std::size_t slots, std::int64_t now);

    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] std::size_t expiring() const noexcept { return expiring_; }
    /// Bytes held: slabs, large blocks and the table.
    [[nodiscard]] std::size_t used_bytes() const noexcept;

private:
    struct arena;
    std::size_t find_slot(std::string_view key, std::uint64_t hash) const noexcept;
    void erase_at(std::size_t slot);
    void grow();
    void publish() noexcept;
    [[nodiscard]] std::size_t home(std::uint64_t hash) const noexcept;

    std::vector<std::uint64_t> slots_;  // 0: empty; else block address | 16 hash bits << 48
    std::size_t count_ = 0;
    std::size_t expiring_ = 0;
    std::size_t sweep_cursor_ = 0;
    arena* arena_;
    stats* published_;
};

}  // namespace kv

// kv::store — see store.hpp for the layout and why.
#include "store.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>

namespace kv {

std::int64_t now_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::uint64_t hash_key(std::string_view key) noexcept {
    // A multiply-xorshift over 8-byte words: fast for short keys, and the
    // final mix spreads every input bit over the high bits the table uses.
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ (key.size() * 0xff51afd7ed558ccdULL);
    const char* p = key.data();
    std::size_t n = key.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0x9fb21c651e98df25ULL;
        h ^= h >> 29;
    }
    if (n > 0) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ w) * 0x9fb21c651e98df25ULL;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    return h;
}

namespace {

constexpr std::uint32_t has_expiry = 0x8000'0000U;
constexpr std::size_t slab_size = 64 * 1024;
constexpr std::size_t small_limit = 1024;  // larger blocks come from malloc
constexpr std::uint64_t address_mask = (std::uint64_t{1} << 48) - 1;

// The block of one key: this header, the expiry if any, the key, the value.
struct block {
    std::uint32_t key_length;  // | has_expiry
    std::uint32_t value_length;

    [[nodiscard]] bool expires() const noexcept { return (key_length & has_expiry) != 0; }
    [[nodiscard]] std::size_t key_size() const noexcept { return key_length & ~has_expiry; }
    [[nodiscard]] char* bytes() noexcept { return reinterpret_cast<char*>(this + 1) + (expires() ? 8 : 0); }
    [[nodiscard]] std::string_view key() noexcept { return {bytes(), key_size()}; }
    [[nodiscard]] std::string_view value() noexcept { return {bytes() + key_size(), value_length}; }
    [[nodiscard]] std::int64_t expire_at() noexcept {
        if (!expires()) return 0;
        std::int64_t t;
        std::memcpy(&t, this + 1, 8);
        return t;
    }
};

std::size_t block_size(std::size_t key, std::size_t value, bool expires) noexcept {
    return (sizeof(block) + (expires ? 8 : 0) + key + value + 7) & ~std::size_t{7};
}

std::size_t block_size(block* b) noexcept { return block_size(b->key_size(), b->value_length, b->expires()); }

block* block_of(std::uint64_t slot) noexcept { return reinterpret_cast<block*>(slot & address_mask); }

std::uint64_t tag_of(std::uint64_t hash) noexcept { return ((hash >> 16) & 0xffff) << 48; }

}  // namespace

// Blocks up to small_limit bytes, from slabs, with a free list per size class.
struct store::arena {
    std::vector<void*> slabs;
    char* bump = nullptr;
    std::size_t bump_left = 0;
    void* free_lists[small_limit / 8 + 1] = {};
    std::size_t large_bytes = 0;

    ~arena() { release(); }

    void release() noexcept {
        for (void* s : slabs) std::free(s);
        slabs.clear();
        bump = nullptr;
        bump_left = 0;
        for (auto& f : free_lists) f = nullptr;
    }

    void* allocate(std::size_t size) {
        if (size > small_limit) {
            void* p = std::malloc(size);
            if (!p) throw std::bad_alloc{};
            large_bytes += size;
            return p;
        }
        void*& head = free_lists[size / 8];
        if (head) {
            void* p = head;
            std::memcpy(&head, p, sizeof(void*));
            return p;
        }
        if (bump_left < size) {
            void* s = std::malloc(slab_size);
            if (!s) throw std::bad_alloc{};
            slabs.push_back(s);
            bump = static_cast<char*>(s);
            bump_left = slab_size;
        }
        void* p = bump;
        bump += size;
        bump_left -= size;
        return p;
    }

    void deallocate(void* p, std::size_t size) noexcept {
        if (size > small_limit) {
            large_bytes -= size;
            std::free(p);
            return;
        }
        void*& head = free_lists[size / 8];
        std::memcpy(p, &head, sizeof(void*));
        head = p;
    }
};

store::store(stats* published) : arena_(new arena), published_(published) { slots_.assign(16, 0); }

store::~store() {
    clear();
    delete arena_;
}

std::size_t store::home(std::uint64_t hash) const noexcept {
    // Lemire's fast range: the high half of hash × size (no division).
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::size_t>((static_cast<u128>(hash) * slots_.size()) >> 64);
}

std::size_t store::used_bytes() const noexcept {
    return arena_->slabs.size() * slab_size + arena_->large_bytes + slots_.capacity() * sizeof(std::uint64_t);
}

void store::publish() noexcept {
    if (!published_) return;
    published_->keys.store(count_, std::memory_order_relaxed);
    published_->expires.store(expiring_, std::memory_order_relaxed);
    published_->used_bytes.store(used_bytes(), std::memory_order_relaxed);
}

std::size_t store::find_slot(std::string_view key, std::uint64_t hash) const noexcept {
    const std::uint64_t tag = tag_of(hash);
    const std::size_t n = slots_.size();
    for (std::size_t i = home(hash);; i = i + 1 == n ? 0 : i + 1) {
        const std::uint64_t s = slots_[i];
        if (s == 0) return i;
        if ((s & ~address_mask) == tag && block_of(s)->key() == key) return i;
    }
}

void store::erase_at(std::size_t i) {
    block* b = block_of(slots_[i]);
    if (b->expires()) --expiring_;
    arena_->deallocate(b, block_size(b));
    --count_;
    // Backward shift: pull later entries of the run into the hole, so that
    // lookups never need tombstones.
    const std::size_t n = slots_.size();
    for (std::size_t j = i + 1 == n ? 0 : i + 1;; j = j + 1 == n ? 0 : j + 1) {
        const std::uint64_t s = slots_[j];
        if (s == 0) break;
        const std::size_t h = home(hash_key(block_of(s)->key()));
        if ((j + n - h) % n >= (j + n - i) % n) {
            slots_[i] = s;
            i = j;
        }
    }
    slots_[i] = 0;
}

void store::grow() {
    std::vector<std::uint64_t> old;
    old.swap(slots_);
    slots_.assign(old.size() + old.size() / 2, 0);
    const std::size_t n = slots_.size();
    for (std::uint64_t s : old) {
        if (s == 0) continue;
        std::size_t i = home(hash_key(block_of(s)->key()));
        while (slots_[i] != 0) i = i + 1 == n ? 0 : i + 1;
        slots_[i] = s;
    }
}

std::optional<store::found> store::get(std::string_view key, std::int64_t now) {
    const std::size_t i = find_slot(key, hash_key(key));
    if (slots_[i] == 0) return std::nullopt;
    block* b = block_of(slots_[i]);
    const std::int64_t at = b->expire_at();
    if (at != 0 && at <= now) {
        erase_at(i);
        publish();
        return std::nullopt;
    }
    return found{b->value(), at};
}

void store::set(std::string_view key, std::string_view value, std::int64_t expire_at) {
    const std::uint64_t hash = hash_key(key);
    std::size_t i = find_slot(key, hash);
    const bool expires = expire_at != 0;
    const std::size_t size = block_size(key.size(), value.size(), expires);
    block* old = slots_[i] != 0 ? block_of(slots_[i]) : nullptr;
    if (old && old->expires() == expires && block_size(old) == size) {  // in place
        old->value_length = static_cast<std::uint32_t>(value.size());
        if (expires) std::memcpy(old + 1, &expire_at, 8);
        std::memmove(old->bytes() + key.size(), value.data(), value.size());
        publish();
        return;
    }
    auto* b = static_cast<block*>(arena_->allocate(size));
    b->key_length = static_cast<std::uint32_t>(key.size()) | (expires ? has_expiry : 0);
    b->value_length = static_cast<std::uint32_t>(value.size());
    if (expires) std::memcpy(b + 1, &expire_at, 8);
    std::memcpy(b->bytes(), key.data(), key.size());
    std::memcpy(b->bytes() + key.size(), value.data(), value.size());
    if (expires) ++expiring_;
    if (old) {
        if (old->expires()) --expiring_;
        arena_->deallocate(old, block_size(old));
    } else {
        if ((count_ + 1) * 5 > slots_.size() * 4) {
            grow();
            i = find_slot(key, hash);
        }
        ++count_;
    }
    slots_[i] = reinterpret_cast<std::uint64_t>(b) | tag_of(hash);
    publish();
}

bool store::erase(std::string_view key, std::int64_t now) {
    const std::size_t i = find_slot(key, hash_key(key));
    if (slots_[i] == 0) return false;
    const std::int64_t at = block_of(slots_[i])->expire_at();
    erase_at(i);
    publish();
    return at == 0 || at > now;
}

bool store::set_expiry(std::string_view key, std::int64_t expire_at, std::int64_t now) {
    auto live = get(key, now);
    if (!live) return false;
    if (live->expire_at == expire_at) return true;
    // The block changes shape (the expiry field comes or goes): copy the value out first.
    const std::string copy{live->value};
    set(key, copy, expire_at);
    return true;
}

void store::clear() {
    for (auto& s : slots_) {
        if (s != 0 && block_size(block_of(s)) > small_limit) arena_->deallocate(block_of(s), block_size(block_of(s)));
        s = 0;
    }
    arena_->release();
    std::vector<std::uint64_t>(16, 0).swap(slots_);
    count_ = 0;
    expiring_ = 0;
    sweep_cursor_ = 0;
    publish();
}

std::size_t store::sweep(std::size_t slots, std::int64_t now) {
    if (expiring_ == 0) return 0;
    std::size_t deleted = 0;
    for (std::size_t k = 0; k < slots && count_ > 0; ++k) {
        if (sweep_cursor_ >= slots_.size()) sweep_cursor_ = 0;
        const std::uint64_t s = slots_[sweep_cursor_];
        if (s != 0) {
            const std::int64_t at = block_of(s)->expire_at();
            if (at != 0 && at <= now) {
                erase_at(sweep_cursor_);  // the slot now holds a shifted entry (or none): look again
                ++deleted;
                continue;
            }
        }
        ++sweep_cursor_;
    }
    if (deleted) publish();
    return deleted;
}

}  // namespace kv

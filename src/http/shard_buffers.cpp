// Per-shard HTTP caches. The date is plain thread-local data (nothing to
// release); the buffer pool is a shard service (created on a shard's first
// use, freed at shard exit, as receive_pool and the DNS channels are).
#include "http/shard_buffers.hpp"

#include "core/shard.hpp"

#include <ctime>
#include <utility>
#include <vector>

namespace ringlet::http::detail {
namespace {

struct date_cache {
    std::time_t second = -1;
    char text[32] = {};
    std::size_t size = 0;
};
thread_local date_cache date;

struct buffer_pool final : ringlet::detail::shard_service {
    explicit buffer_pool(ringlet::detail::shard&) {}
    std::vector<std::string> buffers;
};

constexpr std::size_t kPoolSize = 256;             // buffers kept per shard
constexpr std::size_t kKeepCapacity = 256 * 1024;  // larger buffers are freed
constexpr std::size_t kInitialCapacity = 4096;

void put2(char* at, int v) noexcept {
    at[0] = static_cast<char>('0' + v / 10);
    at[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

std::string_view http_date() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (now.tv_sec != date.second) {
        static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm t{};
        ::gmtime_r(&now.tv_sec, &t);
        // "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, no locale.
        char* p = date.text;
        for (int i = 0; i < 3; ++i) *p++ = days[t.tm_wday][i];
        *p++ = ',';
        *p++ = ' ';
        put2(p, t.tm_mday);
        p += 2;
        *p++ = ' ';
        for (int i = 0; i < 3; ++i) *p++ = months[t.tm_mon][i];
        *p++ = ' ';
        const int year = t.tm_year + 1900;
        put2(p, year / 100);
        put2(p + 2, year % 100);
        p += 4;
        *p++ = ' ';
        put2(p, t.tm_hour);
        p[2] = ':';
        put2(p + 3, t.tm_min);
        p[5] = ':';
        put2(p + 6, t.tm_sec);
        p += 8;
        for (char c : {' ', 'G', 'M', 'T'}) *p++ = c;
        date.size = static_cast<std::size_t>(p - date.text);
        date.second = now.tv_sec;
    }
    return {date.text, date.size};
}

std::string take_buffer() {
    auto* shard = ringlet::detail::shard::current();
    auto* pool = shard ? shard->find_service<buffer_pool>() : nullptr;
    if (pool && !pool->buffers.empty()) {
        std::string out = std::move(pool->buffers.back());
        pool->buffers.pop_back();
        return out;
    }
    std::string out;
    out.reserve(kInitialCapacity);
    return out;
}

void give_buffer(std::string& buffer) noexcept {
    std::string released = std::move(buffer);
    buffer = std::string{};
    if (released.capacity() <= 15 || released.capacity() > kKeepCapacity) return;
    auto* shard = ringlet::detail::shard::current();
    if (!shard) return;
    std::vector<std::string>* pool = nullptr;
    try {
        pool = &shard->service<buffer_pool>().buffers;
        if (pool->capacity() < kPoolSize) pool->reserve(kPoolSize);
    } catch (...) {
        return;
    }
    if (pool->size() == kPoolSize) return;
    released.clear();
    pool->push_back(std::move(released));  // within the reserved capacity: no allocation
}

}  // namespace ringlet::http::detail

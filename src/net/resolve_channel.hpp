// The c-ares channel behind net::resolve, driven by the shard's ring. Private.
//
// Thread safety: a channel and its lookups belong to the shard that created
// them; nothing here is touched by another thread.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>

#include <coroutine>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

struct ares_channeldata;
struct ares_addrinfo;

namespace ringlet::net::detail {

class dns_channel;
class dns_lookup;

/// One ares_getaddrinfo in flight. Heap-allocated, because c-ares holds a
/// pointer to it until its callback runs: owned by the dns_lookup awaiting it
/// until that gives up waiting (cancellation, timeout), then by the callback.
struct dns_query {
    dns_channel* channel = nullptr;
    dns_lookup* waiter = nullptr;  ///< the lookup to resume; null once abandoned
    clock::time_point deadline;
    bool done = false;       ///< the callback ran; status and answer are set
    bool abandoned = false;  ///< nobody waits any more; the callback frees it
    int status = 0;
    ares_addrinfo* answer = nullptr;
    dns_query* prev = nullptr;  ///< links in the channel's list of waited-for queries
    dns_query* next = nullptr;
};

/// Awaitable: starts ares_getaddrinfo (in await_ready, since /etc/hosts may
/// answer at once) and yields the addresses in c-ares' order with port 0, or
/// the error mapped to ringlet's codes. A stop of the awaiting task or the
/// deadline resumes it at once (see dns_channel::abandon).
class [[nodiscard]] dns_lookup final : public stop_callback_base {
public:
    dns_lookup(dns_channel& channel, std::string host, int family, clock::time_point deadline) noexcept;
    dns_lookup(const dns_lookup&) = delete;
    dns_lookup& operator=(const dns_lookup&) = delete;
    ~dns_lookup();

    bool await_ready();
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        suspend(waiter, ringlet::detail::token_of(waiter));
        return true;
    }
    result<std::vector<address>> await_resume();

private:
    friend class dns_channel;
    void suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept;
    static void on_stop(stop_callback_base* self) noexcept;

    dns_channel& channel_;
    std::string host_;
    int family_;
    clock::time_point deadline_;
    dns_query* query_ = nullptr;  ///< null once consumed or abandoned
    std::coroutine_handle<> waiter_;
    std::error_code gave_up_;  ///< why the channel stopped waiting (canceled, timed out)
};

/// A c-ares channel whose sockets and timers run on the current shard's ring.
class dns_channel {
public:
    /// The shard's channel for `servers` ("" = resolv.conf's), created on first
    /// use and destroyed when the shard ends. Errors: errc::invalid_argument for
    /// a malformed server list, errc::not_on_shard, c-ares setup failures.
    [[nodiscard]] static result<dns_channel*> for_this_shard(std::string_view servers);

    ~dns_channel();
    dns_channel(const dns_channel&) = delete;
    dns_channel& operator=(const dns_channel&) = delete;

    /// Starts a lookup; the query is linked as waited-for. Never null.
    dns_query* start(const std::string& host, int family, clock::time_point deadline);
    /// Stops waiting for `query` and resumes its lookup with `reason`.
    void give_up(dns_query& query, std::error_code reason);
    /// Stops waiting for `query` without resuming anyone (its lookup is gone).
    void forget(dns_query& query);
    /// A done query's lookup has taken its answer.
    static void release(dns_query* query) noexcept;

private:
    explicit dns_channel(std::string servers) : servers_(std::move(servers)) {}
    static void on_socket_state(void* self, int fd, int readable, int writable);
    static void on_answer(void* arg, int status, int timeouts, ares_addrinfo* answer);

    void abandon(dns_query& query, std::error_code reason);
    void link(dns_query& query) noexcept;
    void unlink(dns_query& query) noexcept;
    void process(int read_fd, int write_fd);
    void expire(clock::time_point now);
    void settle();
    task<void> watch(int fd, unsigned events);
    task<void> run_timer(std::uint64_t generation, clock::time_point when);

    struct watcher {
        int fd;
        unsigned events;     ///< POLLIN / POLLOUT as c-ares asked
        stop_source cancel;  ///< the watching task's token
    };

    ares_channeldata* channel_ = nullptr;
    std::string servers_;
    std::vector<watcher> watchers_;
    dns_query* waiting_ = nullptr;  ///< queries some lookup still waits for
    std::size_t outstanding_ = 0;   ///< ares_getaddrinfo calls whose callback has not run
    stop_source timer_cancel_;
    clock::time_point timer_at_;
    std::uint64_t timer_generation_ = 0;
    bool timer_armed_ = false;
    bool destroying_ = false;
};

}  // namespace ringlet::net::detail

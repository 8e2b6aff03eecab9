// Design notes
// - c-ares runs without any thread or blocking wait of its own: its socket
//   state callback tells us which sockets it wants readable or writable, and
//   each such (socket, interest) gets a small task that waits with io::poll
//   through the ring and calls ares_process_fd on readiness. A change of
//   interest stops that task (its own stop source) and starts another; poll
//   is level-triggered, so nothing is missed in between. c-ares' retry timers
//   and the callers' deadlines share one timer task that sleeps until the
//   earliest of them and is replaced when an earlier one appears.
// - ares_getaddrinfo never blocks on the network, but reads /etc/hosts with
//   stdio, and ares_init_options reads resolv.conf once per channel: small
//   local files, the same as c-ares does everywhere.
// - c-ares 1.18 cannot cancel one query, only all of a channel's. A lookup
//   that stops waiting (its task was stopped, or its deadline passed) is
//   resumed at once and its query is "abandoned": the callback frees it when
//   c-ares is done. When no lookup waits for anything any more the whole
//   channel is cancelled, which ends every abandoned query and closes the
//   sockets, so an idle channel has no task, socket or timer left.
// - We never call into c-ares from inside one of its callbacks: callbacks only
//   record outcomes and schedule waiters; cancelling and re-arming the timer
//   happen in settle(), after each c-ares call has returned. settle() walks
//   the waited-for queries for the earliest deadline: a shard has a handful
//   in flight, and DNS is not a per-request path.
// - Each channel's tasks run under the channel's own stop sources, not the
//   shard's: on a runtime stop the waiting lookups are cancelled through their
//   tasks' tokens, the channel becomes idle, and its tasks end with it.
#include "net/resolve_channel.hpp"

#include "core/shard.hpp"

#include <ringlet/core/io.hpp>

#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <memory>
#include <utility>

namespace ringlet::net::detail {
namespace {

using namespace std::chrono_literals;

/// The shard's channels, one per `servers` setting: a shard service, freed at shard exit.
struct dns_channels final : ringlet::detail::shard_service {
    explicit dns_channels(ringlet::detail::shard&) noexcept {}
    std::vector<std::unique_ptr<dns_channel>> list;
};

std::error_code ares_error(int status) {
    switch (status) {
        case ARES_ENOTFOUND:
        case ARES_ENODATA:
        case ARES_ENONAME: return make_error_code(errc::resolve_not_found);
        case ARES_ETIMEOUT: return make_error_code(errc::timed_out);
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION: return make_error_code(errc::operation_canceled);
        case ARES_ENOMEM: return std::make_error_code(std::errc::not_enough_memory);
        case ARES_EBADNAME:
        case ARES_EBADFAMILY:
        case ARES_EBADFLAGS:
        case ARES_EBADHINTS:
        case ARES_EBADSTR:
        case ARES_EBADQUERY: return make_error_code(errc::invalid_argument);
        // ESERVFAIL, EREFUSED, ECONNREFUSED (every server refused or was
        // unreachable), EFORMERR, ENOTIMP, EBADRESP, EOF, EFILE, ...
        default: return make_error_code(errc::resolve_server_failure);
    }
}

result<std::vector<address>> addresses_of(int status, const ares_addrinfo* answer) {
    if (status != ARES_SUCCESS) return unexpected{ares_error(status)};
    std::vector<address> found;
    for (const ares_addrinfo_node* node = answer ? answer->nodes : nullptr; node; node = node->ai_next) {
        if (auto a = address::from_sockaddr(node->ai_addr, static_cast<socklen_t>(node->ai_addrlen))) {
            found.push_back(*a);
        }
    }
    if (found.empty()) return unexpected{errc::resolve_not_found};
    return found;
}

void spawn_with(task<void> t, stop_token token) {
    ringlet::detail::shard::current()->spawn(std::move(t), std::move(token));
}

}  // namespace

// --- dns_lookup ------------------------------------------------------------

dns_lookup::dns_lookup(dns_channel& channel, std::string host, int family, clock::time_point deadline) noexcept
    : stop_callback_base(&on_stop), channel_(channel), host_(std::move(host)), family_(family), deadline_(deadline) {}

dns_lookup::~dns_lookup() {
    deregister();
    if (!query_) return;
    if (query_->done) dns_channel::release(query_);
    else channel_.forget(*query_);  // the awaiting frame was destroyed while suspended
}

bool dns_lookup::await_ready() {
    query_ = channel_.start(host_, family_, deadline_);
    return query_->done;  // /etc/hosts may have answered inside ares_getaddrinfo
}

void dns_lookup::suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    waiter_ = waiter;
    query_->waiter = this;
    register_with(token);  // a stop already requested runs on_stop now, which schedules the waiter
}

void dns_lookup::on_stop(stop_callback_base* self) noexcept {
    auto* lookup = static_cast<dns_lookup*>(self);
    if (lookup->query_) lookup->channel_.give_up(*lookup->query_, make_error_code(errc::operation_canceled));
}

result<std::vector<address>> dns_lookup::await_resume() {
    deregister();
    if (!query_) return unexpected{gave_up_};
    dns_query* query = std::exchange(query_, nullptr);
    auto found = addresses_of(query->status, query->answer);
    dns_channel::release(query);
    return found;
}

// --- dns_channel -----------------------------------------------------------

result<dns_channel*> dns_channel::for_this_shard(std::string_view servers) {
    auto* shard = ringlet::detail::shard::current();
    if (!shard) return unexpected{errc::not_on_shard};
    auto& channels = shard->service<dns_channels>().list;
    for (auto& channel : channels) {
        if (channel->servers_ == servers) return channel.get();
    }

    static const int library = ares_library_init(ARES_LIB_INIT_ALL);  // once per process
    if (library != ARES_SUCCESS) return unexpected{ares_error(library)};
    std::unique_ptr<dns_channel> channel{new dns_channel(std::string(servers))};
    ares_options options{};
    char lookups[] = "fb";  // /etc/hosts first, then DNS
    options.lookups = lookups;
    options.sock_state_cb = &on_socket_state;
    options.sock_state_cb_data = channel.get();
    if (int status = ares_init_options(&channel->channel_, &options, ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB);
        status != ARES_SUCCESS) {
        channel->channel_ = nullptr;
        return unexpected{ares_error(status)};
    }
    if (!servers.empty()) {
        if (int status = ares_set_servers_ports_csv(channel->channel_, channel->servers_.c_str());
            status != ARES_SUCCESS) {
            return unexpected{ares_error(status)};
        }
    }
    channels.push_back(std::move(channel));
    return channels.back().get();
}

dns_channel::~dns_channel() {
    // Runs when the shard's services are destroyed: every task has ended, so no lookup
    // waits and no watcher or timer task is left; this only frees memory.
    destroying_ = true;
    for (auto& w : watchers_) w.cancel.request_stop();
    if (timer_armed_) timer_cancel_.request_stop();
    if (channel_) ares_destroy(channel_);
}

dns_query* dns_channel::start(const std::string& host, int family, clock::time_point deadline) {
    auto* query = new dns_query{};
    query->channel = this;
    query->deadline = deadline;
    link(*query);
    ++outstanding_;
    ares_addrinfo_hints hints{};
    hints.ai_family = family;
    ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &on_answer, query);
    settle();
    return query;
}

void dns_channel::give_up(dns_query& query, std::error_code reason) {
    abandon(query, reason);
    settle();
}

void dns_channel::forget(dns_query& query) {
    query.waiter = nullptr;
    abandon(query, {});
    settle();
}

void dns_channel::release(dns_query* query) noexcept {
    if (query->answer) ares_freeaddrinfo(query->answer);
    delete query;
}

void dns_channel::abandon(dns_query& query, std::error_code reason) {
    if (query.done || query.abandoned) return;
    query.abandoned = true;
    unlink(query);
    if (dns_lookup* lookup = std::exchange(query.waiter, nullptr)) {
        lookup->query_ = nullptr;
        lookup->gave_up_ = reason;
        lookup->deregister();
        ringlet::detail::shard::current()->schedule(lookup->waiter_);
    }
}

void dns_channel::on_answer(void* arg, int status, int, ares_addrinfo* answer) {
    auto* query = static_cast<dns_query*>(arg);
    dns_channel& self = *query->channel;
    --self.outstanding_;
    if (query->abandoned) {
        query->answer = answer;
        release(query);
        return;
    }
    query->done = true;
    query->status = status;
    query->answer = answer;
    self.unlink(*query);
    if (dns_lookup* lookup = query->waiter; lookup && !self.destroying_) {
        lookup->deregister();
        ringlet::detail::shard::current()->schedule(lookup->waiter_);
    }
}

void dns_channel::on_socket_state(void* self, int fd, int readable, int writable) {
    auto& channel = *static_cast<dns_channel*>(self);
    if (channel.destroying_) return;
    const unsigned events = (readable ? unsigned{POLLIN} : 0u) | (writable ? unsigned{POLLOUT} : 0u);
    auto& watchers = channel.watchers_;
    auto it = std::find_if(watchers.begin(), watchers.end(), [fd](const watcher& w) { return w.fd == fd; });
    if (it != watchers.end()) {
        if (it->events == events) return;
        it->cancel.request_stop();
        watchers.erase(it);
    }
    if (events == 0) return;  // c-ares closes the socket right after telling us
    watchers.push_back({fd, events, stop_source{}});
    spawn_with(channel.watch(fd, events), watchers.back().cancel.get_token());
}

task<void> dns_channel::watch(int fd, unsigned events) {
    const stop_token self = co_await this_task::stop_token();
    for (;;) {
        auto ready = co_await io::poll(fd, events);
        if (!ready) break;
        const unsigned got = *ready;
        const bool failed = (got & (POLLERR | POLLHUP)) != 0;  // c-ares learns why by reading
        process((got & POLLIN) || failed ? fd : ARES_SOCKET_BAD, (got & POLLOUT) || failed ? fd : ARES_SOCKET_BAD);
    }
    if (self.stop_requested()) co_return;  // the socket closed or its interest changed
    // poll itself failed: forget this watcher so a later state change starts
    // a new one; meanwhile c-ares' timers retry the query.
    std::erase_if(watchers_, [&](const watcher& w) { return w.cancel.get_token() == self; });
}

task<void> dns_channel::run_timer(std::uint64_t generation, clock::time_point when) {
    // Named, not `if (!co_await ...)`: GCC 12.2 can skip a whole coroutine body
    // for a co_await in an if condition whose operand uses a parameter.
    const result<void> slept = co_await sleep_until(when);
    if (!slept) co_return;  // replaced by an earlier wake-up, or no longer needed
    if (generation == timer_generation_) timer_armed_ = false;
    process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // c-ares handles its expired retries
}

void dns_channel::process(int read_fd, int write_fd) {
    ares_process_fd(channel_, read_fd, write_fd);
    expire(clock::now());
    settle();
}

void dns_channel::expire(clock::time_point now) {
    for (dns_query* query = waiting_; query;) {
        dns_query* next = query->next;
        if (query->deadline <= now) abandon(*query, make_error_code(errc::timed_out));
        query = next;
    }
}

void dns_channel::settle() {
    if (destroying_) return;
    // Nobody waits for what is left: end it now (frees the abandoned queries, closes the sockets).
    if (!waiting_ && outstanding_ > 0) ares_cancel(channel_);

    auto next = clock::time_point::max();
    if (outstanding_ > 0) {
        timeval left{};
        if (ares_timeout(channel_, nullptr, &left)) {
            // c-ares rounds down to milliseconds: wake a little late rather than spin.
            next = clock::now() + std::chrono::seconds{left.tv_sec} + std::chrono::microseconds{left.tv_usec} + 1ms;
        }
    }
    for (const dns_query* query = waiting_; query; query = query->next) next = std::min(next, query->deadline);

    if (next == clock::time_point::max()) {
        if (timer_armed_) {
            timer_armed_ = false;
            timer_cancel_.request_stop();
        }
        return;
    }
    if (timer_armed_ && timer_at_ <= next) return;  // an early wake-up is harmless
    if (timer_armed_) timer_cancel_.request_stop();
    timer_cancel_ = stop_source{};
    timer_armed_ = true;
    timer_at_ = next;
    spawn_with(run_timer(++timer_generation_, next), timer_cancel_.get_token());
}

void dns_channel::link(dns_query& query) noexcept {
    query.prev = nullptr;
    query.next = waiting_;
    if (waiting_) waiting_->prev = &query;
    waiting_ = &query;
}

void dns_channel::unlink(dns_query& query) noexcept {
    if (query.prev) query.prev->next = query.next;
    else if (waiting_ == &query) waiting_ = query.next;
    if (query.next) query.next->prev = query.prev;
    query.prev = query.next = nullptr;
}

}  // namespace ringlet::net::detail

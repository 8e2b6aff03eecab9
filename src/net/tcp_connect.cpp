// tcp::connect to several candidates (Happy Eyeballs, RFC 8305) and by host name.
//
// Design notes
// - Each attempt is a task in one task_group; the first to connect stores its
//   stream and stops the group, which cancels the others' connects in the
//   kernel (a loser that connected anyway closes its socket).
// - Between starts the caller naps for attempt_delay in a small task_group of
//   its own; an attempt that ends (either way) stops the nap, so a failure
//   starts the next attempt at once, as section 5 asks.
// - The whole call shares one absolute deadline (options.timeout), passed to
//   every attempt's connect.
#include <ringlet/core/io.hpp>
#include <ringlet/core/task_group.hpp>
#include <ringlet/net/tcp.hpp>

#include <vector>

namespace ringlet::tcp {
namespace {

struct race {
    task_group* attempts = nullptr;
    task_group* nap = nullptr;  // set while the caller waits between starts
    std::optional<stream> winner;
    std::error_code last_error = make_error_code(errc::invalid_argument);
};

task<void> attempt(net::address peer, connect_options options, race& r) {
    auto c = co_await connect(peer, options);
    if (c) {
        if (r.winner) {
            (void)co_await c->close();
        } else {
            r.winner.emplace(std::move(*c));
            r.attempts->request_stop();
        }
    } else if (!r.winner) {
        r.last_error = c.error();
    }
    if (r.nap) r.nap->request_stop();
}

task<void> nap_for(std::chrono::milliseconds delay) { (void)co_await sleep_for(delay); }

}  // namespace

task<result<stream>> connect(std::span<const net::address> candidates, connect_options options) {
    options.timeout = net::as_deadline(options.timeout);
    std::vector<net::address> order;
    for (const net::address& a : candidates) {
        if (!options.bind || options.bind->family() == a.family()) order.push_back(a);
    }
    if (order.empty()) co_return unexpected{errc::invalid_argument};
    if (order.size() == 1) co_return co_await connect(order.front(), options);

    race r;
    task_group attempts;
    r.attempts = &attempts;
    for (std::size_t i = 0; i < order.size() && !r.winner; ++i) {
        attempts.spawn(attempt(order[i], options, r));
        if (i + 1 == order.size()) break;
        // Wait for attempt_delay, or less when the running attempts all end.
        task_group nap;
        r.nap = &nap;
        nap.spawn(nap_for(options.attempt_delay));
        co_await nap.wait();
        r.nap = nullptr;
    }
    co_await attempts.wait();
    if (r.winner) co_return std::move(*r.winner);
    co_return unexpected{r.last_error};
}

task<result<stream>> connect(std::string host, std::uint16_t port, connect_options options) {
    options.timeout = net::as_deadline(options.timeout);
    net::resolve_options how;
    how.family = options.family;
    how.servers = options.servers;
    if (options.timeout.is_set()) how.timeout = options.timeout;
    auto found = co_await net::resolve(std::move(host), port, how);
    if (!found) co_return unexpected{found.error()};
    co_return co_await connect(std::span<const net::address>{*found}, options);
}

}  // namespace ringlet::tcp

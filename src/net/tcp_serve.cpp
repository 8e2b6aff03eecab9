// tcp::server and tcp::serve: one SO_REUSEPORT listener per shard, one task
// per connection.
//
// Design notes
// - All listeners are bound on the home shard (the first picks the port when
//   it is 0, the others join it), so a failure to bind is reported before
//   anything is served. A listener belongs to a shard only from its first
//   accept, so handing listener i to shard i afterwards is fine.
// - Out of descriptors, accept fails with EMFILE/ENFILE while the connection
//   stays queued in the kernel. The loop then backs off instead of spinning:
//   10 ms, doubling to 500 ms, reset by the next success. The complaint on
//   stderr is rate-limited process-wide (one atomic timestamp) to once a
//   second, however many shards are failing.
// - Each connection goes through the shard's net::connection_gate, which
//   applies serve_options::limits (progress timeouts, the per-shard cap)
//   before the handler sees it.
#include <ringlet/core/io.hpp>
#include <ringlet/core/shard.hpp>
#include <ringlet/core/task_group.hpp>
#include <ringlet/core/when.hpp>
#include <ringlet/net/tcp.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>

namespace ringlet::tcp {
namespace {

using namespace std::chrono_literals;

std::atomic<std::int64_t> last_complaint_ns{0};

void complain(const net::address& where, std::error_code error) {
    const std::int64_t now = clock::now().time_since_epoch().count();
    std::int64_t last = last_complaint_ns.load(std::memory_order_relaxed);
    const std::int64_t second = std::chrono::duration_cast<clock::duration>(1s).count();
    if (last != 0 && now - last < second) return;
    if (!last_complaint_ns.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    std::fprintf(stderr, "ringlet: %s; backing off and retrying\n",
                 net::describe_error("accept", where, error).c_str());
}

struct shard_counts {
    std::uint64_t accepted = 0;
    std::uint64_t errors = 0;
    std::uint64_t refused = 0;
};

/// Accepts into `connections`, each through `gate`, until stopped: by the
/// awaiting task's token, which accept_loop links to the shard's drain
/// (until_drain).
task<void> accept_connections(listener& lst, const net::address& where, handler& handle, task_group& connections,
                              net::connection_gate& gate, shard_counts& counts) {
    auto pause = 10ms;
    for (;;) {
        auto conn = co_await lst.accept();
        if (conn) {
            ++counts.accepted;
            pause = 10ms;
            connections.spawn(gate.admit(std::move(*conn), handle));
            continue;
        }
        if (conn.error() == errc::operation_canceled) break;  // stopping or draining
        ++counts.errors;
        complain(where, conn.error());
        auto slept = co_await sleep_for(pause);
        if (!slept) break;  // stopping or draining
        pause = std::min(pause * 2, std::chrono::milliseconds{500});
    }
}

/// At a graceful stop the listener closes at once (new clients are refused
/// instead of waiting in a backlog nobody accepts from) while the
/// connections it has run on; the hard stop cancels those still running.
task<shard_counts> accept_loop(listener& lst, const net::address& where, handler& handle,
                               net::connection_limits limits) {
    net::connection_gate gate{limits};  // outlives `connections`
    task_group connections;
    shard_counts counts;
    co_await until_drain(accept_connections(lst, where, handle, connections, gate, counts));
    (void)co_await lst.close();
    co_await connections.wait();
    counts.refused = gate.refused();
    co_return counts;
}

}  // namespace

result<server> server::bind(const net::address& where, serve_options options) {
    if (!this_shard::on_shard()) return unexpected{errc::not_on_shard};
    const unsigned shards = options.shards == 0 ? this_shard::count() : std::min(options.shards, this_shard::count());
    server out;
    out.address_ = where;
    out.limits_ = options.limits;
    for (unsigned i = 0; i < shards; ++i) {
        auto lst = listen(out.address_, {.backlog = options.backlog, .reuse_port = shards > 1});
        if (!lst) return unexpected{lst.error()};
        if (i == 0) {
            auto bound = lst->local_address();
            if (!bound) return unexpected{bound.error()};
            out.address_ = *bound;
        }
        out.listeners_.push_back(std::move(*lst));
    }
    return out;
}

task<void> server::serve(handler handle) {
    std::vector<task<shard_counts>> loops;
    for (unsigned i = 0; i < listeners_.size(); ++i) {
        // Each shard gets its own copy of the handler (a std::function with
        // captures is not safe to share between threads).
        loops.push_back(submit_to(i, [this, i, handle]() -> task<shard_counts> {
            return [](listener& lst, const net::address& where, handler h,
                      net::connection_limits limits) -> task<shard_counts> {
                co_return co_await accept_loop(lst, where, h, limits);
            }(listeners_[i], address_, handle, limits_);
        }));
    }
    auto counts = co_await when_all(std::move(loops));
    for (const shard_counts& c : counts) {
        accepted_ += c.accepted;
        accept_errors_ += c.errors;
        refused_ += c.refused;
    }
}

task<result<void>> serve(const net::address& where, handler handle, serve_options options) {
    auto s = server::bind(where, options);
    if (!s) co_return unexpected{s.error()};
    co_await s->serve(std::move(handle));
    co_return result<void>{};
}

}  // namespace ringlet::tcp

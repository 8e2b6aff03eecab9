// stream_fastpath: which receive path a ringlet TCP echo server should use
// (issue 3, item 7: "measure the variants and keep the faster").
//
//   build-bench/bench/stream_fastpath 127.0.0.1:0 --variant receive   # prints: listening on ...
//   bench/stream_fastpath.sh                  # the variants against each other, interleaved
//
// One shard, one task per connection (TCP_NODELAY, as examples/echo_server),
// each echoing what it receives with stream::write_all. Only the receive
// differs:
//
//   receive    stream::receive() in its default mode, readiness: a multishot
//              poll per connection, and one non-blocking recv(2) into a
//              spare 64 KiB buffer of the shard's when the socket is readable
//   multishot  stream::receive() in receive_mode::multishot: one multishot
//              recv per connection (IORING_RECV_MULTISHOT) armed once on the
//              shard's ring of 128 x 64 KiB provided buffers; arrivals queue
//   select     one single-shot IORING_OP_RECV per read with
//              IOSQE_BUFFER_SELECT from a ring of 128 x 64 KiB buffers set up
//              here (ringlet's receive() before multishot)
//   plain      read_some into a 64 KiB array of the connection's own
//              (one IORING_OP_RECV per read; 64 KiB held per connection)
//
// --ring-writes: every variant writes through the ring only (write_some until
// done) instead of write_all, which first sends what fits at once.
//
// A measuring instrument for choosing the library's default, not an example.
#include "core/uring_backend.hpp"
#include "core/shard.hpp"
#include "core/buffer_ring.hpp"

#include <ringlet/ringlet.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace ringlet;

namespace {

enum class variant { plain, select, receive, multishot };

bool ring_writes = false;

constexpr unsigned kBuffers = 128;
constexpr unsigned kBufferSize = 64 * 1024;

// write_all, or (--ring-writes) the same through the ring only.
task<result<void>> echo_back(tcp::stream& conn, std::span<const std::byte> data) {
    if (!ring_writes) co_return co_await conn.write_all(data);
    while (!data.empty()) {
        auto n = co_await conn.write_some(data);
        if (!n) co_return unexpected{n.error()};
        data = data.subspan(*n);
    }
    co_return result<void>{};
}

// --- select: one single-shot recv with IOSQE_BUFFER_SELECT per read ---------------
// (ringlet's receive() before it became multishot.)

thread_local ringlet::detail::buffer_ring* shard_buffers = nullptr;

ringlet::detail::buffer_ring& buffers() {
    if (!shard_buffers) {
        auto* shard = ringlet::detail::shard::current();
        auto ring = std::make_unique<ringlet::detail::buffer_ring>();
        if (int rc = ring->setup(shard->io(), kBuffers, kBufferSize); rc != 0) {
            std::fprintf(stderr, "stream_fastpath: buffer ring: %s\n", std::strerror(-rc));
            std::exit(1);
        }
        shard_buffers = ring.release();
        shard->at_exit([] {
            shard_buffers->release(&ringlet::detail::shard::current()->io());
            delete std::exchange(shard_buffers, nullptr);
        });
    }
    return *shard_buffers;
}

/// recv with a buffer the kernel picks (or, with use_fallback, into the
/// caller's fallback buffer: the retry after ENOBUFS, every buffer out).
class select_recv final : public ringlet::detail::io_op {
public:
    select_recv(int fd_, std::span<std::byte> fallback_, bool fallback_only) noexcept
        : io_op(steps), fd(fd_), fallback(fallback_), use_fallback(fallback_only) {}
    struct piece {
        const std::byte* data;
        std::size_t size;
        int id;  // -1: in the fallback buffer
    };
    result<piece> await_resume() noexcept {
        auto r = outcome();
        const bool selected = !use_fallback && (cqe_flags() & IORING_CQE_F_BUFFER);
        const int id = selected ? static_cast<int>(cqe_flags() >> IORING_CQE_BUFFER_SHIFT) : -1;
        if (!r) {
            if (id >= 0) {
                buffers().give_back(static_cast<std::uint16_t>(id));
                buffers().publish();
            }
            return unexpected{r.error()};
        }
        const std::byte* data = id >= 0 ? buffers().buffer(static_cast<unsigned>(id)) : fallback.data();
        return piece{data, static_cast<std::size_t>(*r), id};
    }

private:
    static void prepare(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
        auto& self = static_cast<select_recv&>(op);
        if (self.use_fallback) {
            io_uring_prep_recv(sqe, self.fd, self.fallback.data(), self.fallback.size(), 0);
            return;
        }
        io_uring_prep_recv(sqe, self.fd, nullptr, kBufferSize, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffers().group();
    }
    static constexpr ringlet::detail::op_steps steps{&prepare, nullptr, nullptr};
    int fd;
    std::span<std::byte> fallback;
    bool use_fallback;
};

task<void> echo_select(tcp::stream conn) {
    auto& ring = buffers();
    std::vector<std::byte> fallback(16 * 1024);
    for (;;) {
        auto got = co_await select_recv{conn.socket().fd(), fallback, false};
        if (!got && got.error() == std::errc::no_buffer_space) got = co_await select_recv{conn.socket().fd(), fallback, true};
        if (!got || got->size == 0) break;
        auto written = co_await echo_back(conn, std::span<const std::byte>{got->data, got->size});
        if (got->id >= 0) {
            ring.give_back(static_cast<std::uint16_t>(got->id));
            ring.publish();
        }
        if (!written) break;
    }
    (void)co_await conn.close();
}

// --- the other two -------------------------------------------------------------

task<void> echo_plain(tcp::stream conn) {
    auto buffer = std::make_unique_for_overwrite<std::byte[]>(kBufferSize);
    for (;;) {
        auto n = co_await conn.read_some(std::span<std::byte>{buffer.get(), kBufferSize});
        if (!n || *n == 0) break;
        auto written = co_await echo_back(conn, std::span<const std::byte>{buffer.get(), *n});
        if (!written) break;
    }
    (void)co_await conn.close();
}

task<void> echo_receive(tcp::stream conn, net::receive_mode mode) {
    (void)conn.set_receive_mode(mode);
    for (;;) {
        auto got = co_await conn.receive();
        if (!got || got->empty()) break;
        auto written = co_await echo_back(conn, got->bytes());
        if (!written) break;
    }
    (void)co_await conn.close();
}

task<void> echo(tcp::stream conn, variant v) {
    (void)conn.set_nodelay(true);
    if (v == variant::plain) co_await echo_plain(std::move(conn));
    else if (v == variant::select) co_await echo_select(std::move(conn));
    else if (v == variant::multishot) co_await echo_receive(std::move(conn), net::receive_mode::multishot);
    else co_await echo_receive(std::move(conn), net::receive_mode::readiness);
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "stream_fastpath: %s\nusage: stream_fastpath ADDRESS --variant plain|select|receive|multishot [--ring-writes]\n", why);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string address;
    variant v = variant::receive;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--variant" && i + 1 < argc) {
            const std::string_view name = argv[++i];
            if (name == "plain") v = variant::plain;
            else if (name == "select") v = variant::select;
            else if (name == "receive") v = variant::receive;
            else if (name == "multishot") v = variant::multishot;
            else usage("unknown variant");
        } else if (arg == "--ring-writes") {
            ring_writes = true;
        } else if (address.empty() && !arg.starts_with("-")) {
            address = arg;
        } else {
            usage("unexpected argument");
        }
    }
    auto where = net::address::parse(address);
    if (!where) usage("bad address");
    runtime rt{{.shards = 1}};
    return rt.run([&]() -> task<int> {
        auto server = tcp::server::bind(*where);
        if (!server) {
            std::fprintf(stderr, "stream_fastpath: listen: %s\n", server.error().message().c_str());
            co_return 1;
        }
        std::printf("listening on %s\n", server->local_address().to_string().c_str());
        std::fflush(stdout);
        co_await server->serve([v](tcp::stream conn) { return echo(std::move(conn), v); });
        co_return 0;
    });
}

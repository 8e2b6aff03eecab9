// The epoll backend's own paths, whatever backend the rest of the suite runs
// on: edge-triggered waits with both directions on one descriptor, FIFO
// waiters, a descriptor number reused by a new file, deadlines from the
// timer queue, cancellation that keeps a finished result, cancel by
// descriptor (what closing a socket does), eventfd wake-ups between shards.
// (The whole suite also runs on epoll: RINGLET_BACKEND=epoll tools/test.)
#include "test_support.hpp"

#include <ringlet/net/tcp.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;

namespace {

/// A one-shard (or `shards`) runtime on the epoll backend, whatever the suite runs on.
runtime_options on_epoll(unsigned shards = 1) {
    runtime_options options = test::quiet_runtime(shards);
    options.backend = backend_choice::epoll;
    return options;
}

struct nonblocking_pair {
    int fds[2] = {-1, -1};
    nonblocking_pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0); }
    ~nonblocking_pair() {
        if (fds[0] >= 0) ::close(fds[0]);
        if (fds[1] >= 0) ::close(fds[1]);
    }
};

std::span<std::byte> bytes(char* p, std::size_t n) { return {reinterpret_cast<std::byte*>(p), n}; }
std::span<const std::byte> cbytes(const char* p, std::size_t n) { return {reinterpret_cast<const std::byte*>(p), n}; }

/// Fills `fd`'s send buffer until the kernel refuses more; returns the bytes queued.
std::size_t fill(int fd) {
    static char chunk[65536] = {};
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::send(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
    }
    return total;
}

std::size_t drain(int fd) {
    char chunk[65536];
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
    }
    return total;
}

}  // namespace

TEST(EpollBackend, ShardsRunOnEpoll) {
    runtime rt{on_epoll()};
    const std::string description = rt.run([]() -> task<std::string> { co_return this_shard::describe_ring(); });
    EXPECT_NE(description.find("epoll"), std::string::npos) << description;
}

TEST(EpollBackend, ReadAndWriteWaitOnOneDescriptorInBothDirections) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        nonblocking_pair sp;
        const std::size_t queued = fill(sp.fds[0]);
        CO_ASSERT_TRUE(queued > 0);
        task_group group;
        result<std::size_t> read = unexpected{errc::invalid_argument};
        result<std::size_t> written = unexpected{errc::invalid_argument};
        char in[4] = {};
        const char out[] = "pong";
        group.spawn([](int fd, char* b, result<std::size_t>& r) -> task<void> {
            r = co_await io::read(fd, bytes(b, 4), 5s);
        }(sp.fds[0], in, read));
        group.spawn([](int fd, const char* b, result<std::size_t>& r) -> task<void> {
            r = co_await io::write(fd, cbytes(b, 4), 5s);
        }(sp.fds[0], out, written));
        (void)co_await sleep_for(10ms);
        EXPECT_FALSE(read.has_value());     // both still waiting: no data, no room
        EXPECT_FALSE(written.has_value());
        {
            const auto rc = ::send(sp.fds[1], "ping", 4, 0);
            CO_ASSERT_EQ(rc, 4);
        }
        (void)co_await sleep_for(10ms);
        CO_ASSERT_TRUE(read);
        EXPECT_EQ(*read, 4u);
        EXPECT_EQ(std::string(in, 4), "ping");
        EXPECT_FALSE(written.has_value());  // the reader's edge did not end the writer's wait
        std::size_t drained = 0;
        while (!written.has_value()) {
            drained += drain(sp.fds[1]);
            (void)co_await sleep_for(1ms);
        }
        co_await group.wait();
        CO_ASSERT_TRUE(written);
        EXPECT_EQ(*written, 4u);
        drained += drain(sp.fds[1]);
        EXPECT_EQ(drained, queued + 4);
    });
}

TEST(EpollBackend, WaitersOnOneDescriptorResumeFirstInFirstOut) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        nonblocking_pair sp;
        std::string order;
        task_group group;
        for (char tag : {'a', 'b', 'c'}) {
            group.spawn([](int fd, char t, std::string& out) -> task<void> {
                char c = 0;
                auto r = co_await io::read(fd, bytes(&c, 1), 5s);
                if (r && *r == 1) out += std::string{t, c};
            }(sp.fds[0], tag, order));
        }
        (void)co_await sleep_for(5ms);
        for (char c : {'1', '2', '3'}) {
            {
                const auto rc = ::send(sp.fds[1], &c, 1, 0);
                CO_ASSERT_EQ(rc, 1);
            }
            (void)co_await sleep_for(2ms);
        }
        co_await group.wait();
        EXPECT_EQ(order, "a1b2c3");
    });
}

TEST(EpollBackend, ADescriptorNumberReusedByANewFileIsWatched) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        int reused = -1;
        {
            nonblocking_pair first;
            char c = 0;
            {
                const auto rc = ::send(first.fds[1], "x", 1, 0);
                CO_ASSERT_EQ(rc, 1);
            }
            auto r = co_await io::read(first.fds[0], bytes(&c, 1), 5s);
            CO_ASSERT_TRUE(r);
            // Registered now; a second read waits, then times out: the number stays registered.
            auto idle = co_await io::read(first.fds[0], bytes(&c, 1), 5ms);
            CO_ASSERT_FALSE(idle);
            EXPECT_EQ(idle.error(), errc::timed_out);
            reused = first.fds[0];
        }  // closed behind the backend's back, as a socket's destructor does
        nonblocking_pair second;
        const int fd = second.fds[0] == reused ? second.fds[0] : second.fds[1];
        const int peer = fd == second.fds[0] ? second.fds[1] : second.fds[0];
        CO_ASSERT_EQ(fd, reused);
        task_group group;
        result<std::size_t> got = unexpected{errc::invalid_argument};
        char c = 0;
        group.spawn([](int d, char* b, result<std::size_t>& out) -> task<void> {
            out = co_await io::read(d, bytes(b, 1), 5s);
        }(fd, &c, got));
        (void)co_await sleep_for(5ms);
        {
            const auto rc = ::send(peer, "y", 1, 0);
            CO_ASSERT_EQ(rc, 1);
        }
        co_await group.wait();
        CO_ASSERT_TRUE(got);
        EXPECT_EQ(c, 'y');
    });
}

TEST(EpollBackend, DeadlinesComeFromTheTimerQueueInOrder) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        nonblocking_pair sp;
        std::vector<int> order;
        task_group group;
        const auto start = clock::now();
        for (int i : {3, 1, 2}) {
            group.spawn([](int fd, int tag, clock::time_point at, std::vector<int>& out) -> task<void> {
                char c;
                auto r = co_await io::read(fd, bytes(&c, 1), at);
                if (!r && r.error() == errc::timed_out) out.push_back(tag);
            }(sp.fds[0], i, start + i * 15ms, order));
        }
        co_await group.wait();
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
        EXPECT_GE(clock::now() - start, 45ms);
    });
}

TEST(EpollBackend, CancelAfterTheOperationFinishedKeepsItsResult) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        nonblocking_pair sp;
        {
            const auto rc = ::send(sp.fds[1], "z", 1, 0);
            CO_ASSERT_EQ(rc, 1);
        }
        task_group group;
        result<std::size_t> got = unexpected{errc::invalid_argument};
        char c = 0;
        group.spawn([](int fd, char* b, result<std::size_t>& out) -> task<void> {
            out = co_await io::read(fd, bytes(b, 1));
        }(sp.fds[0], &c, got));
        // The read finishes at its submit (data is there) but completes only in
        // the next loop turn; the stop comes in between and must not lose it.
        (void)co_await io::nop();
        group.request_stop();
        co_await group.wait();
        CO_ASSERT_TRUE(got);
        EXPECT_EQ(c, 'z');
    });
}

TEST(EpollBackend, ShardsWakeEachOtherThroughEventfds) {
    runtime rt{on_epoll(2)};
    const int total = rt.run([]() -> task<int> {
        int sum = 0;
        for (int i = 0; i < 200; ++i) sum += co_await submit_to(1, [i] { return i; });
        co_return sum;
    });
    EXPECT_EQ(total, 199 * 200 / 2);
}
TEST(EpollBackend, MultishotAcceptTakesEveryConnectionBehindOneEdge) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(net::address::parse("127.0.0.1:0").value());
        CO_ASSERT_TRUE(lst);
        const net::address where = lst->local_address().value();
        // Connect 20 clients with blocking syscalls first (one readiness edge for
        // all of them), each sending its tag; every connection must be accepted.
        std::vector<int> clients;
        for (int i = 0; i < 20; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            CO_ASSERT_TRUE(fd >= 0);
            {
                const auto rc = ::connect(fd, where.data(), where.size());
                CO_ASSERT_EQ(rc, 0);
            }
            const char tag = static_cast<char>('a' + i);
            {
                const auto rc = ::send(fd, &tag, 1, 0);
                CO_ASSERT_EQ(rc, 1);
            }
            clients.push_back(fd);
        }
        std::string tags;
        for (int i = 0; i < 20; ++i) {
            auto conn = co_await lst->accept(5s);
            CO_ASSERT_TRUE(conn);
            char c = 0;
            auto n = co_await conn->read_some(bytes(&c, 1), 5s);
            CO_ASSERT_TRUE(n);
            CO_ASSERT_EQ(*n, 1u);
            tags += c;
        }
        std::sort(tags.begin(), tags.end());
        EXPECT_EQ(tags, "abcdefghijklmnopqrst");
        auto late = co_await lst->accept(20ms);  // nothing more: the wait times out
        CO_ASSERT_FALSE(late);
        EXPECT_EQ(late.error(), errc::timed_out);
        for (int fd : clients) ::close(fd);
        (void)co_await lst->close();
    });
}

// Closing a socket cancels every operation on its descriptor (the backend's
// own cancel by descriptor, not a shutdown(2), which wakes neither a unix
// listener's accept nor a UDP receive): each ends operation_canceled, only
// after the close began, and the close then succeeds.
TEST(EpollBackend, CloseCancelsEveryOperationOnTheDescriptor) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        auto listening = net::socket::open(AF_UNIX, SOCK_STREAM);
        CO_ASSERT_TRUE(listening);
        const auto name = net::address::parse("@ringlet-epoll-cancel-" + std::to_string(::getpid())).value();
        CO_ASSERT_TRUE(listening->bind(name));
        CO_ASSERT_TRUE(listening->listen(4));
        auto datagrams = net::socket::open(AF_INET, SOCK_DGRAM);
        CO_ASSERT_TRUE(datagrams);
        CO_ASSERT_TRUE(datagrams->bind(net::address::parse("127.0.0.1:0").value()));

        std::vector<std::error_code> accepts;
        std::error_code received;
        task_group group;
        for (int i = 0; i < 2; ++i) {  // two operations on one descriptor
            group.spawn([](net::socket& s, std::vector<std::error_code>& out) -> task<void> {
                auto r = co_await s.accept();
                out.push_back(r ? std::error_code{} : r.error());
            }(*listening, accepts));
        }
        char buf[16];
        group.spawn([](net::socket& s, std::span<std::byte> b, std::error_code& out) -> task<void> {
            auto r = co_await s.recv(b);
            out = r ? std::error_code{} : r.error();
        }(*datagrams, bytes(buf, sizeof buf), received));
        (void)co_await sleep_for(5ms);
        EXPECT_TRUE(accepts.empty());  // still waiting
        EXPECT_EQ(received, std::error_code{});

        CO_ASSERT_TRUE(co_await listening->close());
        CO_ASSERT_EQ(accepts.size(), 2u);
        EXPECT_EQ(accepts[0], errc::operation_canceled);
        EXPECT_EQ(accepts[1], errc::operation_canceled);
        EXPECT_FALSE(listening->is_open());
        CO_ASSERT_TRUE(co_await datagrams->close());
        EXPECT_EQ(received, errc::operation_canceled);
        co_await group.wait();
    });
}

// accept4 has no per-call non-blocking flag: a listening socket opened
// blocking, on a number an earlier (non-blocking) socket used and closed
// behind the backend's back, must still never block the shard.
TEST(EpollBackend, AcceptOnABlockingSocketBehindAReusedNumberNeverBlocks) {
    runtime rt{on_epoll()};
    rt.run([]() -> task<void> {
        int reused = -1;
        {
            nonblocking_pair first;  // the number's last known state: readable
            {
                const auto rc = ::send(first.fds[1], "x", 1, 0);
                CO_ASSERT_EQ(rc, 1);
            }
            char c = 0;
            auto r = co_await io::read(first.fds[0], bytes(&c, 1), 5s);
            CO_ASSERT_TRUE(r);
            reused = std::min(first.fds[0], first.fds[1]);
        }  // closed behind the backend's back, as a socket's destructor does
        auto listening = net::socket::open(AF_INET, SOCK_STREAM);  // blocking
        CO_ASSERT_TRUE(listening);
        CO_ASSERT_EQ(listening->fd(), reused);
        CO_ASSERT_TRUE(listening->bind(net::address::parse("127.0.0.1:0").value()));
        CO_ASSERT_TRUE(listening->listen(4));
        const auto start = clock::now();
        auto late = co_await listening->accept(20ms);
        CO_ASSERT_FALSE(late);
        EXPECT_EQ(late.error(), errc::timed_out);
        EXPECT_LT(clock::now() - start, 2s);
        CO_ASSERT_TRUE(co_await listening->close());
    });
}

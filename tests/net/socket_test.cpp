// net::socket: ownership, the close protocol (cancel, wait, close), raw
// operations, single-shot accept, and error descriptions.
#include "stream_test_support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::as_bytes;
using ringlet::test::loopback4;
using ringlet::test::quiet_runtime;
using ringlet::test::tcp_pair;

namespace {

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

}  // namespace

TEST(Socket, OpenAddsCloexecAndDestructorCloses) {
    int fd = -1;
    {
        auto s = net::socket::open(AF_INET, SOCK_STREAM);
        ASSERT_TRUE(s) << s.error().message();
        fd = s->fd();
        EXPECT_TRUE(s->is_open());
        EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    }
    EXPECT_FALSE(fd_is_open(fd));
}

TEST(Socket, MoveTransfersOwnershipAndReleaseGivesItUp) {
    auto s = net::socket::open(AF_UNIX, SOCK_STREAM);
    ASSERT_TRUE(s);
    const int fd = s->fd();
    net::socket moved = std::move(*s);
    EXPECT_FALSE(s->is_open());
    EXPECT_EQ(moved.fd(), fd);
    net::socket assigned;
    assigned = std::move(moved);
    EXPECT_EQ(assigned.fd(), fd);
    const int raw = assigned.release();
    EXPECT_FALSE(assigned.is_open());
    EXPECT_TRUE(fd_is_open(raw));
    ::close(raw);
}

TEST(Socket, OpenReportsTheErrno) {
    auto s = net::socket::open(12345, SOCK_STREAM);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), std::errc::address_family_not_supported);
}

TEST(Socket, CloseThroughTheRingClosesTheDescriptor) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto s = net::socket::open(AF_INET, SOCK_STREAM);
        CO_ASSERT_OK(s);
        const int fd = s->fd();
        auto closed = co_await s->close();
        CO_ASSERT_OK(closed);
        EXPECT_FALSE(s->is_open());
        EXPECT_FALSE(fd_is_open(fd));
        CO_ASSERT_OK(co_await s->close());  // closing a closed socket succeeds
        char c;
        auto r = co_await s->recv({reinterpret_cast<std::byte*>(&c), 1});
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    });
}

// The core of the close protocol: operations pending on the socket end with
// operation_canceled, the peer sees the FIN at once, and a new socket that
// gets the same descriptor number receives nothing meant for the old one.
TEST(Socket, CloseWithPendingOperationsCancelsThemAndTheFdReuseIsClean) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        // A pending read, and a write blocked on a full send buffer.
        CO_ASSERT_OK(client.socket().set_option(SOL_SOCKET, SO_SNDBUF, 4096));
        std::string big(8 << 20, 'w');
        task_group group;
        result<std::size_t> read_result = 0;
        result<void> write_result;
        std::byte buf[16];
        group.spawn([](tcp::stream& s, std::span<std::byte> b, result<std::size_t>& out) -> task<void> {
            out = co_await s.read_some(b);
        }(client, buf, read_result));
        group.spawn([](tcp::stream& s, std::string& data, result<void>& out) -> task<void> {
            out = co_await s.write_all(data);
        }(client, big, write_result));
        for (int i = 0; i < 10; ++i) co_await yield();
        EXPECT_EQ(client.socket().ops_in_flight(), 2u);

        const int old_fd = client.socket().fd();
        const auto start = clock::now();
        auto closed = co_await client.close();
        CO_ASSERT_OK(closed);
        EXPECT_EQ(client.socket().ops_in_flight(), 0u);
        co_await group.wait();
        CO_ASSERT_FALSE(read_result);
        EXPECT_EQ(read_result.error(), errc::operation_canceled);
        CO_ASSERT_FALSE(write_result);
        EXPECT_EQ(write_result.error(), errc::operation_canceled);

        // The peer sees the end of the stream promptly (after the bytes already sent).
        std::string sink(1 << 20, '\0');
        std::size_t drained = 0;
        for (int i = 0; i < 10'000; ++i) {
            auto n = co_await server.read_some(ringlet::test::as_writable(sink), 2s);
            CO_ASSERT_OK(n);
            if (*n == 0) break;
            drained += *n;
        }
        EXPECT_LT(drained, big.size());
        EXPECT_LT(clock::now() - start, 2s);

        // The next socket gets the old number; nothing of the old one reaches it.
        auto [c2, s2] = co_await tcp_pair();
        const bool reused = c2.socket().fd() == old_fd || s2.socket().fd() == old_fd;
        EXPECT_TRUE(reused) << "the descriptor number was not reused; the check below is weaker";
        tcp::stream& fresh = c2.socket().fd() == old_fd ? c2 : s2;
        tcp::stream& other = c2.socket().fd() == old_fd ? s2 : c2;
        char c = 0;
        auto idle = co_await fresh.read_some(std::span{&c, 1}, 50ms);
        CO_ASSERT_FALSE(idle);
        EXPECT_EQ(idle.error(), errc::timed_out);
        CO_ASSERT_OK(co_await other.write_all("z"));
        auto one = co_await fresh.read_some(std::span{&c, 1}, 2s);
        CO_ASSERT_OK(one);
        EXPECT_EQ(*one, 1u);
        EXPECT_EQ(c, 'z');
    });
}

TEST(Socket, OperationsStartedWhileClosingAreRefusedAndSecondCloseIsAlready) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        task_group group;
        result<std::size_t> pending = 0;
        group.spawn([](tcp::stream& s, result<std::size_t>& out) -> task<void> {
            char c;
            out = co_await s.read_some(std::span{&c, 1});
        }(client, pending));
        co_await yield();
        result<void> second;
        result<std::size_t> late = 0;
        group.spawn([](tcp::stream& s, result<void>& again, result<std::size_t>& op) -> task<void> {
            again = co_await s.close();  // runs while the first close waits for the read
            char c;
            op = co_await s.read_some(std::span{&c, 1});
        }(client, second, late));
        auto first = co_await client.close();
        CO_ASSERT_OK(first);
        co_await group.wait();
        CO_ASSERT_FALSE(second);
        EXPECT_EQ(second.error(), std::errc::connection_already_in_progress);
        CO_ASSERT_FALSE(late);
        EXPECT_TRUE(late.error() == errc::operation_canceled || late.error() == std::errc::bad_file_descriptor)
            << late.error().message();
        CO_ASSERT_FALSE(pending);
        EXPECT_EQ(pending.error(), errc::operation_canceled);
    });
}

TEST(Socket, ClosingManySocketsWithPendingReadsLeaksNoDescriptor) {
    const std::size_t before = ringlet::test::open_fd_count();
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        for (int round = 0; round < 50; ++round) {
            auto [client, server] = co_await tcp_pair();
            task_group group;
            group.spawn([](tcp::stream& s) -> task<void> {
                char c;
                auto r = co_await s.read_some(std::span{&c, 1});
                EXPECT_FALSE(r);
            }(server));
            co_await yield();
            CO_ASSERT_OK(co_await server.close());
            co_await group.wait();
        }
    });
    EXPECT_EQ(ringlet::test::open_fd_count(), before);
}

TEST(Socket, SingleShotAcceptConnectSendRecv) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = net::socket::open(AF_INET, SOCK_STREAM);
        CO_ASSERT_OK(lst);
        CO_ASSERT_OK(lst->bind(loopback4()));
        CO_ASSERT_OK(lst->listen(16));
        auto where = lst->local_address();
        CO_ASSERT_OK(where);
        EXPECT_NE(where->port(), 0);

        auto none = co_await lst->accept(20ms);
        CO_ASSERT_FALSE(none);
        EXPECT_EQ(none.error(), errc::timed_out);

        auto client = net::socket::open_for(*where, SOCK_STREAM);
        CO_ASSERT_OK(client);
        CO_ASSERT_OK(co_await client->connect(*where, 2s));
        auto accepted = co_await lst->accept(2s);
        CO_ASSERT_OK(accepted);
        auto peer = accepted->peer_address();
        CO_ASSERT_OK(peer);
        EXPECT_EQ(*peer, *client->local_address());

        const std::string_view parts[] = {"hello ", "vectored ", "world"};
        iovec iov[3];
        for (int i = 0; i < 3; ++i) iov[i] = {const_cast<char*>(parts[i].data()), parts[i].size()};
        auto sent = co_await client->sendmsg(iov, 2s);
        CO_ASSERT_OK(sent);
        EXPECT_EQ(*sent, 20u);
        std::string got(20, '\0');
        std::size_t have = 0;
        for (int i = 0; i < 20 && have < got.size(); ++i) {
            auto n = co_await accepted->recv(ringlet::test::as_writable(got).subspan(have), 2s);
            CO_ASSERT_OK(n);
            have += *n;
        }
        EXPECT_EQ(got, "hello vectored world");

        CO_ASSERT_OK(co_await accepted->shutdown(net::shutdown_how::write));
        std::byte b;
        auto eof = co_await client->recv({&b, 1}, 2s);
        CO_ASSERT_OK(eof);
        EXPECT_EQ(*eof, 0u);
        auto sent_back = co_await client->send(as_bytes("still open"), 2s);
        CO_ASSERT_OK(sent_back);
        EXPECT_EQ(*sent_back, 10u);
    });
}

TEST(Socket, ConnectToAClosedPortIsRefused) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        // A bound socket that does not listen: connecting to its port is refused.
        auto holder = net::socket::open(AF_INET, SOCK_STREAM);
        CO_ASSERT_OK(holder);
        CO_ASSERT_OK(holder->bind(loopback4()));
        auto where = holder->local_address();
        CO_ASSERT_OK(where);
        auto c = co_await tcp::connect(*where, {.timeout = 2s});
        CO_ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), std::errc::connection_refused);
        EXPECT_EQ(net::describe_error("connect", *where, c.error()),
                  "connect " + where->to_string() + ": Connection refused (ECONNREFUSED)");
    });
}

TEST(Socket, OperationsOffShardReportNotOnShard) {
    auto s = net::socket::open(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(s);
    std::byte b;
    auto op = s->recv({&b, 1});
    EXPECT_FALSE(op.begin(std::noop_coroutine(), {}));
    auto r = op.await_resume();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::not_on_shard);
    EXPECT_EQ(s->ops_in_flight(), 0u);
}

TEST(Socket, DescribeErrorNamesOperationAddressAndErrno) {
    const auto where = net::address::parse("[::1]:8080").value();
    EXPECT_EQ(net::describe_error("listen", where, std::make_error_code(std::errc::address_in_use)),
              "listen [::1]:8080: Address already in use (EADDRINUSE)");
    EXPECT_EQ(net::describe_error("connect", where, make_error_code(errc::timed_out)), "connect [::1]:8080: timed out");
}

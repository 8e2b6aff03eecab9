// tcp::stream, tcp::connect and tcp::listen over loopback: data transfer,
// EOF / reset / timeout / cancellation as distinct outcomes, half-close,
// options, IPv6, and a 64 MiB transfer through a tiny send buffer.
#include "stream_test_support.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <random>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::as_bytes;
using ringlet::test::loopback4;
using ringlet::test::quiet_runtime;
using ringlet::test::tcp_pair;

TEST(Tcp, ConnectAcceptAndAddressesAgree) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        auto where = lst->local_address();
        CO_ASSERT_OK(where);
        EXPECT_NE(where->port(), 0);
        EXPECT_TRUE(where->is_loopback());
        auto client = co_await tcp::connect(*where);
        CO_ASSERT_OK(client);
        auto server = co_await lst->accept(2s);
        CO_ASSERT_OK(server);
        EXPECT_EQ(*client->peer_address(), *where);
        EXPECT_EQ(*server->local_address(), *where);
        EXPECT_EQ(*server->peer_address(), *client->local_address());
    });
}

TEST(Tcp, EchoRoundTripWithExactReads) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await client.write_all("ping:0123456789"));
        char got[15];
        CO_ASSERT_OK(co_await server.read_exact(got, 2s));
        EXPECT_EQ(std::string_view(got, 15), "ping:0123456789");
        CO_ASSERT_OK(co_await server.write_all(std::string_view(got, 15)));
        std::string back(15, '\0');
        CO_ASSERT_OK(co_await client.read_exact(std::span{back}, 2s));
        EXPECT_EQ(back, "ping:0123456789");
    });
}

TEST(Tcp, EndOfStreamIsZeroForReadSomeAndAnErrorForReadExact) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await client.write_all("abc"));
        CO_ASSERT_OK(co_await client.shutdown(net::shutdown_how::write));
        char buf[8];
        auto short_read = co_await server.read_exact(buf, 2s);
        CO_ASSERT_FALSE(short_read);
        EXPECT_EQ(short_read.error(), errc::end_of_stream);
        auto eof = co_await server.read_some(buf, 2s);
        CO_ASSERT_OK(eof);
        EXPECT_EQ(*eof, 0u);
    });
}

TEST(Tcp, HalfCloseLetsThePeerAnswer) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await client.write_all("question"));
        CO_ASSERT_OK(co_await client.shutdown(net::shutdown_how::write));
        auto all = co_await server.read_to_end(1024, 2s);
        CO_ASSERT_OK(all);
        EXPECT_EQ(*all, "question");
        CO_ASSERT_OK(co_await server.write_all("answer"));
        CO_ASSERT_OK(co_await server.shutdown(net::shutdown_how::write));
        auto reply = co_await client.read_to_end(1024, 2s);
        CO_ASSERT_OK(reply);
        EXPECT_EQ(*reply, "answer");
    });
}

TEST(Tcp, ShutdownReadMakesReadsSeeEndOfStream) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await server.shutdown(net::shutdown_how::read));
        char c;
        auto r = co_await server.read_some(std::span{&c, 1}, 2s);
        CO_ASSERT_OK(r);
        EXPECT_EQ(*r, 0u);
        CO_ASSERT_OK(co_await server.write_all("still writable"));
        std::string got(14, '\0');
        CO_ASSERT_OK(co_await client.read_exact(std::span{got}, 2s));
        EXPECT_EQ(got, "still writable");
    });
}

TEST(Tcp, ReadToEndRejectsMoreThanTheLimit) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await client.write_all(std::string(100, 'x')));
        CO_ASSERT_OK(co_await client.shutdown(net::shutdown_how::write));
        auto r = co_await server.read_to_end(99, 2s);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::message_too_long);

        auto [c2, s2] = co_await tcp_pair();
        CO_ASSERT_OK(co_await c2.write_all(std::string(100, 'y')));
        CO_ASSERT_OK(co_await c2.shutdown(net::shutdown_how::write));
        auto exact = co_await s2.read_to_end(100, 2s);
        CO_ASSERT_OK(exact);
        EXPECT_EQ(*exact, std::string(100, 'y'));
    });
}

TEST(Tcp, ResetByPeerIsConnectionReset) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        const linger abort_on_close{1, 0};  // SO_LINGER 0: close sends RST
        CO_ASSERT_OK(client.socket().set_option(SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close));
        CO_ASSERT_OK(co_await client.close());
        char c;
        auto r = co_await server.read_some(std::span{&c, 1}, 2s);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), std::errc::connection_reset);
        auto w = co_await server.write_all("after reset", 2s);
        CO_ASSERT_FALSE(w);
        EXPECT_TRUE(w.error() == std::errc::broken_pipe || w.error() == std::errc::connection_reset)
            << w.error().message();
    });
}

// Writing to a peer that has gone must fail with EPIPE / ECONNRESET and never
// raise SIGPIPE (whose default action would kill this test binary).
TEST(Tcp, WritingToAClosedPeerNeverRaisesSigpipe) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(co_await server.close());
        std::error_code failure;
        for (int i = 0; i < 100 && !failure; ++i) {
            auto w = co_await client.write_all(std::string(4096, 'p'), 2s);
            if (!w) failure = w.error();
            else (void)co_await sleep_for(1ms);
        }
        EXPECT_TRUE(failure == std::errc::broken_pipe || failure == std::errc::connection_reset) << failure.message();
        const std::string v[] = {"a", "b"};
        const net::const_buffer parts[] = {v[0], v[1]};
        auto vec = co_await client.write_vectored(parts, 2s);
        CO_ASSERT_FALSE(vec);
        EXPECT_TRUE(vec.error() == std::errc::broken_pipe || vec.error() == std::errc::connection_reset);
    });
}

TEST(Tcp, ReadTimeoutFiresAndLaterDataStillArrives) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        char c = 0;
        const auto start = clock::now();
        auto r = co_await server.read_some(std::span{&c, 1}, 30ms);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::timed_out);
        EXPECT_GE(clock::now() - start, 30ms);
        auto exact = co_await server.read_exact(std::span{&c, 1}, clock::now() + 20ms);  // absolute
        CO_ASSERT_FALSE(exact);
        EXPECT_EQ(exact.error(), errc::timed_out);
        CO_ASSERT_OK(co_await client.write_all("d"));
        auto later = co_await server.read_some(std::span{&c, 1}, 2s);
        CO_ASSERT_OK(later);
        EXPECT_EQ(c, 'd');
    });
}

TEST(Tcp, ReadDeadlineAppliesToLaterReadsAndCombinesWithPerCallTimeouts) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        char c = 0;
        server.set_read_deadline(40ms);
        EXPECT_LT(server.read_deadline(), clock::time_point::max());
        EXPECT_EQ(server.write_deadline(), clock::time_point::max());
        auto start = clock::now();
        auto r = co_await server.read_some(std::span{&c, 1}, 1h);  // the deadline is earlier
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::timed_out);
        EXPECT_GE(clock::now() - start, 30ms);
        EXPECT_LT(clock::now() - start, 2s);

        // Past the deadline, even a read that could complete fails at once.
        CO_ASSERT_OK(co_await client.write_all("q"));
        (void)co_await sleep_for(10ms);
        auto late = co_await server.read_some(std::span{&c, 1});
        CO_ASSERT_FALSE(late);
        EXPECT_EQ(late.error(), errc::timed_out);

        // A shorter per-call timeout still wins over a later deadline.
        server.set_read_deadline(1h);
        char buf[4];
        CO_ASSERT_OK(co_await server.read_some(buf));  // takes the 'q'
        start = clock::now();
        auto per_call = co_await server.read_some(buf, 20ms);
        CO_ASSERT_FALSE(per_call);
        EXPECT_EQ(per_call.error(), errc::timed_out);
        EXPECT_LT(clock::now() - start, 30min);

        server.set_read_deadline(timeout::none());
        EXPECT_EQ(server.read_deadline(), clock::time_point::max());
        CO_ASSERT_OK(co_await client.write_all("r"));
        auto ok = co_await server.read_some(buf, 2s);
        CO_ASSERT_OK(ok);
        EXPECT_EQ(buf[0], 'r');
    });
}

TEST(Tcp, WriteDeadlineFiresWhenThePeerDoesNotRead) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(client.socket().set_option(SOL_SOCKET, SO_SNDBUF, 4096));
        CO_ASSERT_OK(server.socket().set_option(SOL_SOCKET, SO_RCVBUF, 4096));
        client.set_deadline(clock::now() + 50ms);  // both directions
        EXPECT_EQ(client.read_deadline(), client.write_deadline());
        const auto start = clock::now();
        auto w = co_await client.write_all(std::string(16 << 20, 'w'));
        CO_ASSERT_FALSE(w);
        EXPECT_EQ(w.error(), errc::timed_out);
        EXPECT_LT(clock::now() - start, 5s);
        client.set_write_deadline(timeout::none());
        // More than the socket can take even if ACKs freed some room meanwhile.
        const std::string more(1 << 20, 'x');
        const net::const_buffer x[] = {std::string_view(more)};
        auto v = co_await client.write_vectored(x, 30ms);
        CO_ASSERT_FALSE(v);
        EXPECT_EQ(v.error(), errc::timed_out);
    });
}

TEST(Tcp, CancellationIsDistinctFromTimeout) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        auto outcome = co_await when_any(
            [](tcp::stream& s) -> task<result<std::size_t>> {
                char c;
                co_return co_await s.read_some(std::span{&c, 1}, 1h);
            }(server),
            []() -> task<void> { (void)co_await sleep_for(10ms); }());
        EXPECT_EQ(outcome.index, 1u);
        // The loser was cancelled; the socket is intact and reads again.
        CO_ASSERT_OK(co_await client.write_all("k"));
        char c;
        auto r = co_await server.read_some(std::span{&c, 1}, 2s);
        CO_ASSERT_OK(r);
        EXPECT_EQ(c, 'k');

        task_group group;
        result<std::size_t> canceled = 0;
        group.spawn([](tcp::stream& s, result<std::size_t>& out) -> task<void> {
            char b;
            out = co_await s.read_some(std::span{&b, 1}, 1h);
        }(server, canceled));
        co_await yield();
        group.request_stop();
        co_await group.wait();
        CO_ASSERT_FALSE(canceled);
        EXPECT_EQ(canceled.error(), errc::operation_canceled);
        EXPECT_NE(canceled.error(), errc::timed_out);
    });
}

TEST(Tcp, WriteVectoredSendsEveryPartInOrder) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        const std::string blank = "\r\n";
        const net::const_buffer response[] = {std::string_view("HTTP/1.1 200 OK\r\n"), blank, as_bytes("body")};
        CO_ASSERT_OK(co_await client.write_vectored(response));
        std::string head(23, '\0');
        CO_ASSERT_OK(co_await server.read_exact(std::span{head}, 2s));
        EXPECT_EQ(head, "HTTP/1.1 200 OK\r\n\r\nbody");

        // Many parts (beyond the inline array and beyond IOV_MAX), some empty,
        // through a small send buffer so that writes are short.
        CO_ASSERT_OK(client.socket().set_option(SOL_SOCKET, SO_SNDBUF, 4096));
        std::vector<std::string> pieces;
        std::mt19937 rng{3};
        std::string expected;
        for (int i = 0; i < 2500; ++i) {
            std::string p(rng() % 200, static_cast<char>('a' + i % 26));
            expected += p;
            pieces.push_back(std::move(p));
        }
        std::vector<net::const_buffer> parts(pieces.begin(), pieces.end());
        auto [sent, received] = co_await when_all(client.write_vectored(parts, 10s),
                                                  [](tcp::stream& s, std::size_t n) -> task<result<std::string>> {
                                                      std::string got(n, '\0');
                                                      auto r = co_await s.read_exact(std::span{got}, 10s);
                                                      if (!r) co_return unexpected{r.error()};
                                                      co_return got;
                                                  }(server, expected.size()));
        CO_ASSERT_OK(sent);
        CO_ASSERT_OK(received);
        EXPECT_TRUE(*received == expected);
    });
}

// write_all is an operation object, not a task: what the socket takes goes
// out inside the await, the rest is written by a task that waits. Both
// halves, beside a read in when_all; and in when_any, a write the peer never
// reads loses to a timer and is cancelled (its waiting half ended, nothing
// left running).
TEST(Tcp, WriteAllWaitsForTheRestAndRunsInWhenAllAndWhenAny) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(client.socket().set_option(SOL_SOCKET, SO_SNDBUF, 4096));
        std::string data(1 << 20, '\0');
        std::mt19937 rng{5};
        for (auto& c : data) c = static_cast<char>(rng());
        std::string echo(data.size(), '\0');
        auto [sent, received] = co_await when_all(client.write_all(data, 10s), server.read_exact(std::span{echo}, 10s));
        CO_ASSERT_OK(sent);
        CO_ASSERT_OK(received);
        EXPECT_TRUE(echo == data) << "the bytes differ";

        const auto started = clock::now();
        auto first = co_await when_any(client.write_all(data, 10s), []() -> task<void> { (void)co_await sleep_for(50ms); }());
        EXPECT_EQ(first.index, 1u) << "the write to a peer that does not read finished";
        EXPECT_LT(clock::now() - started, 5s);
        // The cancelled write left the stream usable: a small write goes through.
        CO_ASSERT_OK(co_await client.write_all("x", 2s));
    });
}

TEST(Tcp, SixtyFourMebibytesThroughAFourKibibyteSendBuffer) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        CO_ASSERT_OK(client.socket().set_option(SOL_SOCKET, SO_SNDBUF, 4096));
        constexpr std::size_t total = 64u << 20;
        auto sender = [](tcp::stream& s) -> task<std::uint64_t> {
            std::vector<std::byte> chunk(1 << 20);
            std::mt19937_64 rng{99};
            std::uint64_t sum = ringlet::test::fnv1a({});
            for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
                for (auto& b : chunk) b = static_cast<std::byte>(rng());
                sum = ringlet::test::fnv1a(chunk, sum);
                auto w = co_await s.write_all(chunk, 30s);
                CO_ASSERT_OK(w);
            }
            CO_ASSERT_OK(co_await s.shutdown(net::shutdown_how::write));
            co_return sum;
        };
        auto receiver = [](tcp::stream& s) -> task<std::pair<std::uint64_t, std::size_t>> {
            std::vector<std::byte> buf(256 << 10);
            std::uint64_t sum = ringlet::test::fnv1a({});
            std::size_t got = 0;
            for (std::size_t i = 0; i < total; ++i) {  // bounded: every read returns at least one byte
                auto n = co_await s.read_some(buf, 30s);
                CO_ASSERT_OK(n);
                if (*n == 0) break;
                // With an 8 KiB window the sender waits for every ACK; delayed
                // ACKs would stretch this test from 0.1 s to 40 s.
                (void)s.socket().set_option(IPPROTO_TCP, TCP_QUICKACK, 1);
                sum = ringlet::test::fnv1a(std::span{buf}.first(*n), sum);
                got += *n;
            }
            co_return std::pair{sum, got};
        };
        auto [sent_sum, received] = co_await when_all(sender(client), receiver(server));
        EXPECT_EQ(received.second, total);
        EXPECT_EQ(received.first, sent_sum);
    });
}

TEST(Tcp, NodelayAndKeepaliveOptions) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await tcp_pair();
        EXPECT_FALSE(*client.nodelay());
        CO_ASSERT_OK(client.set_nodelay());
        EXPECT_TRUE(*client.nodelay());
        CO_ASSERT_OK(client.set_nodelay(false));
        EXPECT_FALSE(*client.nodelay());
        CO_ASSERT_OK(server.set_keepalive(true, {.idle = 30s, .interval = 5s, .probes = 3}));
        EXPECT_EQ(*server.socket().get_option(SOL_SOCKET, SO_KEEPALIVE), 1);
        EXPECT_EQ(*server.socket().get_option(IPPROTO_TCP, TCP_KEEPIDLE), 30);
        EXPECT_EQ(*server.socket().get_option(IPPROTO_TCP, TCP_KEEPINTVL), 5);
        EXPECT_EQ(*server.socket().get_option(IPPROTO_TCP, TCP_KEEPCNT), 3);
        CO_ASSERT_OK(server.set_keepalive(false));
        EXPECT_EQ(*server.socket().get_option(SOL_SOCKET, SO_KEEPALIVE), 0);
    });
}

TEST(Tcp, ConnectBindsTheRequestedLocalAddress) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4());
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        const auto local = net::address::parse("127.0.0.2:0").value();
        auto c = co_await tcp::connect(where, {.bind = local, .timeout = 2s});
        CO_ASSERT_OK(c);
        auto mine = c->local_address();
        CO_ASSERT_OK(mine);
        EXPECT_EQ(mine->host(), "127.0.0.2");
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        EXPECT_EQ(*s->peer_address(), *mine);

        // Binding the exact local address of an existing connection's listener fails.
        auto clash = co_await tcp::connect(where, {.bind = where, .timeout = 2s});
        CO_ASSERT_FALSE(clash);
        EXPECT_EQ(clash.error(), std::errc::address_in_use);
    });
}

// Fills a listener's accept queue so further SYNs are dropped: the connect
// hangs in the kernel and only the timeout ends it.
TEST(Tcp, ConnectTimeoutFires) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(loopback4(), {.backlog = 1});
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        std::vector<tcp::stream> held;
        bool timed_out = false;
        for (int i = 0; i < 16 && !timed_out; ++i) {
            const auto start = clock::now();
            auto c = co_await tcp::connect(where, {.timeout = 100ms});
            if (c) {
                held.push_back(std::move(*c));
                continue;
            }
            CO_ASSERT_EQ(c.error(), errc::timed_out);
            EXPECT_GE(clock::now() - start, 90ms);
            timed_out = true;
        }
        EXPECT_TRUE(timed_out) << "every connect succeeded; the accept queue never filled";
    });
}

TEST(Tcp, AddressInUseFailsWithTheAddressInTheMessage) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto first = tcp::listen(loopback4());
        CO_ASSERT_OK(first);
        const auto where = *first->local_address();
        auto second = tcp::listen(where);  // reuse_address does not allow two listeners
        CO_ASSERT_FALSE(second);
        EXPECT_EQ(second.error(), std::errc::address_in_use);
        const std::string message = net::describe_error("listen", where, second.error());
        EXPECT_EQ(message, "listen " + where.to_string() + ": Address already in use (EADDRINUSE)");

        // Two listeners that both ask for SO_REUSEPORT may share the port.
        auto a = tcp::listen(loopback4(), {.reuse_port = true});
        CO_ASSERT_OK(a);
        auto b = tcp::listen(*a->local_address(), {.reuse_port = true});
        CO_ASSERT_OK(b);
        EXPECT_EQ(*a->local_address(), *b->local_address());
        co_return;
    });
}

TEST(Tcp, UnixAddressesAreRejected) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const auto path = net::address::parse("unix:/tmp/x.sock").value();
        auto l = tcp::listen(path);
        CO_ASSERT_FALSE(l);
        EXPECT_EQ(l.error(), errc::invalid_argument);
        auto c = co_await tcp::connect(path);
        CO_ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), errc::invalid_argument);
    });
}

TEST(Tcp, Ipv6OnLoopback) {
    auto probe = net::socket::open(AF_INET6, SOCK_STREAM);
    if (!probe || !probe->bind(net::address::ipv6_loopback(0))) GTEST_SKIP() << "no IPv6 on ::1 here";
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto lst = tcp::listen(net::address::ipv6_loopback(0));
        CO_ASSERT_OK(lst);
        const auto where = *lst->local_address();
        EXPECT_EQ(where.family(), net::address_family::ipv6);
        EXPECT_EQ(where.to_string(), "[::1]:" + std::to_string(where.port()));
        auto c = co_await tcp::connect(where, {.timeout = 2s});
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        CO_ASSERT_OK(co_await c->write_all("six"));
        char got[3];
        CO_ASSERT_OK(co_await s->read_exact(got, 2s));
        EXPECT_EQ(std::string_view(got, 3), "six");
        EXPECT_EQ(s->peer_address()->host(), "::1");
    });
}

// tls::stream's I/O path (src/tls/stream.cpp): records coalesced into one
// send, write_vectored's record joining, reads of several records from one
// receive, partial writes, close_notify after coalesced data, tickets that
// wait for the first response, and resumption on the other shard of a
// SO_REUSEPORT pair.
#include "tls_test_support.hpp"

#include <ringlet/core/when.hpp>
#include <ringlet/net/tcp.hpp>

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

/// `n` bytes whose value depends on their offset (a shifted or lost byte shows).
std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
    return out;
}

/// Reads exactly `n` bytes of plaintext.
task<result<std::vector<std::byte>>> read_n(tls::stream& s, std::size_t n) {
    std::vector<std::byte> out(n);
    auto r = co_await s.read_exact(out, 10s);
    if (!r) co_return unexpected{r.error()};
    co_return out;
}

/// Bytes waiting in the socket under `s` (not yet read by anyone).
std::size_t queued(tls::stream& s) {
    std::array<char, 65536> peek;
    const ssize_t n = ::recv(s.transport().socket().fd(), peek.data(), peek.size(), MSG_PEEK | MSG_DONTWAIT);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

TEST(TlsStream, WriteVectoredKeepsEveryByteAcrossRecordBoundaries) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        // Small parts (joined), a part that straddles a record, a large part
        // that tops up the record before it, an empty part, a small tail.
        const std::vector<std::size_t> sizes{0, 7, 300, 16 * 1024 - 1, 16 * 1024 + 1, 700 * 1024 + 5, 0, 1, 33};
        std::vector<std::vector<std::byte>> parts;
        std::vector<net::const_buffer> views;
        std::vector<std::byte> expected;
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            parts.push_back(pattern(sizes[i], static_cast<unsigned>(i)));
            expected.insert(expected.end(), parts.back().begin(), parts.back().end());
        }
        for (const auto& p : parts) views.emplace_back(std::span<const std::byte>{p});
        auto both = co_await when_all(ends.server->write_vectored(views, 10s), read_n(*ends.client, expected.size()));
        CO_ASSERT_OK(std::get<0>(both));
        CO_ASSERT_OK(std::get<1>(both));
        EXPECT_TRUE(*std::get<1>(both) == expected) << "plaintext differs from what was written";
        // Nothing more than what was written arrives.
        std::array<char, 8> rest;
        auto extra = co_await ends.client->read_some(rest, 100ms);
        CO_ASSERT_FALSE(extra);
        EXPECT_EQ(extra.error(), ringlet::errc::timed_out);
    });
}

TEST(TlsStream, ManyRecordsArriveInOneReceiveAndComeOutInOrder) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        // 40 small records and one of 100 KiB, all sent before the client
        // reads: its receives hold many records each.
        std::vector<std::byte> expected;
        for (unsigned i = 0; i < 40; ++i) {
            auto p = pattern(100 + i, i);
            CO_ASSERT_OK(co_await ends.server->write_all(p, 5s));
            expected.insert(expected.end(), p.begin(), p.end());
        }
        auto big = pattern(100 * 1024, 99);
        CO_ASSERT_OK(co_await ends.server->write_all(big, 5s));
        expected.insert(expected.end(), big.begin(), big.end());
        (void)co_await ends.server->shutdown(0ms);  // close_notify after them (no wait for the client's)
        std::vector<std::byte> got;
        std::array<std::byte, 1000> buf;  // smaller than most records: a record's plaintext comes out in pieces
        for (;;) {
            auto n = co_await ends.client->read_some(buf, 5s);
            CO_ASSERT_OK(n);
            if (*n == 0) break;  // close_notify, after every record before it
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        }
        EXPECT_EQ(got.size(), expected.size());
        EXPECT_TRUE(got == expected);
    });
}

TEST(TlsStream, PartialWritesOfALargeWriteVectoredThroughTinySocketBuffers) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        for (tls::stream* s : {&*ends.client, &*ends.server}) {
            CO_ASSERT_OK(s->transport().socket().set_option(SOL_SOCKET, SO_SNDBUF, 16384));
            CO_ASSERT_OK(s->transport().socket().set_option(SOL_SOCKET, SO_RCVBUF, 16384));
        }
        // 3 MiB: many times the 256 KiB of records a send takes, each send
        // accepted by the kernel some KiB at a time.
        const auto head = pattern(200, 1);
        const auto body = pattern(3 * 1024 * 1024 + 17, 2);
        const std::array<net::const_buffer, 2> parts{net::const_buffer{std::span{head}}, net::const_buffer{std::span{body}}};
        auto both = co_await when_all(ends.server->write_vectored(parts, 20s),
                                      read_n(*ends.client, head.size() + body.size()));
        CO_ASSERT_OK(std::get<0>(both));
        CO_ASSERT_OK(std::get<1>(both));
        const auto& got = *std::get<1>(both);
        EXPECT_TRUE(std::equal(head.begin(), head.end(), got.begin()));
        EXPECT_TRUE(std::equal(body.begin(), body.end(), got.begin() + static_cast<std::ptrdiff_t>(head.size())));
    });
}

TEST(TlsStream, WriteToAPeerThatNeverReadsTimesOut) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        const auto body = pattern(16 * 1024 * 1024, 3);
        auto r = co_await ends.server->write_all(body, 300ms);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), ringlet::errc::timed_out);
    });
}

TEST(TlsStream, Tls13TicketsWaitForTheFirstResponse) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        EXPECT_EQ(ends.server->version(), "TLSv1.3");
        // The server's handshake ended without sending its ticket on its own
        // (sent alone it waited for the client's delayed ACK: Nagle) ...
        (void)co_await sleep_for(50ms);
        EXPECT_EQ(queued(*ends.client), 0u);
        // ... it leaves with the first response, and the client resumes with it.
        CO_ASSERT_OK(co_await ends.server->write_all("hello", 5s));
        auto got = co_await read_n(*ends.client, 5);
        CO_ASSERT_OK(got);
        EXPECT_TRUE(ends.client->saved_session().valid());
    });
}

TEST(TlsStream, Tls13TicketGoesOutBeforeTheServerWaitsToRead) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        // A server that reads first sends its pending ticket before waiting.
        std::array<char, 8> buf;
        auto read = co_await ends.server->read_some(buf, 100ms);
        EXPECT_EQ(read.error(), ringlet::errc::timed_out);
        EXPECT_GT(queued(*ends.client), 0u);
    });
}

TEST(TlsStream, NoSessionTicketsMeansNoTls13Ticket) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        tls::server_options o;
        o.certificate_chain_file = cert("server.pem");
        o.private_key_file = cert("server.key");
        o.session_tickets = false;
        auto ends = co_await tls_pair(tls::context::server(o), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        CO_ASSERT_OK(co_await ends.server->write_all("x", 5s));
        auto got = co_await read_n(*ends.client, 1);
        CO_ASSERT_OK(got);
        const tls::session saved = ends.client->saved_session();
        auto again = co_await tls_pair(tls::context::server(o), client_context(), "localhost", &saved);
        CO_ASSERT_OK(again.client);
        CO_ASSERT_OK(again.server);
        EXPECT_FALSE(again.server->resumed());
        EXPECT_FALSE(again.client->resumed());
    });
}

TEST(TlsStream, CloseNotifyFollowsCoalescedData) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        const auto body = pattern(600 * 1024, 5);
        auto both = co_await when_all(
            [&]() -> task<result<void>> {
                auto w = co_await ends.server->write_all(body, 10s);
                if (!w) co_return w;
                co_return co_await ends.server->close(2s);  // close_notify, then the client's
            }(),
            [&]() -> task<result<std::vector<std::byte>>> {
                auto got = co_await read_n(*ends.client, body.size());
                if (!got) co_return got;
                std::array<char, 8> buf;
                auto end = co_await ends.client->read_some(buf, 5s);  // 0: close_notify, not truncated
                if (!end) co_return unexpected{end.error()};
                if (*end != 0) co_return unexpected{ringlet::errc::invalid_argument};
                auto answered = co_await ends.client->shutdown(2s);
                if (!answered) co_return unexpected{answered.error()};
                co_return got;
            }());
        CO_ASSERT_OK(std::get<0>(both));
        CO_ASSERT_OK(std::get<1>(both));
        EXPECT_TRUE(*std::get<1>(both) == body);
    });
}

/// What the servers of ResumesOnTheOtherShardOfAReusePortPair saw, per connection in order.
struct seen_connection {
    unsigned shard;
    bool resumed;
};
std::mutex seen_mutex;
std::vector<seen_connection> seen;

task<void> note_and_answer(tls::stream conn) {
    {
        std::lock_guard lock{seen_mutex};
        seen.push_back({this_shard::id(), conn.resumed()});
    }
    (void)co_await conn.write_all("k", 5s);  // the ticket goes out with it
    std::array<char, 8> buf;
    (void)co_await conn.read_some(buf, 5s);  // until the client closes
    (void)co_await conn.close(100ms);
}

task<void> serve_on_this_shard(tls::context ctx, std::uint16_t port) {
    auto lst = tls::listen(loopback4(port), ctx, {.reuse_port = true});
    CO_ASSERT_OK(lst);
    (void)co_await tls::serve(*lst, &note_and_answer);
}

TEST(TlsStream, ResumesOnTheOtherShardOfAReusePortPair) {
    REQUIRE_CERTS();
    {
        std::lock_guard lock{seen_mutex};
        seen.clear();
    }
    runtime rt{quiet_runtime(2)};
    bool proved = false;
    rt.run([&]() -> task<void> {
        const tls::context server = server_context();
        const tls::context client = client_context();
        auto first = tls::listen(loopback4(), server, {.reuse_port = true});
        CO_ASSERT_OK(first);
        auto where = first->local_address();
        CO_ASSERT_OK(where);
        const std::uint16_t port = where->port();
        task_group servers;
        servers.spawn([](tls::listener lst) -> task<void> {
            (void)co_await tls::serve(lst, &note_and_answer);
        }(std::move(*first)));
        servers.spawn(submit_to(1, [&]() { return serve_on_this_shard(server, port); }));
        (void)co_await sleep_for(50ms);  // shard 1's listener joins the group

        // One visit per round: a full handshake from a fresh session, then
        // resumptions until one lands on the other shard (the kernel hashes
        // each connection's ports; 2^-30 odds to miss in 30 tries).
        auto visit = [&](const tls::session* resume, tls::session& saved, seen_connection& at) -> task<result<bool>> {
            auto tcp = co_await tcp::connect(loopback4(port), {.timeout = 5s});
            if (!tcp) co_return unexpected{tcp.error()};
            tls::client_handshake_options o;
            o.server_name = "localhost";
            o.resume = resume;
            auto conn = co_await tls::client_handshake(std::move(*tcp), client, o);
            if (!conn) co_return unexpected{conn.error()};
            std::array<char, 1> k;
            auto n = co_await conn->read_exact(std::as_writable_bytes(std::span{k}), 5s);
            if (!n) co_return unexpected{n.error()};
            saved = conn->saved_session();
            {
                std::lock_guard lock{seen_mutex};
                at = seen.back();
            }
            const bool resumed = conn->resumed();
            (void)co_await conn->close(1s);
            co_return resumed;
        };
        tls::session ticket;
        seen_connection issuer{};
        auto full = co_await visit(nullptr, ticket, issuer);
        CO_ASSERT_OK(full);
        EXPECT_FALSE(*full);
        EXPECT_FALSE(issuer.resumed);
        CO_ASSERT_TRUE(ticket.valid());
        for (int i = 0; i < 30 && !proved; ++i) {
            tls::session next;
            seen_connection at{};
            auto resumed = co_await visit(&ticket, next, at);
            CO_ASSERT_OK(resumed);
            EXPECT_TRUE(*resumed) << "try " << i << " on shard " << at.shard;
            EXPECT_TRUE(at.resumed);
            proved = *resumed && at.resumed && at.shard != issuer.shard;
        }
        rt.request_stop();
        co_await servers.wait();
    });
    EXPECT_TRUE(proved) << "no resumed handshake on the shard that did not issue the ticket";
}

}  // namespace

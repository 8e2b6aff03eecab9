// local:: datagram and seqpacket sockets: abstract names and paths,
// autobind replies, truncation, stale and live paths, removal on close,
// seqpacket message boundaries and end of stream.
#include "datagram_test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <string>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;
using ringlet::test::temp_socket_path;
using ringlet::test::text_of;
using ringlet::test::unique_name;

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string text(std::span<const std::byte> buf, std::size_t n) { return text_of(buf.first(n)); }

}  // namespace

TEST(LocalDatagram, AbstractNamesCarryDatagramsAndAutobindLetsTheServerReply) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const auto where = net::address::abstract(unique_name("dgram")).value();
        auto server = local::bind_datagram(where);
        CO_ASSERT_OK(server);
        EXPECT_EQ(*server->local_address(), where);
        auto client = co_await local::connect_datagram(where);
        CO_ASSERT_OK(client);
        const auto client_name = client->local_address();
        CO_ASSERT_OK(client_name);
        EXPECT_EQ(client_name->family(), net::address_family::unix_abstract);  // autobound
        CO_ASSERT_OK(co_await client->send("ping"));
        std::array<std::byte, 32> buf{};
        auto got = co_await server->recv_from(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(text(buf, got->size), "ping");
        EXPECT_EQ(got->from, *client_name);
        CO_ASSERT_OK(co_await server->send_to(got->from, "pong"));
        auto back = co_await client->recv(buf, 2s);
        CO_ASSERT_OK(back);
        EXPECT_EQ(text(buf, back->size), "pong");

        // A name with a NUL byte in it is a different, valid abstract name.
        const auto odd = net::address::abstract(unique_name("nul") + std::string(1, '\0') + "x").value();
        auto odd_server = local::bind_datagram(odd);
        CO_ASSERT_OK(odd_server);
        CO_ASSERT_OK(co_await client->send_to(odd, "to the odd name"));
        auto odd_got = co_await odd_server->recv_from(buf, 2s);
        CO_ASSERT_OK(odd_got);
        EXPECT_EQ(text(buf, odd_got->size), "to the odd name");
        EXPECT_EQ(*odd_server->local_address(), odd);
    });
}

TEST(LocalDatagram, AnUnboundSenderArrivesUnnamed) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const auto where = net::address::abstract(unique_name("unnamed")).value();
        auto server = local::bind_datagram(where);
        CO_ASSERT_OK(server);
        auto anonymous = local::open_datagram(false);
        CO_ASSERT_OK(anonymous);
        CO_ASSERT_OK(co_await anonymous->send_to(where, "who am I"));
        std::array<std::byte, 32> buf{};
        auto got = co_await server->recv_from(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(got->from.family(), net::address_family::unix_unnamed);
    });
}

TEST(LocalDatagram, TruncationIsReportedOnEveryPath) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto pair = local::datagram_pair();
        CO_ASSERT_OK(pair);
        auto& [a, b] = *pair;
        CO_ASSERT_OK(co_await a.send(std::string(50, 'z')));
        std::array<std::byte, 8> small{};
        auto r = co_await b.recv(small, 2s);
        CO_ASSERT_OK(r);
        EXPECT_TRUE(r->truncated);
        EXPECT_EQ(r->size, 8u);

        CO_ASSERT_OK(b.set_batch_options({.buffers = 2, .max_datagram_size = 16}));
        CO_ASSERT_OK(co_await a.send(std::string(50, 'w')));
        CO_ASSERT_OK(co_await a.send("small"));
        std::vector<std::pair<std::string, bool>> seen;
        while (seen.size() < 2) {
            auto batch = co_await b.receive_batch(2s);
            CO_ASSERT_OK(batch);
            for (const auto& d : *batch) seen.emplace_back(text_of(d.payload), d.truncated);
        }
        EXPECT_EQ(seen[0], std::make_pair(std::string(16, 'w'), true));
        EXPECT_EQ(seen[1], std::make_pair(std::string("small"), false));
    });
}

TEST(LocalDatagram, PathsReplaceStaleFilesRefuseLiveOnesAndAreRemovedOnClose) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("dgram-path");
        const auto where = net::address::unix_path(path).value();
        {
            // A socket that dies without removing its file leaves a stale one.
            auto dead = local::bind_datagram(where, {.unlink_on_close = false});
            CO_ASSERT_OK(dead);
        }
        CO_ASSERT_TRUE(exists(path));
        auto server = local::bind_datagram(where);
        CO_ASSERT_OK(server);
        auto rival = local::bind_datagram(where);
        CO_ASSERT_FALSE(rival);
        EXPECT_EQ(rival.error(), std::errc::address_in_use);

        auto client = co_await local::connect_datagram(where);
        CO_ASSERT_OK(client);
        CO_ASSERT_OK(co_await client->send("over a path"));
        std::array<std::byte, 32> buf{};
        auto got = co_await server->recv_from(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(text(buf, got->size), "over a path");

        CO_ASSERT_OK(co_await server->close());
        EXPECT_FALSE(exists(path));
        auto refused = co_await local::connect_datagram(where);
        EXPECT_EQ(refused.error(), std::errc::no_such_file_or_directory);
        EXPECT_EQ(local::bind_datagram(ringlet::test::loopback4()).error(), errc::invalid_argument);
    });
}

TEST(LocalDatagram, ConnectingToAStalePathIsRefused) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("dgram-stale");
        const auto where = net::address::unix_path(path).value();
        { auto dead = local::bind_datagram(where, {.unlink_on_close = false}); }
        auto c = co_await local::connect_datagram(where);
        EXPECT_EQ(c.error(), std::errc::connection_refused);
        ::unlink(path.c_str());
    });
}

TEST(Seqpacket, MessageBoundariesAreKeptAndEndOfStreamIsSizeZero) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const auto where = net::address::abstract(unique_name("seq")).value();
        auto lst = local::listen_seqpacket(where);
        CO_ASSERT_OK(lst);
        auto c = co_await local::connect_seqpacket(where, {.timeout = 2s});
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        EXPECT_EQ(s->peer_credentials()->pid, ::getpid());

        const std::string big(1000, 'b');
        CO_ASSERT_OK(co_await c->send("a"));
        CO_ASSERT_OK(co_await c->send(big));
        CO_ASSERT_OK(co_await c->send("ccccc"));
        CO_ASSERT_OK(co_await c->send(std::string(300, 'd')));
        std::array<std::byte, 2048> buf{};
        auto m1 = co_await s->recv(buf, 2s);
        CO_ASSERT_OK(m1);
        EXPECT_EQ(text(buf, m1->size), "a");  // not merged with the next message
        auto m2 = co_await s->recv(buf, 2s);
        CO_ASSERT_OK(m2);
        EXPECT_EQ(text(buf, m2->size), big);
        auto m3 = co_await s->recv(buf, 2s);
        CO_ASSERT_OK(m3);
        EXPECT_EQ(text(buf, m3->size), "ccccc");
        std::array<std::byte, 100> small{};
        auto m4 = co_await s->recv(small, 2s);  // truncated, and the rest of it is gone
        CO_ASSERT_OK(m4);
        EXPECT_TRUE(m4->truncated);
        EXPECT_EQ(m4->size, 100u);

        CO_ASSERT_OK(co_await c->shutdown(net::shutdown_how::write));
        auto end = co_await s->recv(buf, 2s);
        CO_ASSERT_OK(end);
        EXPECT_EQ(end->size, 0u);
        EXPECT_FALSE(end->truncated);
        CO_ASSERT_OK(co_await lst->close());
    });
}

TEST(Seqpacket, PathsPairsAndWrongSocketTypes) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("seq-path");
        const auto where = net::address::unix_path(path).value();
        auto lst = local::listen_seqpacket(where);
        CO_ASSERT_OK(lst);
        auto c = co_await local::connect_seqpacket(where);
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        CO_ASSERT_OK(co_await s->send("over a path"));
        std::array<std::byte, 32> buf{};
        auto got = co_await c->recv(buf, 2s);
        CO_ASSERT_OK(got);
        EXPECT_EQ(text(buf, got->size), "over a path");

        // A stream client cannot connect to a seqpacket listener.
        auto stream_client = co_await local::connect(where);
        EXPECT_FALSE(stream_client);
        CO_ASSERT_OK(co_await lst->close());
        EXPECT_FALSE(exists(path));

        auto pair = local::seqpacket_pair();
        CO_ASSERT_OK(pair);
        CO_ASSERT_OK(co_await pair->first.send("x"));
        auto one = co_await pair->second.recv(buf, 2s);
        CO_ASSERT_OK(one);
        EXPECT_EQ(text(buf, one->size), "x");
        auto nothing = co_await pair->second.recv(buf, 30ms);
        EXPECT_EQ(nothing.error(), errc::timed_out);
    });
}

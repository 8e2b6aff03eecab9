// tls::stream between two ringlet ends: handshakes, properties, lifecycle,
// records batching and a large transfer.
#include "tls_test_support.hpp"

#include <ringlet/core/when.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <array>
#include <cstring>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

TEST(Tls, HandshakeEchoAndProperties) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto server_ctx = server_context("server", std::vector<std::string>{"h2", "http/1.1"});
        auto client_ctx = client_context(std::vector<std::string>{"http/1.1"});
        auto ends = co_await tls_pair(server_ctx, client_ctx, "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        EXPECT_TRUE(ends.client->is_tls());
        EXPECT_EQ(ends.client->version(), "TLSv1.3");
        EXPECT_FALSE(ends.client->cipher().empty());
        EXPECT_EQ(ends.client->alpn(), "http/1.1");
        EXPECT_EQ(ends.server->alpn(), "http/1.1");
        EXPECT_NE(ends.client->peer_subject().find("CN=localhost"), std::string::npos);
        EXPECT_EQ(ends.server->peer_subject(), "");
        EXPECT_EQ(ends.server->server_name(), "localhost");
        CO_ASSERT_OK(co_await ends.client->write_all("hello over tls\n"));
        net::buffered_reader<tls::stream> in{*ends.server};
        auto line = co_await in.read_line(100, 5s);
        CO_ASSERT_OK(line);
        EXPECT_EQ(*line, "hello over tls");
        // A clean close: close_notify both ways, then read_some yields 0.
        auto closed = co_await when_all(ends.client->shutdown(5s), ends.server->shutdown(5s));
        EXPECT_TRUE(std::get<0>(closed)) << std::get<0>(closed).error().message();
        EXPECT_TRUE(std::get<1>(closed)) << std::get<1>(closed).error().message();
        std::array<char, 16> buf;
        auto n = co_await ends.client->read_some(buf, 1s);
        CO_ASSERT_OK(n);
        EXPECT_EQ(*n, 0u);
    });
}

TEST(Tls, NoCommonAlpnStillConnects) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto server_ctx = server_context("server", std::vector<std::string>{"h2"});
        auto client_ctx = client_context(std::vector<std::string>{"spdy/1"});
        auto ends = co_await tls_pair(server_ctx, client_ctx, "localhost");
        CO_ASSERT_OK(ends.client);
        EXPECT_EQ(ends.client->alpn(), "");
    });
}

struct bad_cert_case {
    const char* cert;
    const char* name;
    tls::errc expected;
};

class BadCertificate : public ::testing::TestWithParam<bad_cert_case> {};

TEST_P(BadCertificate, ClientFailsWithANamedError) {
    REQUIRE_CERTS();
    const bad_cert_case c = GetParam();
    run_test([c]() -> task<void> {
        auto ends = co_await tls_pair(server_context(c.cert), client_context(), c.name);
        CO_ASSERT_FALSE(ends.client);
        EXPECT_EQ(ends.client.error(), c.expected) << ends.client.error().message();
        if (ends.server) {  // TLS 1.2/1.3 servers may finish before the client's verdict
            std::array<char, 16> buf;
            auto n = co_await ends.server->read_some(buf, 2s);
            EXPECT_FALSE(n && *n > 0);
        }
        const std::string text = tls::describe_error("tls handshake with localhost", ends.client.error());
        EXPECT_NE(text.find("certificate"), std::string::npos) << text;
    });
}

INSTANTIATE_TEST_SUITE_P(Tls, BadCertificate,
                         ::testing::Values(bad_cert_case{"server", "wrong.test", tls::errc::host_name_mismatch},
                                           bad_cert_case{"expired", "localhost", tls::errc::certificate_expired},
                                           bad_cert_case{"self", "localhost", tls::errc::self_signed_certificate},
                                           bad_cert_case{"untrusted", "localhost", tls::errc::untrusted_certificate}));

TEST(Tls, VerificationCanBeTurnedOff) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        tls::client_options opts;
        opts.verify_peer = false;
        auto client_ctx = tls::context::client(opts);
        auto ends = co_await tls_pair(server_context("self"), client_ctx, "");
        CO_ASSERT_OK(ends.client);
        EXPECT_TRUE(ends.client->is_tls());
    });
}

TEST(Tls, VerifyingWithoutANameIsRejected) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        auto r = co_await tls::client_handshake(std::move(c), client_context(), {});
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), ringlet::errc::invalid_argument);
    });
}

/// A peer that answers the ClientHello with `reply` and then closes.
task<void> bad_server(tcp::stream s, std::string reply) {
    std::array<char, 4096> buf;
    (void)co_await s.read_some(buf, 5s);
    (void)co_await s.write_all(reply);
    (void)co_await s.close();
}

TEST(Tls, PlaintextPeerIsNotTls) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        tls::client_handshake_options o;
        o.server_name = "localhost";
        auto both = co_await when_all(tls::client_handshake(std::move(c), client_context(), o),
                                      bad_server(std::move(s), "HTTP/1.1 400 Bad Request\r\n\r\n"));
        auto& r = std::get<0>(both);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), tls::errc::not_tls) << r.error().message();
    });
}

TEST(Tls, GarbageRecordsFailTheHandshake) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        std::string garbage = "\x16\x03\x03\x00\x40";
        for (int i = 0; i < 64; ++i) garbage += static_cast<char>(i * 37 + 11);
        tls::client_handshake_options o;
        o.server_name = "localhost";
        auto both = co_await when_all(tls::client_handshake(std::move(c), client_context(), o),
                                      bad_server(std::move(s), garbage));
        auto& r = std::get<0>(both);
        CO_ASSERT_FALSE(r);
        EXPECT_NE(r.error(), ringlet::errc::timed_out) << r.error().message();
    });
}

TEST(Tls, ServerRejectsAPlaintextClient) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        CO_ASSERT_OK(co_await c.write_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        auto r = co_await tls::server_handshake(std::move(s), server_context(), {.handshake_timeout = 5s});
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), tls::errc::not_tls) << r.error().message();
    });
}

TEST(Tls, StalledPeerHitsTheHandshakeTimeout) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        tls::client_handshake_options o;
        o.server_name = "localhost";
        o.handshake_timeout = 200ms;
        const auto start = clock::now();
        auto r = co_await tls::client_handshake(std::move(c), client_context(), o);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), ringlet::errc::timed_out);
        EXPECT_LT(clock::now() - start, 2s);
        // And a server whose client sends half a ClientHello.
        auto [c2, s2] = co_await tcp_pair();
        CO_ASSERT_OK(co_await c2.write_all(std::string_view{"\x16\x03\x01\x02\x00\x01", 6}));
        auto r2 = co_await tls::server_handshake(std::move(s2), server_context(), {.handshake_timeout = 200ms});
        CO_ASSERT_FALSE(r2);
        EXPECT_EQ(r2.error(), ringlet::errc::timed_out);
    });
}

TEST(Tls, CutWithoutCloseNotifyIsTruncated) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        CO_ASSERT_OK(co_await ends.server->write_all("last words"));
        CO_ASSERT_OK(co_await ends.server->transport().close());  // no close_notify
        std::array<char, 64> buf;
        auto n = co_await ends.client->read_some(buf, 5s);
        CO_ASSERT_OK(n);
        EXPECT_EQ(std::string_view(buf.data(), *n), "last words");
        auto end = co_await ends.client->read_some(buf, 5s);
        CO_ASSERT_FALSE(end);
        EXPECT_EQ(end.error(), ringlet::errc::truncated) << end.error().message();
    });
}

TEST(Tls, ShutdownSendsOneCloseNotifyAndBoundsTheWait) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        // The peer never answers: shutdown times out after sending close_notify.
        const auto start = clock::now();
        auto r = co_await ends.client->shutdown(200ms);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), ringlet::errc::timed_out);
        EXPECT_LT(clock::now() - start, 2s);
        // The server sees exactly one close_notify: read_some yields 0 and the
        // raw socket holds nothing more.
        std::array<char, 64> buf;
        auto n = co_await ends.server->read_some(buf, 5s);
        CO_ASSERT_OK(n);
        EXPECT_EQ(*n, 0u);
        auto again = co_await ends.client->shutdown(200ms);  // no second close_notify
        EXPECT_EQ(again.error(), ringlet::errc::timed_out);
        // (The TLS stream reads its transport through receive().)
        auto raw = co_await ends.server->transport().receive(100ms);
        CO_ASSERT_FALSE(raw);
        EXPECT_EQ(raw.error(), ringlet::errc::timed_out);
    });
}

TEST(Tls, TenRecordsInOneSegmentNeedNoFurtherTraffic) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        for (int i = 0; i < 10; ++i) {
            CO_ASSERT_OK(co_await ends.server->write_all("record-" + std::to_string(i)));
        }
        (void)co_await sleep_for(50ms);  // all ten are in the client's socket buffer now
        std::array<char, 8> first;
        auto n = co_await ends.client->read_some(first, 5s);
        CO_ASSERT_OK(n);
        // From here the socket yields nothing: every record must come from
        // what the first read pulled in.
        CO_ASSERT_OK(co_await ends.client->transport().shutdown(net::shutdown_how::read));
        std::string got(first.data(), *n);
        for (int reads = 0; reads < 100 && got.size() < 10 * 8; ++reads) {
            std::array<char, 8> buf;
            auto m = co_await ends.client->read_some(buf, 1s);
            CO_ASSERT_OK(m);
            got.append(buf.data(), *m);
        }
        std::string want;
        for (int i = 0; i < 10; ++i) want += "record-" + std::to_string(i);
        EXPECT_EQ(got, want);
    });
}

task<result<std::uint64_t>> send_pattern(tls::stream& s, std::size_t total) {
    std::vector<std::byte> chunk(1 << 20);
    std::uint64_t h = 0xcbf29ce484222325ULL;
    std::size_t sent = 0;
    while (sent < total) {
        const std::size_t n = std::min(chunk.size(), total - sent);
        for (std::size_t i = 0; i < n; i += 64) chunk[i] = static_cast<std::byte>((sent + i) * 31 >> 6);
        h = fnv1a(std::span<const std::byte>{chunk}.first(n), h);
        auto w = co_await s.write_all(std::span<const std::byte>{chunk}.first(n), 60s);
        if (!w) co_return unexpected{w.error()};
        sent += n;
    }
    co_return h;
}

task<result<std::uint64_t>> receive_all(tls::stream& s, std::size_t total) {
    std::vector<std::byte> buf(256 * 1024);
    std::uint64_t h = 0xcbf29ce484222325ULL;
    std::size_t got = 0;
    while (got < total) {
        auto n = co_await s.read_some(buf, 60s);
        if (!n) co_return unexpected{n.error()};
        if (*n == 0) co_return unexpected{ringlet::errc::end_of_stream};
        h = fnv1a(std::span<const std::byte>{buf}.first(*n), h);
        got += *n;
    }
    co_return h;
}

TEST(Tls, LargeTransferWithSmallSocketBuffers) {
    REQUIRE_CERTS();
    const char* scale = std::getenv("RINGLET_TLS_TRANSFER_MIB");
    const std::size_t mib = scale ? std::strtoul(scale, nullptr, 10) : 256;
    run_test([mib]() -> task<void> {
        auto ends = co_await tls_pair(server_context(), client_context(), "localhost");
        CO_ASSERT_OK(ends.client);
        CO_ASSERT_OK(ends.server);
        const std::array<net::socket*, 2> sockets{&ends.client->transport().socket(), &ends.server->transport().socket()};
        for (net::socket* s : sockets) {
            CO_ASSERT_OK(s->set_option(SOL_SOCKET, SO_SNDBUF, 16384));
            CO_ASSERT_OK(s->set_option(SOL_SOCKET, SO_RCVBUF, 16384));
        }
        const std::size_t total = mib << 20;
        auto both = co_await when_all(send_pattern(*ends.server, total), receive_all(*ends.client, total));
        CO_ASSERT_OK(std::get<0>(both));
        CO_ASSERT_OK(std::get<1>(both));
        EXPECT_EQ(*std::get<0>(both), *std::get<1>(both));
    });
}

}  // namespace

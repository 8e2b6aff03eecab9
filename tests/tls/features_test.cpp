// SNI, mutual TLS, resumption across shards, and STARTTLS with bytes the
// plaintext phase had already buffered.
#include "tls_test_support.hpp"

#include <ringlet/core/when.hpp>
#include <ringlet/net/local.hpp>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

tls::context sni_server() {
    tls::server_options o;
    o.certificate_chain_file = cert("server.pem");
    o.private_key_file = cert("server.key");
    o.by_server_name.push_back({.server_name = "sni.test",
                                .certificate_chain_file = cert("sni.pem"),
                                .private_key_file = cert("sni.key")});
    return tls::context::server(o);
}

TEST(TlsFeatures, ServerPicksTheCertificateBySni) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto server = sni_server();
        auto named = co_await tls_pair(server, client_context(), "sni.test");
        CO_ASSERT_OK(named.client);
        CO_ASSERT_OK(named.server);
        EXPECT_NE(named.client->peer_subject().find("CN=sni.test"), std::string::npos) << named.client->peer_subject();
        EXPECT_EQ(named.server->server_name(), "sni.test");
        auto fallback = co_await tls_pair(server, client_context(), "localhost");
        CO_ASSERT_OK(fallback.client);
        EXPECT_NE(fallback.client->peer_subject().find("CN=localhost"), std::string::npos);
    });
}

tls::context mtls_server(bool require) {
    tls::server_options o;
    o.certificate_chain_file = cert("server.pem");
    o.private_key_file = cert("server.key");
    o.request_client_certificate = true;
    o.require_client_certificate = require;
    o.client_ca_file = cert("ca.pem");
    return tls::context::server(o);
}

TEST(TlsFeatures, MutualTlsChecksTheClientCertificate) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        tls::client_options with_cert;
        with_cert.ca_file = cert("ca.pem");
        with_cert.certificate_chain_file = cert("client.pem");
        with_cert.private_key_file = cert("client.key");
        auto ok = co_await tls_pair(mtls_server(true), tls::context::client(with_cert), "localhost");
        CO_ASSERT_OK(ok.client);
        CO_ASSERT_OK(ok.server);
        EXPECT_NE(ok.server->peer_subject().find("CN=ringlet-client"), std::string::npos) << ok.server->peer_subject();

        auto refused = co_await tls_pair(mtls_server(true), client_context(), "localhost");
        CO_ASSERT_FALSE(refused.server);
        EXPECT_EQ(refused.server.error(), tls::errc::no_peer_certificate) << refused.server.error().message();

        auto optional = co_await tls_pair(mtls_server(false), client_context(), "localhost");
        CO_ASSERT_OK(optional.server);
        EXPECT_EQ(optional.server->peer_subject(), "");
    });
}

/// A handshake plus one byte from the server, so a TLS 1.3 ticket arrives.
task<tls::session> first_visit(tls::context server, tls::context client) {
    auto ends = co_await tls_pair(server, client, "localhost");
    CO_ASSERT_OK(ends.client);
    CO_ASSERT_OK(ends.server);
    EXPECT_FALSE(ends.client->resumed());
    CO_ASSERT_OK(co_await ends.server->write_all("x"));
    std::array<char, 4> buf;
    auto n = co_await ends.client->read_some(buf, 5s);
    CO_ASSERT_OK(n);
    co_return ends.client->saved_session();
}

task<bool> second_visit(tls::context server, tls::context client, tls::session saved) {
    auto ends = co_await tls_pair(server, client, "localhost", &saved);
    CO_ASSERT_OK(ends.client);
    CO_ASSERT_OK(ends.server);
    EXPECT_TRUE(ends.server->resumed());
    co_return ends.client->resumed();
}

TEST(TlsFeatures, SessionTicketsResumeOnAnotherShard) {
    REQUIRE_CERTS();
    runtime rt{quiet_runtime(2)};
    const bool resumed = rt.run([]() -> task<bool> {
        auto server = server_context();
        auto client = client_context();
        try {
            auto saved = co_await first_visit(server, client);
            EXPECT_TRUE(saved.valid());
            co_return co_await submit_to(1, [&]() { return second_visit(server, client, saved); });
        } catch (const assertion_failed&) {
            co_return false;
        }
    });
    EXPECT_TRUE(resumed);
}

TEST(TlsFeatures, StartTlsKeepsBytesTheReaderBuffered) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        auto client_side = [](tcp::stream conn) -> task<result<std::string>> {
            // Pipelined: the command and the ClientHello leave back to back.
            auto sent = co_await conn.write_all("STARTTLS\r\n");
            if (!sent) co_return unexpected{sent.error()};
            tls::client_handshake_options o;
            o.server_name = "localhost";
            auto tls_conn = co_await tls::client_handshake(std::move(conn), client_context(), o);
            if (!tls_conn) co_return unexpected{tls_conn.error()};
            net::buffered_reader<tls::stream> in{*tls_conn};
            co_return co_await in.read_line(100, 5s);
        };
        auto server_side = [](tcp::stream conn) -> task<result<void>> {
            (void)co_await sleep_for(50ms);  // let the ClientHello arrive behind the command
            net::buffered_reader<tcp::stream> in{conn};
            auto line = co_await in.read_line(100, 5s);
            if (!line) co_return unexpected{line.error()};
            EXPECT_EQ(*line, "STARTTLS");
            EXPECT_GT(in.buffered().size(), 0u);  // part of the ClientHello
            tls::server_handshake_options o;
            o.already_read = in.buffered();
            auto tls_conn = co_await tls::server_handshake(std::move(conn), server_context(), o);
            if (!tls_conn) co_return unexpected{tls_conn.error()};
            co_return co_await tls_conn->write_all("secret after upgrade\n");
        };
        auto both = co_await when_all(client_side(std::move(c)), server_side(std::move(s)));
        CO_ASSERT_OK(std::get<1>(both));
        CO_ASSERT_OK(std::get<0>(both));
        EXPECT_EQ(*std::get<0>(both), "secret after upgrade");
    });
}

TEST(TlsFeatures, ListenerAcceptsAndServes) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto lst = tls::listen(loopback4(), server_context());
        CO_ASSERT_OK(lst);
        auto where = lst->local_address();
        CO_ASSERT_OK(where);
        const std::string target = "localhost";
        auto client_side = [&]() -> task<result<std::string>> {
            auto conn = co_await tls::connect(target, where->port(), client_context());
            if (!conn) co_return unexpected{conn.error()};
            net::buffered_reader<tls::stream> in{*conn};
            co_return co_await in.read_line(100, 5s);
        };
        auto server_side = [&]() -> task<result<void>> {
            auto conn = co_await lst->accept(5s);
            if (!conn) co_return unexpected{conn.error()};
            co_return co_await conn->write_all("welcome\n");
        };
        auto both = co_await when_all(client_side(), server_side());
        CO_ASSERT_OK(std::get<1>(both));
        CO_ASSERT_OK(std::get<0>(both));
        EXPECT_EQ(*std::get<0>(both), "welcome");
        (void)co_await lst->close();
    });
}

}  // namespace

namespace {

TEST(TlsFeatures, WorksOverUnixStreams) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        const auto where = net::address::parse("@" + unique_name("tls-unix"));
        CO_ASSERT_OK(where);
        auto lst = local::listen(*where);
        CO_ASSERT_OK(lst);
        auto c = co_await local::connect(*where);
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(5s);
        CO_ASSERT_OK(s);
        tls::client_handshake_options o;
        o.server_name = "localhost";
        auto both = co_await when_all(tls::client_handshake(std::move(*c), client_context(), o),
                                      tls::server_handshake(std::move(*s), server_context()));
        auto& client = std::get<0>(both);
        auto& server = std::get<1>(both);
        CO_ASSERT_OK(client);
        CO_ASSERT_OK(server);
        CO_ASSERT_OK(co_await server->write_all("over a unix socket"));
        std::array<std::byte, 18> buf;
        CO_ASSERT_OK(co_await client->read_exact(buf, 5s));
        EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), "over a unix socket");
        (void)co_await lst->close();
    });
}

}  // namespace

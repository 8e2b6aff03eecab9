// Interoperability with OpenSSL's command-line tools, started on loopback by
// the tests and stopped by PID: openssl s_client against ringlet's server,
// ringlet's client against openssl s_server, and the examples (STARTTLS over
// SMTP, https_get) against them.
#include "tls_test_support.hpp"

#include <ringlet/core/when.hpp>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

class OpenSslClient : public ::testing::TestWithParam<const char*> {};

TEST_P(OpenSslClient, TalksToRingletServerWithAlpnSniAndClientCert) {
    REQUIRE_CERTS();
    const std::string flag = GetParam();
    run_test([flag]() -> task<void> {
        tls::server_options o;
        o.certificate_chain_file = cert("server.pem");
        o.private_key_file = cert("server.key");
        o.by_server_name.push_back({.server_name = "sni.test",
                                    .certificate_chain_file = cert("sni.pem"),
                                    .private_key_file = cert("sni.key")});
        o.request_client_certificate = true;
        o.client_ca_file = cert("ca.pem");
        o.alpn = {"h2", "http/1.1"};
        auto lst = tls::listen(loopback4(), tls::context::server(o));
        CO_ASSERT_OK(lst);
        const auto port = lst->local_address()->port();
        child peer({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), flag, "-servername",
                    "sni.test", "-CAfile", cert("ca.pem"), "-verify_return_error", "-alpn", "h2", "-cert",
                    cert("client.pem"), "-key", cert("client.key")});
        CO_ASSERT_TRUE(peer.started());
        auto conn = co_await lst->accept(10s);
        CO_ASSERT_OK(conn);
        EXPECT_EQ(conn->version(), flag == "-tls1_2" ? "TLSv1.2" : "TLSv1.3");
        EXPECT_EQ(conn->alpn(), "h2");
        EXPECT_EQ(conn->server_name(), "sni.test");
        EXPECT_NE(conn->peer_subject().find("CN=ringlet-client"), std::string::npos) << conn->peer_subject();
        CO_ASSERT_OK(co_await conn->write_all("greeting from ringlet\n"));
        peer.write_stdin("hello\n");
        net::buffered_reader<tls::stream> in{*conn};
        auto line = co_await in.read_line(100, 10s);
        CO_ASSERT_OK(line);
        EXPECT_EQ(*line, "hello");
        const bool seen_9 = co_await peer.wait_for_output("greeting from ringlet", 5s);
        EXPECT_TRUE(seen_9) << peer.output();
        peer.close_stdin();  // s_client sends close_notify and exits
        std::array<char, 64> buf;
        auto end = co_await in.read_some(std::as_writable_bytes(std::span{buf}), 10s);
        CO_ASSERT_OK(end);
        EXPECT_EQ(*end, 0u);
        (void)co_await conn->close(1s);
        const int status_1 = co_await peer.wait_exit(5s);
        EXPECT_EQ(status_1, 0);
        const std::string out = peer.output();
        EXPECT_NE(out.find("CN = sni.test"), std::string::npos) << out;
        EXPECT_NE(out.find("Verify return code: 0"), std::string::npos) << out;
        (void)co_await lst->close();
    });
}

INSTANTIATE_TEST_SUITE_P(Tls, OpenSslClient, ::testing::Values("-tls1_2", "-tls1_3"));

class OpenSslServer : public ::testing::TestWithParam<const char*> {};

TEST_P(OpenSslServer, RingletClientVerifiesAndTalks) {
    REQUIRE_CERTS();
    const std::string flag = GetParam();
    run_test([flag]() -> task<void> {
        const std::uint16_t port = free_port();
        child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), flag, "-cert",
                      cert("server.pem"), "-key", cert("server.key"), "-alpn", "h2", "-rev", "-naccept", "1"});
        CO_ASSERT_TRUE(server.started());
        CO_ASSERT_TRUE(co_await server.wait_for_output("ACCEPT", 10s));
        auto client_ctx = client_context(std::vector<std::string>{"h2"});
        auto conn = co_await tls::connect("localhost", port, client_ctx);
        CO_ASSERT_OK(conn);
        EXPECT_EQ(conn->version(), flag == "-tls1_2" ? "TLSv1.2" : "TLSv1.3");
        EXPECT_EQ(conn->alpn(), "h2");
        CO_ASSERT_OK(co_await conn->write_all("hello\n"));
        std::string got;
        for (int reads = 0; reads < 50 && got.find("olleh") == std::string::npos; ++reads) {
            std::array<char, 256> buf;
            auto n = co_await conn->read_some(buf, 10s);
            CO_ASSERT_OK(n);
            if (*n == 0) break;
            got.append(buf.data(), *n);
        }
        EXPECT_NE(got.find("olleh"), std::string::npos) << got;
        (void)co_await conn->close(1s);
    });
}

INSTANTIATE_TEST_SUITE_P(Tls, OpenSslServer, ::testing::Values("-tls1_2", "-tls1_3"));

/// The address an example printed in its "listening on" line.
task<std::string> listening_address(child& program) {
    const bool up = co_await program.wait_for_output("listening on ", 10s);
    if (!up) co_return std::string{};
    const std::string out = program.output();
    const std::size_t at = out.find("listening on ") + 13;
    co_return out.substr(at, out.find('\n', at) - at);
}

TEST(TlsExamples, StartTlsServerWithOpenSslAndRingletClients) {
    REQUIRE_CERTS();
    const std::string server_path = example_program("starttls_server");
    const std::string client_path = example_program("starttls_client");
    if (server_path.empty() || client_path.empty()) GTEST_SKIP() << "examples not built";
    run_test([&]() -> task<void> {
        child server({server_path, "127.0.0.1:0", "--cert", cert("server.pem"), "--key", cert("server.key")});
        const std::string where = co_await listening_address(server);
        CO_ASSERT_TRUE(!where.empty());
        {
            child peer({"openssl", "s_client", "-starttls", "smtp", "-connect", where, "-CAfile", cert("ca.pem"),
                        "-verify_return_error", "-servername", "localhost", "-crlf"});
            peer.write_stdin("NOOP\n");
            const bool seen_10 = co_await peer.wait_for_output("250 NOOP", 10s);
            EXPECT_TRUE(seen_10) << peer.output();
            EXPECT_NE(peer.output().find("Verify return code: 0"), std::string::npos);
        }
        child client({client_path, where, "--ca", cert("ca.pem"), "--name", "localhost"});
        const int status_2 = co_await client.wait_exit(10s);
        EXPECT_EQ(status_2, 0) << client.output();
        EXPECT_NE(client.output().find("250 NOOP"), std::string::npos) << client.output();
        EXPECT_NE(client.output().find("upgraded: TLSv1.3"), std::string::npos) << client.output();
        // The wrong name is refused with a readable reason.
        child wrong({client_path, where, "--ca", cert("ca.pem"), "--name", "wrong.test"});
        const int status_3 = co_await wrong.wait_exit(10s);
        EXPECT_EQ(status_3, 1);
        EXPECT_NE(wrong.output().find("another host name"), std::string::npos) << wrong.output();
        server.signal(SIGTERM);
        const int status_4 = co_await server.wait_exit(10s);
        EXPECT_EQ(status_4, 0) << server.output();
    });
}

TEST(TlsExamples, TlsEchoServerAndHttpsGetAgainstOpenSsl) {
    REQUIRE_CERTS();
    const std::string echo_path = example_program("tls_echo_server");
    const std::string get_path = example_program("https_get");
    if (echo_path.empty() || get_path.empty()) GTEST_SKIP() << "examples not built";
    run_test([&]() -> task<void> {
        child echo({echo_path, "127.0.0.1:0", "--cert", cert("server.pem"), "--key", cert("server.key"), "--shards", "2"});
        const std::string where = co_await listening_address(echo);
        CO_ASSERT_TRUE(!where.empty());
        const auto port = static_cast<std::uint16_t>(std::stoi(where.substr(where.rfind(':') + 1)));
        auto conn = co_await tls::connect("localhost", port, client_context());
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("ping"));
        std::array<char, 4> buf;
        CO_ASSERT_OK(co_await conn->read_exact(std::as_writable_bytes(std::span{buf}), 5s));
        EXPECT_EQ(std::string_view(buf.data(), 4), "ping");
        (void)co_await conn->close(1s);
        echo.signal(SIGTERM);
        const int status_5 = co_await echo.wait_exit(10s);
        EXPECT_EQ(status_5, 0) << echo.output();

        // https_get against openssl s_server -WWW serving the certificate directory.
        const std::uint16_t www = free_port();
        child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(www), "-cert",
                      cert("server.pem"), "-key", cert("server.key"), "-WWW"},
                     cert_dir());
        CO_ASSERT_TRUE(co_await server.wait_for_output("ACCEPT", 10s));
        const std::string url = "https://localhost:" + std::to_string(www) + "/ca.pem";
        child get({get_path, url, "--ca", cert("ca.pem")});
        const int status_6 = co_await get.wait_exit(10s);
        EXPECT_EQ(status_6, 0) << get.output();
        EXPECT_NE(get.output().find("BEGIN CERTIFICATE"), std::string::npos) << get.output();
        child untrusted({get_path, url});  // the system CAs do not know the test CA
        const int status_7 = co_await untrusted.wait_exit(10s);
        EXPECT_EQ(status_7, 1);
        EXPECT_NE(untrusted.output().find("not signed by a trusted CA"), std::string::npos) << untrusted.output();
        child bad_args({get_path, "http://localhost/"});
        const int status_8 = co_await bad_args.wait_exit(10s);
        EXPECT_EQ(status_8, 2);
    });
}

}  // namespace

// Which cipher suite a default-config client negotiates with a default-config
// server: AES-GCM when AES runs in hardware (the tuned wolfSSL on a CPU with
// AES-NI), ChaCha20-Poly1305 otherwise (Debian's wolfSSL, or a CPU without
// AES-NI). The expectation is derived independently of src/tls/context.cpp:
// from how meson built this test (RINGLET_TEST_WOLFSSL_ASM: the tuned build
// was linked) and from this CPU's cpuid bits.
#include "tls_test_support.hpp"

#include <ringlet/core/when.hpp>

#include <array>
#include <optional>
#include <span>
#include <tuple>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

#ifndef RINGLET_TEST_WOLFSSL_ASM
#error "tests/tls/meson.build defines RINGLET_TEST_WOLFSSL_ASM (1: tuned wolfSSL, 0: system)"
#endif

namespace {

bool expect_aes_first() {
#if RINGLET_TEST_WOLFSSL_ASM && (defined(__x86_64__) || defined(__i386__))
    return (__builtin_cpu_is("intel") || __builtin_cpu_is("amd")) && __builtin_cpu_supports("aes") &&
           __builtin_cpu_supports("pclmul");
#else
    return false;
#endif
}

/// Both ends' handshakes on a fresh loopback pair: {client, server}.
task<std::tuple<result<tls::stream>, result<tls::stream>>> handshake_pair(tls::context server_ctx,
                                                                           tls::context client_ctx) {
    auto [c, s] = co_await tcp_pair();
    tls::client_handshake_options copts;
    copts.server_name = "localhost";
    copts.handshake_timeout = 5s;
    tls::server_handshake_options sopts;
    sopts.handshake_timeout = 5s;
    co_return co_await when_all(tls::client_handshake(std::move(c), client_ctx, copts),
                                tls::server_handshake(std::move(s), server_ctx, sopts));
}

/// Handshakes a fresh loopback pair; yields the cipher both ends agreed on
/// ("" and a test failure when the handshake or the agreement fails).
task<std::string> negotiate(tls::context server_ctx, tls::context client_ctx) {
    auto both = co_await handshake_pair(std::move(server_ctx), std::move(client_ctx));
    auto& client = std::get<0>(both);
    auto& server = std::get<1>(both);
    if (!client || !server) {
        ADD_FAILURE() << "handshake: client " << (client ? "ok" : client.error().message()) << ", server "
                      << (server ? "ok" : server.error().message());
        co_return std::string{};
    }
    EXPECT_EQ(client->cipher(), server->cipher());
    co_return client->cipher();
}

tls::context client_with(std::string ciphers) {
    tls::client_options o;
    o.ca_file = cert("ca.pem");
    o.cipher_list = std::move(ciphers);
    return tls::context::client(o);
}

/// The cipher ringlet's default server agrees on with `openssl s_client`
/// run with `flags` (another implementation's default client); "" on failure.
task<std::string> cipher_with_openssl(std::vector<std::string> flags) {
    auto lst = tls::listen(loopback4(), server_context());
    if (!lst) {
        ADD_FAILURE() << "listen: " << lst.error().message();
        co_return std::string{};
    }
    std::vector<std::string> argv{"openssl", "s_client", "-connect",
                                  "127.0.0.1:" + std::to_string(lst->local_address()->port()), "-CAfile",
                                  cert("ca.pem"), "-verify_return_error"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    child peer(argv);
    if (!peer.started()) {
        ADD_FAILURE() << "openssl s_client did not start";
        co_return std::string{};
    }
    auto conn = co_await lst->accept(10s);
    if (!conn) {
        ADD_FAILURE() << "accept: " << conn.error().message() << "; s_client: " << peer.output();
        co_return std::string{};
    }
    std::string cipher = conn->cipher();
    peer.close_stdin();  // s_client sends close_notify and exits
    std::array<char, 64> buf;
    (void)co_await conn->read_some(std::as_writable_bytes(std::span{buf}), 10s);
    (void)co_await conn->close(1s);
    const int status = co_await peer.wait_exit(5s);
    EXPECT_EQ(status, 0) << peer.output();
    (void)co_await lst->close();
    co_return cipher;
}

}  // namespace

TEST(TlsCipherPreference, Tls13DefaultClientGetsTheFastCipher) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        const std::string cipher = co_await negotiate(server_context(), client_context());
        EXPECT_EQ(cipher, expect_aes_first() ? "TLS13-AES128-GCM-SHA256" : "TLS13-CHACHA20-POLY1305-SHA256")
            << "AES in hardware expected: " << expect_aes_first();
    });
}

// OpenSSL's default client lists AES-256-GCM first (TLS 1.3: then ChaCha20,
// then AES-128-GCM; TLS 1.2: ECDHE-ECDSA-AES256-GCM, then ChaCha20): getting
// AES-128-GCM or ChaCha20 shows the server's order deciding.
TEST(TlsCipherPreference, OpenSslDefaultClientGetsTheFastCipher) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        const std::string want13 = expect_aes_first() ? "TLS13-AES128-GCM-SHA256" : "TLS13-CHACHA20-POLY1305-SHA256";
        // (named vectors: GCC 12 cannot co_await a call with an initializer_list argument)
        std::vector<std::string> v13{"-tls1_3"}, v12{"-tls1_2"};
        const std::string tls13 = co_await cipher_with_openssl(v13);
        EXPECT_EQ(tls13, want13);
        const std::string tls12 = co_await cipher_with_openssl(v12);
        if (expect_aes_first()) {
            // wolfSSL's TLS 1.2 list has AES-256-GCM first for ECDSA keys: any AES-GCM is the fast cipher.
            EXPECT_TRUE(tls12.starts_with("ECDHE-ECDSA-AES") && tls12.find("-GCM-") != std::string::npos) << tls12;
        } else {
            EXPECT_EQ(tls12, "ECDHE-ECDSA-CHACHA20-POLY1305");
        }
    });
}

TEST(TlsCipherPreference, ReorderingKeepsEveryDefaultSuite) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        // Clients that offer one suite of wolfSSL's default list still connect.
        for (const char* only : {"TLS13-AES256-GCM-SHA384", "TLS13-AES128-GCM-SHA256"}) {
            const std::string cipher = co_await negotiate(server_context(), client_with(only));
            EXPECT_EQ(cipher, only);
        }
        for (const char* only : {"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA256"}) {
            std::vector<std::string> flags{"-tls1_2", "-cipher", only};
            const std::string cipher = co_await cipher_with_openssl(flags);
            EXPECT_EQ(cipher, only);
        }
    });
}

TEST(TlsCipherPreference, ExplicitServerListIsKept) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        for (const char* first : {"TLS13-AES256-GCM-SHA384", "TLS13-CHACHA20-POLY1305-SHA256"}) {
            tls::server_options o;
            o.certificate_chain_file = cert("server.pem");
            o.private_key_file = cert("server.key");
            o.cipher_list = std::string(first) + ":TLS13-AES128-GCM-SHA256:TLS13-CHACHA20-POLY1305-SHA256";
            const std::string cipher = co_await negotiate(tls::context::server(o), client_context());
            EXPECT_EQ(cipher, first);
        }
    });
}

// wolfSSL's distro build enables TLS 1.3's integrity-only suites; a default
// server must refuse a client that offers only those, not talk in plaintext.
TEST(TlsCipherPreference, DefaultServerRefusesSuitesThatDoNotEncrypt) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        for (const char* only : {"TLS13-SHA256-SHA256", "TLS13-SHA384-SHA384"}) {
            tls::client_options o;
            o.ca_file = cert("ca.pem");
            o.cipher_list = only;
            std::optional<tls::context> client;
            try {
                client.emplace(tls::context::client(o));
            } catch (const std::exception& e) {
                continue;  // this wolfSSL has no such suite at all: nothing to refuse
            }
            auto both = co_await handshake_pair(server_context(), *client);
            EXPECT_FALSE(std::get<0>(both)) << only << " was agreed on";
            EXPECT_FALSE(std::get<1>(both)) << only << " was agreed on";
        }
    });
}

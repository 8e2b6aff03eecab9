// TLS pitfalls ringlet handles that no other test proves (README "Pitfalls"
// lists them all): wolfSSL asking for more bytes (WANT_READ) in the middle of
// every handshake message and record, and GCC 12's handling of a braced
// options temporary inside a co_await expression.
#include "tls_test_support.hpp"

#include <ringlet/core/task_group.hpp>
#include <ringlet/core/when.hpp>

#include <array>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

// context::client / context::server take named options only (a temporary is
// a deleted overload): GCC 12 builds a braced temporary of a struct with
// std::string members in one place, passes another and destroys both when it
// stands inside a co_await expression — free(): invalid pointer.
template <class Options>
concept client_takes_temporary = requires { tls::context::client(Options{}); };
template <class Options>
concept server_takes_temporary = requires { tls::context::server(Options{}); };
template <class Options>
concept client_takes_named = requires(const Options& o) { tls::context::client(o); };
template <class Options>
concept server_takes_named = requires(const Options& o) { tls::context::server(o); };
static_assert(!client_takes_temporary<tls::client_options>);
static_assert(!server_takes_temporary<tls::server_options>);
static_assert(client_takes_named<tls::client_options>);
static_assert(server_takes_named<tls::server_options>);

namespace {

/// Copies `from` to `to` one byte per write (TCP_NODELAY: one segment each),
/// then half-closes `to`.
task<void> relay_bytewise(net::stream& from, net::stream& to, std::size_t& relayed) {
    std::array<char, 1> byte{};
    for (;;) {
        auto n = co_await from.read_some(byte, 10s);
        if (!n || *n == 0) break;
        auto w = co_await to.write_all(std::string_view{byte.data(), 1}, 10s);
        if (!w) break;
        ++relayed;
    }
    (void)co_await to.shutdown(net::shutdown_how::write);
}

}  // namespace

// Every handshake message and every record reaches the other side one byte
// at a time, so wolfSSL reports WANT_READ in the middle of each; the stream
// must read more and retry (and never spin or give up) until the record is
// whole. 4 KiB each way, compared byte for byte.
TEST(TlsPitfalls, HandshakeAndRecordsArrivingOneByteAtATime) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [client_end, relay_a] = co_await tcp_pair();
        auto [relay_b, server_end] = co_await tcp_pair();
        CO_ASSERT_OK(relay_a.set_nodelay(true));
        CO_ASSERT_OK(relay_b.set_nodelay(true));
        std::size_t up = 0;
        std::size_t down = 0;
        task_group relays;
        relays.spawn(relay_bytewise(relay_a, relay_b, up));
        relays.spawn(relay_bytewise(relay_b, relay_a, down));

        tls::client_options client_options;
        client_options.ca_file = cert("ca.pem");
        const tls::client_handshake_options copts{.server_name = "localhost", .handshake_timeout = 20s};
        auto both = co_await when_all(
            tls::client_handshake(std::move(client_end), tls::context::client(client_options), copts),
            tls::server_handshake(std::move(server_end), server_context(), {.handshake_timeout = 20s}));
        auto& client = std::get<0>(both);
        auto& server = std::get<1>(both);
        CO_ASSERT_OK(client);
        CO_ASSERT_OK(server);
        EXPECT_GT(up, 200u);    // the ClientHello alone, byte by byte
        EXPECT_GT(down, 500u);  // the server's flight with its certificate

        std::string data(4 * 1024, '\0');
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
        CO_ASSERT_OK(co_await client->write_all(data, 20s));
        std::string got(data.size(), '\0');
        CO_ASSERT_OK(co_await server->read_exact(as_writable(got), 20s));
        EXPECT_TRUE(got == data);
        CO_ASSERT_OK(co_await server->write_all(got, 20s));
        std::string back(data.size(), '\0');
        CO_ASSERT_OK(co_await client->read_exact(as_writable(back), 20s));
        EXPECT_TRUE(back == data);

        auto closed = co_await when_all(client->shutdown(10s), server->shutdown(10s));
        EXPECT_TRUE(std::get<0>(closed));
        EXPECT_TRUE(std::get<1>(closed));
        co_await relays.wait();
        CO_ASSERT_OK(co_await relay_a.close());
        CO_ASSERT_OK(co_await relay_b.close());
    });
}

// A context made inside the co_await expression that uses it, from named
// options — the form that works under GCC 12 (the braced-temporary form does
// not compile; see the static_asserts above). Runs under GCC in tools/test.
TEST(TlsPitfalls, ContextFromNamedOptionsInsideACoAwaitExpression) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto [c, s] = co_await tcp_pair();
        tls::client_options named;
        named.ca_file = cert("ca.pem");
        named.alpn = {"first-protocol-name-long-enough-to-live-on-the-heap", "http/1.1"};
        tls::server_options server_named;
        server_named.certificate_chain_file = cert("server.pem");
        server_named.private_key_file = cert("server.key");
        server_named.alpn = {"http/1.1"};
        auto both = co_await when_all(
            tls::client_handshake(std::move(c), tls::context::client(named), {.server_name = "localhost"}),
            tls::server_handshake(std::move(s), tls::context::server(server_named)));
        CO_ASSERT_OK(std::get<0>(both));
        CO_ASSERT_OK(std::get<1>(both));
        EXPECT_EQ(std::get<0>(both)->alpn(), "http/1.1");
        EXPECT_EQ(named.alpn.size(), 2u);  // the named options are intact after the expression
        EXPECT_EQ(named.ca_file, cert("ca.pem"));
        auto defaults = tls::context::client();  // every default, no options object at all
        EXPECT_TRUE(defaults.valid());
        EXPECT_FALSE(defaults.is_server());
    });
}

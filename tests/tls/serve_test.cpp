// tls::serve's defaults: a per-shard cap on handshakes in flight (stalled
// handshakes cannot pile up wolfSSL state) and the connection limits.
#include "tls_test_support.hpp"

#include <ringlet/core/task_group.hpp>
#include <ringlet/tls/listener.hpp>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

task<void> echo_once(tls::stream conn) {
    std::array<char, 256> buf;
    auto n = co_await conn.read_some(std::span<char>{buf}, 2s);
    if (n && *n > 0) (void)co_await conn.write_all(std::string_view{buf.data(), *n}, 2s);
    (void)co_await conn.close(1s);
}

}  // namespace

// One stalled handshake (a TCP client that sends nothing) fills a cap of
// one: the next connection is reset at once. After the handshake timeout the
// stalled connection is closed and a real client is served.
TEST(TlsServe, HandshakeCapResetsAndTheTimeoutFreesThePlace) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto lst = tls::listen(loopback4(), server_context(), {}, {.handshake_timeout = 400ms});
        CO_ASSERT_OK(lst);
        const auto where = lst->local_address();
        CO_ASSERT_OK(where);
        task_group server;
        server.spawn([](tls::listener& l) -> task<void> {
            (void)co_await tls::serve(l, &echo_once, {.max_handshakes = 1});
        }(*lst));

        auto stalled = co_await tcp::connect(*where, {.timeout = 2s});
        CO_ASSERT_OK(stalled);
        (void)co_await sleep_for(50ms);  // accepted: its handshake waits for a ClientHello
        auto over = co_await tcp::connect(*where, {.timeout = 2s});
        CO_ASSERT_OK(over);
        char byte;
        auto refused = co_await over->read_some(std::span{&byte, 1}, 2s);
        EXPECT_FALSE(refused);
        if (!refused) { EXPECT_EQ(refused.error(), std::errc::connection_reset); }

        // The handshake timeout closes the stalled one (a FIN or, with an
        // alert unsent, a reset: either ends it).
        const auto start = clock::now();
        auto ended = co_await stalled->read_some(std::span{&byte, 1}, 3s);
        EXPECT_TRUE(!ended || *ended == 0);
        EXPECT_LT(clock::now() - start, 2s);

        tls::client_handshake_options copts;
        copts.server_name = "localhost";
        copts.handshake_timeout = 2s;
        auto tcp_conn = co_await tcp::connect(*where, {.timeout = 2s});
        CO_ASSERT_OK(tcp_conn);
        auto conn = co_await tls::client_handshake(std::move(*tcp_conn), client_context(), copts);
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("after the cap", 2s));
        std::string back(13, '\0');
        CO_ASSERT_OK(co_await conn->read_exact(std::as_writable_bytes(std::span{back}), 2s));
        EXPECT_EQ(back, "after the cap");
        (void)co_await conn->close(1s);
        server.request_stop();
        co_await server.wait();
    });
}

// The connection limits reach the TLS stream: a client that completes the
// handshake and then says nothing is closed after the idle timeout.
TEST(TlsServe, IdleTlsConnectionIsClosed) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        auto lst = tls::listen(loopback4(), server_context());
        CO_ASSERT_OK(lst);
        const auto where = lst->local_address();
        CO_ASSERT_OK(where);
        std::error_code seen;
        task_group server;
        auto handler = [&seen](tls::stream conn) -> task<void> {
            std::array<char, 64> buf;
            auto n = co_await conn.read_some(std::span<char>{buf});  // no limit of its own
            if (!n) seen = n.error();
            (void)co_await conn.close(100ms);
        };
        server.spawn([](tls::listener& l, decltype(handler)& h) -> task<void> {
            (void)co_await tls::serve(l, h, {.limits = {.idle_timeout = 300ms}});
        }(*lst, handler));
        tls::client_handshake_options copts;
        copts.server_name = "localhost";
        copts.handshake_timeout = 2s;
        auto tcp_conn = co_await tcp::connect(*where, {.timeout = 2s});
        CO_ASSERT_OK(tcp_conn);
        auto conn = co_await tls::client_handshake(std::move(*tcp_conn), client_context(), copts);
        CO_ASSERT_OK(conn);
        std::array<char, 16> buf;
        auto end = co_await conn->read_some(std::span<char>{buf}, 3s);  // close_notify: 0
        EXPECT_TRUE(!end || *end == 0);
        EXPECT_EQ(seen, errc::timed_out);
        server.request_stop();
        co_await server.wait();
    });
}

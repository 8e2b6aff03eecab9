// http::server in-process, with options the example does not expose: short
// timeouts, the connection cap, streamed (chunked) responses, a handler that
// throws, and pipelined answers in order. The client suites against
// examples/http_server are in server_clients.py.
#include "../net/stream_test_support.hpp"

#include <ringlet/http/client.hpp>
#include <ringlet/http/server.hpp>

using namespace ringlet;
using ringlet::test::quiet_runtime;

namespace {

using namespace std::chrono_literals;

task<void> test_handler(http::request& req, http::response& res) {
    if (req.path() == "/stream") {
        res.add_header("Content-Type", "text/plain");
        for (int i = 0; i < 3; ++i) {
            auto sent = co_await res.write_chunk("part" + std::to_string(i) + ";");
            if (!sent) co_return;
        }
        co_return;  // the server ends the chunked body
    }
    if (req.path() == "/throw") throw std::runtime_error("handler failed");
    if (req.path() == "/sum") {
        std::size_t total = 0;
        std::byte piece[100];
        for (;;) {
            auto n = co_await req.read_body_some(piece);
            if (!n) co_return;
            if (*n == 0) break;
            total += *n;
        }
        res.set_body(std::to_string(total));
        co_return;
    }
    res.set_body(std::string(req.target()));
}

/// Binds a server with `options` on 127.0.0.1:0, runs `body(address)`, then stops the server.
template <class Body>
void with_server(http::server_options options, Body body) {
    runtime rt{quiet_runtime()};
    rt.run([&]() -> task<void> {
        auto server = http::server::bind(test::loopback4(), options);
        CO_ASSERT_OK(server);
        task_group serving;
        serving.spawn(server->serve(test_handler));
        std::exception_ptr failed;
        try {
            co_await body(server->local_address());
        } catch (...) {
            failed = std::current_exception();
        }
        serving.request_stop();
        co_await serving.wait();
        if (failed) std::rethrow_exception(failed);
    });
}

/// True when the peer closes `conn` within `limit` (reads end of stream or a reset).
task<bool> closed_within(tcp::stream& conn, std::chrono::milliseconds limit) {
    char sink[256];
    for (;;) {
        auto n = co_await conn.read_some(std::span<char>{sink}, limit);
        if (!n) co_return n.error() != errc::timed_out;
        if (*n == 0) co_return true;
    }
}

TEST(HttpServer, PipelinedRequestsAnsweredInOrder) {
    with_server({}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        std::string batch;
        for (int i = 0; i < 16; ++i) batch += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
        CO_ASSERT_OK(co_await conn->write_all(batch));
        http::response_reader<tcp::stream> in{*conn};
        for (int i = 0; i < 16; ++i) {
            auto head = co_await in.read_head(false, 5s);
            CO_ASSERT_OK(head);
            EXPECT_EQ((*head)->status(), 200);
            EXPECT_TRUE((*head)->header("Date").has_value());
            auto body = co_await in.read_body(100, 5s);
            CO_ASSERT_OK(body);
            EXPECT_EQ(*body, "/r" + std::to_string(i));
        }
    });
}

TEST(HttpServer, StreamsChunkedBodiesAndHeadGetsNone) {
    with_server({}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("GET /stream HTTP/1.1\r\nHost: t\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n"
                                              "GET /after HTTP/1.1\r\nHost: t\r\n\r\n"));
        http::response_reader<tcp::stream> in{*conn};
        auto head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->framing(), http::body_framing::chunked);
        auto body = co_await in.read_body(100, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "part0;part1;part2;");
        head = co_await in.read_head(true, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->header("Transfer-Encoding"), "chunked");
        head = co_await in.read_head(false, 5s);  // right after the HEAD response's head: no body between
        CO_ASSERT_OK(head);
        body = co_await in.read_body(100, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "/after");
    });
}

TEST(HttpServer, ChunkedRequestBodyReadInSmallPieces) {
    with_server({}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        std::string req = "POST /sum HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        CO_ASSERT_OK(co_await conn->write_all(req));
        for (int i = 0; i < 5; ++i) {  // chunk by chunk, each in its own segment
            (void)co_await sleep_for(5ms);
            CO_ASSERT_OK(co_await conn->write_all("fa\r\n" + std::string(250, 'x') + "\r\n"));
        }
        CO_ASSERT_OK(co_await conn->write_all("0\r\n\r\n"));
        http::response_reader<tcp::stream> in{*conn};
        CO_ASSERT_OK(co_await in.read_head(false, 5s));
        auto body = co_await in.read_body(100, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "1250");
    });
}

TEST(HttpServer, HandlerThatThrowsGets500AndClose) {
    with_server({}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n"));
        http::response_reader<tcp::stream> in{*conn};
        auto head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 500);
        EXPECT_EQ((*head)->header("Connection"), "close");
        CO_ASSERT_OK(co_await in.read_body(100, 5s));
        EXPECT_TRUE(co_await closed_within(*conn, 5000ms));
    });
}

TEST(HttpServer, KeepaliveTimeoutClosesIdleConnections) {
    with_server({.keepalive_timeout = 200ms}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("GET /one HTTP/1.1\r\nHost: t\r\n\r\n"));
        http::response_reader<tcp::stream> in{*conn};
        CO_ASSERT_OK(co_await in.read_head(false, 5s));
        CO_ASSERT_OK(co_await in.read_body(100, 5s));
        const auto start = clock::now();
        EXPECT_TRUE(co_await closed_within(*conn, 5000ms));
        EXPECT_GE(clock::now() - start, 150ms);
    });
}

// A graceful stop (drain) ends an idle keep-alive connection at once rather
// than at the drain timeout, while a request in progress gets its whole
// response, marked "Connection: close".
TEST(HttpServer, GracefulStopEndsIdleConnectionsAndFinishesRequests) {
    runtime_options o = quiet_runtime();
    o.drain_timeout = 10s;
    runtime rt{o};
    const std::string big = [] {
        std::string b(100'000, '\0');
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
        return b;
    }();
    rt.run([&]() -> task<void> {
        auto server = http::server::bind(test::loopback4(), {});
        CO_ASSERT_OK(server);
        const net::address where = server->local_address();
        http::handler handler = [&big](http::request& req, http::response& res) -> task<void> {
            if (req.path() == "/slow") {
                (void)co_await sleep_for(400ms);  // in progress when the drain begins
                res.set_body(big);
                co_return;
            }
            res.set_body("fast");
        };
        task_group serving;
        serving.spawn(server->serve(handler));

        auto idle = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(idle);
        CO_ASSERT_OK(co_await idle->write_all("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"));
        http::response_reader<tcp::stream> idle_in{*idle};
        CO_ASSERT_OK(co_await idle_in.read_head(false, 5s));
        auto fast = co_await idle_in.read_body(100, 5s);
        CO_ASSERT_OK(fast);
        EXPECT_EQ(*fast, "fast");

        auto busy = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(busy);
        CO_ASSERT_OK(co_await busy->write_all("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
        (void)co_await sleep_for(100ms);
        const auto stop_at = clock::now();
        rt.request_stop();  // graceful: the drain begins

        EXPECT_TRUE(co_await closed_within(*idle, 3000ms));
        EXPECT_LT(clock::now() - stop_at, 1s) << "the idle connection waited for the drain timeout";
        http::response_reader<tcp::stream> busy_in{*busy};
        auto head = co_await busy_in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 200);
        EXPECT_EQ((*head)->header("Connection"), "close");
        auto body = co_await busy_in.read_body(200'000, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, big);
        EXPECT_TRUE(co_await closed_within(*busy, 3000ms));
        co_await serving.wait();  // every connection has ended: serve() returns
        EXPECT_LT(clock::now() - stop_at, 3s) << "drain_timeout is 10 s";
    });
}

TEST(HttpServer, HeaderTimeoutClosesSlowHeads) {
    with_server({.header_timeout = 200ms}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("GET /slow HTTP/1.1\r\nHost: t\r\n"));  // never finished
        const auto start = clock::now();
        EXPECT_TRUE(co_await closed_within(*conn, 5000ms));
        EXPECT_LT(clock::now() - start, 3s);
    });
}

TEST(HttpServer, BodyTimeoutEndsAStalledBody) {
    with_server({.body_timeout = 200ms}, [](net::address where) -> task<void> {
        auto conn = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(conn);
        CO_ASSERT_OK(co_await conn->write_all("POST /sum HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part"));
        http::response_reader<tcp::stream> in{*conn};
        auto head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 400);
        EXPECT_TRUE(co_await closed_within(*conn, 5000ms));
    });
}

TEST(HttpServer, ConnectionCapClosesTheExtraConnection) {
    with_server({.max_connections = 1}, [](net::address where) -> task<void> {
        auto first = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(first);
        CO_ASSERT_OK(co_await first->write_all("GET /a HTTP/1.1\r\nHost: t\r\n\r\n"));
        http::response_reader<tcp::stream> in{*first};
        CO_ASSERT_OK(co_await in.read_head(false, 5s));  // the first is being served
        auto second = co_await tcp::connect(where, {.timeout = 5s});
        CO_ASSERT_OK(second);
        EXPECT_TRUE(co_await closed_within(*second, 5000ms));
        CO_ASSERT_OK(co_await in.read_body(100, 5s));
        CO_ASSERT_OK(co_await first->write_all("GET /b HTTP/1.1\r\nHost: t\r\n\r\n"));
        auto head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 200);
    });
}

}  // namespace

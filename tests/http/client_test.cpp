// http::response_reader over a real TCP connection: interim responses,
// Content-Length, chunked and to-close bodies back to back on one
// connection, and the errors for malformed and cut-short responses.
#include "../net/stream_test_support.hpp"

#include <ringlet/http/client.hpp>

using namespace ringlet;
using ringlet::test::quiet_runtime;

namespace {

using namespace std::chrono_literals;

TEST(ResponseReader, ReadsPipelinedResponsesOfEveryFraming) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, server] = co_await test::tcp_pair();
        const std::string wire =
            "HTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3;x=y\r\ndef\r\n0\r\nT: 1\r\n\r\n"
            "HTTP/1.1 204 No Content\r\n\r\n"
            "HTTP/1.0 200 OK\r\n\r\nto the end";
        CO_ASSERT_OK(co_await server.write_all(wire));
        CO_ASSERT_OK(co_await server.shutdown(net::shutdown_how::write));
        http::response_reader<tcp::stream> in{client, {}, 7};  // small reads: heads span several
        auto head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 200);
        auto body = co_await in.read_body(1024, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "hello");
        head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 201);
        EXPECT_EQ((*head)->reason(), "Created");
        body = co_await in.read_body(1024, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "abcdef");
        head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->status(), 204);
        body = co_await in.read_body(1024, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "");
        head = co_await in.read_head(false, 5s);
        CO_ASSERT_OK(head);
        EXPECT_EQ((*head)->framing(), http::body_framing::until_close);
        EXPECT_FALSE((*head)->keep_alive());
        body = co_await in.read_body(1024, 5s);
        CO_ASSERT_OK(body);
        EXPECT_EQ(*body, "to the end");
        auto after = co_await in.read_head(false, 5s);
        EXPECT_EQ(after.error(), errc::end_of_stream);
    });
}

TEST(ResponseReader, MalformedAndCutShort) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        {
            auto [client, server] = co_await test::tcp_pair();
            CO_ASSERT_OK(co_await server.write_all("HTTP/1.1 2x0 OK\r\n\r\n"));
            http::response_reader<tcp::stream> in{client};
            auto head = co_await in.read_head(false, 5s);
            CO_ASSERT_FALSE(head);
            EXPECT_EQ(head.error(), std::errc::bad_message);
            EXPECT_EQ(in.last_error_reason(), "malformed status code");
        }
        {
            auto [client, server] = co_await test::tcp_pair();
            CO_ASSERT_OK(co_await server.write_all("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
            CO_ASSERT_OK(co_await server.shutdown(net::shutdown_how::write));
            http::response_reader<tcp::stream> in{client};
            CO_ASSERT_OK(co_await in.read_head(false, 5s));
            auto body = co_await in.read_body(1024, 5s);
            CO_ASSERT_FALSE(body);
            EXPECT_EQ(body.error(), errc::end_of_stream);
        }
        {
            auto [client, server] = co_await test::tcp_pair();
            CO_ASSERT_OK(co_await server.write_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
            http::response_reader<tcp::stream> in{client};
            CO_ASSERT_OK(co_await in.read_head(false, 5s));
            auto body = co_await in.read_body(1024, 5s);
            CO_ASSERT_FALSE(body);
            EXPECT_EQ(body.error(), std::errc::bad_message);
        }
        {
            auto [client, server] = co_await test::tcp_pair();
            CO_ASSERT_OK(co_await server.write_all("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"));
            http::response_reader<tcp::stream> in{client};
            CO_ASSERT_OK(co_await in.read_head(true, 5s));  // the answer to HEAD: no body whatever it says
            auto body = co_await in.read_body(1024, 5s);
            CO_ASSERT_OK(body);
            EXPECT_EQ(*body, "");
            EXPECT_EQ(std::string_view(in.buffered().data(), in.buffered().size()), "abc");
        }
        {
            auto [client, server] = co_await test::tcp_pair();
            http::response_reader<tcp::stream> in{client};
            auto head = co_await in.read_head(false, 100ms);
            CO_ASSERT_FALSE(head);
            EXPECT_EQ(head.error(), errc::timed_out);
        }
    });
}

}  // namespace

// net::stream operations behave the same over every kind of connected
// stream: TCP on 127.0.0.1 and ::1, unix paths, abstract names, socketpairs.
#include "stream_test_support.hpp"

#include <sys/socket.h>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;

namespace {

enum class kind { tcp4, tcp6, unix_path, unix_abstract, unix_pair };

std::string name_of(const testing::TestParamInfo<kind>& info) {
    switch (info.param) {
        case kind::tcp4: return "tcp4";
        case kind::tcp6: return "tcp6";
        case kind::unix_path: return "unix_path";
        case kind::unix_abstract: return "unix_abstract";
        case kind::unix_pair: return "unix_pair";
    }
    return "unknown";
}

/// A connected pair {a, b} of the given kind, sliced to net::stream.
task<std::pair<net::stream, net::stream>> make_pair(kind k) {
    using pair = std::pair<net::stream, net::stream>;
    if (k == kind::unix_pair) {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        co_return pair{std::move(p->first), std::move(p->second)};
    }
    if (k == kind::tcp4 || k == kind::tcp6) {
        const auto where = k == kind::tcp4 ? net::address::ipv4_loopback(0) : net::address::ipv6_loopback(0);
        auto lst = tcp::listen(where);
        CO_ASSERT_OK(lst);
        auto c = co_await tcp::connect(*lst->local_address(), {.timeout = 2s});
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        co_return pair{std::move(*c), std::move(*s)};
    }
    const auto where = k == kind::unix_path ? net::address::unix_path(ringlet::test::temp_socket_path("stream")).value()
                                            : net::address::abstract(ringlet::test::unique_name("stream")).value();
    auto lst = local::listen(where);
    CO_ASSERT_OK(lst);
    auto c = co_await local::connect(where, {.timeout = 2s});
    CO_ASSERT_OK(c);
    auto s = co_await lst->accept(2s);
    CO_ASSERT_OK(s);
    co_return pair{std::move(*c), std::move(*s)};
}

class Stream : public testing::TestWithParam<kind> {
protected:
    void SetUp() override {
        if (GetParam() != kind::tcp6) return;
        auto probe = net::socket::open(AF_INET6, SOCK_STREAM);
        if (!probe || !probe->bind(net::address::ipv6_loopback(0))) GTEST_SKIP() << "no IPv6 on ::1 here";
    }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Kinds, Stream,
                         testing::Values(kind::tcp4, kind::tcp6, kind::unix_path, kind::unix_abstract,
                                         kind::unix_pair),
                         name_of);

TEST_P(Stream, HalfCloseReadToEndAndAnswer) {
    runtime rt{quiet_runtime()};
    rt.run([k = GetParam()]() -> task<void> {
        auto [a, b] = co_await make_pair(k);
        CO_ASSERT_OK(co_await a.write_all("request"));
        CO_ASSERT_OK(co_await a.shutdown(net::shutdown_how::write));
        auto all = co_await b.read_to_end(64, 2s);
        CO_ASSERT_OK(all);
        EXPECT_EQ(*all, "request");
        CO_ASSERT_OK(co_await b.write_all("response"));
        CO_ASSERT_OK(co_await b.close());
        auto reply = co_await a.read_to_end(64, 2s);
        CO_ASSERT_OK(reply);
        EXPECT_EQ(*reply, "response");
    });
}

TEST_P(Stream, ReadExactEndsWithEndOfStreamWhenThePeerStopsShort) {
    runtime rt{quiet_runtime()};
    rt.run([k = GetParam()]() -> task<void> {
        auto [a, b] = co_await make_pair(k);
        CO_ASSERT_OK(co_await a.write_all("12345"));
        CO_ASSERT_OK(co_await a.close());
        char five[5];
        CO_ASSERT_OK(co_await b.read_exact(five, 2s));
        EXPECT_EQ(std::string_view(five, 5), "12345");
        auto more = co_await b.read_exact(five, 2s);
        CO_ASSERT_FALSE(more);
        EXPECT_EQ(more.error(), errc::end_of_stream);
    });
}

TEST_P(Stream, DeadlinesAndTimeoutsAreTimedOutAndCancellationIsNot) {
    runtime rt{quiet_runtime()};
    rt.run([k = GetParam()]() -> task<void> {
        auto [a, b] = co_await make_pair(k);
        char c;
        b.set_read_deadline(20ms);
        auto by_deadline = co_await b.read_some(std::span{&c, 1});
        CO_ASSERT_FALSE(by_deadline);
        EXPECT_EQ(by_deadline.error(), errc::timed_out);
        b.set_read_deadline(timeout::none());
        auto by_timeout = co_await b.read_some(std::span{&c, 1}, 10ms);
        CO_ASSERT_FALSE(by_timeout);
        EXPECT_EQ(by_timeout.error(), errc::timed_out);

        task_group group;
        result<std::size_t> stopped = 0;
        group.spawn([](net::stream& s, result<std::size_t>& out) -> task<void> {
            char x;
            out = co_await s.read_some(std::span{&x, 1}, 1h);
        }(b, stopped));
        co_await yield();
        group.request_stop();
        co_await group.wait();
        CO_ASSERT_FALSE(stopped);
        EXPECT_EQ(stopped.error(), errc::operation_canceled);

        CO_ASSERT_OK(co_await a.write_all("!"));  // the stream is still usable
        auto ok = co_await b.read_some(std::span{&c, 1}, 2s);
        CO_ASSERT_OK(ok);
        EXPECT_EQ(c, '!');
    });
}

TEST_P(Stream, VectoredWritesAndBufferedLines) {
    runtime rt{quiet_runtime()};
    rt.run([k = GetParam()]() -> task<void> {
        auto [a, b] = co_await make_pair(k);
        const std::string tail = "third\r\nrest";
        const net::const_buffer parts[] = {std::string_view("first\nsec"), std::string_view("ond\n"), tail};
        CO_ASSERT_OK(co_await a.write_vectored(parts, 2s));
        CO_ASSERT_OK(co_await a.shutdown(net::shutdown_how::write));
        net::buffered_reader in{b};
        static constexpr std::string_view wanted[] = {"first", "second", "third", "rest"};
        for (std::string_view want : wanted) {
            auto line = co_await in.read_line(64, 2s);
            CO_ASSERT_OK(line);
            EXPECT_EQ(*line, want);
        }
        auto end = co_await in.read_line(64, 2s);
        CO_ASSERT_FALSE(end);
        EXPECT_EQ(end.error(), errc::end_of_stream);
    });
}

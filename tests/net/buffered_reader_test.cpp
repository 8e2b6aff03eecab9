// net::buffered_reader: delimited reads that keep the bytes past the
// delimiter, maximum lengths that consume nothing, EOF handling, and mixing
// line and binary reads.
#include "stream_test_support.hpp"

#include <random>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::as_bytes;
using ringlet::test::quiet_runtime;

namespace {

std::string text(std::span<const std::byte> bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

}  // namespace

TEST(BufferedReader, ReadLineKeepsTheBytesPastTheDelimiter) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [out, in] = *p;
        CO_ASSERT_OK(co_await out.write_all("first\nsecond\r\nthird and binary:"));  // one segment
        net::buffered_reader reader{in};
        auto a = co_await reader.read_line(100, 2s);
        CO_ASSERT_OK(a);
        EXPECT_EQ(*a, "first");
        EXPECT_EQ(text(reader.buffered()), "second\r\nthird and binary:");
        auto b = co_await reader.read_line(100, 2s);
        CO_ASSERT_OK(b);
        EXPECT_EQ(*b, "second");  // "\r\n" stripped
        auto until = co_await reader.read_until(":", 100, 2s);
        CO_ASSERT_OK(until);
        EXPECT_EQ(*until, "third and binary:");  // read_until keeps the delimiter

        CO_ASSERT_OK(co_await out.write_all("XYZW-tail"));
        std::byte raw[4];
        CO_ASSERT_OK(co_await reader.read_exact(raw, 2s));
        EXPECT_EQ(text(raw), "XYZW");
        std::byte rest[16];
        auto n = co_await reader.read_some(rest, 2s);
        CO_ASSERT_OK(n);
        EXPECT_EQ(text(std::span{rest}.first(*n)), "-tail");
    });
}

TEST(BufferedReader, DelimiterSplitAcrossReadsIsFound) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [out, in] = *p;
        net::buffered_reader reader{in, 3};  // tiny reads: the delimiter straddles them
        task_group group;
        group.spawn([](local::stream& s) -> task<void> {
            static constexpr std::string_view pieces[] = {"GET / HTTP/1.1\r", "\nHost: x\r\n\r", "\nbody"};
            for (std::string_view piece : pieces) {
                CO_ASSERT_OK(co_await s.write_all(piece));
                (void)co_await sleep_for(2ms);
            }
        }(out));
        auto head = co_await reader.read_until("\r\n\r\n", 1024, 2s);
        CO_ASSERT_OK(head);
        EXPECT_EQ(*head, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        co_await group.wait();
        std::byte body[4];
        CO_ASSERT_OK(co_await reader.read_exact(body, 2s));
        EXPECT_EQ(text(body), "body");
    });
}

TEST(BufferedReader, OverLongLinesAreRejectedWithoutConsumingAnything) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [out, in] = *p;
        net::buffered_reader reader{in, 4};
        CO_ASSERT_OK(co_await out.write_all("0123456789\nnext\n"));
        auto too_long = co_await reader.read_line(10, 2s);  // 11 bytes with the newline
        CO_ASSERT_FALSE(too_long);
        EXPECT_EQ(too_long.error(), errc::message_too_long);
        EXPECT_TRUE(too_long.error() == std::errc::message_size);
        EXPECT_EQ(text(reader.buffered()).substr(0, 10), "0123456789");
        auto fits = co_await reader.read_line(11, 2s);  // the same line, now allowed
        CO_ASSERT_OK(fits);
        EXPECT_EQ(*fits, "0123456789");
        auto next = co_await reader.read_line(11, 2s);
        CO_ASSERT_OK(next);
        EXPECT_EQ(*next, "next");

        // A peer sending an endless line cannot make the buffer grow past the limit.
        CO_ASSERT_OK(co_await out.write_all(std::string(100'000, 'x')));
        net::buffered_reader big{in, 1024};
        auto endless = co_await big.read_until("\n", 4096, 2s);
        CO_ASSERT_FALSE(endless);
        EXPECT_EQ(endless.error(), errc::message_too_long);
        EXPECT_LE(big.buffered().size(), 4096u + 1024u);
        EXPECT_GE(big.buffered().size(), 4096u);
    });
}

TEST(BufferedReader, EndOfStreamHandling) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [out, in] = *p;
        CO_ASSERT_OK(co_await out.write_all("line\nunterminated"));
        CO_ASSERT_OK(co_await out.shutdown(net::shutdown_how::write));
        net::buffered_reader reader{in};
        auto until = co_await reader.read_until(";", 100, 2s);  // strict: no delimiter before EOF
        CO_ASSERT_FALSE(until);
        EXPECT_EQ(until.error(), errc::end_of_stream);
        EXPECT_EQ(text(reader.buffered()), "line\nunterminated");  // nothing consumed
        auto a = co_await reader.read_line(100, 2s);
        CO_ASSERT_OK(a);
        EXPECT_EQ(*a, "line");
        auto b = co_await reader.read_line(100, 2s);  // the last line, without its newline
        CO_ASSERT_OK(b);
        EXPECT_EQ(*b, "unterminated");
        auto c = co_await reader.read_line(100, 2s);
        CO_ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), errc::end_of_stream);
        auto empty_delim = co_await reader.read_until("", 100);
        CO_ASSERT_FALSE(empty_delim);
        EXPECT_EQ(empty_delim.error(), errc::invalid_argument);
    });
}

TEST(BufferedReader, ReadExactPutsPartialDataBackOnTimeout) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [out, in] = *p;
        net::buffered_reader reader{in, 2};
        CO_ASSERT_OK(co_await out.write_all("abc"));
        auto ab = co_await reader.read_until("b", 10, 2s);  // buffers "ab", leaves "c" in the socket or buffer
        CO_ASSERT_OK(ab);
        std::byte six[6];
        auto partial = co_await reader.read_exact(six, 30ms);
        CO_ASSERT_FALSE(partial);
        EXPECT_EQ(partial.error(), errc::timed_out);
        EXPECT_EQ(text(reader.buffered()), "c");  // what arrived is kept
        CO_ASSERT_OK(co_await out.write_all("defgh"));
        CO_ASSERT_OK(co_await reader.read_exact(six, 2s));
        EXPECT_EQ(text(six), "cdefgh");
    });
}

TEST(BufferedReader, ManyRandomlySplitLinesSurviveIntact) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [out, in] = *p;
        std::mt19937 rng{5};
        std::vector<std::string> lines;
        std::string wire;
        for (int i = 0; i < 2000; ++i) {
            std::string l(rng() % 120, static_cast<char>('a' + i % 26));
            wire += l + (i % 3 ? "\n" : "\r\n");
            lines.push_back(std::move(l));
        }
        auto writer = [](local::stream& s, const std::string& all, unsigned seed) -> task<void> {
            std::mt19937 r{seed};
            for (std::size_t at = 0; at < all.size();) {
                const std::size_t n = std::min<std::size_t>(1 + r() % 300, all.size() - at);
                CO_ASSERT_OK(co_await s.write_all(std::string_view(all).substr(at, n)));
                at += n;
            }
            CO_ASSERT_OK(co_await s.shutdown(net::shutdown_how::write));
        };
        auto reader_task = [](local::stream& s, std::size_t count) -> task<std::vector<std::string>> {
            net::buffered_reader reader{s, 64};
            std::vector<std::string> got;
            for (std::size_t i = 0; i <= count; ++i) {
                auto l = co_await reader.read_line(200, 5s);
                if (!l) {
                    EXPECT_EQ(l.error(), errc::end_of_stream);
                    break;
                }
                got.push_back(std::move(*l));
            }
            co_return got;
        };
        auto [ignored, got] = co_await when_all(writer(out, wire, 6), reader_task(in, lines.size()));
        EXPECT_TRUE(got == lines);
    });
}

// The README's mapping for the seeds' recv-line, used literally: one named
// reader per connection, read_line per line. Both lines of "a\nb\n" sent in
// one segment arrive, although the first read takes both from the socket.
TEST(BufferedReader, TheReadmeRecvLineMappingDeliversEveryLine) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto [client, s] = co_await ringlet::test::tcp_pair();
        CO_ASSERT_OK(co_await client.write_all("a\nb\n"));  // one segment
        const std::size_t max_length = 100;
        const auto timeout = 2s;
        // --- as in README.md ---
        net::buffered_reader in{s};
        auto first = co_await in.read_line(max_length, timeout);
        auto second = co_await in.read_line(max_length, timeout);
        // ---
        CO_ASSERT_OK(first);
        CO_ASSERT_OK(second);
        EXPECT_EQ(*first, "a");
        EXPECT_EQ(*second, "b");
    });
}

// A reader made per call would lose what it read ahead (the second line
// above), so reading through a temporary reader does not compile.
template <class Reader>
concept reads_through_a_temporary = requires(local::stream& s, std::span<std::byte> out) {
    Reader{s}.read_line(std::size_t{1});
} || requires(local::stream& s) { Reader{s}.read_until("\n", std::size_t{1}); } ||
    requires(local::stream& s, std::span<std::byte> out) { Reader{s}.read_some(out); } ||
    requires(local::stream& s, std::span<std::byte> out) { Reader{s}.read_exact(out); };
template <class Reader>
concept reads_through_a_name = requires(Reader& r, std::span<std::byte> out) {
    r.read_line(std::size_t{1});
    r.read_until("\n", std::size_t{1});
    r.read_some(out);
    r.read_exact(out);
};
static_assert(!reads_through_a_temporary<net::buffered_reader<local::stream>>);
static_assert(reads_through_a_name<net::buffered_reader<local::stream>>);

// resp::reply_writer and resp::reply_reader: the bytes of every reply type,
// and reading them back (whole, and split at every byte).
#include <ringlet/resp/reply_reader.hpp>
#include <ringlet/resp/reply_writer.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <string>

using namespace ringlet;
using resp::parse_status;
using resp::reply_kind;

TEST(RespReplyWriter, EveryType) {
    resp::reply_writer w;
    w.simple("OK");
    w.error("ERR syntax error");
    w.integer(0);
    w.integer(-42);
    w.integer(std::numeric_limits<long long>::min());
    w.bulk("hello");
    w.bulk("");
    w.null();
    w.null_array();
    w.array(2);
    EXPECT_EQ(w.view(),
              "+OK\r\n-ERR syntax error\r\n:0\r\n:-42\r\n:-9223372036854775808\r\n$5\r\nhello\r\n$0\r\n\r\n"
              "$-1\r\n*-1\r\n*2\r\n");
}

TEST(RespReplyWriter, LineBreaksInLinesBecomeSpaces) {
    resp::reply_writer w;
    w.error("ERR bad\r\nthing");
    w.simple("a\nb");
    EXPECT_EQ(w.view(), "-ERR bad  thing\r\n+a b\r\n");
}

TEST(RespReplyWriter, ClearKeepsSmallBuffersAndDropsLargeOnes) {
    resp::reply_writer w;
    w.bulk(std::string(1000, 'x'));
    const auto small = w.buffer().capacity();
    w.clear();
    EXPECT_TRUE(w.empty());
    EXPECT_EQ(w.buffer().capacity(), small);
    w.bulk(std::string(2 * 1024 * 1024, 'x'));
    w.clear();
    EXPECT_LT(w.buffer().capacity(), 1024u * 1024u);
}

TEST(RespReplyReader, ReadsWhatTheWriterWrote) {
    resp::reply_writer w;
    w.array(6);
    w.simple("OK");
    w.error("ERR x");
    w.integer(7);
    w.bulk(std::string("a\r\nb", 4));
    w.null();
    w.array(1);
    w.null_array();
    const std::string bytes{w.view()};
    resp::reply_reader r;
    ASSERT_EQ(r.parse(bytes), parse_status::complete);
    EXPECT_EQ(r.consumed(), bytes.size());
    const auto& v = r.value();
    ASSERT_EQ(v.kind, reply_kind::array);
    ASSERT_EQ(v.elements.size(), 6u);
    EXPECT_EQ(v.elements[0].kind, reply_kind::simple);
    EXPECT_EQ(v.elements[0].text, "OK");
    EXPECT_EQ(v.elements[1].kind, reply_kind::error);
    EXPECT_EQ(v.elements[1].text, "ERR x");
    EXPECT_EQ(v.elements[2].integer, 7);
    EXPECT_EQ(v.elements[3].kind, reply_kind::bulk);
    EXPECT_EQ(v.elements[3].text, std::string("a\r\nb", 4));
    EXPECT_EQ(v.elements[4].kind, reply_kind::null);
    ASSERT_EQ(v.elements[5].elements.size(), 1u);
    EXPECT_EQ(v.elements[5].elements[0].kind, reply_kind::null_array);

    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        EXPECT_EQ(r.parse(bytes.substr(0, cut)), parse_status::incomplete) << cut;
        EXPECT_EQ(r.frame(bytes.substr(0, cut)), parse_status::incomplete) << cut;
    }
    ASSERT_EQ(r.frame(bytes + "+next\r\n"), parse_status::complete);
    EXPECT_EQ(r.consumed(), bytes.size());
}

TEST(RespReplyReader, Errors) {
    resp::reply_reader r;
    EXPECT_EQ(r.parse("?\r\n"), parse_status::error);
    EXPECT_EQ(r.error(), "Protocol error: unknown reply type '?'");
    EXPECT_EQ(r.parse(":1x\r\n"), parse_status::error);
    EXPECT_EQ(r.error(), "Protocol error: invalid integer reply '1x'");
    EXPECT_EQ(r.parse("$-2\r\n"), parse_status::error);
    EXPECT_EQ(r.error(), "Protocol error: invalid bulk length");
    EXPECT_EQ(r.parse("$1\r\nabc"), parse_status::error);
    EXPECT_EQ(r.error(), "Protocol error: expected CRLF after bulk data");
    EXPECT_EQ(r.parse("+OK\rx"), parse_status::error);
    EXPECT_EQ(r.error(), "Protocol error: expected CRLF after a reply line");
    resp::reply_reader shallow{{.max_depth = 2}};
    EXPECT_EQ(shallow.parse("*1\r\n*1\r\n*1\r\n:1\r\n"), parse_status::error);
    EXPECT_EQ(shallow.error(), "Protocol error: arrays nested too deeply");
    resp::reply_reader few{{.max_elements = 2}};
    EXPECT_EQ(few.parse("*3\r\n"), parse_status::error);
    EXPECT_EQ(few.error(), "Protocol error: invalid multibulk length");
}

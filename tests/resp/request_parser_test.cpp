// resp::request_parser: arrays and inline commands, every split point, every
// Redis error wording, inline quoting as sdssplitargs does it.
#include <ringlet/resp/request_parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringlet;
using resp::parse_status;

namespace {

std::vector<std::string> args_of(const resp::request_parser& p) {
    return {p.arguments().begin(), p.arguments().end()};
}

/// Parses `input` as a whole: its one command, or its error.
struct outcome {
    parse_status status;
    std::vector<std::string> args;
    std::size_t consumed = 0;
    std::string error;
};

outcome parse_all(std::string_view input, resp::parser_options options = {}) {
    resp::request_parser p{options};
    auto status = p.parse(input);
    return {status, args_of(p), p.consumed(), std::string(p.error())};
}

std::string protocol_error(std::string_view input, resp::parser_options options = {}) {
    auto o = parse_all(input, options);
    EXPECT_EQ(o.status, parse_status::error) << input;
    return o.error;
}

}  // namespace

TEST(RespRequestParser, ArrayOfBulkStrings) {
    auto o = parse_all("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n");
    ASSERT_EQ(o.status, parse_status::complete);
    EXPECT_EQ(o.args, (std::vector<std::string>{"SET", "key", "va\r\nl"}));
    EXPECT_EQ(o.consumed, 33u);
}

TEST(RespRequestParser, ArgumentsAreViewsIntoTheInput) {
    const std::string input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    resp::request_parser p;
    ASSERT_EQ(p.parse(input), parse_status::complete);
    EXPECT_EQ(p.arguments()[0].data(), input.data() + 8);
    EXPECT_EQ(p.arguments()[1].data(), input.data() + 17);
}

TEST(RespRequestParser, EmptyAndBinaryBulks) {
    const std::string binary("a\0\r\n\xff", 5);
    auto o = parse_all("*2\r\n$0\r\n\r\n$5\r\n" + binary + "\r\n");
    ASSERT_EQ(o.status, parse_status::complete);
    EXPECT_EQ(o.args, (std::vector<std::string>{"", binary}));
}

TEST(RespRequestParser, EmptyCommandsAreCompleteWithNoArguments) {
    for (std::string_view input : {"*0\r\n", "*-1\r\n", "\r\n", "\n", "   \r\n"}) {
        auto o = parse_all(input);
        EXPECT_EQ(o.status, parse_status::complete) << input;
        EXPECT_TRUE(o.args.empty()) << input;
        EXPECT_EQ(o.consumed, input.size()) << input;
    }
}

TEST(RespRequestParser, PipelinedCommandsOneAtATime) {
    std::string input = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
    resp::request_parser p;
    std::string_view rest = input;
    std::vector<std::vector<std::string>> got;
    while (!rest.empty()) {
        ASSERT_EQ(p.parse(rest), parse_status::complete);
        got.push_back(args_of(p));
        rest.remove_prefix(p.consumed());
    }
    EXPECT_EQ(got, (std::vector<std::vector<std::string>>{{"PING"}, {"ECHO", "hi"}, {"GET", "a"}}));
}

// Every prefix is incomplete and the whole is complete, whether the parser
// resumes (same parser, growing input) or starts fresh.
TEST(RespRequestParser, SplitAtEveryByteBoundary) {
    const std::vector<std::string> inputs = {
        "*3\r\n$3\r\nSET\r\n$10\r\nkey:000001\r\n$32\r\n" + std::string(32, 'v') + "\r\n",
        "SET \"a b\" 'c d' \\x41\r\n",
        "*1\r\n$0\r\n\r\n",
    };
    for (const auto& input : inputs) {
        resp::request_parser resumed;
        for (std::size_t cut = 0; cut < input.size(); ++cut) {
            const std::string prefix = input.substr(0, cut);
            EXPECT_EQ(resumed.parse(prefix), parse_status::incomplete) << input << " cut " << cut;
            EXPECT_GT(resumed.wanted(), cut);
            resp::request_parser fresh;
            EXPECT_EQ(fresh.parse(prefix), parse_status::incomplete) << input << " cut " << cut;
        }
        // The buffer moves (a copy): the resumed parser keeps only offsets.
        const std::string moved = input;
        ASSERT_EQ(resumed.parse(moved), parse_status::complete) << input;
        EXPECT_EQ(resumed.consumed(), input.size());
        EXPECT_EQ(args_of(resumed), parse_all(input).args);
    }
}

TEST(RespRequestParser, WantedNamesTheEndOfALargeBulk) {
    resp::request_parser p;
    EXPECT_EQ(p.parse("*1\r\n$100000\r\nabc"), parse_status::incomplete);
    EXPECT_EQ(p.wanted(), 4u + 9u + 100000u + 2u);
}

TEST(RespRequestParser, InlineSplitting) {
    auto o = parse_all("set  key\t\"a b\\n\\x41\\\"\"  'it\\'s'\r\n");
    ASSERT_EQ(o.status, parse_status::complete);
    EXPECT_EQ(o.args, (std::vector<std::string>{"set", "key", "a b\nA\"", "it's"}));

    o = parse_all("ECHO \"\\q\\t\\r\\b\\a\\\\\"\n");
    ASSERT_EQ(o.status, parse_status::complete);
    EXPECT_EQ(o.args, (std::vector<std::string>{"ECHO", "q\t\r\b\a\\"}));

    // A quote inside a word starts quoting (sdssplitargs): foo"bar baz" is one argument.
    o = parse_all("foo\"bar baz\" x\n");
    ASSERT_EQ(o.status, parse_status::complete);
    EXPECT_EQ(o.args, (std::vector<std::string>{"foobar baz", "x"}));

    o = parse_all("a \"\" ''\n");
    EXPECT_EQ(o.args, (std::vector<std::string>{"a", "", ""}));

    // A NUL ends the line, as it ends Redis's C string.
    o = parse_all(std::string("PING\0 junk\r\n", 12));
    EXPECT_EQ(o.args, (std::vector<std::string>{"PING"}));
}

TEST(RespRequestParser, ErrorWordingsAsRedis) {
    EXPECT_EQ(protocol_error("*x\r\n"), "Protocol error: invalid multibulk length");
    EXPECT_EQ(protocol_error("*\r\n"), "Protocol error: invalid multibulk length");
    EXPECT_EQ(protocol_error("*01\r\n"), "Protocol error: invalid multibulk length");
    EXPECT_EQ(protocol_error("*1048577\r\n"), "Protocol error: invalid multibulk length");
    EXPECT_EQ(protocol_error("*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
    EXPECT_EQ(protocol_error("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
    EXPECT_EQ(protocol_error("*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
    EXPECT_EQ(protocol_error("*1\r\n$x\r\n"), "Protocol error: invalid bulk length");
    EXPECT_EQ(protocol_error("*1\r\n$+3\r\n"), "Protocol error: invalid bulk length");
    EXPECT_EQ(protocol_error("*1\r\n$536870913\r\n"), "Protocol error: invalid bulk length");
    EXPECT_EQ(protocol_error("*1\r\n$11\r\n", {.max_bulk_length = 10}), "Protocol error: invalid bulk length");
    EXPECT_EQ(protocol_error("*3\r\n", {.max_arguments = 2}), "Protocol error: invalid multibulk length");
    EXPECT_EQ(protocol_error("SET \"a\n"), "Protocol error: unbalanced quotes in request");
    EXPECT_EQ(protocol_error("SET 'a\n"), "Protocol error: unbalanced quotes in request");
    EXPECT_EQ(protocol_error("SET \"a\"b\n"), "Protocol error: unbalanced quotes in request");
    EXPECT_EQ(protocol_error("SET 'a'b\n"), "Protocol error: unbalanced quotes in request");
    EXPECT_EQ(protocol_error(std::string(64 * 1024 + 1, 'a')), "Protocol error: too big inline request");
    EXPECT_EQ(protocol_error("*" + std::string(64 * 1024 + 1, '1')), "Protocol error: too big mbulk count string");
    EXPECT_EQ(protocol_error("*1\r\n$" + std::string(64 * 1024, '1')), "Protocol error: too big bulk count string");
}

TEST(RespRequestParser, LimitsAreInclusive) {
    // 64 KiB of inline text without a newline is still waiting, not an error.
    EXPECT_EQ(parse_all(std::string(64 * 1024, 'a')).status, parse_status::incomplete);
    auto o = parse_all("*1\r\n$10\r\n0123456789\r\n", {.max_bulk_length = 10});
    EXPECT_EQ(o.status, parse_status::complete);
    o = parse_all("*2\r\n$1\r\na\r\n$1\r\nb\r\n", {.max_arguments = 2});
    EXPECT_EQ(o.status, parse_status::complete);
}

TEST(RespRequestParser, NextCommandAfterAnErrorStartsFresh) {
    resp::request_parser p;
    EXPECT_EQ(p.parse("*1\r\n$x\r\n"), parse_status::error);
    ASSERT_EQ(p.parse("*1\r\n$4\r\nPING\r\n"), parse_status::complete);
    EXPECT_EQ(args_of(p), (std::vector<std::string>{"PING"}));
}

TEST(RespRequestParser, ParseIntegerIsString2ll) {
    EXPECT_EQ(resp::parse_integer("0"), 0);
    EXPECT_EQ(resp::parse_integer("-12"), -12);
    EXPECT_EQ(resp::parse_integer("9223372036854775807"), 9223372036854775807LL);
    EXPECT_EQ(resp::parse_integer("-9223372036854775808"), (-9223372036854775807LL - 1));
    for (std::string_view bad : {"", "-", "-0", "01", "+1", " 1", "1 ", "1a", "9223372036854775808",
                                 "-9223372036854775809", "99999999999999999999"}) {
        EXPECT_FALSE(resp::parse_integer(bad)) << bad;
    }
}

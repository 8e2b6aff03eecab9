// libFuzzer target: resp::request_parser on arbitrary bytes, fed whole and
// in two pieces (resumed), with small limits so that the limit paths are
// reached. Checks what must hold: a complete command consumes at least one
// byte and no more than it was given, its views lie inside the input (or
// are inline arguments), resuming gives the same command as parsing whole,
// and an error always has a "Protocol error: " wording.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address -Iinclude tests/fuzz/resp_request_fuzz.cpp \
//       src/resp/request_parser.cpp src/resp/reply_reader.cpp -o resp_request_fuzz
//   ./resp_request_fuzz tests/fuzz/corpus/resp_request -max_total_time=600
#include <ringlet/resp/reply_reader.hpp>
#include <ringlet/resp/request_parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

std::vector<std::vector<std::string>> parse_stream(std::string_view input, const ringlet::resp::parser_options& o,
                                                   std::size_t split) {
    using ringlet::resp::parse_status;
    std::vector<std::vector<std::string>> out;
    ringlet::resp::request_parser parser{o};
    // Bytes arrive in two pieces: the first `split`, then the rest.
    std::string buffer{input.substr(0, split)};
    std::size_t fed = buffer.size();
    for (int guard = 0; guard < 100000; ++guard) {
        const auto status = parser.parse(buffer);
        if (status == parse_status::incomplete) {
            if (fed == input.size()) break;
            buffer.append(input.substr(fed));
            fed = input.size();
            continue;
        }
        if (status == parse_status::error) {
            check(parser.error().starts_with("Protocol error: "));
            out.push_back({"<error>", std::string(parser.error())});
            break;
        }
        check(parser.consumed() > 0 && parser.consumed() <= buffer.size());
        std::vector<std::string> args;
        for (auto a : parser.arguments()) args.emplace_back(a);
        out.push_back(std::move(args));
        buffer.erase(0, parser.consumed());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input{reinterpret_cast<const char*>(data), size};
    const ringlet::resp::parser_options small{.max_bulk_length = 4096, .max_inline_length = 256, .max_arguments = 64};
    const auto whole = parse_stream(input, small, input.size());
    const auto split = parse_stream(input, small, size / 2);
    check(whole == split);
    (void)parse_stream(input, {}, input.size());

    // The same bytes as server replies.
    ringlet::resp::reply_reader reader{{.max_bulk_length = 4096, .max_elements = 64, .max_depth = 8}};
    if (reader.parse(input) == ringlet::resp::parse_status::complete) {
        const std::size_t consumed = reader.consumed();
        check(consumed > 0 && consumed <= size);
        check(reader.frame(input) == ringlet::resp::parse_status::complete && reader.consumed() == consumed);
    }
    return 0;
}

// libFuzzer target: http::request_parser and http::chunked_decoder on
// arbitrary bytes. The input is parsed whole and again split at a point the
// input chooses (the incremental path must agree with the one-shot one);
// a complete head's fields are walked (every view must lie in the input),
// and the bytes after the head are fed to the chunked decoder when the head
// says chunked.
//
//   build-fuzz/tests/fuzz/http_request_fuzz tests/fuzz/corpus/http_request -max_total_time=60
#include <ringlet/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

namespace http = ringlet::http;

namespace {

void check_inside(std::string_view part, const char* begin, std::size_t size) {
    if (part.empty()) return;
    if (part.data() < begin || part.data() + part.size() > begin + size) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const char* text = reinterpret_cast<const char*>(data);
    http::limits limits;
    limits.max_header_bytes = 4096;  // small limits so that the fuzzer reaches them
    limits.max_request_line = 1024;
    limits.max_headers = 16;
    limits.max_body = 4096;

    http::request_parser whole{limits};
    http::request_head head;
    const http::parse_result r = whole.parse(std::span{text, size}, head);

    // The same bytes in two pieces: the incremental scan must reach the same outcome.
    const std::size_t split = size ? data[0] % (size + 1) : 0;
    http::request_parser pieces{limits};
    http::request_head head2;
    http::parse_result r2 = pieces.parse(std::span{text, split}, head2);
    if (r2.state == http::parse_state::incomplete) r2 = pieces.parse(std::span{text, size}, head2);
    if (r.state == http::parse_state::complete && split == size && r2.state != r.state) std::abort();
    if (r2.state == http::parse_state::complete && r.state == http::parse_state::complete &&
        r2.consumed != r.consumed) {
        std::abort();
    }

    if (r.state != http::parse_state::complete) return 0;
    if (r.consumed > size) std::abort();
    check_inside(head.method(), text, size);
    check_inside(head.target(), text, size);
    for (std::size_t i = 0; i < head.headers().size(); ++i) {
        check_inside(head.headers()[i].name, text, size);
        check_inside(head.headers()[i].value, text, size);
    }
    (void)head.header("content-length");
    std::string decoded;
    (void)http::percent_decode(head.target(), decoded, true);

    if (head.framing() == http::body_framing::chunked) {
        http::chunked_decoder decoder{limits};
        std::span<const char> rest{text + r.consumed, size - r.consumed};
        while (!rest.empty() && !decoder.done()) {
            const auto step = decoder.decode(rest);
            if (step.failed) break;
            if (step.consumed > rest.size() || step.data.size() > step.consumed) std::abort();
            if (step.consumed == 0 && step.data.empty()) std::abort();  // no progress
            rest = rest.subspan(step.consumed);
        }
        if (decoder.total() > limits.max_body) std::abort();
    }
    return 0;
}

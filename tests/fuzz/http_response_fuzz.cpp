// libFuzzer target: http::response_parser (the client side's head parser,
// also what tools/loadgen uses) and the chunked decoder behind it, on
// arbitrary bytes; every field view must lie in the input.
//
//   build-fuzz/tests/fuzz/http_response_fuzz tests/fuzz/corpus/http_response -max_total_time=60
#include <ringlet/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

namespace http = ringlet::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const char* text = reinterpret_cast<const char*>(data);
    http::limits limits;
    limits.max_header_bytes = 4096;
    limits.max_headers = 16;
    limits.max_body = 1 << 20;
    http::response_parser parser{limits};
    http::response_head head;
    const bool head_request = size > 0 && (data[0] & 1);
    const auto r = parser.parse(std::span{text, size}, head, head_request);
    if (r.state != http::parse_state::complete) return 0;
    if (r.consumed > size) std::abort();
    for (std::size_t i = 0; i < head.headers().size(); ++i) {
        const auto f = head.headers()[i];
        if (f.name.data() < text || f.value.data() + f.value.size() > text + size) std::abort();
    }
    if (head.framing() == http::body_framing::chunked) {
        http::chunked_decoder decoder{limits};
        std::span<const char> rest{text + r.consumed, size - r.consumed};
        while (!rest.empty() && !decoder.done()) {
            const auto step = decoder.decode(rest);
            if (step.failed) break;
            if (step.consumed == 0 || step.consumed > rest.size()) std::abort();
            rest = rest.subspan(step.consumed);
        }
    }
    return 0;
}

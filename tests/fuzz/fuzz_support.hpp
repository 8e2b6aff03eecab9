// Shared by the libFuzzer targets: a failed property prints what broke and
// the values involved, then aborts, which libFuzzer reports as a crash and
// saves the input for.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ringlet::fuzz {

/// The bytes of `text` printably (for failure messages).
inline std::string printable(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte <= 0x7e && byte != '\\') {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

[[noreturn]] inline void fail(const char* property, std::string_view detail) {
    std::fprintf(stderr, "fuzz property failed: %s\n  %s\n", property, printable(detail).c_str());
    std::abort();
}

}  // namespace ringlet::fuzz

/// Aborts with the property's text and `detail` (a string) when `cond` is false.
#define FUZZ_CHECK(cond, detail)                                   \
    do {                                                           \
        if (!(cond)) ::ringlet::fuzz::fail(#cond, (detail));       \
    } while (0)

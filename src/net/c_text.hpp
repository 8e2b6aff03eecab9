// string_view text handed to C interfaces that want NUL-terminated strings
// (inet_pton, if_nametoindex) or raw bytes (sockaddr_un). Private to src/net.
//
// One rule lives here: an empty std::string_view may have a null data(), and
// memcpy with a null pointer is undefined even for zero bytes (glibc declares
// it nonnull; UBSan reports it), so every copy goes through copy_text, which
// copies nothing for an empty view.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace ringlet::net::detail {

/// memcpy of `text` to `out`, safe for an empty view with a null data().
inline void copy_text(void* out, std::string_view text) noexcept {
    if (!text.empty()) std::memcpy(out, text.data(), text.size());
}

/// `text` as a NUL-terminated string in `out`; false when it does not fit or
/// holds a NUL.
template <std::size_t N>
bool to_c_string(std::string_view text, char (&out)[N]) noexcept {
    if (text.size() >= N || text.find('\0') != std::string_view::npos) return false;
    copy_text(out, text);
    out[text.size()] = '\0';
    return true;
}

/// inet_pton on a string_view: true when `text` is an address of `family`.
inline bool to_binary(int family, std::string_view text, void* out) noexcept {
    char buf[INET6_ADDRSTRLEN];
    return to_c_string(text, buf) && inet_pton(family, buf, out) == 1;
}

}  // namespace ringlet::net::detail

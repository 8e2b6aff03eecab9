// Helpers shared by the socket option files: quoting user input, and
// setsockopt / getsockopt returning result<T>. Private to src/net.
#pragma once

#include <ringlet/net/socket_options.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace ringlet::net::detail {

/// The input in double quotes, bytes outside 0x20..0x7e as \xNN so that a
/// NUL or a newline in it cannot hide or garble the message.
inline std::string quote(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte <= 0x7e) {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out + '"';
}

inline result<void> set_raw(socket_ref s, int level, int name, const void* value, std::size_t size) noexcept {
    if (::setsockopt(s.fd(), level, name, value, static_cast<socklen_t>(size)) != 0) return unexpected{errno_code(errno)};
    return {};
}

template <class T>
inline result<T> get_raw(socket_ref s, int level, int name) noexcept {
    T value{};
    socklen_t size = sizeof value;
    if (::getsockopt(s.fd(), level, name, &value, &size) != 0) return unexpected{errno_code(errno)};
    return value;
}

}  // namespace ringlet::net::detail

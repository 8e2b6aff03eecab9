// What the HTTP clients (http_get, https_get) share: the URL argument.
// Each reads its response in its own way (http_get with
// http::response_reader, which checks the framing; https_get relies on TLS
// close_notify), so that part is not here.
#pragma once

#include "example_support.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace example {

/// The parts of a URL an HTTP/1.1 GET needs.
struct url {
    std::string host;  // without the brackets of an IPv6 literal
    std::uint16_t port = 0;
    std::string path = "/";
};

/// Splits <scheme>host[:port][/path], where `scheme` is "http://" or
/// "https://" and the port defaults to `default_port`; nullopt when `text`
/// is not such a URL.
inline std::optional<url> parse_url(std::string_view text, std::string_view scheme, std::uint16_t default_port) {
    if (text.substr(0, scheme.size()) != scheme) return std::nullopt;
    text.remove_prefix(scheme.size());
    url out{.port = default_port};
    const std::size_t slash = text.find('/');
    const std::string_view authority = text.substr(0, slash);
    if (slash != std::string_view::npos) out.path = std::string(text.substr(slash));
    if (authority.empty()) return std::nullopt;
    if (auto hp = net::parse_host_port(authority)) {
        out.host = hp->host;
        out.port = hp->port;
    } else {
        // A colon or bracket that parse_host_port refused is a bad port or IPv6 literal, not a host name.
        if (authority.front() == '[' || authority.find(':') != std::string_view::npos) return std::nullopt;
        out.host = std::string(authority);
    }
    if (out.host.empty() || out.port == 0) return std::nullopt;
    return out;
}

/// The URL argument `text` (see parse_url); exits 2 with a usage error when
/// it is missing or is not such a URL.
inline url url_argument(const char* program, const std::string& text, std::string_view scheme,
                        std::uint16_t default_port) {
    if (text.empty()) usage_error(program, "missing the URL");
    auto parsed = parse_url(text, scheme, default_port);
    if (!parsed) usage_error(program, "\"" + text + "\" is not an " + std::string(scheme) + "host[:port]/path URL");
    return std::move(*parsed);
}

}  // namespace example

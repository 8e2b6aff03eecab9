// Helpers shared by the byte-stream tests (socket, tcp, local, reader).
#pragma once

#include "../core/test_support.hpp"

#include <ringlet/net/buffered_reader.hpp>
#include <ringlet/net/local.hpp>
#include <ringlet/net/socket.hpp>
#include <ringlet/net/tcp.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

/// Asserts that a result holds a value, printing its error otherwise. The
/// expression (often a co_await) is evaluated exactly once.
#define CO_ASSERT_OK(expr)                                                                   \
    do {                                                                                     \
        auto&& co_assert_result_ = (expr);                                                   \
        const bool co_assert_ok_ = static_cast<bool>(co_assert_result_);                     \
        EXPECT_TRUE(co_assert_ok_) << #expr << ": " << co_assert_result_.error().message();  \
        if (!co_assert_ok_) throw ::ringlet::test::assertion_failed{};                       \
    } while (0)

namespace ringlet::test {

inline net::address loopback4(std::uint16_t port = 0) { return net::address::ipv4_loopback(port); }

inline std::span<const std::byte> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::span<std::byte> as_writable(std::string& s) { return {reinterpret_cast<std::byte*>(s.data()), s.size()}; }

/// A connected TCP pair on 127.0.0.1 through a listener on port 0: {client, server}.
inline task<std::pair<tcp::stream, tcp::stream>> tcp_pair() {
    auto lst = tcp::listen(loopback4());
    CO_ASSERT_OK(lst);
    auto where = lst->local_address();
    CO_ASSERT_OK(where);
    auto client = co_await tcp::connect(*where, {.timeout = std::chrono::seconds(5)});
    CO_ASSERT_OK(client);
    auto server = co_await lst->accept(std::chrono::seconds(5));
    CO_ASSERT_OK(server);
    co_return std::pair<tcp::stream, tcp::stream>{std::move(*client), std::move(*server)};
}

/// 64-bit FNV-1a, to compare large transfers.
inline std::uint64_t fnv1a(std::span<const std::byte> data, std::uint64_t h = 0xcbf29ce484222325ULL) {
    for (std::byte b : data) {
        h ^= static_cast<std::uint64_t>(b);
        h *= 0x100000001b3ULL;
    }
    return h;
}

/// A unique abstract name for this process and `tag`.
inline std::string unique_name(std::string_view tag) {
    return "ringlet-test-" + std::to_string(::getpid()) + "-" + std::string(tag);
}

/// A fresh path under the temp dir (not created).
inline std::string temp_socket_path(std::string_view tag) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/" + unique_name(tag) + ".sock";
}

}  // namespace ringlet::test

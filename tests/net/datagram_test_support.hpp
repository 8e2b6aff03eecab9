// Helpers shared by the datagram tests (udp, unix datagram/seqpacket, options, multicast).
#pragma once

#include "stream_test_support.hpp"

#include <ringlet/net/datagram.hpp>
#include <ringlet/net/local_datagram.hpp>
#include <ringlet/net/socket_options.hpp>
#include <ringlet/net/udp.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlet::test {

inline std::string text_of(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// The payload of datagram `index` of a bulk run: its index, then bytes
/// derived from it, `size` bytes in all (at least 8).
inline std::vector<std::byte> numbered_payload(std::uint32_t index, std::size_t size) {
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = i < 4 ? static_cast<std::byte>(index >> (8 * i)) : static_cast<std::byte>((index * 31 + i * 7) & 0xff);
    }
    return out;
}

/// The index a numbered payload starts with.
inline std::uint32_t index_of(std::span<const std::byte> payload) {
    std::uint32_t index = 0;
    for (std::size_t i = 0; i < 4 && i < payload.size(); ++i) index |= std::to_integer<std::uint32_t>(payload[i]) << (8 * i);
    return index;
}

/// The size of datagram `index` in a bulk run: 8..1400 bytes, varied.
inline std::size_t numbered_size(std::uint32_t index) { return 8 + (index * 97) % 1393; }

}  // namespace ringlet::test

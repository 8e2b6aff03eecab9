// --tls for the load generator: the client side of a TLS stream behind a
// small interface, so that the engine names no TLS type and builds without
// wolfSSL (tls_transport.cpp when ringlet has TLS, no_tls.cpp otherwise).
//
// A TLS stream allows one operation at a time (a read and a write may not be
// in flight together), so a TLS connection runs one task that writes what it
// may send and then reads (engine.cpp, secure_loop) instead of the separate
// reader and writer of a plain one.
//
// Thread safety: a secure_client belongs to one shard (its context is made
// there); a secure_stream to its connection.
#pragma once

#include "options.hpp"

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/net/stream.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace loadgen {

/// A connected TLS stream (after the handshake).
class secure_stream {
public:
    virtual ~secure_stream() = default;
    /// Reads what has arrived (at least a byte); 0 after the server's close_notify.
    [[nodiscard]] virtual ringlet::task<ringlet::result<std::size_t>> read_some(std::span<std::byte> buffer) = 0;
    [[nodiscard]] virtual ringlet::task<ringlet::result<void>> write_all(std::span<const std::byte> data) = 0;
    /// Sends close_notify (without waiting for the server's), then closes the transport.
    [[nodiscard]] virtual ringlet::task<void> close() = 0;
};

/// Makes TLS client streams as --tls, --tls-ca, --tls-sni, --tls-alpn,
/// --tls-ciphers and --tls-insecure say.
class secure_client {
public:
    virtual ~secure_client() = default;
    /// Runs a client handshake over `transport` (10 s limit). Errors:
    /// ringlet::tls's (certificate, host name, protocol), the transport's.
    [[nodiscard]] virtual ringlet::task<ringlet::result<std::unique_ptr<secure_stream>>> handshake(
        ringlet::net::stream transport) = 0;
    /// Describes an error handshake() returned ("TLS handshake: ...").
    [[nodiscard]] virtual std::string describe(std::error_code error) const = 0;
};

/// A client for this shard; nullptr with the reason in `error` (a file that
/// does not load, or ringlet built without TLS).
std::unique_ptr<secure_client> make_secure_client(const options& opts, std::string& error);

}  // namespace loadgen

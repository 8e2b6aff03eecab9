// tls::stream: TLS over any ringlet byte stream (TCP or unix), with the
// read/write/deadline API of net::stream; read_line and friends come from
// net::buffered_reader<tls::stream>.
//
//     auto ctx = tls::context::client();                            // system CAs, verification on
//     auto conn = co_await tls::connect("example.com", 443, ctx);   // result<tls::stream>
//     co_await conn->write_all("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
//     net::buffered_reader in{*conn};
//     auto status = co_await in.read_line(8192, 10s);
//
// wolfSSL does no I/O: it reads ciphertext from the transport's receive()
// leases (shard buffers holding several records; WANT_READ → one receive)
// and writes records into a buffer that goes out in one send per call (or
// per 256 KiB). Plaintext wolfSSL has already decrypted is returned before
// the socket is waited on. The transport is used through receive(), so its
// read_some is refused once the TLS stream has read.
//
// Outcomes: read_some yields 0 once the peer sent close_notify; a peer that
// cuts the connection without it yields ringlet::errc::truncated. Timeouts,
// deadlines and cancellation behave as on net::stream (errc::timed_out,
// errc::operation_canceled); TLS failures are tls::errc or
// wolfssl_category() codes (see context.hpp, tls::describe_error).
//
// Thread safety: a stream belongs to one shard; one operation at a time (a
// read and a write may not be in flight together: both drive one TLS state).
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/stream.hpp>
#include <ringlet/tls/context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace ringlet::tls {

namespace detail {
struct stream_state;
struct session_state;
}  // namespace detail

/// A saved client session, to resume with (tls::client_handshake_options::resume).
/// Copies share it; it may be used on any shard.
class session {
public:
    session() noexcept = default;
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
    [[nodiscard]] detail::session_state* state() const noexcept { return state_.get(); }
    explicit session(std::shared_ptr<detail::session_state> s) noexcept : state_(std::move(s)) {}

private:
    std::shared_ptr<detail::session_state> state_;
};

/// Options of a client handshake. Trivially copyable (see tcp::connect_options).
struct client_handshake_options {
    /// The name to send (SNI) and to verify the certificate against. Empty:
    /// no SNI and, with verification on, errc::invalid_argument — say which
    /// host you meant, or turn verification off in the context.
    std::string_view server_name{};
    /// Limit on the whole handshake (default 10 s).
    ringlet::timeout handshake_timeout = std::chrono::seconds{10};
    /// A session from an earlier connection to the same server, to resume.
    const session* resume = nullptr;
    /// Bytes already read from the transport that belong to the TLS stream
    /// (STARTTLS after a buffered plaintext phase).
    std::span<const std::byte> already_read{};
};
static_assert(std::is_trivially_copyable_v<client_handshake_options>);

/// Options of a server handshake.
struct server_handshake_options {
    ringlet::timeout handshake_timeout = std::chrono::seconds{10};
    std::span<const std::byte> already_read{};
};
static_assert(std::is_trivially_copyable_v<server_handshake_options>);

/// A TLS connection. Move-only; see the file comment.
class stream {
public:
    stream() noexcept;
    explicit stream(std::unique_ptr<detail::stream_state> state) noexcept;
    stream(stream&&) noexcept;
    stream& operator=(stream&&) noexcept;
    ~stream();

    /// Yields up to buffer.size() bytes of plaintext, waiting for at least
    /// one; 0 after the peer's close_notify. Errors: ringlet::errc::truncated
    /// when the transport ended without close_notify, TLS errors, and the
    /// transport's (timed_out, operation_canceled, connection_reset).
    /// @see wolfSSL_read(3), recv(2)
    [[nodiscard]] task<result<std::size_t>> read_some(std::span<std::byte> buffer, timeout limit = {});
    [[nodiscard]] task<result<std::size_t>> read_some(std::span<char> buffer, timeout limit = {});
    /// Fills `buffer`; errc::end_of_stream when the peer closes first.
    [[nodiscard]] task<result<void>> read_exact(std::span<std::byte> buffer, timeout limit = {});

    /// Encrypts and sends all of `data` (records of up to 16 KiB, sent 256 KiB
    /// of records at a time); returns once the transport took every byte.
    /// Errors: TLS errors and the transport's (timed_out, operation_canceled:
    /// records already sent stay sent). @see wolfSSL_write(3)
    [[nodiscard]] task<result<void>> write_all(std::span<const std::byte> data, timeout limit = {});
    [[nodiscard]] task<result<void>> write_all(std::string_view data, timeout limit = {});
    /// Encrypts and sends `parts` in order as one stream of records, in one
    /// send (per 256 KiB of records): parts smaller than a record are joined
    /// into one, and a large part tops up the record before it. Returns once
    /// the transport took every byte. Errors and cancellation as write_all.
    /// @see wolfSSL_write(3), sendmsg(2)
    [[nodiscard]] task<result<void>> write_vectored(std::span<const net::const_buffer> parts, timeout limit = {});

    /// Sends one close_notify (once, however often called) and waits up to
    /// `wait_for_peer` for the peer's, discarding data that arrives first.
    /// Errors: errc::truncated when the peer closed without close_notify,
    /// errc::timed_out when it did not answer in time (the close_notify was
    /// still sent; sending it is bounded by one second of its own, for a
    /// full socket buffer). @see wolfSSL_shutdown(3)
    [[nodiscard]] task<result<void>> shutdown(timeout wait_for_peer = std::chrono::seconds{2});
    /// shutdown() (errors ignored), then closes the transport.
    [[nodiscard]] task<result<void>> close(timeout wait_for_peer = std::chrono::seconds{2});

    /// Deadlines as on net::stream; they apply to the transport's reads and writes.
    void set_deadline(timeout when) noexcept;
    void set_read_deadline(timeout when) noexcept;
    void set_write_deadline(timeout when) noexcept;
    /// Progress timeouts as on net::stream (set_read_timeout /
    /// set_write_timeout), applied to the transport's reads and writes;
    /// tls::serve sets them from its connection_limits. Zero: none.
    void set_read_timeout(clock::duration limit) noexcept;
    void set_write_timeout(clock::duration limit) noexcept;

    /// True for a stream that completed a handshake (the seeds' isTLS).
    [[nodiscard]] bool is_tls() const noexcept;
    /// "TLSv1.3", "TLSv1.2".
    [[nodiscard]] std::string version() const;
    /// The negotiated cipher suite ("TLS_AES_128_GCM_SHA256").
    [[nodiscard]] std::string cipher() const;
    /// The ALPN protocol agreed on; empty when none.
    [[nodiscard]] std::string alpn() const;
    /// The peer certificate's subject ("/CN=localhost"); empty when it sent none.
    [[nodiscard]] std::string peer_subject() const;
    /// The SNI name the client sent (on a server) or asked for (on a client).
    [[nodiscard]] std::string server_name() const;
    /// Whether the handshake resumed an earlier session.
    [[nodiscard]] bool resumed() const noexcept;
    /// The session to resume later (clients). With TLS 1.3 the ticket arrives
    /// after the handshake: read something first. Invalid when there is none.
    [[nodiscard]] session saved_session() const;

    /// The byte stream underneath.
    [[nodiscard]] net::stream& transport() noexcept;
    [[nodiscard]] bool is_open() const noexcept;

private:
    std::unique_ptr<detail::stream_state> state_;
};

/// Runs a client handshake over `transport` (connected, plaintext phase
/// over: this is also STARTTLS). Errors: tls::errc (host_name_mismatch,
/// certificate_expired, self_signed_certificate, untrusted_certificate, …),
/// errc::timed_out after options.handshake_timeout, the transport's errors.
/// On failure the transport is closed. @see wolfSSL_connect(3)
[[nodiscard]] task<result<stream>> client_handshake(net::stream transport, context ctx,
                                                    client_handshake_options options);
/// Runs a server handshake over an accepted `transport`. Errors as
/// client_handshake, plus tls::errc::no_peer_certificate (mutual TLS).
/// @see wolfSSL_accept(3)
[[nodiscard]] task<result<stream>> server_handshake(net::stream transport, context ctx,
                                                    server_handshake_options options = {});

/// Options of tls::connect.
struct connect_options {
    /// Limit on resolving plus connecting (default 10 s); the handshake has its own.
    ringlet::timeout connect_timeout = std::chrono::seconds{10};
    ringlet::timeout handshake_timeout = std::chrono::seconds{10};
    const session* resume = nullptr;
};
static_assert(std::is_trivially_copyable_v<connect_options>);

/// Resolves `host`, connects over TCP to the first address that answers and
/// runs a client handshake naming `host` (the seeds' TlsConnection).
/// Errors: resolve's, tcp::connect's, client_handshake's.
[[nodiscard]] task<result<stream>> connect(std::string host, std::uint16_t port, context ctx,
                                           connect_options options = {});

}  // namespace ringlet::tls

// tls::context: the configuration TLS connections are made from — role,
// certificates, trust, ALPN, SNI, resumption — and tls::errc, the named TLS
// failures.
//
//     auto client = tls::context::client();                       // system CAs, verification on
//     tls::server_options options{.certificate_chain_file = "cert.pem", .private_key_file = "key.pem"};
//     auto server = tls::context::server(options);
//
// The options are always a named object (or none): client() and server()
// refuse a temporary — `client({...})` does not compile. GCC 12 miscompiles a
// braced temporary of a struct with std::string members inside a co_await
// expression (`co_await tls::connect(h, p, tls::context::client({}))`): it
// builds the temporary in one place, passes another, and destroys both, which
// crashes with "free(): invalid pointer". A named object is never affected.
//
// Contexts are built by setup code, which may throw: a file that cannot be
// read or a key that does not match its certificate throws std::runtime_error
// naming the file and wolfSSL's reason. Every context speaks TLS 1.2 and
// 1.3 (1.3 preferred), never renegotiates, and — for clients — verifies the
// peer's chain and host name unless `verify_peer = false` says otherwise.
//
// Session resumption: a server context issues session tickets (TLS 1.3 and
// 1.2) encrypted with keys that belong to the context, so every shard
// serving with one context (or a copy of it) accepts tickets issued by any
// other; the key is replaced every server_options::ticket_key_lifetime.
//
// Thread safety: a context is an immutable, reference-counted handle; copies
// share one wolfSSL context, which any number of shards may use at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ringlet::tls {

/// TLS failures with a name of their own; anything else from wolfSSL comes as
/// a code of wolfssl_category() whose message() is wolfSSL's error string.
enum class errc : int {
    handshake_failed = 1,       ///< the handshake failed for a reason wolfSSL did not name more precisely
    host_name_mismatch,         ///< the certificate is not valid for the host name asked for
    certificate_expired,        ///< the peer's (or a chain) certificate is past its notAfter
    certificate_not_yet_valid,  ///< the peer's certificate is before its notBefore
    self_signed_certificate,    ///< the peer's certificate signs itself and is not trusted
    untrusted_certificate,      ///< the chain does not lead to a trusted CA
    bad_certificate,            ///< the peer's certificate is malformed or its signature is wrong
    no_peer_certificate,        ///< the peer sent no certificate although one is required
    not_tls,                    ///< the peer does not speak TLS (plaintext or garbage records)
    peer_alert,                 ///< the peer aborted the handshake with an alert
    closed_during_handshake,    ///< the peer closed the connection during the handshake
};

/// The category of tls::errc ("tls").
const std::error_category& tls_category() noexcept;
/// The category of raw wolfSSL error codes (negative values); message() is
/// wolfSSL_ERR_error_string_n's text.
const std::error_category& wolfssl_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), tls_category()}; }

/// TLS protocol versions.
enum class version : int { tls1_2 = 2, tls1_3 = 3 };

/// Options of a client context. Paths and PEM text are read when the context
/// is made; every field has a usable default.
struct client_options {
    /// Trust: a CA bundle file (PEM) and/or PEM text; both empty means the
    /// system's store (/etc/ssl/certs/ca-certificates.crt).
    std::string ca_file{};
    std::string ca_pem{};
    /// Verify the server's chain and host name (default). false accepts any
    /// certificate: only for tests and trusted networks.
    bool verify_peer = true;
    /// A client certificate chain and key for mutual TLS (files or PEM text).
    std::string certificate_chain_file{};
    std::string private_key_file{};
    std::string certificate_chain_pem{};
    std::string private_key_pem{};
    /// ALPN protocols to offer, most preferred first ("h2", "http/1.1").
    std::vector<std::string> alpn{};
    /// The oldest version accepted (TLS 1.2 by default; TLS 1.3 is preferred).
    version min_version = version::tls1_2;
    /// Restrict TLS 1.3 / 1.2 cipher suites (wolfSSL/OpenSSL names, ':'
    /// separated); empty keeps wolfSSL's defaults.
    std::string cipher_list{};
};

/// A certificate chain and key a server presents for one SNI host name.
struct named_certificate {
    std::string server_name{};  ///< the name a client asks for ("api.example.com")
    std::string certificate_chain_file{};
    std::string private_key_file{};
    std::string certificate_chain_pem{};
    std::string private_key_pem{};
};

/// Options of a server context.
struct server_options {
    /// The default certificate chain and its key (files or PEM text).
    std::string certificate_chain_file{};
    std::string private_key_file{};
    std::string certificate_chain_pem{};
    std::string private_key_pem{};
    /// Further certificates chosen by the client's SNI name; a client that
    /// sends no name, or one not listed, gets the default.
    std::vector<named_certificate> by_server_name{};
    /// Mutual TLS: ask clients for a certificate and verify it against these
    /// CAs (file or PEM; both empty: the system store).
    bool request_client_certificate = false;
    /// With request_client_certificate: fail a client that sends none (default) or accept it.
    bool require_client_certificate = true;
    std::string client_ca_file{};
    std::string client_ca_pem{};
    /// ALPN protocols this server speaks, most preferred first. A client
    /// offering none of them gets no ALPN protocol (the handshake continues).
    std::vector<std::string> alpn{};
    version min_version = version::tls1_2;
    /// Allowed suites in preference order (wolfSSL/OpenSSL names, ':'
    /// separated). Empty (default): wolfSSL's default suites, AES-GCM first
    /// when it runs in hardware here (a wolfSSL with AES-NI code on a CPU with
    /// AES-NI), ChaCha20-Poly1305 first otherwise; decided at run time.
    std::string cipher_list{};
    /// Issue session tickets so that clients can resume (default on; off:
    /// neither TLS 1.2 nor TLS 1.3 tickets, every handshake is a full one).
    bool session_tickets = true;
    /// How long one ticket key encrypts new tickets (default 1 hour); it is
    /// accepted for as long again, then forgotten: a ticket is good for
    /// between one and two lifetimes of its key (and the 5-minute lifetime
    /// the ticket itself announces). Keys are random, made in memory, shared
    /// by every shard serving with this context, never written anywhere.
    std::chrono::seconds ticket_key_lifetime{3600};
};

namespace detail {
struct context_state;
}

/// A TLS configuration, cheap to copy. See the file comment.
class context {
public:
    /// A client context. Throws std::runtime_error naming what failed to load.
    /// @see wolfSSL_CTX_new(3), wolfSSL_CTX_load_verify_locations
    [[nodiscard]] static context client(const client_options& options);
    /// A client context with every default: the system's CAs, verification on.
    [[nodiscard]] static context client();
    /// A server context. Throws std::runtime_error naming what failed to load.
    /// @see wolfSSL_CTX_use_certificate_chain_file, wolfSSL_CTX_set_servername_callback
    [[nodiscard]] static context server(const server_options& options);

    // Temporaries are refused (see the file comment: GCC 12 destroys a braced
    // temporary twice inside a co_await expression). Name the options object:
    //   tls::client_options options{.verify_peer = false}; tls::context::client(options)
    static context client(client_options&&) = delete;  // write: client_options o{...}; client(o)
    static context server(server_options&&) = delete;  // write: server_options o{...}; server(o)

    context() noexcept = default;
    [[nodiscard]] bool is_server() const noexcept;
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
    /// For the stream implementation.
    [[nodiscard]] detail::context_state* state() const noexcept { return state_.get(); }

private:
    std::shared_ptr<detail::context_state> state_;
};

/// A message naming what failed, for people: "tls handshake with
/// example.com: certificate is for another host name".
[[nodiscard]] std::string describe_error(std::string_view what, std::error_code error);

}  // namespace ringlet::tls

template <>
struct std::is_error_code_enum<ringlet::tls::errc> : std::true_type {};

// Private TLS state shared by context.cpp, stream.cpp and connect.cpp.
#pragma once

#include <ringlet/net/stream.hpp>
#include <ringlet/tls/context.hpp>
#include <ringlet/tls/stream.hpp>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace ringlet::tls::detail {

/// One named certificate, kept as PEM text to load into a connection on SNI.
struct sni_entry {
    std::string name;
    std::string chain_pem;
    std::string key_pem;
};

/// Thread safety: immutable after construction; WOLFSSL_CTX is safe for
/// concurrent wolfSSL_new and its default ticket-key callback locks.
struct context_state {
    WOLFSSL_CTX* ctx = nullptr;
    bool server = false;
    bool verify_peer = true;
    std::string alpn;  // comma-separated, as wolfSSL_UseALPN wants it
    std::vector<sni_entry> by_name;

    context_state() = default;
    context_state(const context_state&) = delete;
    context_state& operator=(const context_state&) = delete;
    ~context_state() {
        if (ctx) wolfSSL_CTX_free(ctx);
    }
};

struct session_state {
    WOLFSSL_SESSION* session = nullptr;
    explicit session_state(WOLFSSL_SESSION* s) noexcept : session(s) {}
    session_state(const session_state&) = delete;
    session_state& operator=(const session_state&) = delete;
    ~session_state() {
        if (session) wolfSSL_SESSION_free(session);
    }
};

/// What wolfSSL's verify callback saw, for naming the failure.
struct verify_report {
    int error = 0;            // wolfSSL error code of the first failure (0: none)
    bool self_signed = false; // the failing certificate is its own issuer
};

/// Initialises wolfSSL once per process.
void ensure_initialised();
/// Registers the release of this thread's wolfSSL caches at thread exit.
void touch_thread_cache() noexcept;
/// The verify callback installed on every context.
int verify_callback(int preverified, WOLFSSL_X509_STORE_CTX* store);
/// The SNI callback of server contexts with named certificates.
int sni_callback(WOLFSSL* ssl, int* alert, void* arg);
/// The verify report of the connection whose wolfSSL call is running on this thread.
verify_report*& current_report() noexcept;

}  // namespace ringlet::tls::detail

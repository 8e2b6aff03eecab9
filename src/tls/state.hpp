// Private TLS state shared by context.cpp, stream.cpp and connect.cpp.
#pragma once

#include <ringlet/net/stream.hpp>
#include <ringlet/tls/context.hpp>
#include <ringlet/tls/stream.hpp>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <ringlet/core/time.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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

/// The session-ticket keys of one server context, shared by all its shards
/// and rotated (ticket_keys.cpp). Thread safety: callback() may run on any
/// number of shards at once; a mutex guards the keys.
class ticket_keys {
public:
    /// Throws std::runtime_error when `lifetime` is not positive.
    explicit ticket_keys(clock::duration lifetime);
    ticket_keys(const ticket_keys&) = delete;
    ticket_keys& operator=(const ticket_keys&) = delete;
    ~ticket_keys();
    /// wolfSSL's SessionTicketEncCb; `arg` is the ticket_keys.
    static int callback(WOLFSSL* ssl, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
                        unsigned char iv[WOLFSSL_TICKET_IV_SZ], unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc,
                        unsigned char* ticket, int size, int* out_size, void* arg);

private:
    struct key {
        std::array<unsigned char, WOLFSSL_TICKET_NAME_SZ> name{};
        std::array<unsigned char, 16> secret{};  // AES-128
        std::array<unsigned char, 4> salt{};     // nonce = salt + counter
        clock::time_point born{};
        std::uint64_t used = 0;  // tickets encrypted: the nonce counter
        bool valid = false;
    };
    void rotate(clock::time_point now);  // with mutex_ held

    std::mutex mutex_;
    key current_;
    key previous_;
    const clock::duration lifetime_;
};

/// Thread safety: immutable after construction; WOLFSSL_CTX is safe for
/// concurrent wolfSSL_new, and `tickets` locks.
struct context_state {
    WOLFSSL_CTX* ctx = nullptr;
    std::unique_ptr<ticket_keys> tickets;  // server contexts issuing tickets
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

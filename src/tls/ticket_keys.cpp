// Session-ticket keys of a server context: one set per context, shared by
// every shard, rotated.
//
// Design notes. A ticket is the session's state encrypted by the server
// (wolfSSL's InternalTicket); any shard that holds the key can resume it,
// which is what lets a client whose next connection SO_REUSEPORT hashes to
// another shard resume. wolfSSL's built-in ticket callback also keeps its
// keys in the WOLFSSL_CTX, but reads them without its lock while another
// thread may be generating the next one, and its rotation period is a
// compile-time constant (one hour); this one takes the lock for the few
// instructions that pick a key and copy it, and the period is
// server_options::ticket_key_lifetime.
//
// Rotation: a key encrypts new tickets for `lifetime` after it was made and
// decrypts for twice that. The first ticket encrypted after `lifetime` makes
// a new key; the old one stays for decryption (two keys at most). A ticket of
// the older key still resumes and is answered with a fresh ticket
// (WOLFSSL_TICKET_RET_CREATE); a ticket of a key that is gone, or that fails
// authentication, is refused quietly and the handshake goes on in full.
// Cipher: AES-128-GCM (wolfCrypt), a 12-byte nonce of 4 random bytes per key
// and a 64-bit counter (never repeated under one key), the 16-byte key name
// as associated data, the tag in the first 16 bytes of the ticket's MAC field.
#include "tls/state.hpp"

#include <wolfssl/wolfcrypt/aes.h>

#include <sys/random.h>

#include <cstring>
#include <stdexcept>

namespace ringlet::tls::detail {
namespace {

constexpr int nonce_size = 12;
constexpr int tag_size = 16;
static_assert(WOLFSSL_TICKET_IV_SZ >= nonce_size && WOLFSSL_TICKET_MAC_SZ >= tag_size);
static_assert(WOLFSSL_TICKET_NAME_SZ == 16);

void random_bytes(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
        const ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "tls: getrandom for a session-ticket key");
        }
        p += got;
        n -= static_cast<std::size_t>(got);
    }
}

/// AES-128-GCM over `data` in place; false when wolfCrypt fails (or, decrypting, the tag does not match).
bool seal(bool encrypt, const unsigned char* secret, const unsigned char* nonce, const unsigned char* name,
          unsigned char* data, int size, unsigned char* tag) {
    Aes aes;
    if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0) return false;
    int rc = wc_AesGcmSetKey(&aes, secret, 16);
    if (rc == 0) {
        const auto n = static_cast<word32>(size);
        rc = encrypt ? wc_AesGcmEncrypt(&aes, data, data, n, nonce, nonce_size, tag, tag_size, name, WOLFSSL_TICKET_NAME_SZ)
                     : wc_AesGcmDecrypt(&aes, data, data, n, nonce, nonce_size, tag, tag_size, name, WOLFSSL_TICKET_NAME_SZ);
    }
    wc_AesFree(&aes);
    return rc == 0;
}

}  // namespace

ticket_keys::ticket_keys(clock::duration lifetime) : lifetime_(lifetime) {
    if (lifetime <= clock::duration::zero()) throw std::runtime_error("tls: ticket_key_lifetime must be positive");
}

ticket_keys::~ticket_keys() {
    explicit_bzero(&current_, sizeof current_);
    explicit_bzero(&previous_, sizeof previous_);
}

void ticket_keys::rotate(clock::time_point now) {
    previous_ = current_;
    key fresh;
    random_bytes(fresh.name.data(), fresh.name.size());
    random_bytes(fresh.secret.data(), fresh.secret.size());
    random_bytes(fresh.salt.data(), fresh.salt.size());
    fresh.born = now;
    fresh.used = 0;
    fresh.valid = true;
    current_ = fresh;
    explicit_bzero(&fresh, sizeof fresh);
}

int ticket_keys::callback(WOLFSSL*, unsigned char name[WOLFSSL_TICKET_NAME_SZ], unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                          unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char* ticket, int size,
                          int* out_size, void* arg) {
    auto* self = static_cast<ticket_keys*>(arg);
    key k;
    bool renew = false;
    {
        std::lock_guard lock{self->mutex_};
        const clock::time_point now = clock::now();
        if (enc) {
            if (!self->current_.valid || now - self->current_.born >= self->lifetime_) {
                try {
                    self->rotate(now);
                } catch (const std::exception&) {
                    return WOLFSSL_TICKET_RET_REJECT;  // no ticket: the connection goes on without one
                }
            }
            k = self->current_;
            ++self->current_.used;
        } else {
            const key* match = nullptr;
            for (const key* candidate : {&self->current_, &self->previous_}) {
                if (candidate->valid && std::memcmp(candidate->name.data(), name, WOLFSSL_TICKET_NAME_SZ) == 0 &&
                    now - candidate->born < 2 * self->lifetime_) {
                    match = candidate;
                }
            }
            if (!match) return WOLFSSL_TICKET_RET_REJECT;
            k = *match;
            renew = match != &self->current_ || now - match->born >= self->lifetime_;
        }
    }
    int result = WOLFSSL_TICKET_RET_REJECT;
    if (enc) {
        std::memcpy(name, k.name.data(), WOLFSSL_TICKET_NAME_SZ);
        std::memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
        std::memcpy(iv, k.salt.data(), k.salt.size());
        for (int i = 0; i < 8; ++i) iv[4 + i] = static_cast<unsigned char>(k.used >> (8 * i));
        std::memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
        if (seal(true, k.secret.data(), iv, name, ticket, size, mac)) {
            *out_size = size;
            result = WOLFSSL_TICKET_RET_OK;
        }
    } else if (seal(false, k.secret.data(), iv, name, ticket, size, mac)) {
        *out_size = size;
        result = renew ? WOLFSSL_TICKET_RET_CREATE : WOLFSSL_TICKET_RET_OK;
    }
    explicit_bzero(&k, sizeof k);
    return result;
}

}  // namespace ringlet::tls::detail

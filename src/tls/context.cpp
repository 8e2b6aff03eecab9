// tls::context: building wolfSSL contexts, the verify and SNI callbacks, and
// the error categories.
//
// Design notes. A context_state owns one WOLFSSL_CTX and is shared (by
// shared_ptr) by every shard: wolfSSL allows concurrent wolfSSL_new on one
// CTX, and a server context's session-ticket keys (ticket_keys.cpp) belong
// to it, so tickets issued on one shard resume on any other. The I/O
// callbacks are set per connection (stream.cpp). The verify callback reports
// through a thread-local pointer that stream.cpp sets around each wolfSSL
// call, since wolfSSL runs it synchronously inside that call.
//
// Cipher preference. A server context without an explicit cipher_list keeps
// wolfSSL's default set of suites but decides their order at run time:
// AES-GCM first where it runs in hardware, ChaCha20-Poly1305 first where it
// does not (Debian's libwolfssl has no AES assembly: its ChaCha20-Poly1305 is
// 1.8x its AES-GCM, while the tuned build's AES-NI/AVX2 AES-GCM is several
// times ChaCha). wolfSSL servers choose by their own order, so this decides
// what a client that offers both gets. See aes_gcm_accelerated(). Default
// lists never hold a suite that does not encrypt (see encrypts()).
#include "tls/state.hpp"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace ringlet::tls {
namespace detail {

void ensure_initialised() {
    static std::once_flag once;
    std::call_once(once, [] { wolfSSL_Init(); });
    touch_thread_cache();
}

void touch_thread_cache() noexcept {
    // wolfSSL keeps a fixed-point ECC cache per thread (FP_ECC) that only
    // wc_ecc_fp_free on that thread releases: do it when the thread ends.
    thread_local const struct releaser {
        ~releaser() { wc_ecc_fp_free(); }
    } release_at_thread_exit;
    (void)release_at_thread_exit;
}

verify_report*& current_report() noexcept {
    thread_local verify_report* report = nullptr;
    return report;
}

int verify_callback(int preverified, WOLFSSL_X509_STORE_CTX* store) {
    if (preverified) return 1;
    verify_report* report = current_report();
    if (report && report->error == 0) {
        report->error = wolfSSL_X509_STORE_CTX_get_error(store);
        if (WOLFSSL_X509* cert = wolfSSL_X509_STORE_CTX_get_current_cert(store)) {
            report->self_signed = wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_subject_name(cert),
                                                        wolfSSL_X509_get_issuer_name(cert)) == 0;
        }
    }
    return 0;
}

int sni_callback(WOLFSSL* ssl, int* /*alert*/, void* arg) {
    const auto* state = static_cast<const context_state*>(arg);
    const char* name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
    if (!name) return 0;  // SSL_TLSEXT_ERR_OK: keep the default certificate
    for (const sni_entry& e : state->by_name) {
        if (strcasecmp(e.name.c_str(), name) != 0) continue;
        const auto* chain = reinterpret_cast<const unsigned char*>(e.chain_pem.data());
        const auto* key = reinterpret_cast<const unsigned char*>(e.key_pem.data());
        if (wolfSSL_use_certificate_chain_buffer(ssl, chain, static_cast<long>(e.chain_pem.size())) !=
                WOLFSSL_SUCCESS ||
            wolfSSL_use_PrivateKey_buffer(ssl, key, static_cast<long>(e.key_pem.size()), WOLFSSL_FILETYPE_PEM) !=
                WOLFSSL_SUCCESS) {
            return 2;  // SSL_TLSEXT_ERR_ALERT_FATAL
        }
        break;
    }
    return 0;
}

}  // namespace detail

namespace {

std::string wolfssl_text(int code) {
    char buf[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code < 0 ? -code : code), buf, sizeof buf);
    // wolfSSL_ERR_error_string_n wants the negated code for its own errors.
    if (std::strstr(buf, "unknown") != nullptr || buf[0] == '\0') {
        wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buf, sizeof buf);
    }
    return buf;
}

class tls_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "tls"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::handshake_failed: return "TLS handshake failed";
        case errc::host_name_mismatch: return "certificate is for another host name";
        case errc::certificate_expired: return "certificate has expired";
        case errc::certificate_not_yet_valid: return "certificate is not yet valid";
        case errc::self_signed_certificate: return "certificate is self-signed and not trusted";
        case errc::untrusted_certificate: return "certificate is not signed by a trusted CA";
        case errc::bad_certificate: return "certificate is malformed or its signature is invalid";
        case errc::no_peer_certificate: return "peer sent no certificate";
        case errc::not_tls: return "peer does not speak TLS (plaintext or garbage records)";
        case errc::peer_alert: return "peer aborted the handshake with an alert";
        case errc::closed_during_handshake: return "peer closed the connection during the TLS handshake";
        }
        return "unknown TLS error";
    }
};

class wolfssl_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "wolfssl"; }
    std::string message(int value) const override { return wolfssl_text(value); }
};

[[noreturn]] void fail(const std::string& what, int code) {
    throw std::runtime_error("tls: " + what + ": " + wolfssl_text(code));
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("tls: cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

void load_identity(WOLFSSL_CTX* ctx, const std::string& chain_file, const std::string& key_file,
                   const std::string& chain_pem, const std::string& key_pem) {
    if (!chain_file.empty()) {
        const int rc = wolfSSL_CTX_use_certificate_chain_file(ctx, chain_file.c_str());
        if (rc != WOLFSSL_SUCCESS) fail("loading certificate chain " + chain_file, rc);
    } else if (!chain_pem.empty()) {
        const int rc = wolfSSL_CTX_use_certificate_chain_buffer(ctx, bytes(chain_pem), static_cast<long>(chain_pem.size()));
        if (rc != WOLFSSL_SUCCESS) fail("loading certificate chain from PEM text", rc);
    }
    if (!key_file.empty()) {
        const int rc = wolfSSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) fail("loading private key " + key_file, rc);
    } else if (!key_pem.empty()) {
        const int rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx, bytes(key_pem), static_cast<long>(key_pem.size()),
                                                         WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) fail("loading private key from PEM text", rc);
    }
    if ((!chain_file.empty() || !chain_pem.empty()) && wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
        throw std::runtime_error("tls: the private key does not match the certificate " +
                                 (chain_file.empty() ? std::string("(PEM text)") : chain_file));
    }
}

void load_trust(WOLFSSL_CTX* ctx, const std::string& file, const std::string& pem) {
    if (!file.empty()) {
        const int rc = wolfSSL_CTX_load_verify_locations(ctx, file.c_str(), nullptr);
        if (rc != WOLFSSL_SUCCESS) fail("loading CA bundle " + file, rc);
    }
    if (!pem.empty()) {
        const int rc = wolfSSL_CTX_load_verify_buffer(ctx, bytes(pem), static_cast<long>(pem.size()), WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) fail("loading CA certificates from PEM text", rc);
    }
    if (file.empty() && pem.empty()) {
        const char* system_bundle = "/etc/ssl/certs/ca-certificates.crt";
        const int rc = wolfSSL_CTX_load_verify_locations(ctx, system_bundle, nullptr);
        if (rc != WOLFSSL_SUCCESS) {
            fail(std::string("loading the system CA bundle ") + system_bundle +
                     " (install ca-certificates or pass ca_file)",
                 rc);
        }
    }
}

void common_setup(WOLFSSL_CTX* ctx, version min_version, const std::string& ciphers) {
    const int min = min_version == version::tls1_3 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
    if (wolfSSL_CTX_SetMinVersion(ctx, min) != WOLFSSL_SUCCESS) fail("setting the minimum TLS version", 0);
    if (!ciphers.empty() && wolfSSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != WOLFSSL_SUCCESS) {
        throw std::runtime_error("tls: no usable cipher suite in \"" + ciphers + "\"");
    }
}

// True when AES-GCM runs in hardware in this process: the wolfSSL headers
// ringlet was built against have its AES-NI code (WOLFSSL_AESNI, the tuned
// build), the wolfSSL actually loaded has the x86 assembly (it exports
// cpuid_select_flags only then: a build against the tuned headers may still
// load Debian's library of the same soname), and the CPU has AES-NI and
// PCLMULQDQ, the instructions wolfSSL's run-time check asks for (AVX/AVX2
// only pick a faster AES-GCM; without them wolfSSL uses plain AES-NI code).
bool aes_gcm_accelerated() noexcept {
#if defined(WOLFSSL_AESNI) && (defined(__x86_64__) || defined(__i386__))
    static const bool accelerated = [] {
        // wolfSSL's cpuid.c trusts the feature bits of GenuineIntel and
        // AuthenticAMD CPUs only; on any other vendor it runs the C code.
        if (!__builtin_cpu_is("intel") && !__builtin_cpu_is("amd")) return false;
        if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("pclmul")) return false;
        Dl_info where{};
        if (dladdr(reinterpret_cast<void*>(&wolfSSL_Init), &where) == 0 || !where.dli_fname) return false;
        void* library = dlopen(where.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (!library) return false;
        const bool has_asm = dlsym(library, "cpuid_select_flags") != nullptr;
        dlclose(library);
        return has_asm;
    }();
    return accelerated;
#else
    return false;
#endif
}

// The suites a connection from `ctx` would offer, in order, by wolfSSL name.
std::vector<std::string> suites_of(WOLFSSL_CTX* ctx) {
    std::vector<std::string> names;
    WOLFSSL* probe = wolfSSL_new(ctx);
    if (!probe) return names;
    WOLF_STACK_OF(WOLFSSL_CIPHER)* stack = wolfSSL_get_ciphers_compat(probe);
    const int count = stack ? wolfSSL_sk_SSL_CIPHER_num(stack) : 0;
    for (int i = 0; i < count; ++i) {
        const char* name = wolfSSL_CIPHER_get_name(wolfSSL_sk_SSL_CIPHER_value(stack, i));
        if (name) names.emplace_back(name);
    }
    wolfSSL_free(probe);
    return names;
}

// TLS 1.3's integrity-only suites (RFC 9150: TLS13-SHA256-SHA256,
// TLS13-SHA384-SHA384) and any NULL cipher authenticate but do not encrypt;
// wolfSSL's distro build enables them, so a peer that offered only those
// would get a plaintext connection. Never part of a default list.
bool encrypts(const std::string& suite) {
    return suite.find("NULL") == std::string::npos && suite != "TLS13-SHA256-SHA256" &&
           suite != "TLS13-SHA384-SHA384";
}

// The default suites of a context without an explicit cipher_list: wolfSSL's
// own list less the suites that do not encrypt; on a server without AES
// acceleration the ChaCha20-Poly1305 suites move ahead of the rest (keeping
// the relative order of everything else), with it wolfSSL's AES-GCM-first
// order stays.
void set_default_suites(WOLFSSL_CTX* ctx, bool server) {
    std::vector<std::string> names = suites_of(ctx);
    std::erase_if(names, [](const std::string& n) { return !encrypts(n); });
    if (server && !aes_gcm_accelerated()) {
        std::stable_partition(names.begin(), names.end(),
                              [](const std::string& n) { return n.find("CHACHA20-POLY1305") != std::string::npos; });
    }
    std::string list;
    for (const auto& n : names) {
        if (!list.empty()) list += ':';
        list += n;
    }
    if (!list.empty() && wolfSSL_CTX_set_cipher_list(ctx, list.c_str()) != WOLFSSL_SUCCESS) {
        throw std::runtime_error("tls: setting the default cipher suites failed: \"" + list + "\"");
    }
}

std::string join_alpn(const std::vector<std::string>& protocols) {
    std::string out;
    for (const auto& p : protocols) {
        if (!out.empty()) out += ',';
        out += p;
    }
    return out;
}

}  // namespace

const std::error_category& tls_category() noexcept {
    static const tls_category_impl instance;
    return instance;
}

const std::error_category& wolfssl_category() noexcept {
    static const wolfssl_category_impl instance;
    return instance;
}

context context::client(const client_options& options) {
    detail::ensure_initialised();
    auto state = std::make_shared<detail::context_state>();
    state->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (!state->ctx) throw std::runtime_error("tls: wolfSSL_CTX_new failed (out of memory?)");
    state->verify_peer = options.verify_peer;
    common_setup(state->ctx, options.min_version, options.cipher_list);
    if (options.cipher_list.empty()) set_default_suites(state->ctx, false);
    if (options.verify_peer) {
        load_trust(state->ctx, options.ca_file, options.ca_pem);
        wolfSSL_CTX_set_verify(state->ctx, WOLFSSL_VERIFY_PEER, detail::verify_callback);
    } else {
        wolfSSL_CTX_set_verify(state->ctx, WOLFSSL_VERIFY_NONE, nullptr);
    }
    load_identity(state->ctx, options.certificate_chain_file, options.private_key_file,
                  options.certificate_chain_pem, options.private_key_pem);
    state->alpn = join_alpn(options.alpn);
    context out;
    out.state_ = std::move(state);
    return out;
}

context context::client() {
    const client_options defaults;
    return client(defaults);
}

context context::server(const server_options& options) {
    detail::ensure_initialised();
    auto state = std::make_shared<detail::context_state>();
    state->server = true;
    state->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (!state->ctx) throw std::runtime_error("tls: wolfSSL_CTX_new failed (out of memory?)");
    common_setup(state->ctx, options.min_version, options.cipher_list);
    if (options.certificate_chain_file.empty() && options.certificate_chain_pem.empty()) {
        throw std::runtime_error("tls: a server context needs a certificate chain and its private key");
    }
    load_identity(state->ctx, options.certificate_chain_file, options.private_key_file,
                  options.certificate_chain_pem, options.private_key_pem);
    if (options.cipher_list.empty()) set_default_suites(state->ctx, true);
    if (options.request_client_certificate) {
        load_trust(state->ctx, options.client_ca_file, options.client_ca_pem);
        int mode = WOLFSSL_VERIFY_PEER;
        if (options.require_client_certificate) mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        wolfSSL_CTX_set_verify(state->ctx, mode, detail::verify_callback);
    } else {
        wolfSSL_CTX_set_verify(state->ctx, WOLFSSL_VERIFY_NONE, nullptr);
    }
    if (options.session_tickets) {
        state->tickets = std::make_unique<detail::ticket_keys>(options.ticket_key_lifetime);
        wolfSSL_CTX_set_TicketEncCb(state->ctx, &detail::ticket_keys::callback);
        wolfSSL_CTX_set_TicketEncCtx(state->ctx, state->tickets.get());
    } else {
        // Both: TLS 1.3 sends its NewSessionTicket after the handshake unless told not to.
        wolfSSL_CTX_NoTicketTLSv12(state->ctx);
        wolfSSL_CTX_no_ticket_TLSv13(state->ctx);
    }
    for (const auto& n : options.by_server_name) {
        detail::sni_entry e{n.server_name,
                            n.certificate_chain_file.empty() ? n.certificate_chain_pem : read_file(n.certificate_chain_file),
                            n.private_key_file.empty() ? n.private_key_pem : read_file(n.private_key_file)};
        state->by_name.push_back(std::move(e));
    }
    if (!state->by_name.empty()) {
        wolfSSL_CTX_set_servername_callback(state->ctx, detail::sni_callback);
        wolfSSL_CTX_set_servername_arg(state->ctx, state.get());
    }
    state->alpn = join_alpn(options.alpn);
    context out;
    out.state_ = std::move(state);
    return out;
}

bool context::is_server() const noexcept { return state_ && state_->server; }

std::string describe_error(std::string_view what, std::error_code error) {
    return std::string(what) + ": " + error.message();
}

}  // namespace ringlet::tls

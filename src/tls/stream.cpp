// tls::stream: wolfSSL driven by the ring.
//
// Design notes. wolfSSL's I/O callbacks never touch the socket.
// - In: ciphertext comes from the transport's receive() — a lease on a shard
//   buffer holding whatever the socket had (up to the lease size: several
//   records), as the plaintext HTTP path reads. on_recv copies out what
//   wolfSSL asks for (a record header, then its body): the one copy its
//   callback API needs. wolfSSL keeps a partial record itself, so a drained
//   lease is released at once; a connection waiting for its peer holds no
//   buffer of ringlet's (it held a 32 KiB vector before).
// - Out: on_send appends each record to `out`; nothing is sent until the
//   operation ends — a write: one write_all of all its records (WANT_WRITE
//   past out_limit, after which wolfSSL_write is called again with the same
//   arguments, as wolfSSL requires) — or until a wait for input begins (fill
//   flushes first: nothing the peer waits for is held back). A TLS 1.3
//   server's handshake leaves its session tickets pending: they share the
//   first response's send. write_vectored joins small parts into one record
//   and tops up the record before a large part (an HTTP head and its body).
// - A transport that ends is reported to wolfSSL as CONN_CLOSE; its error is
//   mapped back to errc::truncated (data phase) or closed_during_handshake.
//
// Measured (bench/https_compare.py --realtime: examples/http_server
// --shards 1 on CPU 0 in a 0.5-CPU quota, wrk -t1 -c4 on CPU 1, TLS 1.3
// AES-128-GCM, same-round medians of 3 rounds; 2-vCPU Xeon, Sapphire Rapids):
// - Against the previous path (`--b` with the old build): 1 MiB bodies
//   1.02x (0.95-1.07: it already read 32 KiB and sent 64 KiB at a time);
//   `Connection: close` 17.8x (167 -> 2,983 connections/s): the ticket went
//   out alone and, Nagle on, the response waited 40 ms for its delayed ACK.
//   Now the ticket rides with the response and HTTPS sets TCP_NODELAY.
// - Where a bulk send's CPU goes now (perf): AES-GCM 49 %, the kernel's copy
//   into the socket 15 %, memcpy 13 % (wolfSSL copies the plaintext into its
//   record buffer, on_send copies the record into `out`), tcp_sendmsg 4 %;
//   ringlet's own code < 2 %. `out.resize` + memcpy zeroed each record first
//   (memset 2.4 %): insert instead. Handshakes: wolfSSL 72 % (X25519 40 %,
//   SHA-256 17 %), kernel 16 %, libringlet 5 %. ChaCha20-Poly1305 bulk:
//   the cipher 69 %, the kernel's copy 6 %, memcpy 4 % (1.00x nginx: the
//   cipher decides).
// - Variants measured: out_limit 256 KiB against 64 KiB, 1.05x
//   (0.96-1.05): kept. Not tried: sending each record straight from
//   wolfSSL's own buffer (no copy into `out`), which wolfSSL's callback API
//   allows only as one send per 16 KiB record, while the copy it would save
//   is about half of the 13 % memcpy above.
#include "tls/state.hpp"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace ringlet::tls {
namespace detail {

struct stream_state {
    enum class op { connect, accept, read, write, shutdown };

    net::stream transport;
    context ctx;
    WOLFSSL* ssl = nullptr;
    // Ciphertext in: the lease of the transport's last receive() (a shard
    // buffer), consumed from `lease_at`; `carry` holds bytes handed over by
    // STARTTLS, consumed first. wolfSSL copies what it asks for and keeps a
    // partial record itself, so a drained lease is released at once.
    net::received lease;
    std::size_t lease_at = 0;
    std::vector<std::byte> carry;
    std::size_t carry_at = 0;
    bool in_eof = false;
    // Ciphertext out: records wolfSSL made since the last flush.
    std::vector<std::byte> out;
    std::vector<std::byte> joined;  // write_vectored's small parts, one record's worth
    std::error_code io_error;  // the transport's last error
    verify_report verify;
    bool handshake_done = false;
    bool close_notify_sent = false;
    bool peer_closed = false;  // close_notify received
    std::string sni;

    /// Records gathered before one send (WANT_WRITE beyond it). See the notes.
    static constexpr std::size_t out_limit = 256 * 1024;
    /// Room for one more record past out_limit (16 KiB + TLS overhead).
    static constexpr std::size_t record_room = 17 * 1024 + 512;
    /// Parts of a write_vectored below this size are joined into one record.
    static constexpr std::size_t record_payload = 16 * 1024;

    stream_state(net::stream t, context c) : transport(std::move(t)), ctx(std::move(c)) {}
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;
    ~stream_state() {
        if (ssl) wolfSSL_free(ssl);
    }

    static int on_recv(WOLFSSL*, char* buf, int size, void* arg) {
        auto* self = static_cast<stream_state*>(arg);
        const auto want = static_cast<std::size_t>(size);
        if (self->carry_at < self->carry.size()) {
            const std::size_t n = std::min(want, self->carry.size() - self->carry_at);
            std::memcpy(buf, self->carry.data() + self->carry_at, n);
            self->carry_at += n;
            if (self->carry_at == self->carry.size()) {
                std::vector<std::byte>{}.swap(self->carry);
                self->carry_at = 0;
            }
            return static_cast<int>(n);
        }
        const std::size_t have = self->lease.size() - self->lease_at;
        if (have == 0) return self->in_eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
        const std::size_t n = std::min(have, want);
        std::memcpy(buf, self->lease.data() + self->lease_at, n);
        self->lease_at += n;
        if (self->lease_at == self->lease.size()) {
            self->lease.release();
            self->lease_at = 0;
        }
        return static_cast<int>(n);
    }

    static int on_send(WOLFSSL*, char* buf, int size, void* arg) {
        auto* self = static_cast<stream_state*>(arg);
        if (self->out.size() >= out_limit) return WOLFSSL_CBIO_ERR_WANT_WRITE;
        // Room for one record first (a handshake flight, a short response);
        // the whole batch once a second record comes (bulk: no regrowth).
        const auto need = self->out.size() + static_cast<std::size_t>(size);
        if (need > self->out.capacity()) self->out.reserve(self->out.empty() ? record_room : out_limit + record_room);
        // insert, not resize + memcpy: resize zeroes the bytes first (measured: 2.4 % of a bulk send).
        const auto* p = reinterpret_cast<const std::byte*>(buf);
        self->out.insert(self->out.end(), p, p + size);
        return size;
    }

    /// Creates the wolfSSL object; false (with io_error set) on failure.
    bool create(std::span<const std::byte> already_read) {
        touch_thread_cache();
        ssl = wolfSSL_new(ctx.state()->ctx);
        if (!ssl) {
            io_error = std::make_error_code(std::errc::not_enough_memory);
            return false;
        }
        wolfSSL_SSLSetIORecv(ssl, &on_recv);
        wolfSSL_SSLSetIOSend(ssl, &on_send);
        wolfSSL_SetIOReadCtx(ssl, this);
        wolfSSL_SetIOWriteCtx(ssl, this);
        const std::string& alpn = ctx.state()->alpn;
        if (!alpn.empty()) {
            std::string list = alpn;  // wolfSSL_UseALPN takes a mutable buffer
            wolfSSL_UseALPN(ssl, list.data(), static_cast<unsigned>(list.size()), WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
        }
        carry.assign(already_read.begin(), already_read.end());
        return true;
    }

    int call(op kind, void* buf, int len) {
        current_report() = &verify;
        int rc = 0;
        switch (kind) {
        case op::connect: rc = wolfSSL_connect(ssl); break;
        case op::accept: rc = wolfSSL_accept(ssl); break;
        case op::read: rc = wolfSSL_read(ssl, buf, len); break;
        case op::write: rc = wolfSSL_write(ssl, buf, len); break;
        case op::shutdown: rc = wolfSSL_shutdown(ssl); break;
        }
        current_report() = nullptr;
        return rc;
    }

    /// Sends every record made so far in one write_all.
    task<result<void>> flush(timeout until) {
        if (out.empty()) co_return result<void>{};
        auto sent = co_await transport.write_all(std::span<const std::byte>{out}, until);
        out.clear();
        if (!sent) {
            io_error = sent.error();
            co_return unexpected{sent.error()};
        }
        co_return result<void>{};
    }

    /// Waits for the transport's next bytes (one receive: a shard buffer of
    /// whatever the socket holds, up to its size). The records pending go
    /// out first, and the output buffer is given back: a connection waiting
    /// for its peer holds no buffer of ringlet's.
    task<result<void>> fill(timeout until) {
        auto flushed = co_await flush(until);
        if (!flushed) co_return flushed;
        if (out.capacity() != 0) std::vector<std::byte>{}.swap(out);
        if (joined.capacity() != 0) std::vector<std::byte>{}.swap(joined);
        auto got = co_await transport.receive(until);
        if (!got) {
            io_error = got.error();
            co_return unexpected{got.error()};
        }
        if (got->empty()) in_eof = true;
        lease = std::move(*got);
        lease_at = 0;
        co_return result<void>{};
    }

    /// The error for wolfSSL's `code` after a failed operation.
    std::error_code map_error(int code) const {
        if (verify.error != 0) {
            switch (verify.error) {
            // OpenSSL-style X509_V_ERR_* codes (wolfSSL's compatibility layer) ...
            case 10:                                            // CERT_HAS_EXPIRED
            case 14: return errc::certificate_expired;          // ERROR_IN_CERT_NOT_AFTER_FIELD (wolfSSL)
            case 9:                                             // CERT_NOT_YET_VALID
            case 13: return errc::certificate_not_yet_valid;    // ERROR_IN_CERT_NOT_BEFORE_FIELD (wolfSSL)
            case 18:                                            // DEPTH_ZERO_SELF_SIGNED_CERT
            case 19: return errc::self_signed_certificate;      // SELF_SIGNED_CERT_IN_CHAIN
            case 2:                                             // UNABLE_TO_GET_ISSUER_CERT
            case 20:                                            // UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            case 21:                                            // UNABLE_TO_VERIFY_LEAF_SIGNATURE
                return verify.self_signed ? errc::self_signed_certificate : errc::untrusted_certificate;
            case 62: return errc::host_name_mismatch;           // HOSTNAME_MISMATCH
            // ... and wolfSSL's own.
            case ASN_AFTER_DATE_E: return errc::certificate_expired;
            case ASN_BEFORE_DATE_E: return errc::certificate_not_yet_valid;
            case ASN_SELF_SIGNED_E: return errc::self_signed_certificate;
            case ASN_NO_SIGNER_E:
                return verify.self_signed ? errc::self_signed_certificate : errc::untrusted_certificate;
            case DOMAIN_NAME_MISMATCH: return errc::host_name_mismatch;
            default: return errc::bad_certificate;
            }
        }
        switch (code) {
        case DOMAIN_NAME_MISMATCH: return errc::host_name_mismatch;
        case ASN_AFTER_DATE_E: return errc::certificate_expired;
        case ASN_BEFORE_DATE_E: return errc::certificate_not_yet_valid;
        case ASN_SELF_SIGNED_E: return errc::self_signed_certificate;
        case ASN_NO_SIGNER_E: return errc::untrusted_certificate;
        case ASN_SIG_CONFIRM_E: return errc::bad_certificate;
        case NO_PEER_CERT: return errc::no_peer_certificate;
        case FATAL_ERROR: return errc::peer_alert;
        case VERSION_ERROR:
        case UNKNOWN_RECORD_TYPE:
        case PARSE_ERROR:
        case BUFFER_ERROR:
        case OUT_OF_ORDER_E:
        case LENGTH_ERROR:
        case SANITY_MSG_E: return handshake_done ? std::error_code{code, wolfssl_category()} : errc::not_tls;
        case SOCKET_ERROR_E:
        case SOCKET_PEER_CLOSED_E:
            if (in_eof) {
                if (handshake_done) return ringlet::errc::truncated;
                return errc::closed_during_handshake;
            }
            if (io_error) return io_error;
            break;
        default: break;
        }
        if (code == WOLFSSL_FATAL_ERROR || code == 0) return handshake_done ? std::error_code{ringlet::errc::truncated} : errc::handshake_failed;
        return {code, wolfssl_category()};
    }

    /// Runs one wolfSSL operation to completion through the ring. Yields its
    /// positive return (or 0 for a read that met close_notify). Records it
    /// made stay in `out` when it succeeds: writes flush at their end, and
    /// anything pending goes out before a wait for input (fill) — so a
    /// handshake's last flight, a response's records and an alert share
    /// sends with what follows them.
    task<result<int>> run(op kind, void* buf, int len, timeout until) {
        for (;;) {
            const int rc = call(kind, buf, len);
            if (rc > 0) co_return rc;
            const int err = wolfSSL_get_error(ssl, rc);
            if (err == WOLFSSL_ERROR_WANT_WRITE) {
                auto flushed = co_await flush(until);
                if (!flushed) co_return unexpected{flushed.error()};
                continue;
            }
            if (err == WOLFSSL_ERROR_WANT_READ) {
                if (kind == op::shutdown && close_notify_sent && !peer_closed && in_eof) {
                    co_return unexpected{ringlet::errc::truncated};
                }
                auto filled = co_await fill(until);
                if (!filled) co_return unexpected{filled.error()};
                continue;
            }
            if (err == WOLFSSL_ERROR_ZERO_RETURN) {
                peer_closed = true;
                co_return 0;
            }
            // An alert wolfSSL made goes out with the failure.
            auto flushed = co_await flush(until);
            if (!flushed) co_return unexpected{flushed.error()};
            co_return unexpected{map_error(err)};
        }
    }

    /// Encrypts `data` into records (wolfSSL_write, retried with the same
    /// arguments after WANT_WRITE) without sending what fits in `out`.
    task<result<void>> encrypt(std::span<const std::byte> data, timeout until) {
        constexpr std::size_t most = 1u << 30;  // wolfSSL_write takes an int
        while (!data.empty()) {
            const std::size_t len = std::min(most, data.size());
            // wolfSSL reads the buffer only; its API is not const-correct.
            void* buf = const_cast<std::byte*>(data.data());
            auto n = co_await run(op::write, buf, static_cast<int>(len), until);
            if (!n) co_return unexpected{n.error()};
            data = data.subspan(static_cast<std::size_t>(*n));
        }
        co_return result<void>{};
    }
};

}  // namespace detail

namespace {

timeout deadline_of(timeout t) { return net::as_deadline(t); }

task<result<stream>> handshake(net::stream transport, context ctx, bool server, std::string_view name,
                               const session* resume, timeout limit, std::span<const std::byte> already_read) {
    if (!ctx.valid() || ctx.is_server() != server) {
        (void)co_await transport.close();
        co_return unexpected{ringlet::errc::invalid_argument};
    }
    const bool verify = !server && ctx.state()->verify_peer;
    if (verify && name.empty()) {
        (void)co_await transport.close();
        co_return unexpected{ringlet::errc::invalid_argument};
    }
    auto state = std::make_unique<detail::stream_state>(std::move(transport), ctx);
    if (!state->create(already_read)) {
        (void)co_await state->transport.close();
        co_return unexpected{state->io_error};
    }
    if (!server) {
        state->sni = std::string(name);
        if (!name.empty()) {
            wolfSSL_UseSNI(state->ssl, WOLFSSL_SNI_HOST_NAME, name.data(), static_cast<unsigned short>(name.size()));
            if (verify) wolfSSL_check_domain_name(state->ssl, state->sni.c_str());
        }
        wolfSSL_UseSessionTicket(state->ssl);
        if (resume && resume->valid()) wolfSSL_set_session(state->ssl, resume->state()->session);
    }
    const timeout until = deadline_of(limit);
    auto done = co_await state->run(server ? detail::stream_state::op::accept : detail::stream_state::op::connect,
                                    nullptr, 0, until);
    if (!done) {
        (void)co_await state->transport.close();
        co_return unexpected{done.error()};
    }
    state->handshake_done = true;
    if (server) {
        if (const char* sent = wolfSSL_get_servername(state->ssl, WOLFSSL_SNI_HOST_NAME)) state->sni = sent;
    }
    // A TLS 1.3 server's last records (its session tickets) wait for the
    // first response; anything a peer still waits for leaves now.
    if (!server || wolfSSL_version(state->ssl) != TLS1_3_VERSION) {
        auto flushed = co_await state->flush(until);
        if (!flushed) {
            (void)co_await state->transport.close();
            co_return unexpected{flushed.error()};
        }
    }
    co_return stream{std::move(state)};
}

}  // namespace

task<result<stream>> client_handshake(net::stream transport, context ctx, client_handshake_options options) {
    return handshake(std::move(transport), std::move(ctx), false, options.server_name, options.resume,
                     options.handshake_timeout, options.already_read);
}

task<result<stream>> server_handshake(net::stream transport, context ctx, server_handshake_options options) {
    return handshake(std::move(transport), std::move(ctx), true, {}, nullptr, options.handshake_timeout,
                     options.already_read);
}

stream::stream() noexcept = default;
stream::stream(std::unique_ptr<detail::stream_state> state) noexcept : state_(std::move(state)) {}
stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&&) noexcept = default;
stream::~stream() = default;

task<result<std::size_t>> stream::read_some(std::span<std::byte> buffer, timeout limit) {
    if (!state_) co_return unexpected{std::errc::bad_file_descriptor};
    if (buffer.empty()) co_return std::size_t{0};
    if (state_->peer_closed) co_return std::size_t{0};
    const int len = static_cast<int>(std::min<std::size_t>(buffer.size(), INT_MAX));
    auto n = co_await state_->run(detail::stream_state::op::read, buffer.data(), len, deadline_of(limit));
    if (!n) co_return unexpected{n.error()};
    co_return static_cast<std::size_t>(*n);
}

task<result<std::size_t>> stream::read_some(std::span<char> buffer, timeout limit) {
    return read_some(std::as_writable_bytes(buffer), limit);
}

task<result<void>> stream::read_exact(std::span<std::byte> buffer, timeout limit) {
    const timeout until = deadline_of(limit);
    std::size_t done = 0;
    while (done < buffer.size()) {
        auto n = co_await read_some(buffer.subspan(done), until);
        if (!n) co_return unexpected{n.error()};
        if (*n == 0) co_return unexpected{ringlet::errc::end_of_stream};
        done += *n;
    }
    co_return result<void>{};
}

task<result<void>> stream::write_all(std::span<const std::byte> data, timeout limit) {
    if (!state_) co_return unexpected{std::errc::bad_file_descriptor};
    const timeout until = deadline_of(limit);
    auto encrypted = co_await state_->encrypt(data, until);
    if (!encrypted) co_return encrypted;
    co_return co_await state_->flush(until);
}

task<result<void>> stream::write_vectored(std::span<const net::const_buffer> parts, timeout limit) {
    if (!state_) co_return unexpected{std::errc::bad_file_descriptor};
    auto& s = *state_;
    const timeout until = deadline_of(limit);
    // Small parts are joined into one record, and the record a large part
    // follows is topped up from its start: a response head and its body
    // share their first record instead of the head going alone.
    constexpr std::size_t record = detail::stream_state::record_payload;
    std::vector<std::byte>& joined = s.joined;
    joined.clear();
    for (const net::const_buffer& part : parts) {
        std::span<const std::byte> rest{part.data(), part.size()};
        if (joined.size() + rest.size() <= record) {
            joined.insert(joined.end(), rest.begin(), rest.end());
            continue;
        }
        if (!joined.empty()) {
            const std::size_t top_up = record - joined.size();
            joined.insert(joined.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(top_up));
            rest = rest.subspan(top_up);
            auto sealed = co_await s.encrypt(joined, until);
            if (!sealed) co_return sealed;
            joined.clear();
        }
        if (rest.size() < record) {
            joined.assign(rest.begin(), rest.end());
            continue;
        }
        auto sealed = co_await s.encrypt(rest, until);
        if (!sealed) co_return sealed;
    }
    if (!joined.empty()) {
        auto sealed = co_await s.encrypt(joined, until);
        if (!sealed) co_return sealed;
        joined.clear();
    }
    co_return co_await s.flush(until);
}

task<result<void>> stream::write_all(std::string_view data, timeout limit) {
    return write_all(std::as_bytes(std::span{data.data(), data.size()}), limit);
}

task<result<void>> stream::shutdown(timeout wait_for_peer) {
    if (!state_) co_return unexpected{std::errc::bad_file_descriptor};
    auto& s = *state_;
    const timeout until = deadline_of(wait_for_peer);
    if (!s.close_notify_sent) {
        s.close_notify_sent = true;
        const int rc = s.call(detail::stream_state::op::shutdown, nullptr, 0);
        // The close_notify goes out even with a zero wait for the peer's; a
        // full socket buffer bounds the send at one second.
        auto flushed = co_await s.flush(deadline_of(std::chrono::seconds{1}));
        if (!flushed) co_return unexpected{flushed.error()};
        if (rc == WOLFSSL_SUCCESS) {
            s.peer_closed = true;
            co_return result<void>{};
        }
    }
    // Wait for the peer's close_notify, discarding application data before it.
    char sink[4096];
    for (int rounds = 0; !s.peer_closed && rounds < 100000; ++rounds) {
        auto n = co_await s.run(detail::stream_state::op::read, sink, sizeof sink, until);
        if (!n) co_return unexpected{n.error()};
    }
    co_return result<void>{};
}

task<result<void>> stream::close(timeout wait_for_peer) {
    if (!state_) co_return result<void>{};
    if (state_->handshake_done && !state_->in_eof && !state_->io_error) (void)co_await shutdown(wait_for_peer);
    co_return co_await state_->transport.close();
}

void stream::set_deadline(timeout when) noexcept {
    if (state_) state_->transport.set_deadline(when);
}
void stream::set_read_deadline(timeout when) noexcept {
    if (state_) state_->transport.set_read_deadline(when);
}
void stream::set_write_deadline(timeout when) noexcept {
    if (state_) state_->transport.set_write_deadline(when);
}
void stream::set_read_timeout(clock::duration limit) noexcept {
    if (state_) state_->transport.set_read_timeout(limit);
}
void stream::set_write_timeout(clock::duration limit) noexcept {
    if (state_) state_->transport.set_write_timeout(limit);
}

bool stream::is_tls() const noexcept { return state_ && state_->handshake_done; }

std::string stream::version() const {
    if (!state_) return {};
    const char* v = wolfSSL_get_version(state_->ssl);
    return v ? v : "";
}

std::string stream::cipher() const {
    if (!state_) return {};
    const char* c = wolfSSL_get_cipher_name(state_->ssl);
    return c ? c : "";
}

std::string stream::alpn() const {
    if (!state_) return {};
    char* name = nullptr;
    unsigned short size = 0;
    if (wolfSSL_ALPN_GetProtocol(state_->ssl, &name, &size) != WOLFSSL_SUCCESS || !name) return {};
    return std::string(name, size);
}

std::string stream::peer_subject() const {
    if (!state_) return {};
    WOLFSSL_X509* cert = wolfSSL_get_peer_certificate(state_->ssl);
    if (!cert) return {};
    std::string out;
    if (char* text = wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(cert), nullptr, 0)) {
        out = text;
        XFREE(text, nullptr, DYNAMIC_TYPE_OPENSSL);
    }
    wolfSSL_X509_free(cert);
    return out;
}

std::string stream::server_name() const { return state_ ? state_->sni : std::string{}; }

bool stream::resumed() const noexcept { return state_ && wolfSSL_session_reused(state_->ssl) == 1; }

session stream::saved_session() const {
    if (!state_) return {};
    WOLFSSL_SESSION* s = wolfSSL_get1_session(state_->ssl);
    if (!s) return {};
    return session{std::make_shared<detail::session_state>(s)};
}

net::stream& stream::transport() noexcept { return state_->transport; }
bool stream::is_open() const noexcept { return state_ && state_->transport.is_open(); }

}  // namespace ringlet::tls

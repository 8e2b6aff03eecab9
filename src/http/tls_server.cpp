// HTTPS transports: the server handshake per connection, then TLS reads into
// a buffer of the connection's (a TLS stream has no shard-leased receive).
#include <ringlet/http/tls_server.hpp>
#include <ringlet/tls/stream.hpp>

#include "http/connection.hpp"

namespace ringlet::http {
namespace detail {
namespace {

constexpr std::size_t kReadSize = 16 * 1024;  // one TLS record of plaintext

class tls_io final : public transport {
public:
    explicit tls_io(tls::stream conn) : conn_(std::move(conn)) {}

    task<result<std::span<const std::byte>>> receive(timeout limit) override {
        if (!buffer_) buffer_ = std::make_unique<std::byte[]>(kReadSize);
        auto n = co_await conn_.read_some(std::span{buffer_.get(), kReadSize}, limit);
        if (!n) co_return unexpected{n.error()};
        co_return std::span<const std::byte>{buffer_.get(), *n};
    }
    void release() noexcept override {}
    task<result<void>> write(std::span<const net::const_buffer> parts, timeout limit) override {
        return conn_.write_vectored(parts, limit);  // one send: head and body share records
    }
    task<void> linger(timeout) override { co_return; }  // close() waits for the peer's close_notify
    task<void> close() override { (void)co_await conn_.close(std::chrono::milliseconds{100}); }

private:
    tls::stream conn_;
    std::unique_ptr<std::byte[]> buffer_;
};

class tls_factory final : public transport_factory {
public:
    tls_factory(tls::context ctx, timeout handshake) noexcept : ctx_(std::move(ctx)), handshake_(handshake) {}

    task<std::unique_ptr<transport>> open(tcp::stream conn) const override {
        // As for plaintext (tcp_io): a response must not wait for the ACK of
        // the session tickets or of the previous response (Nagle).
        (void)conn.set_nodelay(true);
        auto tls = co_await tls::server_handshake(std::move(conn), ctx_, {.handshake_timeout = handshake_});
        if (!tls) co_return nullptr;
        co_return std::make_unique<tls_io>(std::move(*tls));
    }

private:
    tls::context ctx_;
    timeout handshake_;
};

}  // namespace
}  // namespace detail

result<server> bind(const net::address& where, tls::context ctx, server_options options) {
    if (!ctx.valid() || !ctx.is_server()) return unexpected{errc::invalid_argument};
    return detail::bind_with(where, options,
                             std::make_unique<detail::tls_factory>(std::move(ctx), timeout{options.header_timeout}));
}

task<result<void>> serve(const net::address& where, tls::context ctx, handler handle, server_options options) {
    auto s = bind(where, std::move(ctx), options);
    if (!s) co_return unexpected{s.error()};
    co_await s->serve(std::move(handle));
    co_return result<void>{};
}

}  // namespace ringlet::http

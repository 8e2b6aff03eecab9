// secure.hpp on ringlet::tls (wolfSSL).
#include "secure.hpp"

#include <ringlet/tls/context.hpp>
#include <ringlet/tls/stream.hpp>

#include <chrono>
#include <exception>

namespace loadgen {
namespace {

namespace tls = ringlet::tls;

class tls_stream final : public secure_stream {
public:
    explicit tls_stream(tls::stream s) : s_(std::move(s)) {}
    ringlet::task<ringlet::result<std::size_t>> read_some(std::span<std::byte> buffer) override {
        co_return co_await s_.read_some(buffer);
    }
    ringlet::task<ringlet::result<void>> write_all(std::span<const std::byte> data) override {
        co_return co_await s_.write_all(data);
    }
    ringlet::task<void> close() override {
        auto closed = co_await s_.close(std::chrono::milliseconds{0});  // close_notify sent, not awaited
        (void)closed;
    }

private:
    tls::stream s_;
};

class tls_client final : public secure_client {
public:
    tls_client(tls::context ctx, std::string sni) : ctx_(std::move(ctx)), sni_(std::move(sni)) {}
    ringlet::task<ringlet::result<std::unique_ptr<secure_stream>>> handshake(ringlet::net::stream transport) override {
        tls::client_handshake_options how;
        how.server_name = sni_;
        auto s = co_await tls::client_handshake(std::move(transport), ctx_, how);
        if (!s) co_return ringlet::unexpected{s.error()};
        co_return std::unique_ptr<secure_stream>{std::make_unique<tls_stream>(std::move(*s))};
    }
    std::string describe(std::error_code error) const override { return tls::describe_error("TLS handshake", error); }

private:
    tls::context ctx_;
    std::string sni_;
};

}  // namespace

std::unique_ptr<secure_client> make_secure_client(const options& opts, std::string& error) {
    tls::client_options o;
    o.ca_file = opts.tls_ca;
    o.verify_peer = !opts.tls_insecure;
    o.alpn = opts.tls_alpn;
    o.cipher_list = opts.tls_ciphers;
    try {
        return std::make_unique<tls_client>(tls::context::client(o), opts.tls_sni);
    } catch (const std::exception& e) {
        error = e.what();
        return nullptr;
    }
}

}  // namespace loadgen

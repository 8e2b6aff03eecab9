// http::server: tcp::server's listeners, and per accepted connection a
// transport (plaintext here; TLS in tls_server.cpp) and the HTTP loop.
#include <ringlet/core/shard.hpp>
#include <ringlet/http/server.hpp>

#include "http/connection.hpp"

namespace ringlet::http {

namespace detail {
namespace {

class plaintext final : public transport_factory {
public:
    task<std::unique_ptr<transport>> open(tcp::stream conn) const override {
        co_return tcp_transport(std::move(conn));
    }
};

}  // namespace

result<server> bind_with(const net::address& where, server_options options,
                         std::unique_ptr<transport_factory> factory) {
    // tcp::server's connection gate holds the cap (one count per shard, reset
    // above it); its progress timeouts stay off: the connection sets its own
    // per-call limits, nginx's four timeouts.
    auto tcp = tcp::server::bind(
        where, {.backlog = options.backlog,
                .shards = options.shards,
                .limits = {.idle_timeout = {}, .write_timeout = {}, .max_connections = options.max_connections}});
    if (!tcp) return unexpected{tcp.error()};
    auto state = std::make_shared<shared_state>();
    state->options = options;
    state->factory = std::move(factory);
    return server{std::move(*tcp), std::move(state)};
}

}  // namespace detail

task<result<std::string_view>> request::read_body() { return conn_->read_body(); }

task<result<std::size_t>> request::read_body_some(std::span<std::byte> out) { return conn_->read_body_some(out); }

void response::add_header(std::string_view name, std::string_view value) { conn_->add_header(name, value); }

void response::set_body(std::string_view body) {
    body_view_ = {};
    conn_->set_body(body);
}

void response::set_body_view(std::span<const std::byte> body) noexcept {
    conn_->set_body({});
    body_view_ = body;
}

task<result<void>> response::write_chunk(std::string_view data) { return conn_->write_chunk(*this, data); }

task<result<void>> response::finish() { return conn_->finish(*this); }

result<server> server::bind(const net::address& where, server_options options) {
    return detail::bind_with(where, options, std::make_unique<detail::plaintext>());
}

task<void> server::serve(handler handle) {
    std::shared_ptr<detail::shared_state> state = state_;
    // tcp::server copies this per shard, and with it the handler. A named
    // local, not a temporary in the co_await expression: GCC 12 copies such
    // temporaries bytewise and then destroys both copies (here: one
    // shared_ptr release too many, a use-after-free at 8,000 connections).
    tcp::handler accept = [state, handle](tcp::stream conn) mutable -> task<void> {
        return detail::serve_connection(std::move(conn), *state, handle);
    };
    co_await tcp_.serve(std::move(accept));
}

task<result<void>> serve(const net::address& where, handler handle, server_options options) {
    auto s = server::bind(where, options);
    if (!s) co_return unexpected{s.error()};
    co_await s->serve(std::move(handle));
    co_return result<void>{};
}

}  // namespace ringlet::http

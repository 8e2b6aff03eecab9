// HTTPS: http::server over TLS (built when ringlet has TLS).
//
//     const tls::server_options tls_options{.certificate_chain_file = "cert.pem",
//                                           .private_key_file = "key.pem",
//                                           .alpn = {"http/1.1"}};
//     auto ctx = tls::context::server(tls_options);   // a named options object: see tls/context.hpp
//     co_return co_await http::serve(address, ctx, handler);
//
// Each accepted connection runs the server handshake in its own task (a
// slow client delays nobody), bounded by server_options::header_timeout;
// a failed handshake drops that connection. Everything else is as
// http::server (server.hpp).
#pragma once

#include <ringlet/http/server.hpp>
#include <ringlet/tls/context.hpp>

namespace ringlet::http {

/// Binds `where` on every shard for HTTPS with `ctx` (a server context; give
/// it alpn = {"http/1.1"} so that clients that ask for ALPN get it).
/// Errors: tcp::server::bind's, errc::invalid_argument for a client context.
[[nodiscard]] result<server> bind(const net::address& where, tls::context ctx, server_options options = {});

/// bind(where, ctx, options), then serves with `handle` until the runtime stops.
[[nodiscard]] task<result<void>> serve(const net::address& where, tls::context ctx, handler handle,
                                       server_options options = {});

}  // namespace ringlet::http

// The server side of HTTP/1.1: http::serve runs a handler for every request
// on every shard (one SO_REUSEPORT listener per shard, as tcp::serve).
//
//     task<void> hello(http::request& req, http::response& res) {
//         if (req.path() == "/plaintext") {
//             res.add_header("Content-Type", "text/plain");
//             res.set_body("Hello, World!");
//         } else {
//             res.set_status(404);
//         }
//         co_return;
//     }
//     return rt.run([&] { return http::serve(address, hello); });   // HTTPS: <ringlet/http/tls_server.hpp>
//
// What the server does for a handler: parses each request (http::limits;
// the refusals of parser.hpp answer 400/413/414/417/431/501/505 and close),
// keeps connections alive (HTTP/1.1 by default, HTTP/1.0 with
// "Connection: keep-alive"), answers pipelined requests in order and writes
// the responses to one batch of pipelined requests with one vectored write,
// sets Content-Length (or chunked coding for streamed bodies), Date (a
// per-shard cache refreshed once a second) and "Connection: close" when it
// closes, sends no body for HEAD, answers "Expect: 100-continue" when the
// handler first reads the body, and drains a body the handler left unread
// (up to server_options::max_drain, else it closes the connection).
//
// Timeouts (each an option, nginx's defaults): the whole head of a request
// must arrive within header_timeout once its first byte has; each read of a
// body within body_timeout; each write within send_timeout; an idle
// keep-alive connection is closed after keepalive_timeout. A shard holding
// max_connections connections resets new ones at once (tcp::server's gate).
//
// Memory: an idle keep-alive connection holds no receive buffer (it waits in
// stream::receive()) and no response buffer (response buffers are a
// per-shard pool); the parsed head is a view into the received bytes.
//
// Thread safety: a request and a response belong to their connection's
// shard and live until the handler's task ends.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/http/parser.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>

namespace ringlet::http {

namespace detail {
class connection;
struct shared_state;
}  // namespace detail

/// Options of http::serve and http::server::bind. Trivially copyable.
struct server_options {
    http::limits limits;
    /// The whole head of a request, from its first byte (nginx client_header_timeout).
    std::chrono::milliseconds header_timeout{std::chrono::seconds{60}};
    /// Each read of a request body (nginx client_body_timeout).
    std::chrono::milliseconds body_timeout{std::chrono::seconds{60}};
    /// Each write of a response (nginx send_timeout).
    std::chrono::milliseconds send_timeout{std::chrono::seconds{60}};
    /// An idle keep-alive connection waiting for its next request (nginx keepalive_timeout).
    std::chrono::milliseconds keepalive_timeout{std::chrono::seconds{75}};
    /// Connections one shard serves at once; more are reset as soon as
    /// accepted (tcp::server's net::connection_gate).
    std::size_t max_connections = 16384;
    /// Body bytes the server reads and discards when a handler left them
    /// unread, to keep the connection; a longer rest closes it instead.
    std::uint64_t max_drain = 64 * 1024;
    int backlog = 4096;   ///< per listener
    unsigned shards = 0;  ///< shards to serve on, from shard 0; 0: every shard
};
static_assert(std::is_trivially_copyable_v<server_options>);

/// One request, as the handler sees it: the parsed head (views valid until
/// the handler's task ends) and its body, read on demand.
class request {
public:
    [[nodiscard]] const request_head& head() const noexcept { return *head_; }
    [[nodiscard]] std::string_view method() const noexcept { return head_->method(); }
    [[nodiscard]] std::string_view target() const noexcept { return head_->target(); }
    [[nodiscard]] std::string_view path() const noexcept { return head_->path(); }
    [[nodiscard]] std::string_view query() const noexcept { return head_->query(); }
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept {
        return head_->header(name);
    }
    [[nodiscard]] const fields& headers() const noexcept { return head_->headers(); }
    /// True when the request has a body (Content-Length above 0, or chunked).
    [[nodiscard]] bool has_body() const noexcept { return head_->framing() != body_framing::none; }

    /// Reads the whole body (at most limits.max_body bytes) and yields it; the
    /// view lives until the handler's task ends. Errors:
    /// errc::message_too_long (413: above limits.max_body),
    /// std::errc::bad_message (400: malformed chunked coding),
    /// errc::end_of_stream (the client stopped sending), errc::timed_out
    /// (body_timeout), errc::operation_canceled (stopping); after one, the
    /// server answers 413/400 itself if the handler set nothing else, and
    /// closes the connection. Sends "100 Continue" first when asked to.
    /// Cancellation: the connection's task is stopped when the runtime stops.
    [[nodiscard]] task<result<std::string_view>> read_body();

    /// Reads the next body bytes into `out` (chunked coding removed): yields
    /// the count, 0 at the end of the body. Errors as read_body.
    [[nodiscard]] task<result<std::size_t>> read_body_some(std::span<std::byte> out);

    request(detail::connection& conn, const request_head& head) noexcept : conn_(&conn), head_(&head) {}

private:
    detail::connection* conn_;
    const request_head* head_;
};

/// The response to one request. Status 200 and an empty body unless set.
/// Either a body from memory (set_body / set_body_view, sent when the
/// handler's task ends, batched with the responses to the other pipelined
/// requests), or a streamed chunked body (write_chunk ... finish).
class response {
public:
    /// The status code (100-599; 1xx other than 101 is refused: 500 instead).
    void set_status(int status) noexcept { status_ = status; }
    [[nodiscard]] int status() const noexcept { return status_; }
    /// Adds a header line as given. Content-Length, Transfer-Encoding, Date
    /// and Connection are the server's: set them here and they are sent twice.
    /// Names and values must not hold CR or LF (such a header is dropped).
    void add_header(std::string_view name, std::string_view value);
    /// The body, copied.
    void set_body(std::string_view body);
    /// The body, not copied: the bytes must stay alive until the server has
    /// written them, after the handler's task ends: a static or
    /// server-lifetime buffer, or the view request::read_body yielded (the
    /// server writes the response before it reads from the connection
    /// again). Bodies of 4 KiB and more are sent from there, with the head,
    /// in one vectored write; smaller ones are copied into the batch.
    void set_body_view(std::span<const std::byte> body) noexcept;
    /// Closes the connection after this response ("Connection: close").
    void close_connection() noexcept { close_ = true; }

    /// Streams a chunked body: the first call sends the status and headers,
    /// each call one chunk (empty data sends nothing). For a HEAD request
    /// only the head is sent. Errors: the connection's write errors
    /// (errc::timed_out after send_timeout, std::errc::broken_pipe, ...);
    /// the connection is closed after the handler then.
    /// Cancellation: the connection's task is stopped when the runtime stops.
    [[nodiscard]] task<result<void>> write_chunk(std::string_view data);
    /// Ends a streamed body (the last chunk); done for you when the handler
    /// returns. Errors as write_chunk.
    [[nodiscard]] task<result<void>> finish();

    explicit response(detail::connection& conn) noexcept : conn_(&conn) {}

private:
    friend class detail::connection;
    detail::connection* conn_;
    int status_ = 200;
    bool close_ = false;
    bool streaming_ = false;
    bool finished_ = false;
    std::span<const std::byte> body_view_;
};

/// Handles one request: reads what it needs from `req` and fills `res`.
using handler = std::function<task<void>(request& req, response& res)>;

/// An HTTP server: tcp::server's listeners (one per shard) with a connection
/// task per accepted connection running the HTTP/1.1 loop.
/// Thread safety: as tcp::server (bind and serve on one shard).
class server {
public:
    /// Binds `where` on every shard (plaintext). Errors: tcp::server::bind's.
    [[nodiscard]] static result<server> bind(const net::address& where, server_options options = {});
    [[nodiscard]] const net::address& local_address() const noexcept { return tcp_.local_address(); }
    /// Serves with `handle` until the runtime stops (see tcp::server::serve).
    [[nodiscard]] task<void> serve(handler handle);

    server(tcp::server tcp, std::shared_ptr<detail::shared_state> state) noexcept
        : tcp_(std::move(tcp)), state_(std::move(state)) {}

private:
    tcp::server tcp_;
    std::shared_ptr<detail::shared_state> state_;
};

/// Binds `where` (server::bind) and serves it with `handle` until the runtime
/// stops. Errors: bind's (nothing is served then).
[[nodiscard]] task<result<void>> serve(const net::address& where, handler handle, server_options options = {});

}  // namespace ringlet::http

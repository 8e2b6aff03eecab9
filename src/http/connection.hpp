// The HTTP/1.1 connection loop behind http::server (private).
//
// Bytes come from a transport (TCP: leases from stream::receive(); TLS: a
// buffer of its own). A request head is parsed in place in the received
// bytes; only when a head (or the rest of one) spans two receives are its
// bytes copied into `carry_`, and when a handler reads a body past the
// received bytes, the head is copied there first so that its views survive
// the next receive. Responses are appended to a pooled buffer and written
// when no further complete request is buffered (one write per pipelined
// batch), when the buffer grows past a bound, or before the connection waits.
#pragma once

#include <ringlet/http/server.hpp>
#include <ringlet/net/stream.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace ringlet::http::detail {

/// Where a connection's bytes come from and go to.
class transport {
public:
    virtual ~transport() = default;
    /// Waits for more bytes: a view valid until the next receive() or
    /// release(); empty at end of stream.
    virtual task<result<std::span<const std::byte>>> receive(timeout limit) = 0;
    /// Gives the bytes of the last receive() back.
    virtual void release() noexcept = 0;
    /// The stream whose receive() the connection may await itself while
    /// idle (no coroutine frame of the transport's held meanwhile), with
    /// keep() taking the lease; nullptr when receive() must be used (TLS).
    virtual net::stream* lease_source() noexcept { return nullptr; }
    virtual std::span<const std::byte> keep(net::received lease) noexcept {
        (void)lease;
        return {};
    }
    /// Sends all of `parts`, in order.
    virtual task<result<void>> write(std::span<const net::const_buffer> parts, timeout limit) = 0;
    /// Before closing with input unread: sends a FIN, then reads and drops
    /// what arrives until the peer's FIN or `limit`, so that the close sends
    /// no reset that could destroy the last response before it is read.
    virtual task<void> linger(timeout limit) = 0;
    virtual task<void> close() = 0;
};

/// How accepted TCP connections become transports (plaintext, or TLS).
class transport_factory {
public:
    virtual ~transport_factory() = default;
    /// Yields the transport, or nullptr when the connection is to be dropped
    /// (a failed TLS handshake).
    virtual task<std::unique_ptr<transport>> open(tcp::stream conn) const = 0;
};

/// What every connection of one server shares.
struct shared_state {
    server_options options;
    std::unique_ptr<transport_factory> factory;
};

/// server::bind with the transports `factory` makes.
result<server> bind_with(const net::address& where, server_options options, std::unique_ptr<transport_factory> factory);

/// The plaintext transport over a TCP stream.
std::unique_ptr<transport> tcp_transport(tcp::stream conn);

/// Runs the HTTP loop on one accepted connection until it ends. `state`
/// outlives it (server::serve waits for every connection).
task<void> serve_connection(tcp::stream conn, shared_state& state, handler& handle);

/// One connection's state, alive while its task runs.
class connection {
public:
    connection(transport& io, const server_options& options, handler& handle) noexcept
        : io_(&io), options_(&options), handle_(&handle) {}
    ~connection();

    /// Serves requests until the connection ends.
    task<void> run();

    // For request and response.
    task<result<std::string_view>> read_body();
    task<result<std::size_t>> read_body_some(std::span<std::byte> out);
    void add_header(std::string_view name, std::string_view value);
    void set_body(std::string_view body);
    task<result<void>> write_chunk(response& res, std::string_view data);
    task<result<void>> finish(response& res);

private:
    task<bool> next_head();
    task<bool> handle_one();
    task<bool> drain();
    task<result<void>> flush(std::span<const std::byte> extra = {});
    task<void> refuse(int status);
    void append_head(const response& res, bool chunked, std::uint64_t length);
    void commit(response& res);
    void keep_head_bytes();
    [[nodiscard]] std::error_code body_error() const noexcept;
    void compact_into_carry();
    void go_idle() noexcept;
    std::string& out();

    transport* io_;
    const server_options* options_;
    handler* handle_;
    request_head head_;
    // The current request's chunked decoder and whole-body buffer live in
    // handle_one's frame (alive only while a request is handled, not idle).
    chunked_decoder* decoder_ = nullptr;
    std::string* body_in_ = nullptr;

    // Received, not yet consumed bytes: a view into the transport's last
    // receive, or into carry_ (in_carry_).
    std::span<const std::byte> pending_;
    std::vector<std::byte> carry_;
    bool in_carry_ = false;
    bool head_in_carry_ = false;  // head_ points into carry_
    std::size_t head_size_ = 0;  // bytes of the head, from head_.headers().base()

    // The current request's body.
    std::uint64_t body_left_ = 0;  // length framing
    bool body_done_ = true;
    bool body_failed_ = false;
    int body_status_ = 0;          // 400 / 413 after a body error
    bool continue_sent_ = false;
    bool first_request_ = true;
    bool linger_ = false;  // closing with input unread (an error, an unread body)

    // Pooled buffers, held only while the connection is busy.
    std::string out_;      // responses not yet written
    std::string* headers_ = nullptr;  // the current response's own header lines (in handle_one's frame)
    std::string* body_ = nullptr;     // the current response's copied body (in handle_one's frame)
    bool have_out_ = false;
};

}  // namespace ringlet::http::detail

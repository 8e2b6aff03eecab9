// Unix-domain datagram (SOCK_DGRAM) and sequenced-packet (SOCK_SEQPACKET)
// sockets, on paths and abstract names. (Unix streams: local.hpp. The
// namespace is `local` because `unix` is a predefined macro in GNU modes.)
//
//     auto server = local::bind_datagram(net::address::abstract("logd").value());
//     auto got = co_await server->recv_from(buf, 5s);             // result<net::received_from>
//     co_await server->send_to(got->from, reply);                 // the client's autobound name
//
//     auto client = co_await local::connect_datagram(server_address);
//     co_await client->send("hello");
//
//     auto lst = local::listen_seqpacket(net::address::parse("unix:/run/app.seq").value());
//     auto conn = co_await lst->accept();                         // result<local::seqpacket_socket>
//     auto msg = co_await conn->recv(buf);                        // one whole message; size 0: end
//
// Datagrams and seqpacket messages keep their boundaries: one send is one
// recv, and a message longer than the buffer is reported as truncated.
// Unix datagrams are reliable and ordered; a sender blocks (waits) when the
// receiver's queue is full instead of losing datagrams.
//
// Paths: binding a path that holds a stale socket file (one nothing is bound
// to any more) replaces it; a live socket's path fails with
// std::errc::address_in_use. By default the socket removes its file when
// closed or destroyed, if the file is still its own. Abstract names
// ("@name") vanish with their socket.
//
// Replies need a name: a datagram from an unbound socket arrives from an
// unnamed address (address_family::unix_unnamed) that cannot be answered,
// so connect_datagram and open_datagram autobind the client to a
// kernel-chosen abstract name unless told otherwise.
//
// Thread safety: as net::datagram_socket and net::socket.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/datagram.hpp>
#include <ringlet/net/listener.hpp>
#include <ringlet/net/local.hpp>
#include <ringlet/net/socket.hpp>

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ringlet::local {

/// A unix datagram socket: every net::datagram_socket operation, and removal
/// of its socket file on close (see bind_datagram). Move-only.
class datagram_socket : public net::datagram_socket {
public:
    using net::datagram_socket::datagram_socket;
    datagram_socket(datagram_socket&& other) noexcept;
    datagram_socket& operator=(datagram_socket&& other) noexcept;
    /// Closes (see net::datagram_socket) and removes the socket file if it is still its own.
    ~datagram_socket();

    /// As net::datagram_socket::close, then removes the socket file if it is still its own.
    [[nodiscard]] task<result<void>> close();
    /// On close or destruction, remove `path` if it is still this socket's
    /// file (same device and inode). bind_datagram sets it by default.
    result<void> unlink_on_close(std::string path);

private:
    void unlink_if_ours() noexcept;
    std::string unlink_path_;
    dev_t path_dev_ = 0;
    ino_t path_ino_ = 0;
};

/// Options of bind_datagram.
struct datagram_bind_options {
    bool replace_stale = true;    ///< replace a socket file nothing is bound to any more
    bool unlink_on_close = true;  ///< remove the socket file when the socket is closed or destroyed
};

/// A unix datagram socket bound to `local` (a path or an abstract name).
/// Never blocks. Errors: std::errc::address_in_use (a live socket holds it,
/// or the path is not a socket), the bind errors of unix(7) (ENOENT for a
/// missing directory, EACCES), errc::invalid_argument for an IP address.
/// @see bind(2), unix(7)
[[nodiscard]] result<datagram_socket> bind_datagram(const net::address& local, datagram_bind_options options = {});

/// Options of connect_datagram.
struct datagram_connect_options {
    /// Bind to this address first; none: see `autobind`.
    std::optional<net::address> bind{};
    /// Without `bind`, take a kernel-chosen abstract name so that the peer can reply.
    bool autobind = true;
    ringlet::timeout timeout{};
};

/// A unix datagram socket connected to `peer`. Errors:
/// std::errc::connection_refused (nothing is bound there: a stale path),
/// std::errc::no_such_file_or_directory, EPROTOTYPE (not a datagram socket),
/// errc::invalid_argument for an IP address. @see connect_op, connect(2), unix(7)
[[nodiscard]] task<result<datagram_socket>> connect_datagram(const net::address& peer,
                                                            datagram_connect_options options = {});

/// An unconnected unix datagram socket for send_to, autobound to a
/// kernel-chosen abstract name when `autobind` (so replies can reach it).
[[nodiscard]] result<datagram_socket> open_datagram(bool autobind = true);

/// Two connected, unnamed datagram sockets (socketpair(2)).
[[nodiscard]] result<std::pair<datagram_socket, datagram_socket>> datagram_pair() noexcept;

/// A connected unix seqpacket socket: reliable, ordered messages with
/// boundaries. Move-only.
class seqpacket_socket {
public:
    seqpacket_socket() noexcept = default;
    /// Takes a connected SOCK_SEQPACKET socket.
    explicit seqpacket_socket(net::socket connected) noexcept : socket_(std::move(connected)) {}

    /// Sends `data` as one message; yields its size. Errors: EMSGSIZE (larger
    /// than the socket's send buffer), std::errc::broken_pipe (peer closed;
    /// never SIGPIPE). @see send_op, send(2)
    [[nodiscard]] net::send_op send(std::span<const std::byte> data, timeout limit = {}) noexcept;
    [[nodiscard]] net::send_op send(std::string_view data, timeout limit = {}) noexcept;
    /// Receives one whole message (truncated when longer than `buffer`). Size
    /// 0 without truncation is the end of the stream — an empty message reads
    /// the same, so protocols should not send one. @see net::recv_message_op
    [[nodiscard]] net::recv_message_op recv(std::span<std::byte> buffer, timeout limit = {}) noexcept;
    [[nodiscard]] net::recv_message_op recv(std::span<char> buffer, timeout limit = {}) noexcept;
    /// Ends one or both directions; the peer's recv then yields size 0. @see shutdown_op
    [[nodiscard]] net::shutdown_op shutdown(net::shutdown_how how = net::shutdown_how::both) noexcept {
        return socket_.shutdown(how);
    }
    /// Cancels all in-flight operations, waits for them, closes. @see net::socket::close
    [[nodiscard]] task<result<void>> close() { return socket_.close(); }

    /// SO_PEERCRED of the peer. @see unix(7)
    [[nodiscard]] result<credentials> peer_credentials() const noexcept;
    [[nodiscard]] result<net::address> local_address() const noexcept { return socket_.local_address(); }
    [[nodiscard]] result<net::address> peer_address() const noexcept { return socket_.peer_address(); }
    [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
    [[nodiscard]] int fd() const noexcept { return socket_.fd(); }
    [[nodiscard]] net::socket& socket() noexcept { return socket_; }
    [[nodiscard]] const net::socket& socket() const noexcept { return socket_; }

private:
    net::socket socket_;
};

/// A listening seqpacket socket; accept() yields seqpacket_socket. @see net::listener
using seqpacket_listener = net::basic_listener<seqpacket_socket>;

/// Binds `local` and listens for seqpacket connections; paths as
/// bind_datagram (stale files replaced, removed on close per `options`).
/// Errors as local::listen. @see bind(2), listen(2), unix(7)
[[nodiscard]] result<seqpacket_listener> listen_seqpacket(const net::address& local, listen_options options = {});

/// Connects a seqpacket socket to `peer`. Errors as local::connect
/// (EPROTOTYPE when `peer` is not a seqpacket listener). @see connect(2), unix(7)
[[nodiscard]] task<result<seqpacket_socket>> connect_seqpacket(const net::address& peer, connect_options options = {});

/// Two connected, unnamed seqpacket sockets (socketpair(2)).
[[nodiscard]] result<std::pair<seqpacket_socket, seqpacket_socket>> seqpacket_pair() noexcept;

}  // namespace ringlet::local

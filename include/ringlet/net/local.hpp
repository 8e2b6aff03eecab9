// Unix-domain stream sockets (AF_UNIX, SOCK_STREAM) on paths and abstract names.
//
//     auto lst = local::listen(net::address::parse("unix:/run/app.sock").value());
//     auto lst2 = local::listen(net::address::abstract("app").value());   // "@app"
//     auto conn = co_await local::connect(addr, {.timeout = 1s});         // result<local::stream>
//
// The namespace is `local`, not `unix`: GCC and Clang predefine the macro
// `unix` as 1 in the GNU language modes (-std=gnu++20, the default of many
// builds), where `ringlet::unix` would not compile.
//
// Paths. Listening on a path where a server is alive fails with
// std::errc::address_in_use and leaves that server's socket untouched. A
// stale socket file — one nothing answers on, left by a server that died —
// is replaced, but only if it is a socket (a regular file is never removed).
// The check is a connect, so two servers starting at the same instant on one
// stale path can still race; give each server its own path if that matters.
// By default the listener removes its socket file when closed, if the file is
// still its own.
//
// Abstract names ("@name") live in the kernel, not the file system: they
// vanish with their socket, are never stale, and may contain NUL bytes.
//
// Thread safety: as net::stream and net::listener.
#pragma once

#include <ringlet/core/result.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/listener.hpp>
#include <ringlet/net/stream.hpp>

#include <sys/types.h>

#include <type_traits>
#include <utility>

namespace ringlet::local {

/// The identity of the process at the other end, as the kernel saw it at connect time.
struct credentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

/// A connected unix stream socket: every net::stream operation plus peer credentials.
class stream : public net::stream {
public:
    using net::stream::stream;

    /// SO_PEERCRED of the peer. @see unix(7)
    [[nodiscard]] result<credentials> peer_credentials() const noexcept;
};

/// A listening unix stream socket. @see net::listener
using listener = net::basic_listener<stream>;

/// Options of local::listen.
struct listen_options {
    int backlog = 4096;            ///< pending-connection queue (capped by net.core.somaxconn)
    bool replace_stale = true;     ///< replace a socket file nothing answers on (see the file comment)
    bool unlink_on_close = true;   ///< remove the socket file when the listener is closed or destroyed
};

/// Binds `local` (a unix path or an abstract name) and listens. Never blocks.
/// Errors: std::errc::address_in_use when a live server holds the path or
/// name, or the path is not a socket (say so with net::describe_error("listen",
/// local, error)); the bind errors of unix(7) (ENOENT for a missing directory,
/// EACCES); errc::invalid_argument for an IP address. @see bind(2), unix(7)
[[nodiscard]] result<listener> listen(const net::address& local, listen_options options = {});

/// Options of local::connect.
struct connect_options {
    /// Limit for the attempt (it waits only while the listener's backlog is full).
    ringlet::timeout timeout{};
};
// Trivially copyable, like every options struct: see tcp::connect_options.
static_assert(std::is_trivially_copyable_v<connect_options>);

/// Connects to the unix path or abstract name `peer`. Errors:
/// std::errc::connection_refused (nobody listens: a stale path),
/// std::errc::no_such_file_or_directory (no such path), errc::timed_out,
/// errc::operation_canceled, errc::invalid_argument for an IP address.
/// @see connect_op, connect(2), unix(7)
[[nodiscard]] task<result<stream>> connect(const net::address& peer, connect_options options = {});

/// Two connected, unnamed streams (socketpair(2)). Never blocks.
[[nodiscard]] result<std::pair<stream, stream>> pair() noexcept;

}  // namespace ringlet::local

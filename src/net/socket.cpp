// net::socket and the in-flight accounting every socket operation shares.
//
// Design notes
// - An operation counts itself in its socket from submission until its
//   awaiter resumes (socket_op::begin / finish). close() uses that count: it
//   cancels by descriptor, then sleeps until the count is zero. Counting until
//   the awaiter runs (not merely until the CQE) is what guarantees that no
//   awaiter of the old socket is still to run when the descriptor number is
//   released.
// - close() marks the socket closing first, so operations started meanwhile
//   are refused, and an ECANCELED (or EINTR from an io-wq worker) seen while
//   closing is reported as errc::operation_canceled, even for an operation
//   whose own timeout would otherwise claim it.
// - Kernels before 5.19 cannot cancel by descriptor (EINVAL); there a
//   shutdown(SHUT_RDWR) ends pending socket operations instead (reads then see
//   end of stream rather than operation_canceled).
#include "net/ops/close.hpp"

#include <ringlet/core/shard.hpp>
#include <ringlet/net/socket.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ringlet::net {

// --- socket_op ---------------------------------------------------------------

namespace detail {

bool socket_op::begin(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    if (refused_) return false;
    if (owner_->fd_ < 0) {
        refused_ = std::make_error_code(std::errc::bad_file_descriptor);
        return false;
    }
    if (owner_->closing_) {
        refused_ = make_error_code(errc::operation_canceled);
        return false;
    }
    if (const timeout& limit = time_limit(); limit.is_absolute() && clock::now() >= limit.deadline()) {
        refused_ = make_error_code(errc::timed_out);  // a passed deadline fails even a ready operation
        return false;
    }
    ++owner_->in_flight_;
    counted_ = true;
    return start(waiter, token);
}

int socket_op::fd() const noexcept { return owner_->fd_; }

bool socket_op::closing(const io_op& op) noexcept { return static_cast<const socket_op&>(op).owner_->closing_; }

result<int> socket_op::finish() noexcept {
    if (refused_) return unexpected{refused_};
    result<int> r = outcome();
    if (!counted_) return r;
    counted_ = false;
    socket& s = *owner_;
    if (!r && s.closing_ && (raw_result() == -ECANCELED || raw_result() == -EINTR)) {
        r = unexpected{errc::operation_canceled};
    }
    if (--s.in_flight_ == 0 && s.close_waiter_) ringlet::detail::schedule_on_current(std::exchange(s.close_waiter_, {}));
    return r;
}

}  // namespace detail

// --- socket --------------------------------------------------------------------

struct socket::close_waiter {
    socket* self;
    bool await_ready() const noexcept { return self->in_flight_ == 0; }
    void await_suspend(std::coroutine_handle<> h) const noexcept { self->close_waiter_ = h; }
    void await_resume() const noexcept {}
};

socket::socket(socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {
    assert(other.in_flight_ == 0 && !other.closing_ && "net::socket moved while operations are in flight");
}

socket& socket::operator=(socket&& other) noexcept {
    if (this != &other) {
        assert(in_flight_ == 0 && other.in_flight_ == 0 && !closing_ && !other.closing_ &&
               "net::socket moved while operations are in flight");
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

socket::~socket() {
    assert(in_flight_ == 0 && "net::socket destroyed while operations are in flight");
    if (fd_ >= 0) ::close(fd_);
}

result<socket> socket::open(int domain, int type, int protocol) noexcept {
    const int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) return unexpected{errno_code(errno)};
    return socket{fd};
}

result<socket> socket::open_for(const address& for_address, int type) noexcept {
    return open(for_address.data()->sa_family, type);
}

int socket::release() noexcept {
    assert(in_flight_ == 0);
    return std::exchange(fd_, -1);
}

task<result<void>> socket::close() {
    if (fd_ < 0) co_return result<void>{};
    if (closing_) co_return unexpected{std::errc::connection_already_in_progress};
    closing_ = true;
    if (in_flight_ > 0) {
        auto cancelled = co_await detail::cancel_fd_op{fd_};
        if (!cancelled && cancelled.error() == std::errc::invalid_argument) ::shutdown(fd_, SHUT_RDWR);
        while (in_flight_ > 0) co_await close_waiter{this};
    }
    const int fd = std::exchange(fd_, -1);
    closing_ = false;
    auto closed = co_await detail::close_op{fd};
    if (!closed && closed.error() == errc::not_on_shard) {
        if (::close(fd) != 0 && errno != EINTR) co_return unexpected{errno_code(errno)};
        co_return result<void>{};
    }
    co_return closed;
}

result<void> socket::bind(const address& local) noexcept {
    if (::bind(fd_, local.data(), local.size()) != 0) return unexpected{errno_code(errno)};
    return {};
}

result<void> socket::listen(int backlog) noexcept {
    if (::listen(fd_, backlog) != 0) return unexpected{errno_code(errno)};
    return {};
}

result<address> socket::local_address() const noexcept {
    sockaddr_storage storage{};
    socklen_t size = sizeof storage;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &size) != 0) return unexpected{errno_code(errno)};
    return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), size);
}

result<address> socket::peer_address() const noexcept {
    sockaddr_storage storage{};
    socklen_t size = sizeof storage;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&storage), &size) != 0) return unexpected{errno_code(errno)};
    return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), size);
}

result<void> socket::set_option(int level, int name, int value) noexcept {
    return set_option(level, name, &value, sizeof value);
}

result<void> socket::set_option(int level, int name, const void* value, std::size_t size) noexcept {
    if (::setsockopt(fd_, level, name, value, static_cast<socklen_t>(size)) != 0) return unexpected{errno_code(errno)};
    return {};
}

result<int> socket::get_option(int level, int name) const noexcept {
    int value = 0;
    socklen_t size = sizeof value;
    if (::getsockopt(fd_, level, name, &value, &size) != 0) return unexpected{errno_code(errno)};
    return value;
}

result<int> socket::take_error() const noexcept { return get_option(SOL_SOCKET, SO_ERROR); }

connect_op socket::connect(const address& peer, timeout limit) noexcept { return connect_op{*this, peer, limit}; }

accept_op socket::accept(timeout limit) noexcept { return accept_op{*this, limit}; }

recv_op socket::recv(std::span<std::byte> buffer, timeout limit, int flags) noexcept {
    return recv_op{*this, buffer, flags, limit};
}

send_op socket::send(std::span<const std::byte> data, timeout limit, int flags) noexcept {
    return send_op{*this, data, flags, limit};
}

sendmsg_op socket::sendmsg(std::span<const iovec> parts, timeout limit, int flags) noexcept {
    return sendmsg_op{*this, parts, flags, limit};
}

shutdown_op socket::shutdown(shutdown_how how) noexcept {
    const int native = how == shutdown_how::read ? SHUT_RD : how == shutdown_how::write ? SHUT_WR : SHUT_RDWR;
    return shutdown_op{*this, native};
}

std::string describe_error(std::string_view operation, const address& where, std::error_code error) {
    std::string text{operation};
    text += ' ';
    text += where.to_string();
    text += ": ";
    text += error.message();
    if (error.category() == std::generic_category() || error.category() == std::system_category()) {
        if (const char* name = strerrorname_np(error.value())) {
            text += " (";
            text += name;
            text += ')';
        }
    }
    return text;
}

}  // namespace ringlet::net

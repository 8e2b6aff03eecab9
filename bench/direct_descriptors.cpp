// direct_descriptors: does a TCP echo server gain from io_uring direct
// descriptors (registered files)? Issue 3, item 7: "direct descriptors where
// they help ... measure the variants and keep the faster".
//
//   build-bench/bench/direct_descriptors 127.0.0.1:0            # regular descriptors
//   build-bench/bench/direct_descriptors 127.0.0.1:0 --direct   # direct descriptors
//   build-bench/bench/direct_descriptors 127.0.0.1:0 --readiness   # the poll + recv(2)/send(2) peer (below)
//   bench/stream_fastpath.sh          # both, interleaved (its last table)
//   bench/echo_compare.sh --quota 0.5 --ringlet-cmd "build-bench/bench/direct_descriptors 127.0.0.1:0 --readiness"
//
// A bare liburing echo server (no ringlet code, one thread), built the way
// ringlet's echo path works: multishot accept, one multishot recv per
// connection on a ring of 128 x 64 KiB provided buffers, one send at a time
// per connection with the received buffer, given back once sent. The only
// difference between the two variants: --direct accepts into a sparse table
// of registered files (IORING_FILE_INDEX_ALLOC) and sets IOSQE_FIXED_FILE on
// every recv and send, so the kernel skips the per-operation file lookup and
// reference count (fget/fput) — the whole of what direct descriptors save a
// socket server. What they cost is not measured here: a direct descriptor is
// not a file descriptor, so setsockopt, getsockname/getpeername, shutdown and
// close need ring operations (some only on newer kernels), and a descriptor
// cannot be handed to other code.
//
// Two more modes make it the bare-liburing peer of every receive path
// ringlet could take, so that the echo comparisons have the strongest io_uring
// server beside the epoll one (issue 13: "the better of the epoll and
// bare-liburing baselines"):
//
//   --send-now   the same multishot recv, but each piece goes back with one
//                send(2) at once; the ring sends only what the socket did not
//                take (ringlet's write_all)
//   --readiness  one multishot poll per connection; when it fires, recv(2)
//                into one 256 KiB buffer and send(2) back what was read, as
//                the epoll server does after epoll_wait (ringlet's default
//                receive path, with no framework around it)
//
// Both set TCP_NODELAY, as ringlet and the epoll server do.
//
// Prints `listening on 127.0.0.1:PORT`; SIGINT/SIGTERM end it with exit 0.
#include <liburing.h>

#include <poll.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

constexpr unsigned kBuffers = 128;
constexpr unsigned kBufferSize = 64 * 1024;
constexpr unsigned kMaxConnections = 4096;
constexpr std::uint16_t kGroup = 1;
constexpr std::size_t kScratchSize = 256 * 1024;  // --readiness reads into this, as the epoll server does

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

[[noreturn]] void die(const char* what, int error) {
    std::fprintf(stderr, "direct_descriptors: %s: %s\n", what, std::strerror(error));
    std::exit(1);
}

enum class kind : std::uint8_t { accept, recv, send, close, poll };

// How a connection receives and sends (see the header comment).
enum class path : std::uint8_t { ring, send_now, readiness };

std::uint64_t tag(kind k, std::uint32_t conn) { return (std::uint64_t{conn} << 8) | static_cast<std::uint8_t>(k); }

struct piece {
    std::uint16_t buffer;
    std::uint32_t size;
};

struct connection {
    int handle = -1;          // descriptor, or index in the registered file table
    std::deque<piece> queue;  // received, not yet sent back
    std::uint32_t sent = 0;   // of queue.front()
    bool sending = false;
    bool receiving = false;
    bool closing = false;
    std::string unsent;  // --readiness: what send(2) did not take, on its way through the ring
};

class server {
public:
    server(int listener, bool direct, path how)
        : listener_(listener), direct_(direct), how_(how), conns_(kMaxConnections), scratch_(kScratchSize) {
        io_uring_params params{};
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
        if (int rc = io_uring_queue_init_params(4096, &ring_, &params); rc < 0) die("io_uring_queue_init", -rc);
        if (direct_) {
            if (int rc = io_uring_register_files_sparse(&ring_, kMaxConnections); rc < 0) die("register files", -rc);
        }
        setup_buffers();
    }

    void run() {
        arm_accept();
        while (!stop_requested) {
            __kernel_timespec limit{0, 100'000'000};
            io_uring_cqe* cqe = nullptr;
            int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &limit, nullptr);
            if (rc < 0 && rc != -ETIME && rc != -EINTR) die("io_uring_submit_and_wait_timeout", -rc);
            unsigned head = 0, seen = 0;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                handle(cqe);
                ++seen;
            }
            io_uring_cq_advance(&ring_, seen);
        }
    }

private:
    io_uring_sqe* sqe() {
        io_uring_sqe* s = io_uring_get_sqe(&ring_);
        if (!s) {
            io_uring_submit(&ring_);
            s = io_uring_get_sqe(&ring_);
        }
        if (!s) die("io_uring_get_sqe", EBUSY);
        return s;
    }

    void setup_buffers() {
        const std::size_t ring_bytes = sizeof(io_uring_buf) * kBuffers;
        void* r = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        void* b = mmap(nullptr, std::size_t{kBuffers} * kBufferSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r == MAP_FAILED || b == MAP_FAILED) die("mmap", errno);
        buf_ring_ = static_cast<io_uring_buf_ring*>(r);
        buffers_ = static_cast<char*>(b);
        io_uring_buf_ring_init(buf_ring_);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
        reg.ring_entries = kBuffers;
        reg.bgid = kGroup;
        if (int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0) die("register buffer ring", -rc);
        for (unsigned id = 0; id < kBuffers; ++id) give_back(static_cast<std::uint16_t>(id));
    }

    char* buffer(std::uint16_t id) const { return buffers_ + std::size_t{id} * kBufferSize; }
    void give_back(std::uint16_t id) {
        io_uring_buf_ring_add(buf_ring_, buffer(id), kBufferSize, id, io_uring_buf_ring_mask(kBuffers), 0);
        io_uring_buf_ring_advance(buf_ring_, 1);
    }

    void arm_accept() {
        io_uring_sqe* s = sqe();
        if (direct_) io_uring_prep_multishot_accept_direct(s, listener_, nullptr, nullptr, 0);
        else io_uring_prep_multishot_accept(s, listener_, nullptr, nullptr, 0);
        io_uring_sqe_set_data64(s, tag(kind::accept, 0));
    }

    void arm_recv(std::uint32_t id) {
        connection& c = conns_[id];
        io_uring_sqe* s = sqe();
        if (how_ == path::readiness) {
            io_uring_prep_poll_multishot(s, c.handle, POLLIN);
            io_uring_sqe_set_data64(s, tag(kind::poll, id));
            c.receiving = true;
            return;
        }
        io_uring_prep_recv_multishot(s, c.handle, nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT | (direct_ ? IOSQE_FIXED_FILE : 0);
        s->buf_group = kGroup;
        io_uring_sqe_set_data64(s, tag(kind::recv, id));
        c.receiving = true;
    }

    void send_front(std::uint32_t id) {
        connection& c = conns_[id];
        piece& p = c.queue.front();
        if (how_ == path::send_now && c.sent == 0) {
            // One send(2) now; the ring only for what the socket did not take.
            const ssize_t n = ::send(c.handle, buffer(p.buffer), p.size, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n == static_cast<ssize_t>(p.size)) {
                give_back(p.buffer);
                c.queue.pop_front();
                if (!c.queue.empty()) send_front(id);
                return;
            }
            if (n > 0) c.sent = static_cast<std::uint32_t>(n);
        }
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.handle, buffer(p.buffer) + c.sent, p.size - c.sent, MSG_NOSIGNAL);
        if (direct_) s->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(s, tag(kind::send, id));
        c.sending = true;
    }

    void start_close(std::uint32_t id) {
        connection& c = conns_[id];
        if (c.closing) return;
        c.closing = true;
        if (c.receiving) {
            io_uring_sqe* s = sqe();
            io_uring_prep_cancel64(s, tag(how_ == path::readiness ? kind::poll : kind::recv, id), 0);
            io_uring_sqe_set_data64(s, ~std::uint64_t{0});
        }
        maybe_finish_close(id);
    }

    void maybe_finish_close(std::uint32_t id) {
        connection& c = conns_[id];
        if (!c.closing || c.receiving || c.sending) return;
        for (const piece& p : c.queue) give_back(p.buffer);
        c.queue.clear();
        io_uring_sqe* s = sqe();
        if (direct_) io_uring_prep_close_direct(s, static_cast<unsigned>(c.handle));
        else io_uring_prep_close(s, c.handle);
        io_uring_sqe_set_data64(s, tag(kind::close, id));
    }

    void handle(const io_uring_cqe* cqe) {
        if (cqe->user_data == ~std::uint64_t{0}) return;  // a cancel request
        const auto k = static_cast<kind>(cqe->user_data & 0xff);
        const auto id = static_cast<std::uint32_t>(cqe->user_data >> 8);
        const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
        switch (k) {
            case kind::accept: {
                if (!more) arm_accept();
                if (cqe->res < 0) return;
                // The handle doubles as the connection's index: descriptors and
                // table slots are both small integers handed out lowest first.
                const auto conn = static_cast<std::uint32_t>(cqe->res);
                if (conn >= kMaxConnections) {
                    if (!direct_) ::close(cqe->res);
                    return;
                }
                conns_[conn] = connection{};
                conns_[conn].handle = cqe->res;
                // No TCP_NODELAY in the ring mode: setsockopt cannot reach a
                // direct descriptor on this kernel's liburing, and --direct and
                // its regular twin must match. The send(2) modes are measured
                // against the epoll server and ringlet, which both set it.
                if (how_ != path::ring) {
                    int one = 1;
                    setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                }
                arm_recv(conn);
                return;
            }
            case kind::recv: {
                connection& c = conns_[id];
                if (!more) c.receiving = false;
                if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
                    c.queue.push_back({static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT),
                                       static_cast<std::uint32_t>(cqe->res)});
                    if (!c.sending && !c.closing) send_front(id);
                    if (!more && !c.closing) arm_recv(id);
                } else if ((cqe->res == -ENOBUFS || (cqe->res == 0 && (cqe->flags & IORING_CQE_F_SOCK_NONEMPTY))) &&
                           !c.closing) {
                    // Every buffer out for a moment: the bytes wait in the socket.
                    // (Linux 6.18 also ends the recv with 0 + SOCK_NONEMPTY here.)
                    arm_recv(id);
                } else {
                    start_close(id);  // end of stream, an error, or our cancel
                }
                maybe_finish_close(id);
                return;
            }
            case kind::send: {
                connection& c = conns_[id];
                c.sending = false;
                if (cqe->res < 0) {
                    start_close(id);
                    maybe_finish_close(id);
                    return;
                }
                if (how_ == path::readiness) {
                    c.sent += static_cast<std::uint32_t>(cqe->res);
                    if (c.sent < c.unsent.size()) {
                        send_unsent(id);
                        return;
                    }
                    c.unsent.clear();
                    c.sent = 0;
                    if (!c.closing) on_readable(id, POLLIN, true);  // what arrived meanwhile
                    maybe_finish_close(id);
                    return;
                }
                c.sent += static_cast<std::uint32_t>(cqe->res);
                if (c.sent == c.queue.front().size) {
                    give_back(c.queue.front().buffer);
                    c.queue.pop_front();
                    c.sent = 0;
                }
                if (!c.queue.empty() && !c.closing) send_front(id);
                maybe_finish_close(id);
                return;
            }
            case kind::close:
                conns_[id].handle = -1;
                return;
            case kind::poll:
                on_readable(id, cqe->res, more);
                return;
        }
    }

    // --readiness: the poll fired; read what the socket holds and send it back
    // with recv(2)/send(2), as the epoll server does after epoll_wait.
    void on_readable(std::uint32_t id, int res, bool more) {
        connection& c = conns_[id];
        if (!more) c.receiving = false;
        if (res < 0 || c.closing) {
            start_close(id);
            maybe_finish_close(id);
            return;
        }
        if (!more) arm_recv(id);
        if (c.sending) return;  // the rest of the last echo is still going out
        for (;;) {
            const ssize_t n = ::recv(c.handle, scratch_.data(), scratch_.size(), MSG_DONTWAIT);
            if (n <= 0) {
                if (n == 0 || (errno != EAGAIN && errno != EINTR)) start_close(id);
                break;
            }
            const ssize_t sent = ::send(c.handle, scratch_.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent != n) {
                if (sent < 0 && errno != EAGAIN) {
                    start_close(id);
                    break;
                }
                c.unsent.assign(scratch_.data() + (sent > 0 ? sent : 0), scratch_.data() + n);
                send_unsent(id);
                break;
            }
            if (static_cast<std::size_t>(n) < scratch_.size()) break;
        }
        maybe_finish_close(id);
    }

    void send_unsent(std::uint32_t id) {
        connection& c = conns_[id];
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.handle, c.unsent.data() + c.sent, c.unsent.size() - c.sent, MSG_NOSIGNAL | MSG_WAITALL);
        io_uring_sqe_set_data64(s, tag(kind::send, id));
        c.sending = true;
    }

    int listener_;
    bool direct_;
    path how_;
    io_uring ring_{};
    io_uring_buf_ring* buf_ring_ = nullptr;
    char* buffers_ = nullptr;
    std::vector<connection> conns_;
    std::vector<char> scratch_;
};

int listen_on(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        std::fprintf(stderr, "direct_descriptors: the address must be IPv4:PORT, not \"%s\"\n", text.c_str());
        std::exit(2);
    }
    sockaddr_in where{};
    where.sin_family = AF_INET;
    where.sin_port = htons(static_cast<std::uint16_t>(std::atoi(text.c_str() + colon + 1)));
    if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &where.sin_addr) != 1) {
        std::fprintf(stderr, "direct_descriptors: not an IPv4 address: \"%s\"\n", text.c_str());
        std::exit(2);
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0) die("bind", errno);
    if (listen(fd, 1024) != 0) die("listen", errno);
    socklen_t length = sizeof where;
    getsockname(fd, reinterpret_cast<sockaddr*>(&where), &length);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &where.sin_addr, host, sizeof host);
    std::printf("listening on %s:%u\n", host, ntohs(where.sin_port));
    std::fflush(stdout);
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    std::string address;
    bool direct = false;
    path how = path::ring;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--direct") direct = true;
        else if (arg == "--send-now") how = path::send_now;
        else if (arg == "--readiness") how = path::readiness;
        else if (address.empty() && arg[0] != '-') address = arg;
        else {
            std::fprintf(stderr, "usage: direct_descriptors IPv4:PORT [--direct] [--send-now | --readiness]\n");
            return 2;
        }
    }
    if (address.empty()) address = "127.0.0.1:0";
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    if (direct && how != path::ring) {
        std::fprintf(stderr, "direct_descriptors: --direct needs the ring for every send (no send(2) on a direct descriptor)\n");
        return 2;
    }
    server s{listen_on(address), direct, how};
    s.run();
    return 0;
}

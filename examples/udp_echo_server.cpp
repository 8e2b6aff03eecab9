// udp_echo_server: sends every datagram it receives back to its sender (the
// seeds' datagram server: `net/listen ... :datagram`, recv-from, send-to).
//
//   build/examples/udp_echo_server 127.0.0.1:0              # prints: listening on 127.0.0.1:50123
//   build/examples/udp_echo_server [::]:9000 --shards 2     # one SO_REUSEPORT socket per shard
//   build/examples/udp_echo_server @udp-echo                # a unix datagram socket (or unix:/tmp/echo.dgram)
//   build/examples/udp_echo_server 127.0.0.1:9000 --verbose # one line per datagram
//
// Then: build/examples/udp_client <the printed address> hello (or
// `socat - UDP:127.0.0.1:50123`). The one line on stdout is
// `listening on <address>` with the real port, flushed as soon as datagrams
// are received. Ctrl-C or SIGTERM stops it: pending receives are cancelled,
// the sockets closed, and it exits 0. Exit 2 means a bad argument, 1 that it
// could not bind (the message names the address).
//
// Each shard echoes through the batched fast path: receive_batch() (one
// multishot recvmsg on a ring of provided buffers) and send_batch() (one
// non-blocking sendmmsg for the replies; the ring only when the socket
// buffer is full, with the 1 s limit applying there). Every UDP
// datagram fits its receive buffer (65535 bytes; the buffers are mapped
// lazily, so small datagrams touch one page each). A longer unix datagram
// arrives truncated; it is not echoed (--verbose says so). A unix datagram
// from a sender that bound no name cannot be answered: the first one makes
// the server say so on stderr (once), and none is echoed.
#include "example_support.hpp"

#include <ringlet/net/local_datagram.hpp>
#include <ringlet/net/udp.hpp>

#include <cstring>
#include <vector>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: udp_echo_server ADDRESS [--shards N] [--verbose]

Echoes every datagram back to its sender, until SIGINT or SIGTERM.

  ADDRESS       where to receive: 127.0.0.1:9000, [::]:9000, localhost:9000,
                unix:/path/to.dgram or @abstract-name (port 0: any free port)
  --shards N    serve UDP on N shards, one SO_REUSEPORT socket each
                (default: all cores)
  --verbose     print one line per datagram
  --help        this text

Prints "listening on <address>" once it receives.
)";

struct options {
    std::string address;
    unsigned shards = 0;
    bool verbose = false;
};

options parse_args(int argc, char** argv) {
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--verbose" || arg == "-v") {
            out.verbose = true;
        } else if (arg == "--shards") {
            out.shards = static_cast<unsigned>(number_value("udp_echo_server", argc, argv, i, 1, 1024));
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error("udp_echo_server", "unknown option \"" + std::string(arg) + "\"");
        } else if (out.address.empty()) {
            out.address = arg;
        } else {
            usage_error("udp_echo_server", "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (out.address.empty()) usage_error("udp_echo_server", "missing the address to receive on");
    if (auto why = check_address_syntax(out.address); !why.empty()) usage_error("udp_echo_server", why);
    return out;
}

/// Echoes batches until the runtime stops.
template <class Socket>
task<void> echo_batches(Socket& sock, bool verbose) {
    std::vector<net::outgoing_datagram> replies;
    bool told_unnamed = false;
    for (;;) {
        auto batch = co_await sock.receive_batch();
        if (!batch) {
            if (batch.error() == errc::operation_canceled) break;  // stopping
            // An ICMP error for an earlier reply (the client went away): keep serving.
            if (verbose) std::printf("receive: %s\n", batch.error().message().c_str());
            continue;
        }
        replies.clear();
        for (const net::datagram& d : *batch) {
            // An unbound unix sender has no address to answer to; a truncated datagram is not echoed half.
            const bool unnamed = d.from.family() == net::address_family::unix_unnamed;
            if (unnamed && !told_unnamed) {
                std::fprintf(stderr,
                             "udp_echo_server: datagrams from an unnamed unix socket cannot be answered (the sender "
                             "must bind a name, e.g. socat's UNIX-SENDTO:...,bind=@name); they are not echoed\n");
                told_unnamed = true;
            }
            if (verbose) {
                const char* what = unnamed ? "not echoing: the sender has no name to answer"
                                   : d.truncated ? "not echoing: truncated"
                                                 : "echoing";
                std::printf("got %zu bytes%s from %s, %s\n", d.payload.size(), d.truncated ? " (truncated)" : "",
                            unnamed ? "an unnamed unix socket" : d.from.to_string().c_str(), what);
            }
            if (!unnamed && !d.truncated) replies.push_back({d.payload, &d.from});
        }
        if (verbose) std::fflush(stdout);
        (void)co_await sock.send_batch(replies, 1s);
    }
}

/// Serves until the runtime stops or begins a graceful stop — a datagram
/// server has no request in progress to finish, so it stops receiving at
/// once instead of waiting out the drain timeout — then closes the socket.
template <class Socket>
task<void> echo(Socket& sock, bool verbose) {
    (void)sock.set_batch_options({.max_datagram_size = 65535});
    co_await until_drain(echo_batches(sock, verbose));
    (void)co_await sock.close();
}

void announce(const net::address& where) {
    std::printf("listening on %s\n", where.to_string().c_str());
    std::fflush(stdout);
}

task<int> serve_unix(const net::address& where, bool verbose) {
    auto sock = local::bind_datagram(where);
    if (!sock) {
        std::fprintf(stderr, "udp_echo_server: %s\n", net::describe_error("bind", where, sock.error()).c_str());
        co_return 1;
    }
    announce(where);
    co_await echo(*sock, verbose);
    co_return 0;
}

/// One socket per shard, all bound on shard 0 (the first picks the port),
/// then each handed to its shard before its first operation.
task<int> serve_udp(const net::address& wanted, bool verbose) {
    const unsigned shards = this_shard::count();
    std::vector<udp::socket> sockets;
    net::address where = wanted;
    for (unsigned i = 0; i < shards; ++i) {
        auto sock = udp::bind(where, {.reuse_port = shards > 1});
        if (!sock) {
            std::fprintf(stderr, "udp_echo_server: %s\n", net::describe_error("bind", where, sock.error()).c_str());
            co_return 1;
        }
        if (i == 0) where = *sock->local_address();
        sockets.push_back(std::move(*sock));
    }
    announce(where);
    std::vector<task<void>> servers;
    for (unsigned i = 0; i < shards; ++i) {
        servers.push_back(submit_to(i, [s = &sockets[i], verbose]() { return echo(*s, verbose); }));
    }
    co_await when_all(std::move(servers));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    try {
        runtime rt{{.shards = opts.shards}};
        return rt.run([&]() -> task<int> {
            std::string error;
            auto candidates = co_await addresses_of(opts.address, error);
            if (candidates.empty()) {
                std::fprintf(stderr, "udp_echo_server: %s\n", error.c_str());
                co_return 1;
            }
            const net::address& where = candidates.front();
            if (is_unix(where)) co_return co_await serve_unix(where, opts.verbose);
            co_return co_await serve_udp(where, opts.verbose);
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "udp_echo_server: %s\n", e.what());
        return 1;
    }
}

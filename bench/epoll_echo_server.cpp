// epoll_echo_server: the baseline echo server for bench/echo_compare.sh — a
// plain single-threaded epoll loop, the way such servers are usually written.
//
//   build-bench/bench/epoll_echo_server 127.0.0.1:0       # prints: listening on 127.0.0.1:41377
//   build-bench/bench/epoll_echo_server [::1]:8000 --read-size 64k
//   build-bench/bench/epoll_echo_server unix:/tmp/echo.sock   # or @abstract-name
//
// Then drive it with build/tools/ringlet_loadgen <the printed address>. The
// one line on stdout is `listening on <address>` with the real port, flushed.
// SIGINT or SIGTERM stops it: it closes every connection, prints its CPU time
// (getrusage) on stderr and exits 0. Exit 2 means a bad argument, 1 that it
// could not listen.
//
// What it does, deliberately nothing clever: level-triggered epoll; per
// readable connection one read() of up to --read-size bytes per wakeup
// (256 KiB by default), then write() of all of it back. The read size decides
// bulk echo: at 16 KiB × 16 this server moved 5.5 GB/s reading 256 KiB, 1.9
// GB/s reading 64 KiB and 1.1 GB/s reading 16 KiB (DESIGN.md), so the default
// is the strongest baseline; smaller sizes show what a typical server does.
// What the socket does not take (EAGAIN or a short write) is
// kept, the connection waits for EPOLLOUT instead of EPOLLIN until it is
// flushed (so a client that does not read cannot make it buffer without
// bound). TCP_NODELAY on accepted sockets. The loop is the one every TCP
// baseline shares (baseline::stream_reactor). It uses no ringlet code at all.
#include "baseline_support.hpp"

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* me = "epoll_echo_server";

constexpr const char* usage = R"(usage: epoll_echo_server ADDRESS [--read-size BYTES]

A single-threaded, level-triggered epoll echo server: the baseline that
bench/echo_compare.sh measures ringlet's echo server against.

  ADDRESS             127.0.0.1:8000, [::1]:8000, unix:/path or @abstract-name
                      (numeric addresses only; port 0 picks a free port)
  --read-size BYTES   the most one read() per wakeup takes: 16k, 64k, 256k
                      (default), any size from 1 to 16m (k/m suffixes: KiB/MiB)
  --help              this text

Prints "listening on <address>", serves until SIGINT or SIGTERM, then prints
its CPU time on stderr and exits 0.
)";

constexpr std::size_t default_read_size = 256 * 1024;
constexpr std::size_t max_read_size = 16 * 1024 * 1024;

struct no_state {};

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> rest{argv[0]};  // the arguments other than --read-size, for address_argument
    std::size_t read_size = default_read_size;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg != "--read-size") {
            rest.push_back(argv[i]);
            continue;
        }
        if (i + 1 == argc) baseline::usage_error(me, "--read-size needs a value (16k, 64k, 256k)");
        read_size = baseline::parse_size(argv[++i]);
        if (read_size == 0 || read_size > max_read_size) {
            baseline::usage_error(me, "--read-size \"" + std::string(argv[i]) + "\" is not a size from 1 to 16m");
        }
    }
    const std::string address = baseline::address_argument(me, usage, static_cast<int>(rest.size()), rest.data(),
                                                            "missing the address to listen on");
    const int signals = baseline::stop_signal_fd(me);
    const int listener = baseline::listen_and_announce(me, address);
    {
        baseline::stream_reactor<no_state> server{me, listener, signals, read_size};
        server.run([](no_state&, std::string_view bytes) { return bytes; });  // every read written straight back
    }
    baseline::close_listener(listener, address);
    std::fprintf(stderr, "%s: %s\n", me, baseline::cpu_time_text().c_str());
    return 0;
}

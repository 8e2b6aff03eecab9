// epoll_http_responder: the ceiling of bench/http_compare.py — a minimal,
// single-threaded epoll HTTP/1.1 responder (no ringlet code). It only frames
// requests: every CRLF CRLF it sees ends a request head, and each head is
// answered with one fixed "200 OK, Hello, World!" response (the bytes of
// http_server's /plaintext answer, with a fixed Date). The answers to all
// heads of one read go out in one write. No parsing, no bodies, no timeouts:
// the physical limit of an HTTP server on this box, not a server. The loop
// is the one every TCP baseline shares (baseline::stream_reactor: reads of
// up to 64 KiB, a reply the socket does not take waits for EPOLLOUT).
//
//   build/bench/epoll_http_responder 127.0.0.1:0     # prints: listening on 127.0.0.1:PORT
//   wrk -c50 -d5s http://127.0.0.1:PORT/plaintext
//
// SIGTERM or SIGINT ends it: it prints the heads it answered and its CPU
// time on stderr and exits 0. Exit 2: a bad argument; 1: cannot listen.
#include "baseline_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

constexpr const char* me = "epoll_http_responder";

constexpr const char* usage = R"(usage: epoll_http_responder ADDRESS

Answers every HTTP request head with a fixed "Hello, World!": the ceiling
bench/http_compare.py measures HTTP servers against.

  ADDRESS   127.0.0.1:8000, [::1]:8000, unix:/path or @name (port 0: any free port)
  --help    this text
)";

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 12:00:00 GMT\r\nContent-Length: 13\r\n"
    "Content-Type: text/plain\r\n\r\nHello, World!";

/// Progress through "\r\n\r\n", carried across reads.
struct head_scan {
    int match = 0;
};

/// Counts request heads ending in `data`, carrying partial matches across reads.
std::size_t count_heads(std::string_view data, int& match) {
    static constexpr char end[] = "\r\n\r\n";
    std::size_t heads = 0;
    for (const char c : data) {
        if (c == end[match]) {
            if (++match == 4) {
                ++heads;
                match = 0;
            }
        } else {
            match = c == '\r' ? 1 : 0;
        }
    }
    return heads;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string address = baseline::address_argument(me, usage, argc, argv, "missing the address to listen on");
    const int signals = baseline::stop_signal_fd(me);
    const int listener = baseline::listen_and_announce(me, address);
    std::uint64_t answered = 0;
    std::string answers;
    {
        baseline::stream_reactor<head_scan> server{me, listener, signals, 64 * 1024};
        server.run([&](head_scan& scan, std::string_view bytes) -> std::string_view {
            const std::size_t heads = count_heads(bytes, scan.match);
            answered += heads;
            answers.clear();
            for (std::size_t h = 0; h < heads; ++h) answers += kResponse;
            return answers;
        });
    }
    baseline::close_listener(listener, address);
    std::fprintf(stderr, "%s: %llu requests answered, %s\n", me, static_cast<unsigned long long>(answered),
                 baseline::cpu_time_text().c_str());
    return 0;
}

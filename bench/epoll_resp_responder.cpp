// epoll_resp_responder: the ceiling for a RESP server on this machine, for
// bench/resp_compare.sh — a single-threaded level-triggered epoll loop that
// only frames RESP commands and answers them with fixed replies: GET gets
// the bulk "xxx" (redis-benchmark's default 3-byte value), everything else
// +OK. No parsing beyond framing, no storage, no limits worth the name: a
// load generator's partner, not a server.
//
//   build-bench/bench/epoll_resp_responder 127.0.0.1:0    # prints: listening on 127.0.0.1:41377
//   redis-benchmark -p 41377 -c 50 -t set,get -P 16 -q
//
// SIGINT or SIGTERM stops it: it prints the commands it answered and its
// CPU time on stderr and exits 0. Exit 2: a bad argument; 1: cannot listen.
// Per readable connection: one read() of up to 64 KiB, every complete
// command answered, all replies in one send(); a command cut by the read's
// end is kept for the next one. The loop is the one every TCP baseline
// shares (baseline::stream_reactor: TCP_NODELAY, a reply the socket does
// not take waits for EPOLLOUT).
#include "baseline_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr const char* me = "epoll_resp_responder";

constexpr const char* usage = R"(usage: epoll_resp_responder ADDRESS

Frames RESP commands and answers GET with "$3 xxx", anything else with +OK:
the ceiling bench/resp_compare.sh measures RESP servers against.

  ADDRESS   127.0.0.1:8000, [::1]:8000, unix:/path or @name (port 0: any free port)
  --help    this text
)";

/// An incomplete command carried over to the next read.
struct carried {
    std::string in;
};

/// The length of the complete command at the start of `s`, 0 if incomplete,
/// and whether it is a GET. Malformed input counts as one byte (skipped).
std::size_t frame(std::string_view s, bool& is_get) {
    is_get = false;
    if (s[0] != '*') {  // inline: one line
        const auto nl = s.find('\n');
        if (nl == std::string_view::npos) return 0;
        is_get = s.size() >= 4 && (s[0] | 0x20) == 'g' && (s[1] | 0x20) == 'e' && (s[2] | 0x20) == 't' && s[3] == ' ';
        return nl + 1;
    }
    std::size_t p = s.find("\r\n");
    if (p == std::string_view::npos) return 0;
    const long count = std::strtol(s.data() + 1, nullptr, 10);
    p += 2;
    for (long i = 0; i < count; ++i) {
        if (p >= s.size()) return 0;
        if (s[p] != '$') return 1;
        const std::size_t eol = s.find("\r\n", p);
        if (eol == std::string_view::npos) return 0;
        const long length = std::strtol(s.data() + p + 1, nullptr, 10);
        if (length < 0) return 1;
        const std::size_t data = eol + 2;
        if (s.size() < data + static_cast<std::size_t>(length) + 2) return 0;
        if (i == 0) {
            is_get = length == 3 && (s[data] | 0x20) == 'g' && (s[data + 1] | 0x20) == 'e' && (s[data + 2] | 0x20) == 't';
        }
        p = data + static_cast<std::size_t>(length) + 2;
    }
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string address = baseline::address_argument(me, usage, argc, argv, "missing the address to listen on");
    const int signals = baseline::stop_signal_fd(me);
    const int listener = baseline::listen_and_announce(me, address);
    std::uint64_t answered = 0;
    std::string replies;
    {
        baseline::stream_reactor<carried> server{me, listener, signals, 64 * 1024};
        server.run([&](carried& c, std::string_view data) -> std::string_view {
            if (!c.in.empty()) {
                c.in.append(data);
                data = c.in;
            }
            replies.clear();
            std::size_t used = 0;
            while (used < data.size()) {
                bool is_get = false;
                const std::size_t length = frame(data.substr(used), is_get);
                if (length == 0) break;
                used += length;
                ++answered;
                if (is_get) replies.append("$3\r\nxxx\r\n", 9); else replies.append("+OK\r\n", 5);
            }
            std::string rest{data.substr(used)};
            c.in.swap(rest);
            return replies;
        });
    }
    baseline::close_listener(listener, address);
    std::fprintf(stderr, "%s: %llu commands answered, %s\n", me, static_cast<unsigned long long>(answered),
                 baseline::cpu_time_text().c_str());
    return 0;
}

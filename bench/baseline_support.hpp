// What the plain-socket baseline servers (epoll_echo_server,
// udp_mmsg_echo_server) share: their one-address command line, numeric
// addresses, the signal descriptor that stops them, and the CPU-time line
// they print at exit. No ringlet code: the baselines must not measure it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace baseline {

[[noreturn]] inline void usage_error(const char* program, const std::string& message) {
    std::fprintf(stderr, "%s: %s (try --help)\n", program, message.c_str());
    std::exit(2);
}

/// Exits 1 naming the failed call and errno.
[[noreturn]] inline void die(const char* program, const char* what) {
    std::fprintf(stderr, "%s: %s: %s\n", program, what, std::strerror(errno));
    std::exit(1);
}

/// The command line `program ADDRESS`: --help (or -h) prints `usage` and
/// exits 0; anything else but one operand exits 2 (`missing` when there is none).
inline std::string address_argument(const char* program, const char* usage, int argc, char** argv,
                                    const char* missing) {
    std::string address;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (arg.size() > 1 && arg[0] == '-') usage_error(program, "unknown option \"" + std::string(arg) + "\"");
        if (!address.empty()) usage_error(program, "unexpected argument \"" + std::string(arg) + "\"");
        address = arg;
    }
    if (address.empty()) usage_error(program, missing);
    return address;
}

/// "65536", "64k" or "1m" (k: KiB, m: MiB) as bytes; 0 when it is none of these.
inline std::size_t parse_size(std::string_view text) {
    std::size_t unit = 1;
    if (!text.empty() && (text.back() == 'k' || text.back() == 'K')) unit = 1024;
    if (!text.empty() && (text.back() == 'm' || text.back() == 'M')) unit = 1024 * 1024;
    if (unit != 1) text.remove_suffix(1);
    if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string_view::npos) return 0;
    return std::strtoull(std::string(text).c_str(), nullptr, 10) * unit;
}

/// Numeric "a.b.c.d:port" or "[v6]:port" into `out`/`size`; false if not one.
inline bool parse_ip_address(std::string_view text, sockaddr_storage& out, socklen_t& size) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    const std::string host{text.substr(0, colon)};
    const std::string port_text{text.substr(colon + 1)};
    char* end = nullptr;
    const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port > 65535) return false;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(static_cast<std::uint16_t>(port));
        size = sizeof v6;
        return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6.sin6_addr) == 1;
    }
    auto& v4 = reinterpret_cast<sockaddr_in&>(out);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    size = sizeof v4;
    return inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1;
}

/// An IP address as "a.b.c.d:port" or "[v6]:port"; any other family as `given`.
inline std::string describe(const sockaddr_storage& s, std::string_view given) {
    char text[INET6_ADDRSTRLEN] = {};
    if (s.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(s);
        inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(v4.sin_port));
    }
    if (s.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(s);
        inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6.sin6_port));
    }
    return std::string(given);
}

/// SIGINT and SIGTERM blocked and readable on a descriptor, so that in an
/// epoll set stopping is just another event.
inline int stop_signal_fd(const char* program) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop_signals, nullptr) < 0) die(program, "sigprocmask");
    const int signals = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signals < 0) die(program, "signalfd");
    return signals;
}

/// "cpu user U s, system S s": this process's CPU time so far.
inline std::string cpu_time_text() {
    rusage now{};
    getrusage(RUSAGE_SELF, &now);
    char text[96];
    std::snprintf(text, sizeof text, "cpu user %ld.%06ld s, system %ld.%06ld s", static_cast<long>(now.ru_utime.tv_sec),
                  static_cast<long>(now.ru_utime.tv_usec), static_cast<long>(now.ru_stime.tv_sec),
                  static_cast<long>(now.ru_stime.tv_usec));
    return text;
}

}  // namespace baseline

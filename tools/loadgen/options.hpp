// The load generator's command line (see options.cpp for the usage text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace loadgen {

struct options {
    std::string address;             ///< target, ringlet address syntax (first positional)
    unsigned connections = 50;       ///< --connections
    unsigned depth = 0;              ///< --depth; 0 = the mode's default (see effective_depth)
    std::size_t size = 64;           ///< --size, bytes per message
    double duration = 5.0;           ///< --duration, seconds measured
    double warmup = 1.0;             ///< --warmup, seconds run before measuring
    std::uint64_t requests = 0;      ///< --requests, cap over all connections; 0 = none
    double rate = 0.0;               ///< --rate, requests/s over all connections; 0 = closed loop
    unsigned shards = 1;             ///< --shards
    double tick_us = 100.0;          ///< --tick, the pacer's shortest sleep in rate mode (µs)
    double grace = 3.0;              ///< --grace, seconds allowed for draining at the end
    std::string json;                ///< --json FILE
    std::string csv;                 ///< --csv FILE: the per-second timeline
    std::string hgrm;                ///< --hgrm FILE: the latency spectrum, HdrHistogram's text format
    std::string plot;                ///< --plot FILE.svg: spectrum and timeline
    int server_pid = 0;              ///< --server-pid: also report this process's CPU per request
    bool progress = true;            ///< --quiet turns the per-second lines off
    bool udp = false;                ///< --udp (--mode udp): connected UDP sockets instead of streams
    std::string mode = "echo";       ///< --mode echo|udp|http|resp
    bool new_connection = false;     ///< --new-connection: connect, one request, close
    // http
    std::string method;              ///< --method; default GET, or POST with a body
    std::string path = "/";          ///< --path, the request target
    std::string host;                ///< --host, the Host header; default the address given
    std::vector<std::string> headers;  ///< --header "Name: value", repeatable
    std::string body;                ///< --body TEXT, or --body-size N bytes
    // --tls on any stream mode
    bool tls = false;                ///< --tls
    std::string tls_ca;              ///< --tls-ca FILE; default the system's CAs
    std::string tls_sni;             ///< --tls-sni NAME: SNI and the name verified
    std::vector<std::string> tls_alpn;  ///< --tls-alpn a,b
    std::string tls_ciphers;         ///< --tls-ciphers LIST (wolfSSL/OpenSSL names, ':' separated)
    bool tls_insecure = false;       ///< --tls-insecure: no certificate verification
    // resp
    unsigned set_ratio = 1;          ///< --ratio SET:GET
    unsigned get_ratio = 10;
    std::uint64_t keys = 10000;      ///< --keys, the key space
    double udp_timeout_ms = 200.0;   ///< --udp-timeout, ms before a datagram in flight counts as lost

    /// Requests in flight per connection: --depth, or 1 in closed loop and
    /// 256 (a cap, not a target) at a fixed rate.
    [[nodiscard]] unsigned effective_depth() const noexcept { return depth ? depth : (rate > 0 ? 256 : 1); }
};

/// Parses argv; prints the usage and exits 0 on --help, prints a one-line
/// error and exits 2 on a bad argument.
options parse_options(int argc, char** argv);

/// Parses one load option at argv[i] into `out` (advancing i past its value):
/// false when argv[i] is not a load option. Exits 2 on a bad value. Shared
/// by parse_options and the compare subcommand.
bool parse_load_option(options& out, int argc, char** argv, int& i);

/// Checks the combination of load options (the address excepted); exits 2 on a bad one.
void check_load_options(const options& out);

/// Prints "ringlet_loadgen: MESSAGE (try --help)" on stderr and exits 2.
[[noreturn]] void usage_error(const std::string& message);

}  // namespace loadgen

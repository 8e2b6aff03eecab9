// Command-line parsing for ringlet_loadgen: DESIGN.md's conventions (address
// first, --help, one-line error and exit 2 on a bad argument) and bounds on
// every number, so no combination of flags runs unbounded.
#include "options.hpp"

#include <ringlet/net/address.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace loadgen {
namespace {

constexpr const char* usage = R"(usage: ringlet_loadgen ADDRESS [options]

Opens N connections to a server at ADDRESS, sends requests with P in flight
per connection (pipelined, written in batches), frames and checks every
response, and reports requests/s, MB/s, latency percentiles, a per-second
timeline and its own CPU time. Modes: echo (default: messages of S bytes
that must come back unchanged and in order), udp, http, resp.

  ADDRESS             127.0.0.1:8000, [::1]:8000, localhost:8000,
                      unix:/path/to.sock or @abstract-name
  --connections N     connections (default 50)
  --depth P           requests in flight per connection (default 1; with
                      --rate the most allowed in flight, default 256)
  --size S            message size in bytes (default 64)
  --duration D        seconds measured (default 5, at most 3600)
  --warmup W          seconds of load before measuring (default 1)
  --requests N        stop each connection after its share of N requests
  --rate R            open loop: R requests/s over all connections, sent on
                      a timetable; latency counts from the scheduled send
                      time, so a server stall shows up in the percentiles
  --tick US           shortest pacer sleep with --rate, in µs (default 100)
  --grace G           seconds allowed to drain at the end (default 3)
  --shards K          load-generator threads (default 1)
  --udp               UDP: N connected UDP sockets ("connections") with P
                      datagrams of S bytes in flight each (S at least 8,
                      at most 65507); a datagram unanswered after the
                      timeout counts as lost (reported, not an error) and
                      its slot sends the next one
  --udp-timeout MS    milliseconds before --udp counts a datagram lost
                      (default 200)
  --mode M            echo, udp (= --udp), http (= --http), resp (= --resp)
  --new-connection    stream modes: a new connection for every request
                      (connect, one request, its response, close): measures
                      connections per second
TLS on any stream mode (--tls; full handshakes per second with --new-connection):
  --tls               TLS 1.2/1.3 (wolfSSL), the server verified
  --tls-ca FILE       trusted CAs (PEM; default the system's)
  --tls-sni NAME      the server name sent and verified (needed unless
                      --tls-insecure)
  --tls-alpn LIST     ALPN protocols offered, comma separated
  --tls-ciphers LIST  cipher suites (':' separated, OpenSSL names)
  --tls-insecure      no certificate verification
HTTP (--http): every response framed (Content-Length or chunked) and counted
by status; a status >= 400 is an error. Pipelined to --depth, keep-alive.
  --method M          GET (default), or POST with a body; any token
  --path P            the request target (default /)
  --host H            the Host header (default: ADDRESS as given)
  --header 'N: V'     an extra header line (repeatable)
  --body TEXT         a request body (Content-Length set; POST by default)
  --body-size N       a body of N bytes
RESP (--resp): SET and GET mixed by ratio; every reply checked (SET: +OK;
GET: the key's exact value, or a null before it was set).
  --ratio S:G         SETs to GETs (default 1:10)
  --keys K            key space (default 10000): key:SSSSSSS:NNNNNNNNNNNN
  --size S            the value size (default 64)

  --json FILE         also write the results as JSON to FILE (with the
                      per-second timeline and the saturation figures)
  --csv FILE          the per-second timeline as CSV: requests, errors,
                      p50/p99/p99.9/max latency, generator busy
  --hgrm FILE         the full latency spectrum in HdrHistogram's .hgrm
                      text format (values in ms)
  --plot FILE.svg     an SVG: the latency spectrum on a "nines" axis and
                      the per-second requests/s and p99
  --server-pid PID    also report the server's CPU time per request (from
                      /proc/PID, sampled at the start and end of the window)
  --quiet             no per-second progress line
  --help              this text

  ringlet_loadgen compare --a 'CMD' --b 'CMD' [options]   two servers,
                      interleaved rounds (compare --help says more)

The progress line (once a second: requests/s, p99, errors) goes to stderr,
rewritten in place on a terminal; the summary to stdout. Latency counts from
the send (closed loop) or from the scheduled send (--rate: coordinated
omission corrected). The summary and the JSON warn when the generator itself
was saturated (a thread >= 90 % busy, or under 95 % of --rate achieved). Exit status: 0 when
every request was answered correctly, 1 on any error (connect, I/O, a
mismatched byte, a request unanswered at the end; with --udp, lost
datagrams are not errors), 2 on a bad argument.
)";

[[noreturn]] void fail(const std::string& message) { usage_error(message); }

double number(std::string_view flag, const char* text, double low, double high) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !std::isfinite(v) || v < low || v > high) {
        fail(std::string(flag) + " \"" + text + "\" is not a number from " + std::to_string(low) + " to " +
             std::to_string(high));
    }
    return v;
}

std::uint64_t integer(std::string_view flag, const char* text, std::uint64_t low, std::uint64_t high) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || text[0] == '-' || v < low || v > high) {
        fail(std::string(flag) + " \"" + text + "\" is not a whole number from " + std::to_string(low) + " to " +
             std::to_string(high));
    }
    return v;
}

}  // namespace

void usage_error(const std::string& message) {
    std::fprintf(stderr, "ringlet_loadgen: %s (try --help)\n", message.c_str());
    std::exit(2);
}

bool parse_load_option(options& out, int argc, char** argv, int& i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
        if (i + 1 == argc) fail(std::string(arg) + " needs a value");
        return argv[++i];
    };
    if (arg == "--connections") {
        out.connections = static_cast<unsigned>(integer(arg, value(), 1, 100000));
    } else if (arg == "--depth") {
        out.depth = static_cast<unsigned>(integer(arg, value(), 1, 65536));
    } else if (arg == "--size") {
        out.size = integer(arg, value(), 1, 16 << 20);
    } else if (arg == "--duration") {
        out.duration = number(arg, value(), 0.1, 3600);
    } else if (arg == "--warmup") {
        out.warmup = number(arg, value(), 0, 600);
    } else if (arg == "--requests") {
        out.requests = integer(arg, value(), 1, std::uint64_t{1} << 40);
    } else if (arg == "--rate") {
        out.rate = number(arg, value(), 1, 1e8);
    } else if (arg == "--tick") {
        out.tick_us = number(arg, value(), 1, 1e6);
    } else if (arg == "--grace") {
        out.grace = number(arg, value(), 0.1, 600);
    } else if (arg == "--shards") {
        out.shards = static_cast<unsigned>(integer(arg, value(), 1, 1024));
    } else if (arg == "--json") {
        out.json = value();
    } else if (arg == "--csv") {
        out.csv = value();
    } else if (arg == "--hgrm") {
        out.hgrm = value();
    } else if (arg == "--plot") {
        out.plot = value();
    } else if (arg == "--udp") {
        out.udp = true;
        out.mode = "udp";
    } else if (arg == "--mode" || arg == "--http" || arg == "--resp") {
        const std::string m = arg == "--mode" ? value() : std::string(arg.substr(2));
        if (m != "echo" && m != "udp" && m != "http" && m != "resp") {
            fail("--mode \"" + m + "\" is not one of echo, udp, http, resp");
        }
        out.mode = m;
        out.udp = m == "udp";
    } else if (arg == "--tls") {
        out.tls = true;
    } else if (arg == "--tls-ca") {
        out.tls = true;
        out.tls_ca = value();
    } else if (arg == "--tls-sni") {
        out.tls = true;
        out.tls_sni = value();
    } else if (arg == "--tls-alpn") {
        out.tls = true;
        out.tls_alpn.clear();
        const std::string list = value();
        for (std::size_t from = 0; from <= list.size();) {
            auto comma = list.find(',', from);
            if (comma == std::string::npos) comma = list.size();
            if (comma > from) out.tls_alpn.push_back(list.substr(from, comma - from));
            from = comma + 1;
        }
    } else if (arg == "--tls-ciphers") {
        out.tls = true;
        out.tls_ciphers = value();
    } else if (arg == "--tls-insecure") {
        out.tls = true;
        out.tls_insecure = true;
    } else if (arg == "--new-connection") {
        out.new_connection = true;
    } else if (arg == "--method") {
        out.method = value();
        for (const char ch : out.method) {
            if (ch < 'A' || ch > 'Z') fail("--method \"" + out.method + "\" is not an HTTP method (GET, POST, ...)");
        }
    } else if (arg == "--path") {
        out.path = value();
        if (out.path.empty() || out.path[0] != '/' || out.path.find_first_of(" \r\n") != std::string::npos) {
            fail("--path \"" + out.path + "\" must start with / and hold no spaces or line breaks");
        }
    } else if (arg == "--host") {
        out.host = value();
    } else if (arg == "--header") {
        const std::string h = value();
        const auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos) {
            fail("--header \"" + h + "\" is not \"Name: value\"");
        }
        out.headers.push_back(h);
    } else if (arg == "--body") {
        out.body = value();
    } else if (arg == "--body-size") {
        out.body = std::string(integer(arg, value(), 0, 16 << 20), 'x');
    } else if (arg == "--ratio") {
        const std::string r = value();
        const auto colon = r.find(':');
        char* end = nullptr;
        const unsigned long s = std::strtoul(r.c_str(), &end, 10);
        const unsigned long g = colon == std::string::npos ? 0 : std::strtoul(r.c_str() + colon + 1, &end, 10);
        if (colon == std::string::npos || end == r.c_str() + colon + 1 || *end != '\0' || s + g == 0 || s > 1000 ||
            g > 1000) {
            fail("--ratio \"" + r + "\" is not SET:GET (e.g. 1:10, 0:1)");
        }
        out.set_ratio = static_cast<unsigned>(s);
        out.get_ratio = static_cast<unsigned>(g);
    } else if (arg == "--keys") {
        out.keys = integer(arg, value(), 1, std::uint64_t{1} << 32);
    } else if (arg == "--udp-timeout") {
        out.udp_timeout_ms = number(arg, value(), 1, 60000);
    } else if (arg == "--server-pid") {
        out.server_pid = static_cast<int>(integer(arg, value(), 1, 1 << 22));
    } else if (arg == "--quiet") {
        out.progress = false;
    } else {
        return false;
    }
    return true;
}

options parse_options(int argc, char** argv) {
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (parse_load_option(out, argc, argv, i)) {
            continue;
        } else if (arg.size() > 1 && arg[0] == '-') {
            fail("unknown option \"" + std::string(arg) + "\"");
        } else if (out.address.empty()) {
            out.address = arg;
        } else {
            fail("unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (out.address.empty()) fail("missing the address to connect to");
    if (!ringlet::net::address::parse(out.address) && !ringlet::net::parse_host_port(out.address)) {
        fail(ringlet::net::address::describe_parse_error(out.address));
    }
    check_load_options(out);
    if (out.udp) {
        if (auto a = ringlet::net::address::parse(out.address); a && a->family() != ringlet::net::address_family::ipv4 &&
                                                                 a->family() != ringlet::net::address_family::ipv6) {
            fail("--udp needs an IP address, not \"" + out.address + "\"");
        }
    }
    return out;
}

void check_load_options(const options& out) {
    if (out.shards > out.connections) fail("--shards is more than --connections");
    if (out.new_connection && out.udp) fail("--new-connection is for stream modes, not --udp");
    if (out.tls && out.udp) fail("--tls is for stream modes, not --udp");
    if (out.tls && !out.tls_insecure && out.tls_sni.empty()) {
        fail("--tls verifies the server's name: give it with --tls-sni NAME (or --tls-insecure)");
    }
    if (out.new_connection && out.depth > 1) fail("--new-connection sends one request per connection: no --depth");
    if (out.mode == "resp" && out.size > (1 << 20)) fail("--size (the RESP value size) is at most 1 MiB");
    if (out.udp) {
        // Each datagram carries the whole 8-byte tag; 65507 is the most one IPv4 UDP datagram holds.
        if (out.size < 8 || out.size > 65507) fail("--size with --udp must be from 8 to 65507");
        if (out.effective_depth() > 4096) fail("--depth with --udp is at most 4096");
    }
    // The in-flight window must fit one connection's buffers (depth × size).
    if (static_cast<double>(out.effective_depth()) * static_cast<double>(out.size) > 64.0 * (1 << 20)) {
        fail("--depth × --size is more than 64 MiB per connection");
    }
}

}  // namespace loadgen

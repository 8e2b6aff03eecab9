// ringlet_loadgen: a load generator for echo servers, built on ringlet.
//
//   build/tools/ringlet_loadgen 127.0.0.1:8000                        # 50 connections, 64 B, depth 1, 5 s
//   build/tools/ringlet_loadgen 127.0.0.1:8000 --depth 16 --size 1024 --duration 10 --json out.json
//   build/tools/ringlet_loadgen 127.0.0.1:8000 --rate 50000           # open loop, 50k requests/s offered
//   build/tools/ringlet_loadgen unix:/tmp/echo.sock --connections 1 --requests 100000 --warmup 0
//   build/tools/ringlet_loadgen 127.0.0.1:9000 --udp --connections 4 --depth 32 --size 1400
//
//   build/tools/ringlet_loadgen 127.0.0.1:8000 --rate 20000 --plot run.svg --csv run.csv --hgrm run.hgrm
//   build/tools/ringlet_loadgen compare --a 'build/examples/echo_server 127.0.0.1:0 --shards 1'
//       --b 'build/bench/epoll_echo_server 127.0.0.1:0' --rounds 3 --quota 0.5   # compare.hpp says more
//
// Against build/examples/echo_server (or bench/epoll_echo_server); with --udp
// against build/examples/udp_echo_server (or bench/udp_mmsg_echo_server),
// counting lost datagrams (udp_engine.hpp says how). Once a
// second it prints a progress line on stderr; at the end a summary on stdout:
// requests/s and MB/s over the measured window (after --warmup), latency
// percentiles from an HDR-style histogram, its own CPU time per request
// (getrusage), how well it batched, and the errors. Every echoed byte is
// checked. Exit 0 when every request was answered correctly, 1 otherwise, 2
// on a bad argument. The compare subcommand (compare.hpp) runs two servers
// interleaved; bench/echo_compare.sh and bench/udp_echo_compare.sh call it.
//
// The run: connect every connection (spread over --shards threads), then
// run the timetable from one common start: warmup, measured window, drain
// (writers shut down their side, the server echoes what is in flight and
// closes), bounded by --grace. See engine.hpp for how one connection works
// and run.cpp for the monitor (timeline, progress line, saturation).
#include "compare.hpp"
#include "options.hpp"
#include "report.hpp"
#include "run.hpp"

#include <ringlet/net/address.hpp>

#include <cstdio>
#include <exception>
#include <string_view>

using namespace loadgen;
namespace net = ringlet::net;

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view{argv[1]} == "compare") return compare_main(argc - 1, argv + 1);
    const options opts = parse_options(argc, argv);
    if (auto a = net::address::parse(opts.address); a && a->family() != net::address_family::unix_path &&
                                                     a->family() != net::address_family::unix_abstract && a->port() == 0) {
        usage_error("\"" + opts.address + "\" has port 0; give the server's port");
    }
    try {
        summary s;
        int status = run_load(opts, s);
        if (s.target.empty()) return status;  // nothing was measured; the error is on stderr
        print_summary(s, opts);
        if (!write_outputs(opts, s)) status = 1;
        return status;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringlet_loadgen: %s\n", e.what());
        return 1;
    }
}

// udp_fastpath: which receive/send path a ringlet UDP echo server should use.
//
//   build/bench/udp_fastpath                 # 3 rounds × 4 variants × 64 and 1400 bytes, 2 s each
//   build/bench/udp_fastpath --seconds 1 --rounds 5
//
// A ringlet UDP echo server runs on shard 0 (pinned to the first CPU); a
// plain client thread pinned to the second CPU keeps `window` datagrams in
// flight with blocking sendmmsg/recvmmsg and counts echoes. The variants
// are interleaved round by round (the two vCPUs' placement drifts, so only
// same-round ratios mean anything) and the median per variant is printed:
//
//   plain            recv_from + send_to: one recvmsg and one sendmsg SQE per datagram
//   multishot+single receive_batch (multishot recvmsg, buffer ring) + send_to each
//   multishot+batch  receive_batch + send_batch (the replies in one sendmmsg)
//   plain+batch      receive_batch with multishot off (one recvmsg per call) + send_batch
//
// This is a measurement for choosing the default, not a comparison with
// other servers (that is the UDP mode of the load generator, issue 4 item 6).
#include <ringlet/ringlet.hpp>
#include <ringlet/net/udp.hpp>

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;

namespace {

enum class variant { plain, multishot_single, multishot_batch, plain_batch };
constexpr variant variants[] = {variant::plain, variant::multishot_single, variant::multishot_batch, variant::plain_batch};
const char* name_of(variant v) {
    switch (v) {
        case variant::plain: return "plain";
        case variant::multishot_single: return "multishot+single";
        case variant::multishot_batch: return "multishot+batch";
        case variant::plain_batch: return "plain+batch";
    }
    return "?";
}

void pin_to(unsigned index) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    const int count = CPU_COUNT(&allowed);
    int wanted = static_cast<int>(index % static_cast<unsigned>(count));
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed) || wanted-- != 0) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        return;
    }
}

task<void> serve(udp::socket& s, variant v) {
    if (v == variant::plain) {
        std::vector<std::byte> buf(2048);
        for (;;) {
            auto got = co_await s.recv_from(buf);
            if (!got) co_return;
            (void)co_await s.send_to(got->from, std::span<const std::byte>{buf}.first(got->size));
        }
    }
    if (v == variant::plain_batch) (void)s.set_batch_options({.multishot = false});
    std::vector<net::outgoing_datagram> out;
    for (;;) {
        auto batch = co_await s.receive_batch();
        if (!batch) {
            if (batch.error() == errc::operation_canceled) co_return;
            continue;
        }
        if (v == variant::multishot_single) {
            for (const auto& d : *batch) (void)co_await s.send_to(d.from, d.payload);
            continue;
        }
        out.clear();
        for (const auto& d : *batch) out.push_back({d.payload, &d.from});
        (void)co_await s.send_batch(out);
    }
}

/// Keeps `window` datagrams of `size` bytes in flight for `seconds`; yields echoes per second.
double client(const net::address& server, std::size_t size, unsigned window, double seconds) {
    pin_to(1);
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{0, 50'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::connect(fd, server.data(), server.size());
    std::vector<char> payload(size, 'p');
    std::vector<std::vector<char>> inbox(window, std::vector<char>(2048));
    std::vector<iovec> out_iov(window, iovec{payload.data(), size});
    std::vector<iovec> in_iov(window);
    std::vector<mmsghdr> out(window), in(window);
    for (unsigned i = 0; i < window; ++i) {
        out[i].msg_hdr.msg_iov = &out_iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
        in_iov[i] = {inbox[i].data(), inbox[i].size()};
        in[i].msg_hdr.msg_iov = &in_iov[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    ::sendmmsg(fd, out.data(), window, 0);
    std::uint64_t echoes = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        const int n = ::recvmmsg(fd, in.data(), window, MSG_WAITFORONE, nullptr);
        if (n <= 0) {  // lost datagrams: refill the window
            ::sendmmsg(fd, out.data(), window, 0);
            continue;
        }
        echoes += static_cast<unsigned>(n);
        ::sendmmsg(fd, out.data(), static_cast<unsigned>(n), 0);
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ::close(fd);
    return static_cast<double>(echoes) / elapsed;
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct outcome {
    double rate = 0;        // echoes per second
    double cpu_ns = 0;      // server (shard) CPU time per echo
};

outcome run_once(variant v, std::size_t size, unsigned window, double seconds) {
    runtime rt{{.shards = 1, .handle_signals = false}};
    outcome result;
    double& rate = result.rate;
    rt.run([&]() -> task<void> {
        auto s = udp::bind(net::address::ipv4_loopback(0));
        if (!s) co_return;
        const auto where = *s->local_address();
        std::thread load([&] {
            rate = client(where, size, window, seconds);
            rt.request_stop();
        });
        const double cpu_start = thread_cpu_seconds();
        co_await serve(*s, v);
        const double cpu = thread_cpu_seconds() - cpu_start;
        load.join();
        result.cpu_ns = rate > 0 ? cpu * 1e9 / (rate * seconds) : 0;
        (void)co_await s->close();
    });
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2;
    int rounds = 3;
    unsigned window = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
        else if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--window") == 0) window = static_cast<unsigned>(std::atoi(argv[i + 1]));
    }
    for (std::size_t size : {std::size_t{64}, std::size_t{1400}}) {
        std::vector<std::vector<double>> rates(std::size(variants)), cpu(std::size(variants));
        for (int r = 0; r < rounds; ++r) {
            for (std::size_t k = 0; k < std::size(variants); ++k) {
                const outcome o = run_once(variants[k], size, window, seconds);
                rates[k].push_back(o.rate);
                cpu[k].push_back(o.cpu_ns);
                std::printf("round %d %5zu B %-17s %10.0f echoes/s %7.0f server ns/echo\n", r, size,
                            name_of(variants[k]), o.rate, o.cpu_ns);
                std::fflush(stdout);
            }
        }
        for (std::size_t k = 0; k < std::size(variants); ++k) {
            std::sort(rates[k].begin(), rates[k].end());
            std::sort(cpu[k].begin(), cpu[k].end());
            std::printf("median %5zu B %-17s %10.0f echoes/s %7.0f server ns/echo\n", size, name_of(variants[k]),
                        rates[k][rates[k].size() / 2], cpu[k][cpu[k].size() / 2]);
        }
    }
}

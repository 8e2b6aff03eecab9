// drain_client: N concurrent echo transfers of M bytes each, every byte
// checked, for the graceful-stop test (bench/graceful_stop.sh).
//
//   drain_client 127.0.0.1:41377 --connections 50 --mib 64
//
// Each connection writes M bytes of a pattern particular to it while it
// reads the echo back and compares it byte for byte, then half-closes and
// expects end of stream. It prints `connected N` once every connection is
// up (a script sends its signal after that), then one line:
//
//   transfers: 50 intact, 0 short, 0 corrupt, 0 failed; 3355443200 bytes echoed in 2.41 s
//
// and exits 0 only when every transfer came back whole and intact. "short"
// means the server closed the connection before echoing everything (a
// transfer cut off by the hard stop), "failed" that connecting or I/O failed.
#include <ringlet/ringlet.hpp>
#include <ringlet/net/tcp.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;

namespace {

enum class outcome { intact, short_read, corrupt, failed };

// The stream of connection `id` is a fixed random-looking table read from
// position (id * 977 + offset) mod a prime period, so a byte lost, doubled or
// swapped between connections shows up, and checking is one memcmp per read.
constexpr std::size_t period = 65521;
constexpr std::size_t chunk = 256 * 1024;

const std::vector<char>& table() {
    static const std::vector<char> bytes = [] {
        std::vector<char> t(period + chunk);
        std::uint32_t x = 2463534242u;
        for (std::size_t i = 0; i < period; ++i) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            t[i] = static_cast<char>(x);
        }
        for (std::size_t i = period; i < t.size(); ++i) t[i] = t[i - period];
        return t;
    }();
    return bytes;
}

/// Where connection `id`'s byte at `offset` is in table().
std::size_t position(std::size_t id, std::uint64_t offset) { return (id * 977 + offset) % period; }

task<bool> send_all(tcp::stream& conn, std::size_t id, std::uint64_t total) {
    const char* bytes = table().data();
    for (std::uint64_t sent = 0; sent < total;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, total - sent));
        auto written = co_await conn.write_all(std::string_view{bytes + position(id, sent), n}, 60s);
        if (!written) co_return false;
        sent += n;
    }
    auto shut = co_await conn.shutdown(net::shutdown_how::write);
    co_return shut.has_value();
}

task<outcome> receive_all(tcp::stream& conn, std::size_t id, std::uint64_t total) {
    std::vector<char> buf(chunk);
    const char* bytes = table().data();
    std::uint64_t got = 0;
    for (;;) {
        auto n = co_await conn.read_some(std::span<char>{buf}, 60s);
        if (!n) co_return got < total ? outcome::short_read : outcome::failed;
        if (*n == 0) break;
        if (got + *n > total || std::memcmp(buf.data(), bytes + position(id, got), *n) != 0) co_return outcome::corrupt;
        got += *n;
    }
    co_return got == total ? outcome::intact : outcome::short_read;
}

task<outcome> transfer(tcp::stream conn, std::size_t id, std::uint64_t total) {
    auto [sent, received] = co_await when_all(send_all(conn, id, total), receive_all(conn, id, total));
    (void)co_await conn.close();
    if (received == outcome::intact && !sent) co_return outcome::failed;
    co_return received;
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "drain_client: %s\nusage: drain_client ADDRESS [--connections N] [--mib M]\n", why);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string address;
    std::size_t connections = 50;
    std::uint64_t mib = 64;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if ((arg == "--connections" || arg == "--mib") && i + 1 < argc) {
            const unsigned long v = std::strtoul(argv[++i], nullptr, 10);
            if (v == 0 || v > 100000) usage("bad number");
            if (arg == "--connections") connections = v;
            else mib = v;
        } else if (address.empty() && arg[0] != '-') {
            address = arg;
        } else {
            usage(("unexpected argument " + arg).c_str());
        }
    }
    auto where = net::address::parse(address);
    if (!where) usage("ADDRESS must be a numeric address with a port");
    (void)table();
    runtime rt{{.shards = 1, .handle_signals = false}};
    return rt.run([&]() -> task<int> {
        std::vector<tcp::stream> streams;
        for (std::size_t i = 0; i < connections; ++i) {
            auto c = co_await tcp::connect(*where, {.timeout = 5s});
            if (!c) {
                std::fprintf(stderr, "drain_client: %s\n", net::describe_error("connect", *where, c.error()).c_str());
                co_return 1;
            }
            streams.push_back(std::move(*c));
        }
        std::printf("connected %zu\n", connections);
        std::fflush(stdout);
        const auto start = clock::now();
        std::vector<task<outcome>> transfers;
        for (std::size_t i = 0; i < connections; ++i) transfers.push_back(transfer(std::move(streams[i]), i, mib << 20));
        auto results = co_await when_all(std::move(transfers));
        const double seconds = std::chrono::duration<double>(clock::now() - start).count();
        std::size_t counts[4] = {};
        for (outcome o : results) ++counts[static_cast<int>(o)];
        std::printf("transfers: %zu intact, %zu short, %zu corrupt, %zu failed; %llu bytes echoed in %.2f s\n",
                    counts[0], counts[1], counts[2], counts[3],
                    static_cast<unsigned long long>(counts[0] * (mib << 20)), seconds);
        co_return counts[0] == connections ? 0 : 1;
    });
}

// net::resolve against real DNS servers on loopback: dnsmasq (Debian's
// dnsmasq-base) started with its own config and port, and small in-process
// UDP servers that stay silent or answer every query with one error code.
#include "../core/test_support.hpp"

#include <ringlet/net/resolve.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;

namespace {

// --- DNS on the wire, just enough for the test servers ---------------------

/// A standard query (RD set) for `name`, type A.
std::vector<unsigned char> dns_query(const std::string& name, std::uint16_t id) {
    std::vector<unsigned char> q = {static_cast<unsigned char>(id >> 8), static_cast<unsigned char>(id), 0x01, 0x00,
                                    0, 1, 0, 0, 0, 0, 0, 0};
    std::istringstream labels(name);
    for (std::string label; std::getline(labels, label, '.');) {
        q.push_back(static_cast<unsigned char>(label.size()));
        q.insert(q.end(), label.begin(), label.end());
    }
    q.insert(q.end(), {0, 0, 1, 0, 1});
    return q;
}

/// A UDP socket bound to 127.0.0.1:0 (a free port); -1 on failure.
int bound_udp_socket(std::uint16_t& port) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof sin;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &size) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    port = ntohs(sin.sin_port);
    return fd;
}

/// Whether a socket of `type` can bind 127.0.0.1:`port` (SO_REUSEADDR, as
/// dnsmasq's listeners have).
bool can_bind(int type, std::uint16_t port) {
    const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0;
    close(fd);
    return bound;
}

/// A port for dnsmasq, which listens on UDP and TCP alike: below the
/// ephemeral range (32768 up by default), where the suites running beside
/// this one, whose loopback connections take and leave thousands of local
/// ports, do not land; both protocols free when probed. 0 when none was.
std::uint16_t free_dns_port() {
    static std::uint32_t seed = static_cast<std::uint32_t>(getpid()) * 2654435761u;
    for (int attempt = 0; attempt < 200; ++attempt) {
        seed = seed * 1664525u + 1013904223u;
        const auto port = static_cast<std::uint16_t>(20000 + (seed >> 8) % 12000);
        if (can_bind(SOCK_DGRAM, port) && can_bind(SOCK_STREAM, port)) return port;
    }
    return 0;
}

/// A DNS "server" on 127.0.0.1 run by a thread: it counts the queries and
/// either ignores them (rcode < 0) or answers each with that RCODE.
class fake_dns_server {
public:
    explicit fake_dns_server(int rcode)
        : rcode_(rcode), fd_(bound_udp_socket(port_)), server_("127.0.0.1:" + std::to_string(port_)) {
        EXPECT_GE(fd_, 0) << "cannot bind a UDP socket on 127.0.0.1";
        thread_ = std::thread([this] { serve(); });
    }
    ~fake_dns_server() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    fake_dns_server(const fake_dns_server&) = delete;
    fake_dns_server& operator=(const fake_dns_server&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// "127.0.0.1:<port>", for resolve_options::servers (a view: it lives as long as the server).
    [[nodiscard]] const std::string& server() const { return server_; }
    [[nodiscard]] int queries() const { return queries_.load(); }

private:
    void serve() {
        unsigned char packet[512];
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            sockaddr_storage from{};
            socklen_t size = sizeof from;
            const ssize_t n = recvfrom(fd_, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&from), &size);
            if (n < 12) continue;
            ++queries_;
            if (rcode_ < 0) continue;
            packet[2] |= 0x80;                                                     // QR: a response
            packet[3] = static_cast<unsigned char>(0x80 | (rcode_ & 0x0f));        // RA + RCODE
            sendto(fd_, packet, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), size);
        }
    }

    int rcode_;
    std::uint16_t port_ = 0;
    int fd_;
    std::string server_;
    std::atomic<int> queries_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// --- dnsmasq ------------------------------------------------------------------

std::string find_dnsmasq() {
    std::vector<std::string> dirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    if (const char* path = std::getenv("PATH")) {
        std::istringstream entries(path);
        for (std::string dir; std::getline(entries, dir, ':');) dirs.push_back(dir);
    }
    for (const auto& dir : dirs) {
        const std::string candidate = dir + "/dnsmasq";
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

/// dnsmasq on 127.0.0.1:<free port>, started with posix_spawn and stopped by
/// its PID with SIGTERM. Its output goes to a log file shown on failure.
class dnsmasq_server {
public:
    /// Starts dnsmasq with `options` added to the base ones; "" or the reason it failed.
    std::string start(const std::string& binary, const std::vector<std::string>& options) {
        char log_name[] = "/tmp/ringlet-dnsmasq-log-XXXXXX";
        const int log_fd = mkstemp(log_name);
        if (log_fd < 0) return "mkstemp failed";
        close(log_fd);
        log_path_ = log_name;
        std::string why;
        for (int attempt = 0; attempt < 5; ++attempt) {  // a free port can be taken in between: another one
            why = try_start(binary, options);
            if (why.empty()) return {};
        }
        return why + "\n" + log();
    }

    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 500 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(10'000);
        if (waitpid(pid_, &status, WNOHANG) == 0) {  // still there after 5 s
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
        }
        pid_ = -1;
    }

    ~dnsmasq_server() {
        stop();
        if (!log_path_.empty()) unlink(log_path_.c_str());
    }

    [[nodiscard]] const std::string& server() const { return server_; }
    [[nodiscard]] std::string log() const {
        std::string text;
        const int fd = open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
        char chunk[4096];
        for (ssize_t n; fd >= 0 && (n = read(fd, chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<std::size_t>(n));
        if (fd >= 0) close(fd);
        return text;
    }

private:
    std::string try_start(const std::string& binary, const std::vector<std::string>& options) {
        port_ = free_dns_port();
        if (port_ == 0) return "no port free for both UDP and TCP on 127.0.0.1";
        std::vector<std::string> args = {binary,
                                         "--no-daemon",
                                         "--conf-file=/dev/null",
                                         "--port=" + std::to_string(port_),
                                         "--listen-address=127.0.0.1",
                                         "--bind-interfaces",
                                         "--no-resolv",
                                         "--no-hosts",
                                         "--no-negcache"};
        args.insert(args.end(), options.begin(), options.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_APPEND, 0);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            pid_ = -1;
            return "posix_spawn " + binary + ": " + std::strerror(rc);
        }
        server_ = "127.0.0.1:" + std::to_string(port_);
        if (wait_until_answering()) return {};
        stop();
        return "dnsmasq on port " + std::to_string(port_) + " did not answer";
    }

    /// Sends a query every 100 ms until dnsmasq answers (5 s at most).
    bool wait_until_answering() {
        std::uint16_t local_port = 0;
        const int fd = bound_udp_socket(local_port);
        if (fd < 0) return false;
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port_);
        const auto query = dns_query("example.test", 0x5151);
        bool answered = false;
        for (int i = 0; i < 50 && !answered; ++i) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {  // it exited (e.g. the port was taken)
                pid_ = -1;
                break;
            }
            sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 100) == 1) {
                unsigned char reply[512];
                answered = recv(fd, reply, sizeof reply, 0) >= 12;
            }
        }
        close(fd);
        return answered;
    }

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string server_;
    std::string log_path_;
};

// --- helpers ----------------------------------------------------------------

std::vector<std::string> texts(const std::vector<net::address>& list) {
    std::vector<std::string> out;
    for (const auto& a : list) out.push_back(a.to_string());
    return out;
}

std::set<std::string> text_set(const std::vector<net::address>& list) {
    auto v = texts(list);
    return {v.begin(), v.end()};
}

/// Runs `body` on a one-shard runtime.
template <class F>
void on_shard(F body) {
    runtime rt{quiet_runtime()};
    rt.run(std::move(body));
}

/// `r`'s error, or a success code.
template <class T>
std::error_code error_of(const result<T>& r) {
    return r ? std::error_code{} : r.error();
}

}  // namespace

// --- without any DNS server ---------------------------------------------------

TEST(ResolveNumeric, NumericHostsNeverReachDns) {
    fake_dns_server silent{-1};
    on_shard([&]() -> task<void> {
        const net::resolve_options options{.servers = silent.server()};
        auto v4 = co_await net::resolve("127.0.0.1", 80, options);
        CO_ASSERT_TRUE(v4);
        EXPECT_EQ(texts(*v4), std::vector<std::string>{"127.0.0.1:80"});
        auto v6 = co_await net::resolve("::1", 443, options);
        CO_ASSERT_TRUE(v6);
        EXPECT_EQ(texts(*v6), std::vector<std::string>{"[::1]:443"});
        auto bracketed = co_await net::resolve("[::1]", 8080, options);
        CO_ASSERT_TRUE(bracketed);
        EXPECT_EQ(texts(*bracketed), std::vector<std::string>{"[::1]:8080"});
        auto scoped = co_await net::resolve("fe80::1%lo", 1, options);
        CO_ASSERT_TRUE(scoped);
        EXPECT_EQ(texts(*scoped), std::vector<std::string>{"[fe80::1%lo]:1"});
        // Named, not a braced temporary inside co_await: GCC 12 miscompiles those.
        const net::host_port target{"10.1.2.3", 0};
        auto port_zero = co_await net::resolve(target, options);
        CO_ASSERT_TRUE(port_zero);
        EXPECT_EQ(texts(*port_zero), std::vector<std::string>{"10.1.2.3:0"});
    });
    EXPECT_EQ(silent.queries(), 0);
}

TEST(ResolveNumeric, FamilyMismatchIsNotFoundAndBadLiteralsAreInvalid) {
    on_shard([]() -> task<void> {
        const auto r1 = co_await net::resolve("::1", 80, {.family = net::ip_family::ipv4});
        EXPECT_EQ(error_of(r1), errc::resolve_not_found);
        const auto r2 = co_await net::resolve("127.0.0.1", 80, {.family = net::ip_family::ipv6});
        EXPECT_EQ(error_of(r2), errc::resolve_not_found);
        const auto r3 = co_await net::resolve("127.0.0.1", 80, {.family = net::ip_family::ipv4});
        EXPECT_EQ(error_of(r3), std::error_code{});
        const auto r4 = co_await net::resolve("[::1", 80);
        EXPECT_EQ(error_of(r4), errc::invalid_argument);
        const auto r5 = co_await net::resolve("::zz", 80);
        EXPECT_EQ(error_of(r5), errc::invalid_argument);
        const auto r6 = co_await net::resolve("1.2.3", 80);  // not inet_aton shorthand
        EXPECT_EQ(error_of(r6), errc::invalid_argument);
        const auto r7 = co_await net::resolve("", 80);
        EXPECT_EQ(error_of(r7), errc::invalid_argument);
    });
}

TEST(ResolveNumeric, MalformedServerListIsInvalid) {
    on_shard([]() -> task<void> {
        auto r = co_await net::resolve("example.test", 80, {.servers = "not a server"});
        EXPECT_EQ(error_of(r), errc::invalid_argument);
    });
}

TEST(ResolveNumeric, DescribeNamesTheHost) {
    EXPECT_EQ(net::describe_resolve_error("example.invalid", make_error_code(errc::resolve_not_found)),
              "resolve example.invalid: host not found");
    EXPECT_EQ(net::describe_resolve_error("db.test", make_error_code(errc::timed_out)), "resolve db.test: timed out");
    EXPECT_EQ(net::describe_resolve_error("x.test", make_error_code(errc::resolve_server_failure)),
              "resolve x.test: DNS server failure");
}

TEST(ResolveHosts, LocalhostComesFromHostsFileWithoutDns) {
    fake_dns_server silent{-1};
    on_shard([&]() -> task<void> {
        auto r = co_await net::resolve("localhost", 8000, {.timeout = 5s, .servers = silent.server()});
        CO_ASSERT_TRUE(r);
        CO_ASSERT_FALSE(r->empty());
        for (const auto& a : *r) {
            EXPECT_TRUE(a.is_loopback()) << a;
            EXPECT_EQ(a.port(), 8000);
        }
    });
    EXPECT_EQ(silent.queries(), 0) << "localhost must come from /etc/hosts";
}

// --- servers that fail --------------------------------------------------------

class ResolveServerError : public ::testing::TestWithParam<int> {};

TEST_P(ResolveServerError, ErrorRcodesAreServerFailure) {
    fake_dns_server failing{GetParam()};
    on_shard([&]() -> task<void> {
        const auto start = clock::now();
        auto r = co_await net::resolve("anything.test", 80, {.timeout = 5s, .servers = failing.server()});
        EXPECT_EQ(error_of(r), errc::resolve_server_failure) << error_of(r).message();
        EXPECT_LT(clock::now() - start, 2s);  // an answer, not a timeout
    });
    EXPECT_GE(failing.queries(), 1);
}

// SERVFAIL, NOTIMP, REFUSED.
INSTANTIATE_TEST_SUITE_P(Resolve, ResolveServerError, ::testing::Values(2, 4, 5));

TEST(ResolveServer, UnreachableServerIsServerFailure) {
    std::uint16_t dead_port = 0;
    close(bound_udp_socket(dead_port));  // nothing listens there now: ICMP port unreachable
    const std::string dead_server = "127.0.0.1:" + std::to_string(dead_port);
    on_shard([&]() -> task<void> {
        auto r = co_await net::resolve("anything.test", 80, {.timeout = 5s, .servers = dead_server});
        EXPECT_EQ(error_of(r), errc::resolve_server_failure) << error_of(r).message();
    });
}

TEST(ResolveServer, SilentServerTimesOutWhileTheShardKeepsServing) {
    fake_dns_server silent{-1};
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    on_shard([&]() -> task<void> {
        bool resolving = true;
        int round_trips = 0;
        clock::duration longest_gap{};
        task_group group;
        // Another "connection" on the same shard: ping-pong through the ring.
        group.spawn([](int a, int b, bool& running, int& rounds, clock::duration& gap) -> task<void> {
            auto last = clock::now();
            char byte = 'x';
            while (running) {
                std::byte* p = reinterpret_cast<std::byte*>(&byte);
                // Results named, never co_await inside a condition: GCC 12.2 miscompiles that.
                const auto wrote = co_await io::write(a, {p, 1});
                CO_ASSERT_TRUE(wrote);
                const auto got = co_await io::read(b, {p, 1});
                CO_ASSERT_TRUE(got);
                const auto slept = co_await sleep_for(1ms);
                CO_ASSERT_TRUE(slept);
                ++rounds;
                gap = std::max(gap, clock::now() - last);
                last = clock::now();
            }
        }(pair[0], pair[1], resolving, round_trips, longest_gap));

        const auto start = clock::now();
        auto r = co_await net::resolve("never.test", 80, {.timeout = 1s, .servers = silent.server()});
        const auto elapsed = clock::now() - start;
        resolving = false;
        co_await group.wait();

        EXPECT_EQ(error_of(r), errc::timed_out) << error_of(r).message();
        EXPECT_GE(elapsed, 1s);
        EXPECT_LT(elapsed, 1s + 700ms);
        EXPECT_GT(round_trips, 100) << "the shard stopped serving while resolving";
        // A resolver that blocked the shard would show one gap of the whole
        // 1 s timeout; 500 ms leaves room for a machine busy with other work.
        EXPECT_LT(longest_gap, 500ms);
    });
    close(pair[0]);
    close(pair[1]);
    EXPECT_GE(silent.queries(), 1);
}

TEST(ResolveServer, StopCancelsTheQueryAndClosesItsSocket) {
    fake_dns_server silent{-1};
    on_shard([&]() -> task<void> {
        const std::size_t fds_before = ringlet::test::open_fd_count();
        std::error_code error;
        auto lookup = [](std::string_view server, std::error_code& out) -> task<int> {
            const auto r = co_await net::resolve("never.test", 80, {.timeout = 30s, .servers = server});
            out = error_of(r);
            co_return 1;
        };
        auto pause = []() -> task<int> {
            (void)co_await sleep_for(200ms);
            co_return 0;
        };
        const auto start = clock::now();
        auto first = co_await when_any(lookup(silent.server(), error), pause());
        EXPECT_EQ(first.index, 1u);
        EXPECT_EQ(error, errc::operation_canceled) << error.message();
        EXPECT_LT(clock::now() - start, 1s);
        // c-ares' socket is closed as soon as nobody waits for it.
        EXPECT_EQ(ringlet::test::open_fd_count(), fds_before);
    });
    EXPECT_GE(silent.queries(), 1);
}

TEST(ResolveServer, AlreadyStoppedTaskDoesNotQuery) {
    fake_dns_server silent{-1};
    on_shard([&]() -> task<void> {
        task_group group;
        group.request_stop();
        std::error_code error;
        group.spawn([](std::string_view server, std::error_code& out) -> task<void> {
            const auto r = co_await net::resolve("never.test", 80, {.servers = server});
            out = error_of(r);
        }(silent.server(), error));
        co_await group.wait();
        EXPECT_EQ(error, errc::operation_canceled);
    });
    EXPECT_EQ(silent.queries(), 0);
}

// The channel's own tasks (socket watchers, timer) must not keep a stopping
// runtime alive: the stop cancels the lookup, the channel goes idle, they end.
TEST(ResolveServer, RuntimeStopEndsPendingLookups) {
    fake_dns_server silent{-1};
    std::error_code error;
    const auto start = clock::now();
    on_shard([&]() -> task<void> {
        spawn([](std::string_view server, std::error_code& out) -> task<void> {
            const auto r = co_await net::resolve("never.test", 80, {.timeout = 30s, .servers = server});
            out = error_of(r);
        }(silent.server(), error));
        (void)co_await sleep_for(100ms);  // the query is on the wire; returning stops the runtime
    });
    EXPECT_LT(clock::now() - start, 2s);
    EXPECT_EQ(error, errc::operation_canceled);
    EXPECT_GE(silent.queries(), 1);
}

// --- dnsmasq ------------------------------------------------------------------

class ResolveDnsmasq : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string binary = find_dnsmasq();
        if (binary.empty()) {
            skip_reason_ = "dnsmasq not found (Debian: apt-get install dnsmasq-base; tools/bootstrap does it)";
            return;
        }
        char hosts_name[] = "/tmp/ringlet-dnsmasq-hosts-XXXXXX";
        const int fd = mkstemp(hosts_name);
        ASSERT_GE(fd, 0);
        const std::string hosts =
            "127.0.0.7 multi.test\n127.0.0.8 multi.test\nfd00::7 multi.test\nfd00::8 multi.test\n"
            "fd00::9 v6only.test\n";
        ASSERT_EQ(write(fd, hosts.data(), hosts.size()), static_cast<ssize_t>(hosts.size()));
        fchmod(fd, 0644);  // dnsmasq may read it after dropping privileges
        close(fd);
        hosts_path_ = hosts_name;

        upstream_ = new fake_dns_server(-1);  // where slow.test is forwarded: it never answers
        dnsmasq_ = new dnsmasq_server;
        const std::string why = dnsmasq_->start(
            binary, {"--address=/example.test/127.0.0.5", "--host-record=dual.test,127.0.0.6,fd00::6",
                     "--addn-hosts=" + hosts_path_, "--server=/slow.test/127.0.0.1#" + std::to_string(upstream_->port()),
                     "--server=/#/"});  // every other name: NXDOMAIN
        ASSERT_TRUE(why.empty()) << why;
    }
    static void TearDownTestSuite() {
        delete dnsmasq_;  // SIGTERM to its PID
        delete upstream_;
        dnsmasq_ = nullptr;
        upstream_ = nullptr;
        if (!hosts_path_.empty()) unlink(hosts_path_.c_str());
    }
    void SetUp() override {
        if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
        ASSERT_NE(dnsmasq_, nullptr);
    }

    static net::resolve_options via_dnsmasq(net::ip_family family = net::ip_family::any) {
        return {.family = family, .timeout = 5s, .servers = dnsmasq_->server()};
    }

    static inline std::string skip_reason_;
    static inline std::string hosts_path_;
    static inline dnsmasq_server* dnsmasq_ = nullptr;
    static inline fake_dns_server* upstream_ = nullptr;
};

TEST_F(ResolveDnsmasq, ARecord) {
    on_shard([]() -> task<void> {
        auto r = co_await net::resolve("example.test", 80, via_dnsmasq());
        CO_ASSERT_TRUE(r);
        EXPECT_EQ(texts(*r), std::vector<std::string>{"127.0.0.5:80"});
    });
}

TEST_F(ResolveDnsmasq, AAndAaaaRecordsAllReturned) {
    on_shard([]() -> task<void> {
        auto both = co_await net::resolve("dual.test", 443, via_dnsmasq());
        CO_ASSERT_TRUE(both);
        EXPECT_EQ(text_set(*both), (std::set<std::string>{"127.0.0.6:443", "[fd00::6]:443"}));
        EXPECT_EQ(both->size(), 2u);

        auto v4 = co_await net::resolve("dual.test", 443, via_dnsmasq(net::ip_family::ipv4));
        CO_ASSERT_TRUE(v4);
        EXPECT_EQ(texts(*v4), std::vector<std::string>{"127.0.0.6:443"});
        auto v6 = co_await net::resolve("dual.test", 443, via_dnsmasq(net::ip_family::ipv6));
        CO_ASSERT_TRUE(v6);
        EXPECT_EQ(texts(*v6), std::vector<std::string>{"[fd00::6]:443"});
    });
}

TEST_F(ResolveDnsmasq, EveryAddressWithFamiliesInterleaved) {
    on_shard([]() -> task<void> {
        auto r = co_await net::resolve("multi.test", 25, via_dnsmasq());
        CO_ASSERT_TRUE(r);
        EXPECT_EQ(text_set(*r),
                  (std::set<std::string>{"127.0.0.7:25", "127.0.0.8:25", "[fd00::7]:25", "[fd00::8]:25"}));
        CO_ASSERT_EQ(r->size(), 4u);
        for (std::size_t i = 1; i < r->size(); ++i) {
            EXPECT_NE((*r)[i].family(), (*r)[i - 1].family()) << "at " << i << ": " << ::testing::PrintToString(texts(*r));
        }
    });
}

TEST_F(ResolveDnsmasq, NxdomainIsNotFound) {
    on_shard([]() -> task<void> {
        auto r = co_await net::resolve("missing.test", 80, via_dnsmasq());
        EXPECT_EQ(error_of(r), errc::resolve_not_found) << error_of(r).message();
        EXPECT_EQ(net::describe_resolve_error("missing.test", error_of(r)), "resolve missing.test: host not found");
    });
}

TEST_F(ResolveDnsmasq, NoAddressOfTheFamilyIsNotFound) {
    on_shard([]() -> task<void> {
        const auto r8 = co_await net::resolve("example.test", 80, via_dnsmasq(net::ip_family::ipv6));
        EXPECT_EQ(error_of(r8), errc::resolve_not_found);
        const auto r9 = co_await net::resolve("v6only.test", 80, via_dnsmasq(net::ip_family::ipv4));
        EXPECT_EQ(error_of(r9), errc::resolve_not_found);
        auto v6 = co_await net::resolve("v6only.test", 80, via_dnsmasq());
        CO_ASSERT_TRUE(v6);
        EXPECT_EQ(texts(*v6), std::vector<std::string>{"[fd00::9]:80"});
    });
}

TEST_F(ResolveDnsmasq, ConcurrentLookupsShareTheShardsChannel) {
    on_shard([]() -> task<void> {
        std::vector<task<result<std::vector<net::address>>>> lookups;
        const char* names[] = {"example.test", "dual.test", "missing.test", "multi.test"};
        for (int i = 0; i < 40; ++i) lookups.push_back(net::resolve(names[i % 4], 80, via_dnsmasq()));
        auto results = co_await when_all(std::move(lookups));
        for (std::size_t i = 0; i < results.size(); ++i) {
            switch (i % 4) {
                case 0: EXPECT_EQ(texts(results[i].value()), std::vector<std::string>{"127.0.0.5:80"}); break;
                case 1: EXPECT_EQ(results[i].value().size(), 2u); break;
                case 2: EXPECT_EQ(error_of(results[i]), errc::resolve_not_found); break;
                default: EXPECT_EQ(results[i].value().size(), 4u); break;
            }
        }
    });
}

// One lookup stops waiting (cancelled, or timed out) while others on the same
// channel go on: they are served, and once nobody waits the channel lets go
// of its sockets.
TEST_F(ResolveDnsmasq, AbandonedLookupsLeaveOthersRunning) {
    on_shard([]() -> task<void> {
        const std::size_t fds_before = ringlet::test::open_fd_count();
        task_group cancelled;
        std::error_code cancelled_error;
        std::error_code timed_out_error;
        clock::duration timed_out_after{};
        const auto start = clock::now();
        cancelled.spawn([](std::error_code& out) -> task<void> {
            const auto r = co_await net::resolve("a.slow.test", 80, via_dnsmasq());
            out = error_of(r);
        }(cancelled_error));
        task_group others;
        others.spawn([](std::error_code& out, clock::duration& after, clock::time_point began) -> task<void> {
            auto options = via_dnsmasq();
            options.timeout = 600ms;
            const auto r = co_await net::resolve("b.slow.test", 80, options);
            out = error_of(r);
            after = clock::now() - began;
        }(timed_out_error, timed_out_after, start));

        (void)co_await sleep_for(100ms);
        cancelled.request_stop();
        co_await cancelled.wait();
        EXPECT_EQ(cancelled_error, errc::operation_canceled);
        EXPECT_LT(clock::now() - start, 400ms);

        // The channel still works while the abandoned query is pending.
        auto served = co_await net::resolve("example.test", 80, via_dnsmasq());
        CO_ASSERT_TRUE(served);
        EXPECT_EQ(texts(*served), std::vector<std::string>{"127.0.0.5:80"});

        co_await others.wait();
        EXPECT_EQ(timed_out_error, errc::timed_out);
        EXPECT_GE(timed_out_after, 600ms);
        EXPECT_LT(timed_out_after, 600ms + 700ms);
        EXPECT_EQ(ringlet::test::open_fd_count(), fds_before);
    });
}

TEST_F(ResolveDnsmasq, EachShardHasItsOwnChannelAndReleasesIt) {
    const std::size_t fds_before = ringlet::test::open_fd_count();
    for (int run = 0; run < 2; ++run) {
        runtime rt{quiet_runtime(2)};
        rt.run([]() -> task<void> {
            auto per_shard = co_await invoke_on_all([]() -> task<bool> {
                auto r = co_await net::resolve("dual.test", 80, via_dnsmasq());
                co_return r && r->size() == 2;
            });
            for (bool ok : per_shard) EXPECT_TRUE(ok);
        });
    }
    EXPECT_EQ(ringlet::test::open_fd_count(), fds_before);
}

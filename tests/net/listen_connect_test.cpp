// net::listen / net::connect: one listener type and one stream type for
// IPv4, IPv6, unix paths and abstract names, as the seeds' net/listen and
// net/connect.
#include "stream_test_support.hpp"

#include <ringlet/net/listen_connect.hpp>

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;

namespace {

bool ipv6_loopback_works() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const auto any = net::address::ipv6_loopback(0);
    const bool ok = ::bind(fd, any.data(), any.size()) == 0;
    ::close(fd);
    return ok;
}

std::string unique(std::string_view stem) { return std::string(stem) + std::to_string(::getpid()); }

/// Listens on `where`, connects to the bound address, and swaps a message each way.
task<void> round_trip(net::address where, net::address_family family) {
    net::stream_listener lst;  // one variable type, whatever the family
    auto made = net::listen(where);
    CO_ASSERT_OK(made);
    lst = std::move(*made);
    auto bound = lst.local_address();
    CO_ASSERT_OK(bound);
    EXPECT_EQ(bound->family(), family);
    if (family == net::address_family::ipv4 || family == net::address_family::ipv6) {
        EXPECT_NE(bound->port(), 0);
    }

    auto client = co_await net::connect(*bound, {.timeout = 5s});
    CO_ASSERT_OK(client);
    auto server = co_await lst.accept(5s);
    CO_ASSERT_OK(server);
    net::stream& a = *client;  // both ends are plain net::streams
    net::stream& b = *server;
    CO_ASSERT_OK(co_await a.write_all("ping", 5s));
    std::string got(4, '\0');
    CO_ASSERT_OK(co_await b.read_exact(ringlet::test::as_writable(got), 5s));
    EXPECT_EQ(got, "ping");
    CO_ASSERT_OK(co_await b.write_all("pong", 5s));
    CO_ASSERT_OK(co_await a.read_exact(ringlet::test::as_writable(got), 5s));
    EXPECT_EQ(got, "pong");
    auto peer = b.peer_address();
    CO_ASSERT_OK(peer);
    CO_ASSERT_OK(co_await a.close());
    CO_ASSERT_OK(co_await b.close());
    CO_ASSERT_OK(co_await lst.close());
}

}  // namespace

TEST(ListenConnect, Ipv4) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> { co_await round_trip(net::address::from_string("127.0.0.1:0"), net::address_family::ipv4); });
}

TEST(ListenConnect, Ipv6) {
    if (!ipv6_loopback_works()) GTEST_SKIP() << "no IPv6 loopback (::1) on this host";
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> { co_await round_trip(net::address::from_string("[::1]:0"), net::address_family::ipv6); });
}

TEST(ListenConnect, UnixPathAndTheFileIsRemovedOnClose) {
    const std::string path = "/tmp/" + unique("ringlet-listen-connect-") + ".sock";
    ::unlink(path.c_str());
    runtime rt{quiet_runtime()};
    rt.run([&]() -> task<void> { co_await round_trip(net::address::from_string("unix:" + path), net::address_family::unix_path); });
    struct stat st {};
    EXPECT_NE(::lstat(path.c_str(), &st), 0) << path << " outlived its listener";
}

TEST(ListenConnect, AbstractName) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        co_await round_trip(net::address::from_string("@" + unique("ringlet-listen-connect-")), net::address_family::unix_abstract);
    });
}

TEST(ListenConnect, ErrorsAreTheFamilysOwn) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        // Nobody listens on a fresh abstract name, nor on a closed TCP port.
        auto refused = co_await net::connect(net::address::from_string("@" + unique("ringlet-nobody-")), {.timeout = 2s});
        CO_ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error(), std::errc::connection_refused);
        auto lst = net::listen(net::address::from_string("127.0.0.1:0"));
        CO_ASSERT_OK(lst);
        const auto port = lst->local_address()->port();
        CO_ASSERT_OK(co_await lst->close());
        auto closed = co_await net::connect(net::address::ipv4_loopback(port), {.timeout = 2s});
        CO_ASSERT_FALSE(closed);
        EXPECT_EQ(closed.error(), std::errc::connection_refused);
        auto missing = co_await net::connect(net::address::from_string("unix:/nonexistent-ringlet-dir/x.sock"));
        CO_ASSERT_FALSE(missing);
        EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);

        // The address in use is reported, for both families.
        auto first = net::listen(net::address::from_string("@" + unique("ringlet-in-use-")));
        CO_ASSERT_OK(first);
        auto second = net::listen(*first->local_address());
        CO_ASSERT_FALSE(second);
        EXPECT_EQ(second.error(), std::errc::address_in_use);
        CO_ASSERT_OK(co_await first->close());

        // An unnamed unix address names no endpoint; binding is for IP only.
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto unnamed = p->first.local_address();
        CO_ASSERT_OK(unnamed);
        EXPECT_EQ(unnamed->family(), net::address_family::unix_unnamed);
        EXPECT_EQ(net::listen(*unnamed).error(), errc::invalid_argument);
        auto to_unnamed = co_await net::connect(*unnamed);
        EXPECT_EQ(to_unnamed.error(), errc::invalid_argument);
        auto bound_unix = co_await net::connect(net::address::from_string("@x"), {.bind = net::address::ipv4_loopback(0)});
        EXPECT_EQ(bound_unix.error(), errc::invalid_argument);
    });
}

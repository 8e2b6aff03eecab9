// local:: (unix stream sockets): paths and abstract names, live and stale
// paths, removal on close, credentials, socket pairs.
#include "stream_test_support.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::quiet_runtime;
using ringlet::test::temp_socket_path;
using ringlet::test::unique_name;

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

task<void> round_trip(local::listener& lst, const net::address& where, std::string_view message) {
    auto c = co_await local::connect(where, {.timeout = 2s});
    CO_ASSERT_OK(c);
    auto s = co_await lst.accept(2s);
    CO_ASSERT_OK(s);
    CO_ASSERT_OK(co_await c->write_all(message));
    std::string got(message.size(), '\0');
    CO_ASSERT_OK(co_await s->read_exact(std::span{got}, 2s));
    EXPECT_EQ(got, message);
}

}  // namespace

TEST(Local, PathListenConnectAndCredentials) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("path");
        const auto where = net::address::unix_path(path).value();
        auto lst = local::listen(where);
        CO_ASSERT_OK(lst);
        EXPECT_EQ(*lst->local_address(), where);
        auto c = co_await local::connect(where);
        CO_ASSERT_OK(c);
        auto s = co_await lst->accept(2s);
        CO_ASSERT_OK(s);
        auto cred = s->peer_credentials();
        CO_ASSERT_OK(cred);
        EXPECT_EQ(cred->pid, ::getpid());
        EXPECT_EQ(cred->uid, ::getuid());
        EXPECT_EQ(*c->peer_address(), where);
        EXPECT_EQ(s->peer_address()->family(), net::address_family::unix_unnamed);
        CO_ASSERT_OK(co_await c->write_all("over a path"));
        CO_ASSERT_OK(co_await c->shutdown(net::shutdown_how::write));
        auto all = co_await s->read_to_end(100, 2s);
        CO_ASSERT_OK(all);
        EXPECT_EQ(*all, "over a path");

        EXPECT_TRUE(exists(path));
        CO_ASSERT_OK(co_await lst->close());
        EXPECT_FALSE(exists(path)) << "the listener removes its socket file on close";
    });
}

TEST(Local, AbstractNameWithAnEmbeddedNul) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        std::string name = unique_name("abs");
        name.insert(4, 1, '\0');
        const auto where = net::address::abstract(name).value();
        EXPECT_EQ(where.size(), offsetof(sockaddr_un, sun_path) + 1 + name.size());
        auto lst = local::listen(where);
        CO_ASSERT_OK(lst);
        EXPECT_EQ(*lst->local_address(), where);
        co_await round_trip(*lst, where, "nul inside");

        // The name up to the NUL is another name, which nobody listens on.
        const auto prefix = net::address::abstract(name.substr(0, 4)).value();
        auto other = co_await local::connect(prefix, {.timeout = 2s});
        CO_ASSERT_FALSE(other);
        EXPECT_EQ(other.error(), std::errc::connection_refused);

        // An abstract name in use is in use; there is nothing stale to replace.
        auto again = local::listen(where);
        CO_ASSERT_FALSE(again);
        EXPECT_EQ(again.error(), std::errc::address_in_use);
    });
}

TEST(Local, ListeningOnALivePathFailsAndLeavesThatServerIntact) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("live");
        const auto where = net::address::unix_path(path).value();
        auto first = local::listen(where);
        CO_ASSERT_OK(first);
        auto second = local::listen(where);
        CO_ASSERT_FALSE(second);
        EXPECT_EQ(second.error(), std::errc::address_in_use);
        EXPECT_EQ(net::describe_error("listen", where, second.error()),
                  "listen unix:" + path + ": Address already in use (EADDRINUSE)");
        EXPECT_TRUE(exists(path));
        // The check did not leave a connection in the live server's queue.
        auto nothing = co_await first->accept(20ms);
        CO_ASSERT_FALSE(nothing);
        EXPECT_EQ(nothing.error(), errc::timed_out);
        co_await round_trip(*first, where, "first still serves");
        CO_ASSERT_OK(co_await first->close());
    });
}

TEST(Local, AStalePathIsReplaced) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("stale");
        const auto where = net::address::unix_path(path).value();
        {
            // A server that died without removing its file.
            auto dead = net::socket::open(AF_UNIX, SOCK_STREAM);
            CO_ASSERT_OK(dead);
            CO_ASSERT_OK(dead->bind(where));
            CO_ASSERT_OK(dead->listen(1));
        }
        CO_ASSERT_TRUE(exists(path));
        auto refused = co_await local::connect(where, {.timeout = 2s});
        CO_ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error(), std::errc::connection_refused);

        auto no_replace = local::listen(where, {.replace_stale = false});
        CO_ASSERT_FALSE(no_replace);
        EXPECT_EQ(no_replace.error(), std::errc::address_in_use);

        auto lst = local::listen(where);
        CO_ASSERT_OK(lst);
        co_await round_trip(*lst, where, "replaced");
        CO_ASSERT_OK(co_await lst->close());
        EXPECT_FALSE(exists(path));
    });
}

TEST(Local, ARegularFileAtThePathIsNeverRemoved) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("file");
        { std::ofstream{path} << "precious"; }
        auto lst = local::listen(net::address::unix_path(path).value());
        CO_ASSERT_FALSE(lst);
        EXPECT_EQ(lst.error(), std::errc::address_in_use);
        std::ifstream in{path};
        std::string content;
        in >> content;
        EXPECT_EQ(content, "precious");
        ::unlink(path.c_str());
        co_return;
    });
}

TEST(Local, UnlinkOnCloseCanBeTurnedOffAndNeverRemovesASuccessor) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        const std::string path = temp_socket_path("keep");
        const auto where = net::address::unix_path(path).value();
        {
            auto lst = local::listen(where, {.unlink_on_close = false});
            CO_ASSERT_OK(lst);
        }
        EXPECT_TRUE(exists(path));
        ::unlink(path.c_str());

        // The first listener's file is replaced by a successor's; destroying
        // the first must not remove the successor's socket.
        auto first = local::listen(where);
        CO_ASSERT_OK(first);
        ::unlink(path.c_str());
        auto successor = local::listen(where);
        CO_ASSERT_OK(successor);
        *first = local::listener{};
        EXPECT_TRUE(exists(path));
        co_await round_trip(*successor, where, "successor");
    });
}

TEST(Local, ListenOnAMissingDirectoryAndOnIpAddressesFails) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto missing = local::listen(net::address::unix_path("/nonexistent-ringlet-dir/x.sock").value());
        CO_ASSERT_FALSE(missing);
        EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
        auto ip = local::listen(net::address::ipv4_loopback(0));
        CO_ASSERT_FALSE(ip);
        EXPECT_EQ(ip.error(), errc::invalid_argument);
        auto nobody = co_await local::connect(net::address::unix_path("/nonexistent-ringlet-dir/x.sock").value());
        CO_ASSERT_FALSE(nobody);
        EXPECT_EQ(nobody.error(), std::errc::no_such_file_or_directory);
    });
}

TEST(Local, PairsCarryBytesBothWaysAndSeeEachOthersEnd) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto p = local::pair();
        CO_ASSERT_OK(p);
        auto& [a, b] = *p;
        CO_ASSERT_OK(co_await a.write_all("to b"));
        CO_ASSERT_OK(co_await b.write_all("to a"));
        char got[4];
        CO_ASSERT_OK(co_await b.read_exact(got, 2s));
        EXPECT_EQ(std::string_view(got, 4), "to b");
        CO_ASSERT_OK(co_await a.read_exact(got, 2s));
        EXPECT_EQ(std::string_view(got, 4), "to a");
        auto idle = co_await a.read_some(got, 10ms);
        CO_ASSERT_FALSE(idle);
        EXPECT_EQ(idle.error(), errc::timed_out);
        CO_ASSERT_OK(co_await b.close());
        auto eof = co_await a.read_some(got, 2s);
        CO_ASSERT_OK(eof);
        EXPECT_EQ(*eof, 0u);
    });
}

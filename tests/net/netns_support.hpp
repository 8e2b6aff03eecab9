// A private network namespace for tests that must send multicast and
// broadcast: they never touch a real interface.
//
// run_in_network_namespace(body) forks a child that unshare(CLONE_NEWNET)s
// into a fresh namespace, brings up `lo` and a veth pair joined to itself —
//     v0  10.99.0.1/24, 10.99.0.3/24 (and an IPv6 link-local address)
//     v1  10.99.0.2/24                (and an IPv6 link-local address)
// — and runs `body` there. Multicast sent out of v0 arrives on v1 ("the
// wire") and, with loopback on, is also delivered to v0's own members. v1
// accepts datagrams from the host's own addresses (accept_local), which a
// real second host would not need. The child reports through a pipe: the
// failures `body` collected, or the reason the namespace could not be made.
//
// Inside the child, gtest's macros would report nowhere: use ns_report.
#pragma once

#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace ringlet::test {

/// Failures collected inside the namespace child.
class ns_report {
public:
    /// Thrown by require() to end the body at a fatal failure.
    struct abort_body : std::exception {};

    bool check(bool ok, const std::string& what, int line) {
        if (!ok) text_ += "line " + std::to_string(line) + ": " + what + "\n";
        return ok;
    }
    void require(bool ok, const std::string& what, int line) {
        if (!check(ok, what, line)) throw abort_body{};
    }
    template <class A, class B>
    bool check_eq(const A& a, const B& b, const char* a_text, const char* b_text, int line) {
        if (a == b) return true;
        std::ostringstream out;
        out << a_text << " == " << b_text << " failed: " << describe(a) << " vs " << describe(b);
        return check(false, out.str(), line);
    }
    void note(const std::string& text) { text_ += text + "\n"; }
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

private:
    template <class T>
    static std::string describe(const T& v) {
        if constexpr (requires { v.has_value(); *v; }) {
            return v.has_value() ? describe(*v) : "(none)";
        } else if constexpr (requires(std::ostream& o) { o << v; }) {
            std::ostringstream out;
            out << v;
            return out.str();
        } else if constexpr (requires { v.message(); }) {
            return v.message();
        } else {
            return "(value)";
        }
    }
    std::string text_;
};

#define NS_CHECK(report, cond) (report).check(static_cast<bool>(cond), #cond, __LINE__)
#define NS_REQUIRE(report, cond) (report).require(static_cast<bool>(cond), #cond, __LINE__)
#define NS_CHECK_EQ(report, a, b) (report).check_eq((a), (b), #a, #b, __LINE__)

namespace netns_detail {

inline bool write_file(const std::string& path, const std::string& value) {
    std::ofstream f(path);
    f << value;
    return static_cast<bool>(f.flush());
}

constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

/// A netlink request under construction, with nested attributes.
class nl_request {
public:
    nl_request(std::uint16_t type, std::uint16_t flags) {
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
        h.nlmsg_seq = 1;
        append(&h, sizeof h);
    }
    void append(const void* data, std::size_t size) {
        used_ = align4(used_);
        std::memcpy(buf_ + used_, data, size);
        used_ += size;
        set_length();
    }
    void attr(std::uint16_t type, const void* data, std::size_t size) {
        const std::size_t at = begin(type);
        std::memcpy(buf_ + used_, data, size);
        used_ += size;
        end(at);
    }
    void attr(std::uint16_t type, const std::string& text) { attr(type, text.c_str(), text.size() + 1); }
    std::size_t begin(std::uint16_t type) {
        used_ = align4(used_);
        const std::size_t at = used_;
        rtattr a{};
        a.rta_type = type;
        std::memcpy(buf_ + used_, &a, sizeof a);
        used_ += sizeof a;
        return at;
    }
    void end(std::size_t at) {
        rtattr a{};
        std::memcpy(&a, buf_ + at, sizeof a);
        a.rta_len = static_cast<unsigned short>(used_ - at);
        std::memcpy(buf_ + at, &a, sizeof a);
        set_length();
    }
    /// Sends the request; 0 or the kernel's -errno.
    int send() {
        const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) return -errno;
        const timeval patience{5, 0};  // a malformed request gets no answer: do not hang
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        int rc = -EIO;
        if (::sendto(fd, buf_, align4(used_), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) {
            char reply[4096];
            const ssize_t n = ::recv(fd, reply, sizeof reply, 0);
            if (n >= static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr))) {
                nlmsgerr err{};
                std::memcpy(&err, reply + align4(sizeof(nlmsghdr)), sizeof err);
                rc = err.error;
            }
        }
        ::close(fd);
        return rc;
    }

private:
    void set_length() {
        const auto length = static_cast<std::uint32_t>(align4(used_));
        std::memcpy(buf_, &length, sizeof length);
    }
    alignas(8) char buf_[1024] = {};
    std::size_t used_ = 0;
};

inline int create_veth(const std::string& name, const std::string& peer) {
    nl_request r(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    ifinfomsg info{};
    r.append(&info, sizeof info);
    r.attr(IFLA_IFNAME, name);
    const std::size_t linkinfo = r.begin(IFLA_LINKINFO);
    r.attr(IFLA_INFO_KIND, std::string("veth"));
    const std::size_t data = r.begin(IFLA_INFO_DATA);
    const std::size_t peer_info = r.begin(VETH_INFO_PEER);
    r.append(&info, sizeof info);
    r.attr(IFLA_IFNAME, peer);
    r.end(peer_info);
    r.end(data);
    r.end(linkinfo);
    return r.send();
}

inline int add_ipv4(const std::string& device, const char* address, const char* broadcast) {
    nl_request r(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    ifaddrmsg a{};
    a.ifa_family = AF_INET;
    a.ifa_prefixlen = 24;
    a.ifa_index = if_nametoindex(device.c_str());
    r.append(&a, sizeof a);
    in_addr local{}, brd{};
    inet_pton(AF_INET, address, &local);
    inet_pton(AF_INET, broadcast, &brd);
    r.attr(IFA_LOCAL, &local, sizeof local);
    r.attr(IFA_ADDRESS, &local, sizeof local);
    r.attr(IFA_BROADCAST, &brd, sizeof brd);
    return r.send();
}

inline int link_up(const char* device) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq r{};
    std::strncpy(r.ifr_name, device, IFNAMSIZ - 1);
    int rc = ::ioctl(fd, SIOCGIFFLAGS, &r);
    if (rc == 0) {
        r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP | IFF_MULTICAST);
        rc = ::ioctl(fd, SIOCSIFFLAGS, &r);
    }
    const int err = errno;
    ::close(fd);
    return rc == 0 ? 0 : -err;
}

inline bool has_link_local_ipv6(const char* device) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool found = false;
    for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 || std::strcmp(i->ifa_name, device) != 0) continue;
        sockaddr_in6 a{};
        std::memcpy(&a, i->ifa_addr, sizeof a);
        if (a.sin6_addr.s6_addr[0] == 0xfe && (a.sin6_addr.s6_addr[1] & 0xc0) == 0x80) found = true;
    }
    freeifaddrs(list);
    return found;
}

/// Builds the namespace described in the file comment; "" or why it failed.
inline std::string set_up() {
    // DAD would keep the link-local addresses tentative (unusable) for a second.
    write_file("/proc/sys/net/ipv6/conf/all/accept_dad", "0");
    write_file("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
    if (int rc = create_veth("v0", "v1"); rc < 0) return std::string("creating veth v0/v1: ") + std::strerror(-rc);
    for (const char* conf : {"all", "default", "v0", "v1"}) {
        write_file(std::string("/proc/sys/net/ipv4/conf/") + conf + "/rp_filter", "0");
        write_file(std::string("/proc/sys/net/ipv4/conf/") + conf + "/accept_local", "1");
    }
    if (int rc = add_ipv4("v0", "10.99.0.1", "10.99.0.255"); rc < 0) return std::string("address on v0: ") + std::strerror(-rc);
    if (int rc = add_ipv4("v0", "10.99.0.3", "10.99.0.255"); rc < 0) return std::string("address on v0: ") + std::strerror(-rc);
    if (int rc = add_ipv4("v1", "10.99.0.2", "10.99.0.255"); rc < 0) return std::string("address on v1: ") + std::strerror(-rc);
    for (const char* device : {"lo", "v0", "v1"}) {
        if (int rc = link_up(device); rc < 0) return std::string("bringing up ") + device + ": " + std::strerror(-rc);
    }
    for (int i = 0; i < 300 && !(has_link_local_ipv6("v0") && has_link_local_ipv6("v1")); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!has_link_local_ipv6("v0") || !has_link_local_ipv6("v1")) return "no IPv6 link-local address on v0/v1 after 3 s";
    return {};
}

}  // namespace netns_detail

struct netns_outcome {
    bool skipped = false;
    std::string failures;  // "" when the body passed; the skip reason when skipped
};

/// Runs `body` (returning its failures, "" for none) in a forked child inside
/// a fresh network namespace. Gives up on the child after 60 s.
inline netns_outcome run_in_network_namespace(const std::function<std::string()>& body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {false, "pipe failed"};
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(fds[0]);
        std::string out;
        if (::unshare(CLONE_NEWNET) != 0) {
            out = std::string("SKIP:cannot create a network namespace (unshare(CLONE_NEWNET): ") +
                  std::strerror(errno) + "); multicast and broadcast are only tested inside one";
        } else if (std::string why = netns_detail::set_up(); !why.empty()) {
            out = "setting up the namespace failed: " + why;
        } else {
            try {
                out = body();
            } catch (const ns_report::abort_body&) {
                out = "a fatal check failed (see above)";
            } catch (const std::exception& e) {
                out = std::string("exception: ") + e.what();
            }
        }
        for (std::size_t done = 0; done < out.size();) {
            const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fds[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
            ::kill(child, SIGKILL);
            text += "\n(the namespace child did not finish within 60 s)";
            break;
        }
        char buf[4096];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) text += "\n(the namespace child died: status " + std::to_string(status) + ")";
    if (text.rfind("SKIP:", 0) == 0) return {true, text.substr(5)};
    return {false, text};
}

}  // namespace ringlet::test

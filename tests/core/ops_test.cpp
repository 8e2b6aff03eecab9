// The readiness steps of the operation families (src/core/ops/), called
// directly on socketpairs, pipes and loopback sockets: what a readiness
// backend will run. Each asserts the bytes moved and the errno reported.
#include "core/ops/ops.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

using namespace ringlet;
namespace ops = ringlet::detail::ops;

namespace {

/// An op that carries its arguments as they are; the views hand them out.
struct test_op final : detail::io_op {
    explicit test_op(const detail::op_steps& steps) noexcept : io_op(steps) {}
    ops::buffer_args buffer;
    ops::message_args message;
    ops::connect_args connect;
    ops::fd_args fd;
};

ops::buffer_args buffer_view(detail::io_op& op) noexcept { return static_cast<test_op&>(op).buffer; }
ops::message_args message_view(detail::io_op& op) noexcept { return static_cast<test_op&>(op).message; }
ops::connect_args connect_view(detail::io_op& op) noexcept { return static_cast<test_op&>(op).connect; }
ops::fd_args fd_view(detail::io_op& op) noexcept { return static_cast<test_op&>(op).fd; }

struct fd_pair {
    int fds[2] = {-1, -1};
    ~fd_pair() {
        for (int fd : fds) {
            if (fd >= 0) close(fd);
        }
    }
};

int perform(const detail::op_steps& steps, test_op& op) { return steps.perform(op); }

}  // namespace

TEST(OpSteps, RecvAndSendMoveBytesAndReportEagain) {
    fd_pair p;  // blocking sockets: the steps must not block on them
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fds), 0);
    char in[16] = {};
    test_op recv{ops::recv_steps<&buffer_view>};
    recv.buffer = {p.fds[1], in, sizeof in, 0};
    EXPECT_EQ(perform(ops::recv_steps<&buffer_view>, recv), -EAGAIN);
    const auto wait = ops::recv_steps<&buffer_view>.wait_for(recv);
    EXPECT_EQ(wait.fd, p.fds[1]);
    EXPECT_EQ(wait.events, static_cast<std::uint32_t>(POLLIN));

    char out[] = "hello";
    test_op send{ops::send_steps<&buffer_view>};
    send.buffer = {p.fds[0], out, 5, 0};
    EXPECT_EQ(perform(ops::send_steps<&buffer_view>, send), 5);
    EXPECT_EQ(ops::send_steps<&buffer_view>.wait_for(send).events, static_cast<std::uint32_t>(POLLOUT));
    EXPECT_EQ(perform(ops::recv_steps<&buffer_view>, recv), 5);
    EXPECT_EQ(std::string_view(in, 5), "hello");

    // A full send buffer is -EAGAIN, not a blocked thread.
    std::array<char, 65536> big{};
    send.buffer = {p.fds[0], big.data(), big.size(), 0};
    int r = 0;
    for (int i = 0; i < 1000 && (r = perform(ops::send_steps<&buffer_view>, send)) > 0; ++i) {
    }
    EXPECT_EQ(r, -EAGAIN);
}

TEST(OpSteps, SendToAClosedPeerIsEpipeNotSigpipe) {
    fd_pair p;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fds), 0);
    close(std::exchange(p.fds[1], -1));
    char out[] = "x";
    test_op send{ops::send_steps<&buffer_view>};
    send.buffer = {p.fds[0], out, 1, 0};
    EXPECT_EQ(perform(ops::send_steps<&buffer_view>, send), -EPIPE);  // MSG_NOSIGNAL: the test process lives on
}

TEST(OpSteps, RecvSeesEndOfStreamAsZero) {
    fd_pair p;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fds), 0);
    ASSERT_EQ(shutdown(p.fds[0], SHUT_WR), 0);
    char in[4];
    test_op recv{ops::recv_steps<&buffer_view>};
    recv.buffer = {p.fds[1], in, sizeof in, 0};
    EXPECT_EQ(perform(ops::recv_steps<&buffer_view>, recv), 0);
}

TEST(OpSteps, SendmsgAndRecvmsgCarryDatagramsAndTruncation) {
    fd_pair p;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, p.fds), 0);
    char payload[] = "datagram";
    iovec out_part{payload, 8};
    msghdr out_msg{};
    out_msg.msg_iov = &out_part;
    out_msg.msg_iovlen = 1;
    test_op send{ops::sendmsg_steps<&message_view>};
    send.message = {p.fds[0], &out_msg, 0};
    EXPECT_EQ(perform(ops::sendmsg_steps<&message_view>, send), 8);

    char in[4] = {};
    iovec in_part{in, sizeof in};
    msghdr in_msg{};
    in_msg.msg_iov = &in_part;
    in_msg.msg_iovlen = 1;
    test_op recv{ops::recvmsg_steps<&message_view>};
    recv.message = {p.fds[1], &in_msg, 0};
    EXPECT_EQ(perform(ops::recvmsg_steps<&message_view>, recv), 4);
    EXPECT_EQ(std::string_view(in, 4), "data");
    EXPECT_TRUE(in_msg.msg_flags & MSG_TRUNC);
    EXPECT_EQ(perform(ops::recvmsg_steps<&message_view>, recv), -EAGAIN);
}

TEST(OpSteps, AcceptAndConnectOnLoopback) {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(listener, 4), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

    test_op accept{ops::accept_steps<&fd_view>};
    accept.fd = {listener, 0};
    EXPECT_EQ(perform(ops::accept_steps<&fd_view>, accept), -EAGAIN);  // nobody connected yet
    EXPECT_EQ(ops::accept_multishot_steps<&fd_view>.multishot, true);
    EXPECT_EQ(ops::accept_steps<&fd_view>.multishot, false);

    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(client, 0);
    bool in_progress = false;
    test_op connect{ops::connect_steps<&connect_view>};
    connect.connect = {client, reinterpret_cast<sockaddr*>(&addr), sizeof addr, &in_progress};
    int r = perform(ops::connect_steps<&connect_view>, connect);
    if (r == -EAGAIN) {
        EXPECT_TRUE(in_progress);
        EXPECT_EQ(ops::connect_steps<&connect_view>.wait_for(connect).events, static_cast<std::uint32_t>(POLLOUT));
        pollfd pfd{client, POLLOUT, 0};
        ASSERT_EQ(poll(&pfd, 1, 5000), 1);
        r = perform(ops::connect_steps<&connect_view>, connect);
    }
    EXPECT_EQ(r, 0);

    pollfd ready{listener, POLLIN, 0};
    ASSERT_EQ(poll(&ready, 1, 5000), 1);
    const int accepted = perform(ops::accept_steps<&fd_view>, accept);
    ASSERT_GE(accepted, 0);
    EXPECT_TRUE(fcntl(accepted, F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(fcntl(accepted, F_GETFL) & O_NONBLOCK);
    ASSERT_EQ(write(client, "ping", 4), 4);
    char got[4];
    pollfd readable{accepted, POLLIN, 0};
    ASSERT_EQ(poll(&readable, 1, 5000), 1);
    ASSERT_EQ(read(accepted, got, 4), 4);
    EXPECT_EQ(std::string_view(got, 4), "ping");
    close(accepted);
    close(client);
    close(listener);
}

TEST(OpSteps, ConnectRefusedIsReportedFromSoError) {
    // A port nobody listens on: bind one, close it, connect there.
    const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    close(probe);

    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool in_progress = false;
    test_op connect{ops::connect_steps<&connect_view>};
    connect.connect = {client, reinterpret_cast<sockaddr*>(&addr), sizeof addr, &in_progress};
    int r = perform(ops::connect_steps<&connect_view>, connect);
    if (r == -EAGAIN) {
        pollfd pfd{client, POLLOUT, 0};
        ASSERT_EQ(poll(&pfd, 1, 5000), 1);
        r = perform(ops::connect_steps<&connect_view>, connect);
    }
    EXPECT_EQ(r, -ECONNREFUSED);
    close(client);
}

TEST(OpSteps, ReadWriteAndPollOnAPipe) {
    fd_pair p;
    ASSERT_EQ(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
    char in[8] = {};
    test_op read{ops::read_steps<&buffer_view>};
    read.buffer = {p.fds[0], in, sizeof in, 0};
    EXPECT_EQ(perform(ops::read_steps<&buffer_view>, read), -EAGAIN);

    test_op poll_in{ops::poll_steps<&fd_view>};
    poll_in.fd = {p.fds[0], POLLIN};
    EXPECT_EQ(perform(ops::poll_steps<&fd_view>, poll_in), -EAGAIN);
    EXPECT_EQ(ops::poll_steps<&fd_view>.wait_for(poll_in).events, static_cast<std::uint32_t>(POLLIN));

    char out[] = "abc";
    test_op write{ops::write_steps<&buffer_view>};
    write.buffer = {p.fds[1], out, 3, 0};
    EXPECT_EQ(perform(ops::write_steps<&buffer_view>, write), 3);
    EXPECT_EQ(perform(ops::poll_steps<&fd_view>, poll_in), POLLIN);
    EXPECT_EQ(perform(ops::read_steps<&buffer_view>, read), 3);
    EXPECT_EQ(std::string_view(in, 3), "abc");
}

TEST(OpSteps, ShutdownAndCloseActAtOnce) {
    fd_pair p;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fds), 0);
    test_op shut{ops::shutdown_steps<&fd_view>};
    shut.fd = {p.fds[0], SHUT_WR};
    EXPECT_EQ(perform(ops::shutdown_steps<&fd_view>, shut), 0);
    char c;
    EXPECT_EQ(recv(p.fds[1], &c, 1, MSG_DONTWAIT), 0);  // the peer sees end of stream

    test_op closing{ops::close_steps<&fd_view>};
    closing.fd = {std::exchange(p.fds[0], -1), 0};
    EXPECT_EQ(perform(ops::close_steps<&fd_view>, closing), 0);
    EXPECT_EQ(perform(ops::close_steps<&fd_view>, closing), -EBADF);  // already closed

    test_op cancel{ops::cancel_fd_steps<&fd_view>};
    cancel.fd = {p.fds[1], 0};
    EXPECT_EQ(perform(ops::cancel_fd_steps<&fd_view>, cancel), -EINVAL);  // the caller's fallback is shutdown
}

TEST(OpSteps, TimerAttemptReportsEtimeOncePassed) {
    detail::timer_op later{clock::now() + std::chrono::hours(1)};
    detail::timer_op passed{clock::now() - std::chrono::milliseconds(1)};
    EXPECT_EQ(ops::timer_steps.perform(later), -EAGAIN);
    EXPECT_EQ(ops::timer_steps.perform(passed), -ETIME);
    EXPECT_EQ(ops::timer_steps.wait_for(later).fd, -1);  // a pure timer: no descriptor
    EXPECT_EQ(ops::timer_steps.prepare, nullptr);         // and no kernel operation on any backend
    EXPECT_EQ(ops::nop_steps.perform(passed), 0);
}

ops::selected_args selected_view(detail::io_op& op) noexcept { return {static_cast<test_op&>(op).fd.fd, 7, nullptr}; }

TEST(OpSteps, SelectedBufferOpsAreUnsupportedWithoutBufferRings) {
    fd_pair p;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fds), 0);
    ASSERT_EQ(write(p.fds[0], "x", 1), 1);
    test_op op{ops::recv_selected_steps<&selected_view>};
    op.fd = {p.fds[1], 0};
    // EINVAL is what the receivers already read as "this kernel cannot": they fall back to plain receives.
    EXPECT_EQ(ops::recv_selected_steps<&selected_view>.perform(op), -EINVAL);
    EXPECT_EQ(ops::recvmsg_selected_steps<&selected_view>.perform(op), -EINVAL);
    EXPECT_TRUE(ops::recv_selected_steps<&selected_view>.multishot);
    EXPECT_EQ(ops::recv_selected_steps<&selected_view>.wait_for(op).fd, p.fds[1]);
    char c;
    EXPECT_EQ(recv(p.fds[1], &c, 1, MSG_DONTWAIT), 1);  // the byte is still there: nothing was consumed
}

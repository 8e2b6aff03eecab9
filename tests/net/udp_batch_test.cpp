// The batched datagram path: receive_batch (multishot recvmsg on a provided
// buffer ring, or the plain fallback) and send_batch, and a bulk run of
// 10,000 datagrams over loopback with none lost, in every mode.
#include "datagram_test_support.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

using namespace ringlet;
using namespace std::chrono_literals;
using ringlet::test::index_of;
using ringlet::test::numbered_payload;
using ringlet::test::numbered_size;
using ringlet::test::on_epoll_backend;
using ringlet::test::quiet_runtime;
using ringlet::test::text_of;

namespace {

std::pair<udp::socket, net::address> bound() {
    auto s = udp::bind(ringlet::test::loopback4());
    EXPECT_TRUE(s) << s.error().message();
    auto local = s->local_address();
    return {std::move(*s), *local};
}

}  // namespace

class UdpBatchModes : public ::testing::TestWithParam<bool> {};

TEST_P(UdpBatchModes, ReceiveBatchYieldsEveryQueuedDatagramWithItsSender) {
    const bool multishot = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([multishot]() -> task<void> {
        auto server_bound = bound();
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        CO_ASSERT_OK(server.set_batch_options({.buffers = 16, .max_datagram_size = 64, .max_batch = 8, .multishot = multishot}));
        auto client_bound = bound();
        auto& client = client_bound.first;
        const net::address& client_address = client_bound.second;
        for (int i = 0; i < 12; ++i) CO_ASSERT_OK(co_await client.send_to(server_address, "datagram " + std::to_string(i)));
        std::vector<std::string> got;
        while (got.size() < 12) {
            auto batch = co_await server.receive_batch(2s);
            CO_ASSERT_OK(batch);
            CO_ASSERT_TRUE(!batch->empty());
            EXPECT_LE(batch->size(), multishot ? 8u : 1u);
            for (const net::datagram& d : *batch) {
                EXPECT_EQ(d.from, client_address);
                EXPECT_FALSE(d.truncated);
                got.push_back(text_of(d.payload));
            }
        }
        for (int i = 0; i < 12; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], "datagram " + std::to_string(i));
        // The epoll backend has no buffer rings: every datagram still
        // arrives, one recvmsg per call, and the socket says it fell back.
        EXPECT_EQ(server.batch_multishot(), multishot && !on_epoll_backend());
        CO_ASSERT_OK(co_await server.close());
    });
}

TEST_P(UdpBatchModes, ReceiveBatchReportsTruncation) {
    const bool multishot = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([multishot]() -> task<void> {
        auto server_bound = bound();
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        CO_ASSERT_OK(server.set_batch_options({.buffers = 4, .max_datagram_size = 32, .multishot = multishot}));
        auto client_bound = bound();
        auto& client = client_bound.first;
        CO_ASSERT_OK(co_await client.send_to(server_address, std::string(100, 'y')));
        CO_ASSERT_OK(co_await client.send_to(server_address, "fits"));
        std::vector<net::datagram> seen;
        std::vector<std::string> payloads;
        while (seen.size() < 2) {
            auto batch = co_await server.receive_batch(2s);
            CO_ASSERT_OK(batch);
            for (const auto& d : *batch) {
                seen.push_back(d);
                payloads.push_back(text_of(d.payload));
            }
        }
        EXPECT_TRUE(seen[0].truncated);
        EXPECT_EQ(payloads[0], std::string(32, 'y'));
        EXPECT_FALSE(seen[1].truncated);
        EXPECT_EQ(payloads[1], "fits");
    });
}

TEST_P(UdpBatchModes, ReceiveBatchTimesOutAndLosesNothing) {
    const bool multishot = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([multishot]() -> task<void> {
        auto server_bound = bound();
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        CO_ASSERT_OK(server.set_batch_options({.multishot = multishot}));
        auto r = co_await server.receive_batch(30ms);
        CO_ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::timed_out);
        auto client_bound = bound();
        auto& client = client_bound.first;
        CO_ASSERT_OK(co_await client.send_to(server_address, "after the timeout"));
        auto batch = co_await server.receive_batch(2s);
        CO_ASSERT_OK(batch);
        CO_ASSERT_EQ(batch->size(), 1u);
        EXPECT_EQ(text_of((*batch)[0].payload), "after the timeout");
    });
}

TEST_P(UdpBatchModes, CloseAndStopEndAWaitingReceiveBatch) {
    const bool multishot = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([multishot]() -> task<void> {
        auto server_bound = bound();
        auto& server = server_bound.first;
        CO_ASSERT_OK(server.set_batch_options({.multishot = multishot}));
        auto waiting = [&]() -> task<std::error_code> { co_return (co_await server.receive_batch()).error(); };
        auto closing = [&]() -> task<result<void>> {
            (void)co_await sleep_for(20ms);
            co_return co_await server.close();
        };
        auto [error, closed] = co_await when_all(waiting(), closing());
        EXPECT_EQ(error, errc::operation_canceled);
        EXPECT_TRUE(closed);

        // A stop of the waiting task (when_any cancels the loser) ends it the same way.
        auto other_bound = bound();
        auto& other = other_bound.first;
        const net::address& other_address = other_bound.second;
        CO_ASSERT_OK(other.set_batch_options({.multishot = multishot}));
        std::error_code seen;
        auto wait_other = [&]() -> task<void> { seen = (co_await other.receive_batch()).error(); };
        auto timer = [&]() -> task<void> { (void)co_await sleep_for(20ms); };
        (void)co_await when_any(wait_other(), timer());
        EXPECT_EQ(seen, errc::operation_canceled);
        // The receiver still works afterwards.
        auto client_bound = bound();
        auto& client = client_bound.first;
        CO_ASSERT_OK(co_await client.send_to(other_address, "still here"));
        auto batch = co_await other.receive_batch(2s);
        CO_ASSERT_OK(batch);
        CO_ASSERT_EQ(batch->size(), 1u);
        EXPECT_EQ(text_of((*batch)[0].payload), "still here");
    });
}

TEST_P(UdpBatchModes, PayloadsStayValidUntilTheNextCall) {
    const bool multishot = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([multishot]() -> task<void> {
        auto server_bound = bound();
        auto& server = server_bound.first;
        const net::address& server_address = server_bound.second;
        CO_ASSERT_OK(server.set_batch_options({.buffers = 2, .max_batch = 1, .multishot = multishot}));
        auto client_bound = bound();
        auto& client = client_bound.first;
        CO_ASSERT_OK(co_await client.send_to(server_address, "first"));
        auto batch = co_await server.receive_batch(2s);
        CO_ASSERT_OK(batch);
        CO_ASSERT_EQ(batch->size(), 1u);
        // More datagrams arrive while the batch is being processed...
        for (int i = 0; i < 4; ++i) CO_ASSERT_OK(co_await client.send_to(server_address, "later " + std::to_string(i)));
        (void)co_await sleep_for(20ms);
        // ...and the batch still reads as it arrived.
        EXPECT_EQ(text_of((*batch)[0].payload), "first");
        std::vector<std::string> rest;
        while (rest.size() < 4) {
            auto more = co_await server.receive_batch(2s);
            CO_ASSERT_OK(more);
            for (const auto& d : *more) rest.push_back(text_of(d.payload));
        }
        EXPECT_EQ(rest, (std::vector<std::string>{"later 0", "later 1", "later 2", "later 3"}));
    });
}

INSTANTIATE_TEST_SUITE_P(Udp, UdpBatchModes, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "Multishot" : "Plain"; });

TEST(UdpBatch, SecondWaiterIsBusyAndOptionsAreCheckedAndFixed) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto server_bound = bound();
        auto& server = server_bound.first;
        EXPECT_EQ(server.set_batch_options({.buffers = 3}).error(), errc::invalid_argument);
        EXPECT_EQ(server.set_batch_options({.max_datagram_size = 0}).error(), errc::invalid_argument);
        EXPECT_EQ(server.set_batch_options({.max_datagram_size = 70000}).error(), errc::invalid_argument);
        EXPECT_EQ(server.set_batch_options({.buffers = 65536}).error(), errc::invalid_argument);
        auto first = [&]() -> task<std::error_code> { co_return (co_await server.receive_batch(100ms)).error(); };
        auto second = [&]() -> task<std::error_code> {
            (void)co_await sleep_for(10ms);
            co_return (co_await server.receive_batch(10ms)).error();
        };
        auto [e1, e2] = co_await when_all(first(), second());
        EXPECT_EQ(e1, errc::timed_out);
        EXPECT_EQ(e2, std::errc::device_or_resource_busy);
        EXPECT_EQ(server.set_batch_options({}).error(), std::errc::device_or_resource_busy);
    });
}

TEST(UdpBatch, SendBatchSendsEveryDatagramToItsAddress) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto a_bound = bound();
        auto& a = a_bound.first;
        const net::address& a_address = a_bound.second;
        auto b_bound = bound();
        auto& b = b_bound.first;
        const net::address& b_address = b_bound.second;
        auto sender_bound = bound();
        auto& sender = sender_bound.first;
        const net::address& sender_address = sender_bound.second;
        std::vector<std::string> texts;
        for (int i = 0; i < 40; ++i) texts.push_back("batch item " + std::to_string(i));
        std::vector<net::outgoing_datagram> out;
        for (std::size_t i = 0; i < texts.size(); ++i) {
            out.push_back({ringlet::test::as_bytes(texts[i]), i % 2 ? &b_address : &a_address});
        }
        auto sent = co_await sender.send_batch(out, 2s);
        CO_ASSERT_OK(sent);
        EXPECT_EQ(*sent, 40u);
        std::array<std::byte, 64> buf{};
        for (int i = 0; i < 40; ++i) {
            auto& to = i % 2 ? b : a;
            auto got = co_await to.recv_from(buf, 2s);
            CO_ASSERT_OK(got);
            EXPECT_EQ(got->from, sender_address);
            EXPECT_EQ(text_of(std::span{buf}.first(got->size)), texts[static_cast<std::size_t>(i)]);
        }
        // Connected: a null address means the peer.
        auto conn = co_await udp::connect(a_address);
        CO_ASSERT_OK(conn);
        const net::outgoing_datagram to_peer[] = {{ringlet::test::as_bytes("one")}, {ringlet::test::as_bytes("two")}};
        EXPECT_EQ(*(co_await conn->send_batch(to_peer)), 2u);
        // Unconnected with a null address: EDESTADDRREQ, nothing sent.
        auto none = co_await sender.send_batch(to_peer);
        EXPECT_EQ(none.error(), std::errc::destination_address_required);
    });
}

namespace {

/// Fills `s`'s peer queue (a unix datagram pair) until a send would block; yields how many it sent.
int fill(const net::datagram_socket& s) {
    const std::string filler(512, 'f');
    int sent = 0;
    while (::send(s.fd(), filler.data(), filler.size(), MSG_DONTWAIT) >= 0) ++sent;
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    return sent;
}

}  // namespace

// send_batch sends what the socket buffer takes straight away; the rest waits
// in the ring, under the call's time limit and its task's stop.
TEST(UdpBatch, SendBatchWaitsForRoomThenTimesOutOrIsStopped) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto pair = local::datagram_pair();
        CO_ASSERT_OK(pair);
        auto& a = pair->first;  // not a structured binding: Clang cannot capture those in lambdas
        auto& b = pair->second;
        const int fillers = fill(a);
        CO_ASSERT_TRUE(fillers > 0);
        const net::outgoing_datagram late[] = {{ringlet::test::as_bytes("late 0")}, {ringlet::test::as_bytes("late 1")},
                                               {ringlet::test::as_bytes("late 2")}};

        // No room: the limit ends the call, nothing was sent.
        const auto before = clock::now();
        auto timed = co_await a.send_batch(late, 100ms);
        const auto waited = clock::now() - before;
        CO_ASSERT_FALSE(timed);
        EXPECT_EQ(timed.error(), errc::timed_out);
        EXPECT_GE(waited, 90ms);
        EXPECT_LT(waited, 2s);
        // A deadline already passed fails at once.
        auto passed = co_await a.send_batch(late, timeout{clock::now() - 1ms});
        EXPECT_EQ(passed.error(), errc::timed_out);

        // A stop of the task cancels the waiting sends.
        std::error_code stopped;
        auto blocked = [&]() -> task<void> { stopped = (co_await a.send_batch(late)).error(); };
        auto timer = [&]() -> task<void> { (void)co_await sleep_for(30ms); };
        (void)co_await when_any(blocked(), timer());
        EXPECT_EQ(stopped, errc::operation_canceled);

        // Room made while it waits: all three go, after the fillers, and none of the abandoned ones.
        auto sending = [&]() -> task<result<std::size_t>> { co_return co_await a.send_batch(late, 5s); };
        auto draining = [&]() -> task<std::vector<std::string>> {
            (void)co_await sleep_for(30ms);
            std::vector<std::string> seen;
            std::array<std::byte, 1024> buf{};
            while (seen.size() < static_cast<std::size_t>(fillers) + 3) {
                auto got = co_await b.recv(buf, 2s);
                if (!got) break;
                seen.push_back(text_of(std::span{buf}.first(got->size)));
            }
            co_return seen;
        };
        auto [sent, seen] = co_await when_all(sending(), draining());
        CO_ASSERT_OK(sent);
        EXPECT_EQ(*sent, 3u);
        CO_ASSERT_EQ(seen.size(), static_cast<std::size_t>(fillers) + 3);
        for (int i = 0; i < fillers; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], std::string(512, 'f'));
        std::vector<std::string> tail(seen.end() - 3, seen.end());
        std::sort(tail.begin(), tail.end());  // sends that waited may leave in any order
        EXPECT_EQ(tail, (std::vector<std::string>{"late 0", "late 1", "late 2"}));
        std::array<std::byte, 16> extra{};
        EXPECT_EQ((co_await b.recv(extra, 50ms)).error(), errc::timed_out);
    });
}

// A datagram the kernel refuses does not stop the ones after it: each is sent
// or counted as failed, straight from the call or through the ring.
TEST(UdpBatch, SendBatchReportsAFailedDatagramAndSendsTheRest) {
    runtime rt{quiet_runtime()};
    rt.run([]() -> task<void> {
        auto target_bound = bound();
        auto& target = target_bound.first;
        const net::address& target_address = target_bound.second;
        auto sender_bound = bound();
        auto& sender = sender_bound.first;
        const net::address v6 = *net::address::parse("[::1]:9");  // EAFNOSUPPORT/EINVAL from an IPv4 socket
        const net::outgoing_datagram out[] = {{ringlet::test::as_bytes("first"), &target_address},
                                              {ringlet::test::as_bytes("refused"), &v6},
                                              {ringlet::test::as_bytes("third"), &target_address}};
        auto sent = co_await sender.send_batch(out, 2s);
        CO_ASSERT_OK(sent);
        EXPECT_EQ(*sent, 2u);
        std::array<std::byte, 64> buf{};
        for (const char* expected : {"first", "third"}) {
            auto got = co_await target.recv_from(buf, 2s);
            CO_ASSERT_OK(got);
            EXPECT_EQ(text_of(std::span{buf}.first(got->size)), expected);
        }
        // The failure left no error behind for a later receive.
        auto quiet = co_await sender.recv_from(buf, 30ms);
        EXPECT_EQ(quiet.error(), errc::timed_out);
    });
}

// 10,000 datagrams of 8..1400 bytes over loopback, the sender never more
// than a window ahead of the receiver's acknowledgements, so the receive
// buffer cannot overflow: every datagram must arrive, in order, intact.
constexpr std::uint32_t total = 10'000;
constexpr std::uint32_t window = 128;

class UdpBulk : public ::testing::TestWithParam<int> {};  // 0: one at a time, 1: batches, 2: batches without multishot

TEST_P(UdpBulk, TenThousandDatagramsOverLoopbackNoneLost) {
    const int mode = GetParam();
    runtime rt{quiet_runtime()};
    rt.run([mode]() -> task<void> {
        auto receiver_bound = bound();
        auto& receiver = receiver_bound.first;
        const net::address& receiver_address = receiver_bound.second;
        auto sender_bound = bound();
        auto& sender = sender_bound.first;
        const net::address& sender_address = sender_bound.second;
        CO_ASSERT_OK(net::set_option(receiver, net::opt::receive_buffer{1 << 20}));
        if (mode == 2) CO_ASSERT_OK(receiver.set_batch_options({.multishot = false}));
        const auto deadline = clock::now() + 60s;

        auto receive = [&]() -> task<std::uint32_t> {
            std::uint32_t next = 0;
            std::array<std::byte, 2048> buf{};
            auto check = [&](std::span<const std::byte> payload) {
                const auto expected = numbered_payload(next, numbered_size(next));
                if (payload.size() != expected.size() || !std::equal(payload.begin(), payload.end(), expected.begin())) {
                    ADD_FAILURE() << "datagram " << next << " arrived as index " << index_of(payload) << ", "
                                  << payload.size() << " bytes";
                }
                ++next;
            };
            while (next < total) {
                const std::uint32_t before = next;
                if (mode == 0) {
                    auto got = co_await receiver.recv_from(buf, 5s);
                    CO_ASSERT_OK(got);
                    CO_ASSERT_FALSE(got->truncated);
                    check(std::span<const std::byte>{buf}.first(got->size));
                } else {
                    auto batch = co_await receiver.receive_batch(5s);
                    CO_ASSERT_OK(batch);
                    for (const auto& d : *batch) {
                        CO_ASSERT_FALSE(d.truncated);
                        check(d.payload);
                    }
                }
                if (next / window != before / window || next == total) {
                    const std::array<std::byte, 4> ack{std::byte(next), std::byte(next >> 8), std::byte(next >> 16),
                                                       std::byte(next >> 24)};
                    CO_ASSERT_OK(co_await receiver.send_to(sender_address, ack));
                }
                CO_ASSERT_TRUE(clock::now() < deadline);
            }
            co_return next;
        };

        auto send = [&]() -> task<std::uint32_t> {
            std::uint32_t sent = 0;
            std::uint32_t acked = 0;
            std::vector<std::vector<std::byte>> payloads;
            std::vector<net::outgoing_datagram> out;
            while (sent < total) {
                const std::uint32_t end = std::min(total, sent + window);
                payloads.clear();
                out.clear();
                for (std::uint32_t i = sent; i < end; ++i) payloads.push_back(numbered_payload(i, numbered_size(i)));
                if (mode == 0) {
                    for (const auto& p : payloads) CO_ASSERT_OK(co_await sender.send_to(receiver_address, p, 5s));
                } else {
                    for (const auto& p : payloads) out.push_back({p, &receiver_address});
                    auto n = co_await sender.send_batch(out, 5s);
                    CO_ASSERT_OK(n);
                    CO_ASSERT_EQ(*n, out.size());
                }
                sent = end;
                std::array<std::byte, 4> ack{};
                while (acked < sent) {  // stop and wait: at most one window in flight
                    auto got = co_await sender.recv_from(ack, 5s);
                    CO_ASSERT_OK(got);
                    acked = index_of(ack);
                }
            }
            co_return sent;
        };

        auto [got, sent] = co_await when_all(receive(), send());
        EXPECT_EQ(got, total);
        EXPECT_EQ(sent, total);
    });
}

INSTANTIATE_TEST_SUITE_P(Udp, UdpBulk, ::testing::Values(0, 1, 2), [](const auto& p) {
    return p.param == 0 ? "OneAtATime" : p.param == 1 ? "Batched" : "BatchedWithoutMultishot";
});

// Session-ticket keys (src/tls/ticket_keys.cpp): a ticket resumes while its
// key lives (also after the next key took over, answered with a fresh
// ticket), not after; contexts do not accept each other's tickets.
#include "tls_test_support.hpp"

#include <ringlet/core/when.hpp>

#include <thread>

using namespace ringlet;
using namespace ringlet::test;
using namespace std::chrono_literals;

namespace {

tls::context rotating_server(std::chrono::seconds lifetime) {
    tls::server_options o;
    o.certificate_chain_file = cert("server.pem");
    o.private_key_file = cert("server.key");
    o.ticket_key_lifetime = lifetime;
    return tls::context::server(o);
}

struct visit_result {
    bool resumed = false;
    tls::session ticket;  // the one the server sent this time
};

/// One connection (resuming `resume` if given) that waits for the server's ticket.
task<result<visit_result>> visit(tls::context server, tls::context client, const tls::session* resume) {
    auto ends = co_await tls_pair(server, client, "localhost", resume);
    if (!ends.client) co_return unexpected{ends.client.error()};
    if (!ends.server) co_return unexpected{ends.server.error()};
    auto sent = co_await ends.server->write_all("t", 5s);  // the ticket leaves with it
    if (!sent) co_return unexpected{sent.error()};
    std::array<char, 1> t;
    auto got = co_await ends.client->read_some(t, 5s);
    if (!got) co_return unexpected{got.error()};
    if (ends.client->resumed() != ends.server->resumed()) co_return unexpected{ringlet::errc::invalid_argument};
    co_return visit_result{ends.client->resumed(), ends.client->saved_session()};
}

TEST(TlsTicketKeys, TicketsLiveOneToTwoKeyLifetimes) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        const auto server = rotating_server(1s);
        const auto client = client_context();
        auto first = co_await visit(server, client, nullptr);  // key A made now (t = 0)
        CO_ASSERT_OK(first);
        EXPECT_FALSE(first->resumed);
        CO_ASSERT_TRUE(first->ticket.valid());
        auto soon = co_await visit(server, client, &first->ticket);
        CO_ASSERT_OK(soon);
        EXPECT_TRUE(soon->resumed) << "a fresh ticket resumes";

        (void)co_await sleep_for(1200ms);  // t = 1.2 s: A no longer encrypts, still decrypts
        auto later = co_await visit(server, client, &first->ticket);
        CO_ASSERT_OK(later);
        EXPECT_TRUE(later->resumed) << "a ticket of the previous key resumes";
        CO_ASSERT_TRUE(later->ticket.valid());  // under key B (made at 1.2 s)

        (void)co_await sleep_for(1000ms);  // t = 2.2 s: A is gone, B decrypts
        auto expired = co_await visit(server, client, &first->ticket);
        CO_ASSERT_OK(expired);
        EXPECT_FALSE(expired->resumed) << "a ticket of a forgotten key makes a full handshake";
        auto renewed = co_await visit(server, client, &later->ticket);
        CO_ASSERT_OK(renewed);
        EXPECT_TRUE(renewed->resumed) << "the ticket issued under the new key resumes";
    });
}

TEST(TlsTicketKeys, AnotherContextsTicketMakesAFullHandshake) {
    REQUIRE_CERTS();
    run_test([]() -> task<void> {
        const auto client = client_context();
        auto first = co_await visit(rotating_server(3600s), client, nullptr);
        CO_ASSERT_OK(first);
        auto elsewhere = co_await visit(rotating_server(3600s), client, &first->ticket);
        CO_ASSERT_OK(elsewhere);
        EXPECT_FALSE(elsewhere->resumed);
    });
}

TEST(TlsTicketKeys, ALifetimeOfZeroIsRefused) {
    REQUIRE_CERTS();
    tls::server_options o;
    o.certificate_chain_file = cert("server.pem");
    o.private_key_file = cert("server.key");
    o.ticket_key_lifetime = 0s;
    EXPECT_THROW((void)tls::context::server(o), std::runtime_error);
}

}  // namespace

// What a stream protocol plugs into the one stream engine (engine.cpp): how
// request `seq` of a connection is written, and how the bytes that come
// back are framed into responses and checked. The engine owns everything
// else — connections, pipelining depth, the open-loop timetable, latency,
// the timeline, draining — so a protocol is two small classes:
//
//   echo  the bytes sent come back unchanged (pattern; large messages are
//         sent without a copy, straight from the pattern's template)
//   http  HTTP/1.1 requests (GET, or POST with a body; extra headers;
//         keep-alive, pipelined to --depth); each response framed with
//         ringlet::http's response_parser and chunked_decoder, counted by
//         status; a status >= 400 is an error
//   resp  RESP2 GET / SET by --ratio over --keys keys, --size-byte values
//         whose bytes depend on the key; each reply framed with
//         ringlet::resp's reply_reader and checked: SET answers +OK, GET the
//         key's value or a null
//
// A new protocol: a stream_protocol (its requests; const, shared by the
// shards) and a response_checker (one per connection, its parsing state),
// and a line in make_protocol (protocol.cpp).
//
// Thread safety: a stream_protocol is immutable after construction and read
// by every shard; a response_checker belongs to its connection's shard.
#pragma once

#include "options.hpp"

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

namespace loadgen {

/// What feed() found in the bytes handed to it.
struct feed_result {
    std::uint64_t completed = 0;  ///< responses that ended in these bytes (the engine times each)
    std::uint64_t bad = 0;        ///< of those, well-framed answers that are wrong (HTTP >= 400, a RESP
                                  ///< error reply): counted as errors, the connection goes on
    bool broken = false;          ///< the bytes cannot be framed or do not match: the connection ends
    std::string error;            ///< what was wrong (broken, or the first bad answer)
};

/// Frames and checks one connection's responses.
class response_checker {
public:
    virtual ~response_checker() = default;
    /// Consumes `data`, the next bytes received; `first_seq` is the sequence
    /// number of the oldest request not yet answered, `outstanding` how many
    /// requests are in flight (more responses than that is an error).
    virtual feed_result feed(std::span<const std::byte> data, std::uint64_t first_seq, std::uint64_t outstanding) = 0;
    /// Adds this connection's per-kind counts (HTTP status, RESP command) to `into`.
    virtual void add_counts(std::map<std::string, std::uint64_t>& into) const { (void)into; }
};

/// Writes one protocol's requests and makes its checkers.
class stream_protocol {
public:
    virtual ~stream_protocol() = default;
    /// "echo", "http", "resp".
    [[nodiscard]] virtual const char* name() const noexcept = 0;
    /// One line for the summary: what is sent.
    [[nodiscard]] virtual std::string describe() const = 0;
    /// The most bytes one request takes.
    [[nodiscard]] virtual std::size_t max_request_size() const noexcept = 0;
    /// Writes request `seq` of connection `conn` at `out` (max_request_size()
    /// bytes available); returns its size.
    virtual std::size_t write_request(std::byte* out, std::uint64_t conn, std::uint64_t seq) const = 0;
    /// True when requests are sent as iovecs (request_iov) instead of copies.
    [[nodiscard]] virtual bool vectored() const noexcept { return false; }
    /// vectored(): fills out[0..1] with request `seq`'s pieces (the tag in
    /// `tag`, which must outlive the send); returns how many.
    virtual std::size_t request_iov(iovec* out, std::array<std::byte, 8>& tag, std::uint64_t conn,
                                    std::uint64_t seq) const {
        (void)out, (void)tag, (void)conn, (void)seq;
        return 0;
    }
    /// A fresh checker for connection `conn`.
    [[nodiscard]] virtual std::unique_ptr<response_checker> make_checker(std::uint64_t conn) const = 0;
};

/// The protocol `opts` asks for (opts.mode); the stream engine's only input
/// about what it sends. Throws std::invalid_argument on a bad combination.
std::unique_ptr<stream_protocol> make_protocol(const options& opts);

}  // namespace loadgen

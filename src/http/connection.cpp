// The HTTP/1.1 connection loop (see connection.hpp for the buffer design).
//
// Design notes
// - Steady state (whole requests per receive, bodies from memory): the head
//   is parsed in the lease, the handler's task frame comes from the frame
//   pool, the response is appended to a pooled buffer, and the batch goes
//   out in one write_vectored. No heap allocation per request.
// - Errors close the connection: a refused head gets its status (and
//   "Connection: close"); a body error makes the response 400/413 unless the
//   handler streamed one already; a handler that throws gets a 500.
// - Timeouts are per-call limits on the transport's operations, so they hold
//   whatever tcp::serve does: keepalive_timeout while idle, header_timeout as
//   one deadline from a head's first byte, body_timeout per body read,
//   send_timeout per write.
// - A graceful stop (this_shard::drain_token()) ends an idle connection at
//   once, as nginx does: its wait between requests also watches the drain
//   (idle_receive: one more stop callback in run()'s frame, no frame or
//   allocation of its own). A request in progress is answered, with
//   "Connection: close", and then the connection ends.
#include "http/connection.hpp"

#include "http/shard_buffers.hpp"

#include <ringlet/core/shard.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ringlet::http::detail {
namespace {

constexpr std::size_t kFlushAt = 64 * 1024;        // a batch is written once it is this large
constexpr std::size_t kCopyBodyBelow = 4 * 1024;   // smaller viewed bodies are copied into the batch
constexpr std::size_t kLingerBytes = 1024 * 1024;   // dropped at most before closing
constexpr auto kLingerTime = std::chrono::seconds{2};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::span<const char> chars(std::span<const std::byte> b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void append_number(std::string& out, std::uint64_t n) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, r.ptr);
}

/// A pooled buffer that goes back to the shard's pool at the end of its scope.
struct buffer_back {
    std::string text;
    ~buffer_back() { give_buffer(text); }
};

bool clean(std::string_view s) noexcept {
    return s.find_first_of("\r\n") == std::string_view::npos;
}

bool draining() { return this_shard::drain_token().stop_requested(); }

/// stream::receive() for a connection idle between requests: it also ends,
/// with errc::operation_canceled, when the shard begins to drain. Bytes
/// already there are taken first (await_ready), so a request that arrived
/// before the drain is still read.
class idle_receive final : stop_callback_base {
public:
    idle_receive(net::stream& source, timeout limit) : stop_callback_base(&on_drain), op_(source.receive(limit)) {}

    bool await_ready() noexcept { return op_.await_ready(); }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) {
        const stop_token drain = this_shard::drain_token();
        if (drain.stop_requested()) {
            drained_ = true;
            return false;
        }
        if (!op_.suspend(waiter, ringlet::detail::token_of(waiter))) return false;
        (void)register_with(drain);  // not requested: nothing ran since the check
        return true;
    }
    result<net::received> await_resume() noexcept {
        deregister();
        if (drained_) return unexpected{make_error_code(errc::operation_canceled)};
        return op_.await_resume();
    }

private:
    static void on_drain(stop_callback_base* self) noexcept {
        static_cast<idle_receive*>(self)->op_.wake(make_error_code(errc::operation_canceled));
    }

    net::receive_op op_;
    bool drained_ = false;
};

class tcp_io final : public transport {
public:
    explicit tcp_io(tcp::stream conn) noexcept : conn_(std::move(conn)) { (void)conn_.set_nodelay(true); }

    task<result<std::span<const std::byte>>> receive(timeout limit) override {
        lease_.release();
        auto got = co_await conn_.receive(limit);
        if (!got) co_return unexpected{got.error()};
        lease_ = std::move(*got);
        co_return lease_.bytes();
    }
    void release() noexcept override { lease_.release(); }
    net::stream* lease_source() noexcept override { return &conn_; }
    std::span<const std::byte> keep(net::received lease) noexcept override {
        lease_ = std::move(lease);
        return lease_.bytes();
    }
    task<result<void>> write(std::span<const net::const_buffer> parts, timeout limit) override {
        return conn_.write_vectored(parts, limit);  // no frame of our own: the caller keeps `parts` alive
    }
    task<void> linger(timeout limit) override {
        lease_.release();
        (void)co_await conn_.shutdown(net::shutdown_how::write);
        const timeout until{limit.deadline()};
        for (std::size_t dropped = 0; dropped < kLingerBytes;) {
            auto got = co_await conn_.receive(until);
            if (!got || got->empty()) break;
            dropped += got->size();
        }
    }
    task<void> close() override {
        lease_.release();
        (void)co_await conn_.close();
    }

private:
    tcp::stream conn_;
    net::received lease_;
};

}  // namespace

std::unique_ptr<transport> tcp_transport(tcp::stream conn) { return std::make_unique<tcp_io>(std::move(conn)); }

task<void> serve_connection(tcp::stream conn, shared_state& state, handler& handle) {
    // Over max_connections tcp::server's gate has reset it already.
    std::unique_ptr<transport> io = co_await state.factory->open(std::move(conn));
    if (!io) co_return;
    connection c{*io, state.options, handle};  // in this frame: one frame fewer per idle connection
    co_await c.run();
    co_await io->close();
}

connection::~connection() { go_idle(); }

std::string& connection::out() {
    if (!have_out_) {
        out_ = take_buffer();
        have_out_ = true;
    }
    return out_;
}

void connection::go_idle() noexcept {
    give_buffer(out_);
    have_out_ = false;
    if (!in_carry_ && carry_.capacity() > 0) std::vector<std::byte>{}.swap(carry_);
}

task<void> connection::run() {
    for (;;) {
        if (pending_.empty()) {
            // Idle between requests: answers out, buffers back to the shard,
            // and the wait here, so that no other frame of ours is alive.
            if (have_out_ && !out_.empty()) {
                auto sent = co_await flush();
                if (!sent) break;
            }
            io_->release();
            in_carry_ = false;
            go_idle();
            // A fresh connection gets header_timeout for its first request.
            const timeout limit = first_request_ ? timeout{options_->header_timeout}
                                                 : timeout{options_->keepalive_timeout};
            if (net::stream* source = io_->lease_source()) {
                idle_receive wait{*source, limit};  // named: GCC 12 copies braced temporaries in co_await
                auto got = co_await wait;
                if (!got || got->empty()) break;  // timeout, reset, end of stream, stop, drain: close quietly
                pending_ = io_->keep(std::move(*got));
            } else {
                auto got = co_await until_drain(io_->receive(limit));  // (TLS: a frame while idle)
                if (!got || got->empty()) break;
                pending_ = *got;
            }
        }
        // The common case, a whole head already received, is parsed here
        // without a coroutine of its own; next_head() does the rest.
        request_parser parser{options_->limits};
        const parse_result r = parser.parse(chars(pending_), head_);
        if (r.state == parse_state::complete) {
            head_size_ = r.consumed;
            head_in_carry_ = in_carry_;
            pending_ = pending_.subspan(r.consumed);
        } else {
            const bool have = co_await next_head();
            if (!have) break;
        }
        const bool keep = co_await handle_one();
        if (!keep) break;
    }
    (void)co_await flush();
    io_->release();
    if (linger_ || !pending_.empty()) co_await io_->linger(kLingerTime);
}

// --- reading heads ---------------------------------------------------------------

void connection::compact_into_carry() {
    if (in_carry_) {
        const std::size_t at = static_cast<std::size_t>(pending_.data() - carry_.data());
        if (at > 0 && !pending_.empty()) std::memmove(carry_.data(), carry_.data() + at, pending_.size());
        carry_.resize(pending_.size());
    } else {
        carry_.assign(pending_.begin(), pending_.end());
        in_carry_ = true;
    }
    head_in_carry_ = false;
    pending_ = carry_;
}

task<bool> connection::next_head() {
    request_parser parser{options_->limits};  // scan state for this head only
    bool first_byte_seen = !pending_.empty();
    clock::time_point header_deadline = clock::now() + options_->header_timeout;
    for (;;) {
        if (!pending_.empty()) {
            const parse_result r = parser.parse(chars(pending_), head_);
            if (r.state == parse_state::complete) {
                head_size_ = r.consumed;
                head_in_carry_ = in_carry_;
                pending_ = pending_.subspan(r.consumed);
                co_return true;
            }
            if (r.state == parse_state::failed) {
                co_await refuse(r.status);
                co_return false;
            }
            compact_into_carry();  // incomplete: keep what we have across the next receive
        }
        // Nothing complete is buffered: what was answered goes out now.
        if (have_out_ && !out_.empty()) {
            auto sent = co_await flush();
            if (!sent) co_return false;
        }
        io_->release();
        timeout limit = header_deadline;
        if (pending_.empty()) {
            in_carry_ = false;
            go_idle();
            // A fresh connection gets header_timeout for its first request.
            if (!first_request_) limit = options_->keepalive_timeout;
        }
        auto got = co_await io_->receive(limit);
        if (!got || got->empty()) co_return false;  // timeout, reset, end of stream, stop: close quietly
        if (!first_byte_seen) {
            first_byte_seen = true;
            header_deadline = clock::now() + options_->header_timeout;
        }
        if (in_carry_) {
            carry_.insert(carry_.end(), got->begin(), got->end());
            io_->release();
            pending_ = carry_;
        } else {
            pending_ = *got;
        }
    }
}

task<void> connection::refuse(int status) {
    std::string& o = out();
    o += "HTTP/1.1 ";
    append_number(o, static_cast<std::uint64_t>(status));
    o += ' ';
    const std::string_view reason = reason_phrase(status);
    o += reason;
    o += "\r\nDate: ";
    o += http_date();
    o += "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ";
    append_number(o, reason.size() + 1);
    o += "\r\n\r\n";
    o += reason;
    o += '\n';
    linger_ = true;
    (void)co_await flush();
}

// --- one request -------------------------------------------------------------------

task<bool> connection::handle_one() {
    first_request_ = false;
    body_done_ = head_.framing() == body_framing::none;
    body_left_ = head_.content_length();
    body_failed_ = false;
    body_status_ = 0;
    continue_sent_ = false;
    chunked_decoder decoder{options_->limits};
    decoder_ = &decoder;
    buffer_back body_in;
    body_in_ = &body_in.text;
    buffer_back headers;
    buffer_back body;
    headers_ = &headers.text;
    body_ = &body.text;

    response res{*this};
    bool threw = false;
    {
        request req{*this, head_};
        try {
            co_await (*handle_)(req, res);
        } catch (...) {
            threw = true;
        }
    }
    bool keep = head_.keep_alive() && !res.close_ && !draining();  // draining: "Connection: close"
    if (threw) {
        if (res.streaming_) co_return false;  // the head is out: only closing tells the client
        res = response{*this};
        res.status_ = 500;
        headers_->clear();
        body_->clear();
        keep = false;
    }
    if (res.streaming_) {
        if (!res.finished_) {
            auto ended = co_await finish(res);
            if (!ended) co_return false;
        }
        if (!keep || body_failed_) co_return false;
        if (body_done_) co_return true;
        const bool drained = co_await drain();
        co_return drained;
    }
    if (body_failed_) {
        res.status_ = body_status_;
        headers_->clear();
        body_->clear();
        res.body_view_ = {};
        keep = false;
    } else if (!body_done_) {
        // An unread body is drained after the response has gone out, unless
        // the client waits for 100 Continue (it never sends it then) or the
        // rest is declared larger than the drain limit.
        if (head_.expects_continue() && !continue_sent_) keep = false;
        if (head_.framing() == body_framing::length && body_left_ - std::min<std::uint64_t>(body_left_, pending_.size()) >
                                                            options_->max_drain) {
            keep = false;
        }
    }
    if (!body_done_ && !keep) linger_ = true;
    res.close_ = !keep;
    commit(res);
    const bool has_view = !res.body_view_.empty() && !head_.is_head() && res.status_ != 204 && res.status_ != 304;
    if (has_view && res.body_view_.size() >= kCopyBodyBelow) {
        auto sent = co_await flush(res.body_view_);
        if (!sent) co_return false;
    } else if (!keep || !body_done_ || out_.size() >= kFlushAt) {
        auto sent = co_await flush();
        if (!sent) co_return false;
    }
    if (keep && !body_done_) {
        const bool drained = co_await drain();
        if (!drained) {
            linger_ = true;
            co_return false;
        }
    }
    co_return keep;
}

task<bool> connection::drain() {
    std::uint64_t drained = 0;
    std::byte sink[4096];
    while (!body_done_) {
        auto n = co_await read_body_some(sink);
        if (!n) co_return false;
        drained += *n;
        if (drained > options_->max_drain) co_return false;
    }
    co_return true;
}

void connection::append_head(const response& res, bool chunked, std::uint64_t length) {
    std::string& o = out();
    int status = res.status_;
    if (status < 100 || status > 599 || (status < 200 && status != 101)) status = 500;
    o += head_.version_minor() == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(o, static_cast<std::uint64_t>(status));
    o += ' ';
    o += reason_phrase(status);
    o += "\r\nDate: ";
    o += http_date();
    o += "\r\n";
    if (chunked) {
        if (head_.version_minor() == 1) o += "Transfer-Encoding: chunked\r\n";
    } else if (status != 204 && status != 304 && status >= 200) {
        o += "Content-Length: ";
        append_number(o, length);
        o += "\r\n";
    }
    if (res.close_) o += "Connection: close\r\n";
    else if (head_.version_minor() == 0) o += "Connection: keep-alive\r\n";
    o += *headers_;
    o += "\r\n";
}

void connection::commit(response& res) {
    const bool viewed = !res.body_view_.empty();
    const std::size_t length = viewed ? res.body_view_.size() : body_->size();
    append_head(res, false, length);
    const bool no_body = head_.is_head() || res.status_ == 204 || res.status_ == 304;
    if (no_body) {
        res.body_view_ = {};
        return;
    }
    if (viewed && length < kCopyBodyBelow) {
        out_.append(reinterpret_cast<const char*>(res.body_view_.data()), length);
        res.body_view_ = {};
    } else if (!viewed) {
        out_ += *body_;
    }
}

task<result<void>> connection::flush(std::span<const std::byte> extra) {
    if ((!have_out_ || out_.empty()) && extra.empty()) co_return result<void>{};
    const net::const_buffer parts[] = {net::const_buffer{std::string_view{out_}}, net::const_buffer{extra}};
    const std::size_t count = extra.empty() ? 1 : (out_.empty() ? 0 : 2);
    const std::span<const net::const_buffer> what =
        count == 0 ? std::span<const net::const_buffer>{parts + 1, 1} : std::span<const net::const_buffer>{parts, count};
    auto sent = co_await io_->write(what, options_->send_timeout);
    out_.clear();
    co_return sent;
}

// --- for response --------------------------------------------------------------------

void connection::add_header(std::string_view name, std::string_view value) {
    if (name.empty() || !clean(name) || !clean(value)) return;
    std::string& h = *headers_;
    if (h.capacity() < 64) h = take_buffer();
    h += name;
    h += ": ";
    h += value;
    h += "\r\n";
}

void connection::set_body(std::string_view body) {
    std::string& b = *body_;
    if (b.capacity() < 64 && body.size() > b.capacity()) b = take_buffer();
    b.assign(body);
}

task<result<void>> connection::write_chunk(response& res, std::string_view data) {
    if (res.finished_) co_return unexpected{errc::invalid_argument};
    if (!res.streaming_) {
        res.streaming_ = true;
        if (head_.version_minor() == 0) res.close_ = true;  // HTTP/1.0: the body runs to the close
        append_head(res, true, 0);
    }
    if (!data.empty() && !head_.is_head()) {
        std::string& o = out();
        if (head_.version_minor() == 1) {
            char size[20];
            const auto r = std::to_chars(size, size + sizeof size, data.size(), 16);
            o.append(size, r.ptr);
            o += "\r\n";
        }
        if (data.size() < kCopyBodyBelow) {
            o += data;
            if (head_.version_minor() == 1) o += "\r\n";
        } else {
            auto sent = co_await flush(std::as_bytes(std::span{data}));
            if (!sent) co_return sent;
            if (head_.version_minor() == 1) out() += "\r\n";
        }
    }
    co_return co_await flush();
}

task<result<void>> connection::finish(response& res) {
    if (res.finished_) co_return result<void>{};
    if (!res.streaming_) {
        auto started = co_await write_chunk(res, {});
        if (!started) co_return started;
    }
    res.finished_ = true;
    if (head_.version_minor() == 1 && !head_.is_head()) out() += "0\r\n\r\n";
    co_return co_await flush();
}

// --- for request ------------------------------------------------------------------------

std::error_code connection::body_error() const noexcept {
    if (body_status_ == 413) return make_error_code(errc::message_too_long);
    return std::make_error_code(std::errc::bad_message);
}

task<result<std::size_t>> connection::read_body_some(std::span<std::byte> out_bytes) {
    if (body_failed_) co_return unexpected{body_error()};
    if (body_done_ || out_bytes.empty()) co_return std::size_t{0};
    if (head_.expects_continue() && !continue_sent_) {
        continue_sent_ = true;
        if (pending_.empty()) {
            out() += kContinue;
            auto sent = co_await flush();
            if (!sent) co_return unexpected{sent.error()};
        }
    }
    for (;;) {
        if (pending_.empty()) {
            keep_head_bytes();
            io_->release();
            in_carry_ = false;
            auto got = co_await io_->receive(options_->body_timeout);
            if (!got || got->empty()) {
                body_failed_ = true;
                body_status_ = 400;
                co_return unexpected{got ? make_error_code(errc::end_of_stream) : got.error()};
            }
            pending_ = *got;
        }
        if (head_.framing() == body_framing::length) {
            const std::size_t n = static_cast<std::size_t>(
                std::min<std::uint64_t>({body_left_, pending_.size(), out_bytes.size()}));
            if (n > 0) std::memcpy(out_bytes.data(), pending_.data(), n);
            pending_ = pending_.subspan(n);
            body_left_ -= n;
            body_done_ = body_left_ == 0;
            co_return n;
        }
        const std::size_t window = std::min(pending_.size(), out_bytes.size());
        const auto step = decoder_->decode(chars(pending_.first(window)));
        if (step.failed) {
            body_failed_ = true;
            body_status_ = step.status == 413 ? 413 : 400;
            co_return unexpected{body_error()};
        }
        if (!step.data.empty()) std::memcpy(out_bytes.data(), step.data.data(), step.data.size());
        pending_ = pending_.subspan(step.consumed);
        body_done_ = decoder_->done();
        if (!step.data.empty() || body_done_) co_return step.data.size();
    }
}

void connection::keep_head_bytes() {
    if (head_in_carry_) return;
    if (in_carry_) {
        // The head is at the start of carry_ (parsed there); keep carry_ as it is.
        head_in_carry_ = true;
        return;
    }
    const auto* head_begin = reinterpret_cast<const std::byte*>(head_.headers().base());
    carry_.assign(head_begin, head_begin + head_size_);
    head_.rebase(reinterpret_cast<const char*>(carry_.data()));
    head_in_carry_ = true;
}

task<result<std::string_view>> connection::read_body() {
    if (body_done_ && !body_failed_) co_return std::string_view{};
    // Fast path: the whole body is already here (and stays until the handler ends).
    if (!body_failed_ && head_.framing() == body_framing::length && pending_.size() >= body_left_) {
        const auto bytes = pending_.first(static_cast<std::size_t>(body_left_));
        pending_ = pending_.subspan(bytes.size());
        body_left_ = 0;
        body_done_ = true;
        continue_sent_ = true;
        co_return std::string_view{reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
    std::string& in = *body_in_;
    if (in.capacity() < 64) in = take_buffer();
    in.clear();
    if (head_.framing() == body_framing::length) in.reserve(static_cast<std::size_t>(body_left_));
    for (;;) {
        const std::size_t at = in.size();
        const std::size_t want = head_.framing() == body_framing::length
                                     ? static_cast<std::size_t>(body_left_)
                                     : std::max<std::size_t>(16 * 1024, in.capacity() - at);
        in.resize(at + want);
        auto n = co_await read_body_some(std::as_writable_bytes(std::span{in}.subspan(at)));
        if (!n) {
            in.resize(at);
            co_return unexpected{n.error()};
        }
        in.resize(at + *n);
        if (body_done_) co_return std::string_view{in};
    }
}

}  // namespace ringlet::http::detail

// HTTP/1.1 for the load generator: one fixed request (built once), every
// response framed with ringlet::http's response_parser (the head) and the
// body by Content-Length or the chunked coding (chunked_decoder), counted by
// status. Pipelining is the engine's: up to --depth requests in flight, the
// responses arrive in order (RFC 9112 section 9.3.2).
//
// Bytes are parsed where they arrive when a whole response is there; only
// the unfinished tail of a read is copied (into `pending_`) and parsed from
// there once more bytes come.
#include "protocol.hpp"

#include <ringlet/http/parser.hpp>

#include <array>
#include <cstring>

namespace loadgen {
namespace {

namespace http = ringlet::http;

constexpr http::limits response_limits{.max_request_line = 8 * 1024, .max_header_bytes = 64 * 1024,
                                       .max_headers = 200, .max_body = std::uint64_t{1} << 32};

class http_checker final : public response_checker {
public:
    explicit http_checker(bool head_request) : head_request_(head_request) {}

    feed_result feed(std::span<const std::byte> in, std::uint64_t first_seq, std::uint64_t outstanding) override {
        (void)first_seq;
        feed_result r;
        std::span<const char> data{reinterpret_cast<const char*>(in.data()), in.size()};
        if (!pending_.empty()) {
            pending_.append(data.data(), data.size());
            data = {pending_.data(), pending_.size()};
        }
        std::size_t used = 0;
        while (used < data.size() && !r.broken) {
            if (r.completed == outstanding) {
                r.broken = true;
                r.error = "the server sent more than the responses to the requests in flight";
                break;
            }
            const std::size_t step = advance(data.subspan(used), r);
            if (step == 0) break;  // needs more bytes
            used += step;
        }
        // Keep what was not used for the next read.
        if (!pending_.empty()) {
            pending_.erase(0, used);
        } else if (used < data.size() && !r.broken) {
            pending_.assign(data.data() + used, data.size() - used);
        }
        return r;
    }

    void add_counts(std::map<std::string, std::uint64_t>& into) const override {
        for (std::size_t s = 0; s < statuses_.size(); ++s) {
            if (statuses_[s]) into["HTTP " + std::to_string(s)] += statuses_[s];
        }
    }

private:
    /// Consumes what it can of one response from `in`; returns the bytes used
    /// (0 when more are needed), counting a finished response in `r`.
    std::size_t advance(std::span<const char> in, feed_result& r) {
        std::size_t used = 0;
        if (!in_body_) {
            const auto p = parser_.parse(in, head_, head_request_);
            if (p.state == http::parse_state::incomplete) return 0;
            if (p.state == http::parse_state::failed) {
                r.broken = true;
                r.error = std::string("a malformed HTTP response: ") + p.reason;
                return 0;
            }
            parser_.reset();
            used = p.consumed;
            if (head_.status() < 200) return used;  // interim 1xx: the final response follows
            status_ = head_.status();
            framing_ = head_.framing();
            left_ = head_.content_length();
            decoder_.reset();
            in_body_ = true;
            if (framing_ == http::body_framing::until_close) {
                r.broken = true;
                r.error = "a response without Content-Length or chunked coding (its body runs to the close): "
                          "cannot be pipelined";
                return 0;
            }
        }
        if (framing_ == http::body_framing::length) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size() - used));
            used += n;
            left_ -= n;
            if (left_ > 0) return used;
        } else if (framing_ == http::body_framing::chunked) {
            while (!decoder_.done()) {
                const auto step = decoder_.decode(in.subspan(used));
                if (step.failed) {
                    r.broken = true;
                    r.error = std::string("a malformed chunked body: ") + step.reason;
                    return 0;
                }
                used += step.consumed;
                if (step.consumed == 0 || (!decoder_.done() && used == in.size())) return used;
            }
        }
        finish(r);
        return used;
    }

    void finish(feed_result& r) {
        in_body_ = false;
        ++r.completed;
        if (status_ >= 0 && status_ < static_cast<int>(statuses_.size())) ++statuses_[static_cast<std::size_t>(status_)];
        if (status_ >= 400) {
            ++r.bad;
            if (r.error.empty()) r.error = "HTTP status " + std::to_string(status_);
        }
    }

    bool head_request_;
    http::response_parser parser_{response_limits};
    http::response_head head_;
    http::chunked_decoder decoder_{response_limits};
    bool in_body_ = false;
    int status_ = 0;
    http::body_framing framing_ = http::body_framing::none;
    std::uint64_t left_ = 0;
    std::string pending_;
    std::array<std::uint64_t, 600> statuses_{};
};

class http_protocol final : public stream_protocol {
public:
    explicit http_protocol(const options& opts) {
        method_ = opts.method.empty() ? (opts.body.empty() ? "GET" : "POST") : opts.method;
        request_ = method_ + " " + opts.path + " HTTP/1.1\r\nHost: " + (opts.host.empty() ? opts.address : opts.host) +
                   "\r\n";
        for (const auto& h : opts.headers) request_ += h + "\r\n";
        if (!opts.body.empty() || method_ == "POST" || method_ == "PUT") {
            request_ += "Content-Length: " + std::to_string(opts.body.size()) + "\r\n";
        }
        if (opts.new_connection) request_ += "Connection: close\r\n";
        request_ += "\r\n" + opts.body;
        describe_ = method_ + " " + opts.path + " (" + std::to_string(request_.size()) + "-byte requests)";
    }
    const char* name() const noexcept override { return "http"; }
    std::string describe() const override { return describe_; }
    std::size_t max_request_size() const noexcept override { return request_.size(); }
    std::size_t write_request(std::byte* out, std::uint64_t, std::uint64_t) const override {
        std::memcpy(out, request_.data(), request_.size());
        return request_.size();
    }
    std::unique_ptr<response_checker> make_checker(std::uint64_t) const override {
        return std::make_unique<http_checker>(method_ == "HEAD");
    }

private:
    std::string method_, request_, describe_;
};

}  // namespace

std::unique_ptr<stream_protocol> make_http_protocol(const options& opts) { return std::make_unique<http_protocol>(opts); }

}  // namespace loadgen

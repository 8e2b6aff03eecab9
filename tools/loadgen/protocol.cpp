// The echo protocol and make_protocol. Echo's checker compares every byte
// that comes back with the pattern of the request it answers (engine.hpp's
// pattern: a tag naming connection and sequence number, then a body that
// depends on both), so lost, repeated, reordered, crossed and corrupted
// bytes are all caught, at memcmp speed.
#include "protocol.hpp"

#include "engine.hpp"

#include <stdexcept>

namespace loadgen {

std::unique_ptr<stream_protocol> make_http_protocol(const options& opts);
std::unique_ptr<stream_protocol> make_resp_protocol(const options& opts);

namespace {

class echo_checker final : public response_checker {
public:
    echo_checker(const pattern& bytes, std::uint64_t conn) : bytes_(bytes), conn_(conn) {}

    feed_result feed(std::span<const std::byte> in, std::uint64_t first_seq, std::uint64_t outstanding) override {
        feed_result r;
        const std::size_t size = bytes_.size();
        const std::byte* data = in.data();
        std::size_t n = in.size();
        while (n > 0) {
            const std::uint64_t seq = first_seq + r.completed;
            if (r.completed == outstanding) {
                r.broken = true;
                r.error = where(seq) + " (more bytes came back than were sent)";
                return r;
            }
            const std::size_t take = std::min(n, size - offset_);
            const std::size_t good = bytes_.check(conn_, seq, offset_, data, take);
            if (good < take) {
                offset_ += good;
                r.broken = true;
                r.error = where(seq);
                return r;
            }
            data += take;
            n -= take;
            offset_ += take;
            if (offset_ < size) break;
            offset_ = 0;
            ++r.completed;
        }
        return r;
    }

private:
    std::string where(std::uint64_t seq) const {
        return "connection " + std::to_string(conn_) + ": the echo of request " + std::to_string(seq) +
               " differs at byte " + std::to_string(offset_);
    }
    const pattern& bytes_;
    std::uint64_t conn_;
    std::size_t offset_ = 0;  // bytes of the oldest unanswered request already checked
};

class echo_protocol final : public stream_protocol {
public:
    explicit echo_protocol(std::size_t size) : bytes_(size) {}
    const char* name() const noexcept override { return "echo"; }
    std::string describe() const override { return std::to_string(bytes_.size()) + "-byte echo messages"; }
    std::size_t max_request_size() const noexcept override { return bytes_.size(); }
    std::size_t write_request(std::byte* out, std::uint64_t conn, std::uint64_t seq) const override {
        bytes_.write(out, conn, seq);
        return bytes_.size();
    }
    // Large messages go out as tag + body straight from the template: no copy.
    bool vectored() const noexcept override { return bytes_.size() > 4096; }
    std::size_t request_iov(iovec* out, std::array<std::byte, 8>& tag, std::uint64_t conn,
                            std::uint64_t seq) const override {
        const std::uint64_t t = pattern::tag(conn, seq);
        for (std::size_t k = 0; k < 8; ++k) tag[k] = static_cast<std::byte>(t >> (8 * k));
        out[0] = {tag.data(), bytes_.tag_size()};
        out[1] = {const_cast<std::byte*>(bytes_.body(seq)), bytes_.size() - bytes_.tag_size()};
        return 2;
    }
    std::unique_ptr<response_checker> make_checker(std::uint64_t conn) const override {
        return std::make_unique<echo_checker>(bytes_, conn);
    }

private:
    pattern bytes_;
};

}  // namespace

std::unique_ptr<stream_protocol> make_protocol(const options& opts) {
    if (opts.mode == "http") return make_http_protocol(opts);
    if (opts.mode == "resp") return make_resp_protocol(opts);
    if (opts.mode == "echo") return std::make_unique<echo_protocol>(opts.size);
    throw std::invalid_argument("no stream protocol \"" + opts.mode + "\"");
}

}  // namespace loadgen

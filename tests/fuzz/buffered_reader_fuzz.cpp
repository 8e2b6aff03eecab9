// libFuzzer target: net::buffered_reader against a model, under random
// chunking, injected errors and end of stream.
//
// The byte source: buffered_reader is a template over any Stream with
// `read_some(std::span<std::byte>, timeout)` yielding result<std::size_t>
// (its documented requirement; net::stream is the production one). Here the
// fuzzer drives a scripted source that answers each read at once with a chunk
// of 1..n bytes taken from the input, errc::timed_out,
// connection_reset, or end of stream (after which it stays ended, as a socket
// does). Nothing else is replaced: the reader's own code (read_buffer, scan,
// read_exact's put-back) is the production code.
//
// The model: `delivered` is every byte the source handed out, in order;
// `pos` counts the bytes the reader has returned to its caller (or dropped
// through consume). After every operation the reader's buffer must hold
// exactly delivered[pos..] — so no byte is lost, duplicated or reordered —
// and each operation's result must be the one the model predicts.
#include "fuzz_support.hpp"

#include <ringlet/net/buffered_reader.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <coroutine>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace ringlet;

namespace {

std::string text(std::span<const std::byte> bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

class scripted_source {
public:
    explicit scripted_source(FuzzedDataProvider& script) : script_(script) {}

    /// Completes at once, so the whole test runs inside one resume().
    struct ready_read {
        result<std::size_t> value;
        bool await_ready() const noexcept { return true; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        result<std::size_t> await_resume() { return std::move(value); }
    };

    [[nodiscard]] ready_read read_some(std::span<std::byte> out, timeout) {
        FUZZ_CHECK(!out.empty(), "the reader asked the stream for 0 bytes");
        ++reads_;
        if (ended_ || script_.remaining_bytes() == 0) {
            ended_ = true;
            return {std::size_t{0}};
        }
        switch (script_.ConsumeIntegralInRange<int>(0, 9)) {
            case 0: last_error_ = errc::timed_out; return {unexpected{last_error_}};
            case 1: last_error_ = std::make_error_code(std::errc::connection_reset); return {unexpected{last_error_}};
            case 2: ended_ = true; return {std::size_t{0}};
            default: {
                const std::size_t n = script_.ConsumeIntegralInRange<std::size_t>(1, out.size());
                const std::string bytes = script_.ConsumeBytesAsString(n);
                if (bytes.empty()) {
                    ended_ = true;
                    return {std::size_t{0}};
                }
                std::memcpy(out.data(), bytes.data(), bytes.size());
                delivered_ += bytes;
                return {bytes.size()};
            }
        }
    }

    [[nodiscard]] const std::string& delivered() const noexcept { return delivered_; }
    [[nodiscard]] bool ended() const noexcept { return ended_; }
    [[nodiscard]] std::error_code last_error() const noexcept { return last_error_; }
    [[nodiscard]] std::size_t reads() const noexcept { return reads_; }

private:
    FuzzedDataProvider& script_;
    std::string delivered_;
    std::error_code last_error_;
    std::size_t reads_ = 0;
    bool ended_ = false;
};

constexpr std::string_view delimiters[] = {"\n", "\r\n", "\r\n\r\n", ":", "aba", std::string_view{"\0", 1}};

struct model {
    scripted_source& source;
    std::size_t pos = 0;

    [[nodiscard]] std::string_view unread() const { return std::string_view{source.delivered()}.substr(pos); }

    /// An error the reader returned: one the source injected, or the
    /// reader's own end_of_stream / message_too_long / invalid_argument.
    void check_error(std::error_code e, std::size_t reads_before, const char* op) const {
        if (e == errc::end_of_stream) {
            FUZZ_CHECK(source.ended(), std::string(op) + ": end_of_stream before the stream ended");
        } else if (e == errc::timed_out || e == std::errc::connection_reset) {
            FUZZ_CHECK(source.reads() > reads_before && e == source.last_error(),
                       std::string(op) + ": a stream error the stream did not report");
        } else if (e != errc::message_too_long && e != errc::invalid_argument) {
            ringlet::fuzz::fail("unexpected error", std::string(op) + ": " + e.message());
        }
    }
};

task<void> exercise(FuzzedDataProvider& script, scripted_source& source, net::buffered_reader<scripted_source>& reader) {
    model m{source};
    while (script.remaining_bytes() > 0) {
        const std::size_t reads_before = source.reads();
        const std::size_t unread_before = m.unread().size();
        switch (script.ConsumeIntegralInRange<int>(0, 5)) {
            case 0: {  // read_line
                const std::size_t max = script.ConsumeIntegralInRange<std::size_t>(1, 80);
                auto line = co_await reader.read_line(max);
                if (!line) {
                    m.check_error(line.error(), reads_before, "read_line");
                    if (line.error() == errc::message_too_long) {
                        const std::size_t nl = m.unread().find('\n');
                        FUZZ_CHECK(nl == std::string_view::npos ? m.unread().size() >= max : nl + 1 > max,
                                   "read_line: message_too_long for a line that fits: " + std::string(m.unread()));
                    }
                    if (line.error() == errc::end_of_stream) FUZZ_CHECK(m.unread().empty(), "read_line: end_of_stream with bytes left");
                    break;
                }
                const std::string_view rest = m.unread();
                FUZZ_CHECK(line->find('\n') == std::string::npos, "read_line returned a newline: " + *line);
                FUZZ_CHECK(rest.substr(0, line->size()) == *line, "read_line returned bytes out of order: " + *line);
                std::size_t length = line->size();
                if (rest.substr(length, 1) == "\n") {
                    length += 1;
                } else if (rest.substr(length, 2) == "\r\n") {
                    length += 2;
                } else {
                    FUZZ_CHECK(source.ended() && length == rest.size() && length > 0,
                               "read_line returned an unterminated line before end of stream: " + *line);
                }
                FUZZ_CHECK(length <= max, "read_line exceeded max_length: " + *line);
                m.pos += length;
                break;
            }
            case 1: {  // read_until
                const std::string_view delimiter = delimiters[script.ConsumeIntegralInRange<std::size_t>(0, std::size(delimiters) - 1)];
                const std::size_t max = script.ConsumeIntegralInRange<std::size_t>(1, 80);
                auto piece = co_await reader.read_until(delimiter, max);
                if (!piece) {
                    m.check_error(piece.error(), reads_before, "read_until");
                    if (piece.error() == errc::message_too_long) {
                        const std::size_t at = m.unread().find(delimiter);
                        FUZZ_CHECK(at == std::string_view::npos ? m.unread().size() >= max : at + delimiter.size() > max,
                                   "read_until: message_too_long for a piece that fits");
                    }
                    break;
                }
                const std::size_t at = m.unread().find(delimiter);
                FUZZ_CHECK(at != std::string_view::npos && piece->size() == at + delimiter.size(),
                           "read_until did not stop at the first delimiter: " + *piece);
                FUZZ_CHECK(m.unread().substr(0, piece->size()) == *piece, "read_until returned bytes out of order");
                FUZZ_CHECK(piece->size() <= max, "read_until exceeded max_length");
                m.pos += piece->size();
                break;
            }
            case 2: {  // read_some
                std::vector<std::byte> out(script.ConsumeIntegralInRange<std::size_t>(0, 40));
                auto n = co_await reader.read_some(out);
                if (!n) {
                    FUZZ_CHECK(unread_before == 0, "read_some failed with bytes buffered");
                    m.check_error(n.error(), reads_before, "read_some");
                    break;
                }
                FUZZ_CHECK(*n <= out.size(), "read_some overran its buffer");
                if (unread_before > 0) FUZZ_CHECK(*n == std::min(out.size(), unread_before), "read_some left buffered bytes unread");
                if (*n == 0) FUZZ_CHECK(out.empty() || source.ended(), "read_some returned 0 before end of stream");
                FUZZ_CHECK(m.unread().substr(0, *n) == text(std::span{out}.first(*n)), "read_some returned bytes out of order");
                m.pos += *n;
                break;
            }
            case 3: {  // read_exact
                std::vector<std::byte> out(script.ConsumeIntegralInRange<std::size_t>(1, 40));
                auto r = co_await reader.read_exact(out);
                if (!r) {
                    m.check_error(r.error(), reads_before, "read_exact");
                    break;  // nothing consumed: the invariant below checks the put-back
                }
                FUZZ_CHECK(m.unread().substr(0, out.size()) == text(out), "read_exact returned bytes out of order");
                m.pos += out.size();
                break;
            }
            case 4: {  // consume
                const std::size_t n = script.ConsumeIntegralInRange<std::size_t>(0, unread_before + 2);
                reader.consume(n);
                m.pos += std::min(n, unread_before);
                break;
            }
            case 5: {  // an empty delimiter is refused without touching anything
                auto piece = co_await reader.read_until("", 10);
                FUZZ_CHECK(!piece && piece.error() == errc::invalid_argument, "read_until(\"\") was not refused");
                FUZZ_CHECK(source.reads() == reads_before, "read_until(\"\") read from the stream");
                break;
            }
        }
        FUZZ_CHECK(m.pos <= source.delivered().size(), "the reader returned more bytes than the stream gave");
        FUZZ_CHECK(text(reader.buffered()) == m.unread(),
                   "buffered bytes differ from the model: " + text(reader.buffered()) + " vs " + std::string(m.unread()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider script{data, size};
    scripted_source source{script};
    net::buffered_reader<scripted_source> reader{source, script.ConsumeIntegralInRange<std::size_t>(0, 64)};
    task<void> t = exercise(script, source, reader);
    t.handle().resume();  // every read completes at once, so this runs the whole script
    FUZZ_CHECK(t.done(), "the reader suspended on a source that never suspends");
    return 0;
}

// RESP2 (the Redis protocol) for the load generator: a mix of SET and GET
// by --ratio over --keys keys. Which command request `seq` of a connection
// is, and its key, are a hash of the two, so the checker recomputes what it
// expects instead of remembering it. A key's value (--size bytes) depends
// only on the key, so whichever connection set it last, a GET must return
// exactly those bytes or a null (never set). Every reply is framed with
// ringlet::resp's reply_reader and checked: SET answers +OK, GET a bulk
// string equal to the key's value or a null; an error reply (-ERR ...) is a
// bad answer, anything else breaks the connection.
#include "protocol.hpp"

#include <ringlet/resp/reply_reader.hpp>

#include <cstring>

namespace loadgen {
namespace {

namespace resp = ringlet::resp;

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct resp_plan {
    unsigned set_ratio, get_ratio;
    std::uint64_t keys;
    std::size_t value_size;
    std::string values;  // value_size + 251 bytes; key k's value starts at k % 251

    [[nodiscard]] bool is_set(std::uint64_t conn, std::uint64_t seq) const {
        return mix(conn * 0x9e3779b97f4a7c15ULL + seq) % (set_ratio + get_ratio) < set_ratio;
    }
    [[nodiscard]] std::uint64_t key(std::uint64_t conn, std::uint64_t seq) const {
        return mix((conn << 40) ^ seq ^ 0x5bd1e995ULL) % keys;
    }
    [[nodiscard]] std::string_view value(std::uint64_t key) const { return {values.data() + key % 251, value_size}; }
};

/// "key:0000064:000000001234" (value size, key number): fixed width, so every
/// request of a kind has one size; the value size in the name keeps a run
/// from reading the values an earlier run with another --size left behind.
void key_text(char* out, std::size_t value_size, std::uint64_t key) {
    std::memcpy(out, "key:", 4);
    for (int i = 10; i >= 4; --i, value_size /= 10) out[i] = static_cast<char>('0' + value_size % 10);
    out[11] = ':';
    for (int i = 23; i >= 12; --i, key /= 10) out[i] = static_cast<char>('0' + key % 10);
}
constexpr std::size_t key_size = 24;

class resp_checker final : public response_checker {
public:
    resp_checker(const resp_plan& plan, std::uint64_t conn) : plan_(plan), conn_(conn) {}

    feed_result feed(std::span<const std::byte> in, std::uint64_t first_seq, std::uint64_t outstanding) override {
        feed_result r;
        std::string_view data{reinterpret_cast<const char*>(in.data()), in.size()};
        if (!pending_.empty()) {
            pending_.append(data);
            data = pending_;
        }
        std::size_t used = 0;
        while (used < data.size()) {
            const auto status = reader_.parse(data.substr(used));
            if (status == resp::parse_status::incomplete) break;
            if (status == resp::parse_status::error) {
                r.broken = true;
                r.error = "a malformed RESP reply: " + std::string(reader_.error());
                return r;
            }
            if (r.completed == outstanding) {
                r.broken = true;
                r.error = "the server sent more replies than there were requests";
                return r;
            }
            check(reader_.value(), first_seq + r.completed, r);
            if (r.broken) return r;
            ++r.completed;
            used += reader_.consumed();
        }
        if (!pending_.empty()) {
            pending_.erase(0, used);
        } else if (used < data.size()) {
            pending_.assign(data.substr(used));
        }
        return r;
    }

    void add_counts(std::map<std::string, std::uint64_t>& into) const override {
        into["SET +OK"] += set_ok_;
        into["GET value"] += get_hit_;
        into["GET null"] += get_null_;
        if (errors_) into["error reply"] += errors_;
    }

private:
    void check(const resp::reply& reply, std::uint64_t seq, feed_result& r) {
        if (reply.kind == resp::reply_kind::error) {
            ++errors_;
            ++r.bad;
            if (r.error.empty()) r.error = "error reply: " + std::string(reply.text);
            return;
        }
        const bool set = plan_.is_set(conn_, seq);
        if (set) {
            if (reply.kind == resp::reply_kind::simple && reply.text == "OK") {
                ++set_ok_;
                return;
            }
        } else if (reply.kind == resp::reply_kind::null) {
            ++get_null_;
            return;
        } else if (reply.kind == resp::reply_kind::bulk && reply.text == plan_.value(plan_.key(conn_, seq))) {
            ++get_hit_;
            return;
        }
        r.broken = true;
        static constexpr const char* kinds[] = {"simple string", "error", "integer", "bulk string", "null", "array",
                                                "null array"};
        r.error = "connection " + std::to_string(conn_) + ", request " + std::to_string(seq) + " (" +
                  (set ? "SET" : "GET") + "): an unexpected reply: " + kinds[static_cast<int>(reply.kind)] + " \"" +
                  std::string(reply.text.substr(0, 40)) + (reply.text.size() > 40 ? "...\"" : "\"") + " (" +
                  std::to_string(reply.text.size()) + " bytes)";
    }

    const resp_plan& plan_;
    std::uint64_t conn_;
    resp::reply_reader reader_;
    std::string pending_;
    std::uint64_t set_ok_ = 0, get_hit_ = 0, get_null_ = 0, errors_ = 0;
};

class resp_protocol final : public stream_protocol {
public:
    explicit resp_protocol(const options& opts)
        : plan_{opts.set_ratio, opts.get_ratio, opts.keys, opts.size, std::string(opts.size + 251, '\0')} {
        for (std::size_t i = 0; i < plan_.values.size(); ++i) plan_.values[i] = static_cast<char>('a' + (i * 7) % 26);
        const std::string len = std::to_string(plan_.value_size);
        // *3\r\n$3\r\nSET\r\n$24\r\nkey:…\r\n$N\r\n<value>\r\n
        value_header_ = "$" + len + "\r\n";
        set_size_ = 4 + 4 + 5 + 5 + key_size + 2 + value_header_.size() + plan_.value_size + 2;
    }
    const char* name() const noexcept override { return "resp"; }
    std::string describe() const override {
        return "RESP SET:GET " + std::to_string(plan_.set_ratio) + ":" + std::to_string(plan_.get_ratio) + ", " +
               std::to_string(plan_.keys) + " keys, " + std::to_string(plan_.value_size) + "-byte values";
    }
    std::size_t max_request_size() const noexcept override { return set_size_; }
    std::size_t write_request(std::byte* out, std::uint64_t conn, std::uint64_t seq) const override {
        char* p = reinterpret_cast<char*>(out);
        char* const start = p;
        const std::uint64_t key = plan_.key(conn, seq);
        auto put = [&](std::string_view s) {
            std::memcpy(p, s.data(), s.size());
            p += s.size();
        };
        if (plan_.is_set(conn, seq)) {
            put("*3\r\n$3\r\nSET\r\n$24\r\n");
        } else {
            put("*2\r\n$3\r\nGET\r\n$24\r\n");
        }
        key_text(p, plan_.value_size, key);
        p += key_size;
        put("\r\n");
        if (plan_.is_set(conn, seq)) {
            put(value_header_);
            put(plan_.value(key));
            put("\r\n");
        }
        return static_cast<std::size_t>(p - start);
    }
    std::unique_ptr<response_checker> make_checker(std::uint64_t conn) const override {
        return std::make_unique<resp_checker>(plan_, conn);
    }

private:
    resp_plan plan_;
    std::string value_header_;
    std::size_t set_size_ = 0;
};

}  // namespace

std::unique_ptr<stream_protocol> make_resp_protocol(const options& opts) { return std::make_unique<resp_protocol>(opts); }

}  // namespace loadgen

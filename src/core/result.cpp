#include <ringlet/core/result.hpp>

namespace ringlet {
namespace {

class ringlet_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "ringlet"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
            case errc::timed_out: return "timed out";
            case errc::operation_canceled: return "operation canceled";
            case errc::end_of_stream: return "end of stream";
            case errc::message_too_long: return "message too long";
            case errc::truncated: return "stream truncated (no proper close)";
            case errc::not_on_shard: return "not called on a ringlet shard thread";
            case errc::invalid_argument: return "invalid argument";
            case errc::resolve_not_found: return "host not found";
            case errc::resolve_server_failure: return "DNS server failure";
        }
        return "unknown ringlet error " + std::to_string(value);
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (static_cast<errc>(value)) {
            case errc::timed_out: return std::errc::timed_out;
            case errc::operation_canceled: return std::errc::operation_canceled;
            case errc::message_too_long: return std::errc::message_size;
            case errc::invalid_argument: return std::errc::invalid_argument;
            default: return {value, *this};
        }
    }
};

}  // namespace

const std::error_category& ringlet_category() noexcept {
    static const ringlet_error_category category;
    return category;
}

}  // namespace ringlet

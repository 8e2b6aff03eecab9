// Per-shard caches of the HTTP server (private): the Date header's text and
// a pool of response buffers, so that a busy shard formats the date once a
// second and allocates no buffer per request, while idle connections hold
// none.
#pragma once

#include <string>
#include <string_view>

namespace ringlet::http::detail {

/// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
/// formatted at most once a second per thread.
[[nodiscard]] std::string_view http_date() noexcept;

/// A buffer from the calling shard's pool (or a new one with some capacity).
[[nodiscard]] std::string take_buffer();
/// Gives `buffer` back to the calling shard's pool (freed when the pool is
/// full, the buffer is large, or the thread is no shard). Leaves it empty.
void give_buffer(std::string& buffer) noexcept;

}  // namespace ringlet::http::detail

#include "server/http/rate_limiter.hpp"

#include <algorithm>
#include <array>
#include <chrono>

namespace turnpike::server {

RateLimiter::RateLimiter(std::uint32_t per_second, std::uint32_t burst, std::size_t max_clients)
    : enabled_(per_second != 0),
      interval_(per_second == 0 ? Nanos(0) : Nanos(std::chrono::seconds(1)) / per_second),
      tolerance_(interval_ * (std::max<std::uint32_t>(burst, 1) - 1)),
      max_clients_(std::max<std::size_t>(max_clients, 1)) {}

// GCRA (ITU-T I.371), the token bucket in one timestamp: `full_at` is when the client's bucket is
// full again; each request moves it one interval later, and a request is refused when that would
// leave fewer than zero tokens, i.e. when full_at is more than (burst - 1) intervals ahead.
RateLimiter::Verdict RateLimiter::take(const protocol::IpAddress& client,
                                       protocol::MonotonicTime now) {
  if (!enabled_) {
    return {};
  }
  const protocol::IpAddress key = protocol::limitKey(client);
  auto found = buckets_.find(key);
  if (found == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      buckets_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(Bucket{key, now});
    found = buckets_.emplace(key, lru_.begin()).first;
  } else {
    lru_.splice(lru_.begin(), lru_, found->second);
  }
  Bucket& bucket = *found->second;
  const protocol::MonotonicTime full_at = std::max(bucket.full_at, now);
  if (full_at - now > tolerance_) {
    const Nanos wait = full_at - now - tolerance_;
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
    return {false, static_cast<std::uint32_t>(std::max<std::int64_t>(seconds, 1))};
  }
  bucket.full_at = full_at + interval_;
  return {};
}

}  // namespace turnpike::server

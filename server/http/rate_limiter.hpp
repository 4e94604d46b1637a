// A token bucket per client for the credential API: each client may make `burst` requests at
// once and `per_second` a second after that. Time is passed in (style.md section 3).
//
// Clients are keyed by address: an IPv4 address (also when it arrives IPv4-mapped on a dual-stack
// socket), or an IPv6 /64, which one host usually owns whole. The table holds at most
// `max_clients` buckets; when it is full, the least recently seen client's bucket is dropped.
// That bucket has been refilling the longest, so dropping it forgets the least.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>

#include "protocol/stun/endpoint.hpp"
#include "protocol/turn/core_types.hpp"

namespace turnpike::server {

class RateLimiter {
 public:
  static constexpr std::size_t kDefaultMaxClients = 10000;

  struct Verdict {
    bool allowed = true;
    std::uint32_t retry_after = 0;  // whole seconds until a token is back (>= 1) when refused
  };

  // per_second 0 turns limiting off: take() always allows and keeps no state.
  RateLimiter(std::uint32_t per_second, std::uint32_t burst,
              std::size_t max_clients = kDefaultMaxClients);

  // Takes one token from the client's bucket, if it has one.
  [[nodiscard]] Verdict take(const protocol::IpAddress& client, protocol::MonotonicTime now);

  [[nodiscard]] std::size_t clients() const { return buckets_.size(); }

 private:
  using Nanos = std::chrono::nanoseconds;
  struct Bucket {
    protocol::IpAddress key;
    protocol::MonotonicTime full_at;  // when the bucket holds `burst` tokens again
  };
  using Lru = std::list<Bucket>;  // most recently seen first

  bool enabled_;
  Nanos interval_;   // time one token takes to come back: 1 s / per_second
  Nanos tolerance_;  // (burst - 1) intervals
  std::size_t max_clients_;
  Lru lru_;
  std::map<protocol::IpAddress, Lru::iterator> buckets_;
};

}  // namespace turnpike::server

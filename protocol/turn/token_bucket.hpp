// A token bucket refilled by elapsed time: the one shape behind the per-allocation and
// per-user bandwidth limits and the unauthenticated rate limit. Plain data, no clock of its own.
#pragma once

#include <algorithm>
#include <chrono>

#include "protocol/turn/core_types.hpp"

namespace turnpike::protocol {

struct TokenBucket {
  double tokens = 0;
  MonotonicTime refilled{};

  // Adds `rate` tokens per second since the last refill, up to `capacity`.
  void refill(double rate, double capacity, MonotonicTime now) {
    const double elapsed = std::chrono::duration<double>(now - refilled).count();
    tokens = std::min(capacity, tokens + std::max(0.0, elapsed) * rate);
    refilled = now;
  }
  // Refills, then takes `amount` if the bucket holds that much.
  [[nodiscard]] bool take(double amount, double rate, double capacity, MonotonicTime now) {
    refill(rate, capacity, now);
    if (tokens < amount) {
      return false;
    }
    tokens -= amount;
    return true;
  }
};

}  // namespace turnpike::protocol

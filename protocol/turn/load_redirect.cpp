#include "protocol/turn/load_redirect.hpp"

namespace turnpike::protocol {
namespace {

bool reached(std::uint64_t load, std::uint64_t threshold) {
  return threshold != 0 && load >= threshold;
}

// Below 90% of the threshold (integer arithmetic, no overflow); an unset threshold always is.
bool belowResume(std::uint64_t load, std::uint64_t threshold) {
  return threshold == 0 || load < threshold - threshold / 10;
}

}  // namespace

bool nextRedirecting(bool redirecting, const RedirectThresholds& thresholds,
                     std::uint64_t allocations, std::uint64_t relayed_bps) {
  if (!redirecting) {
    return reached(allocations, thresholds.allocations) ||
           reached(relayed_bps, thresholds.relayed_bps);
  }
  return !(belowResume(allocations, thresholds.allocations) &&
           belowResume(relayed_bps, thresholds.relayed_bps));
}

void LoadRedirect::setThresholds(const RedirectThresholds& thresholds) {
  allocations_threshold_.store(thresholds.allocations, std::memory_order_relaxed);
  bps_threshold_.store(thresholds.relayed_bps, std::memory_order_relaxed);
}

RedirectThresholds LoadRedirect::thresholds() const {
  return RedirectThresholds{allocations_threshold_.load(std::memory_order_relaxed),
                            bps_threshold_.load(std::memory_order_relaxed)};
}

void LoadRedirect::sampleRelayed(std::uint64_t bytes_total, MonotonicTime now) {
  if (!window_started_ || bytes_total < window_bytes_ || now < window_start_) {
    window_started_ = true;
    window_start_ = now;
    window_bytes_ = bytes_total;
    return;
  }
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(now - window_start_).count();
  if (elapsed < std::chrono::duration_cast<std::chrono::microseconds>(kWindow).count()) {
    return;
  }
  const std::uint64_t bits = (bytes_total - window_bytes_) * 8;
  const auto micros = static_cast<std::uint64_t>(elapsed);
  // bits * 1e6 / micros without overflowing for any realistic rate (bits < 2^44 per window).
  const std::uint64_t rate = bits / micros * 1'000'000 + bits % micros * 1'000'000 / micros;
  relayed_bps_.store(rate, std::memory_order_relaxed);
  window_start_ = now;
  window_bytes_ = bytes_total;
}

bool LoadRedirect::update(std::uint64_t allocations) {
  const bool current = redirecting_.load(std::memory_order_relaxed);
  const bool next = nextRedirecting(current, thresholds(), allocations, relayedBps());
  if (next != current) {
    redirecting_.store(next, std::memory_order_relaxed);
  }
  return next;
}

}  // namespace turnpike::protocol

// cluster.redirect_above (issue 8, fleets): a node past a load threshold answers new Allocate
// requests with 300 Try Alternate, so clients land on a node with room. Pure logic: the adapter
// feeds it totals and `now`; it reads no clock and holds no lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "protocol/turn/core_types.hpp"

namespace turnpike::protocol {

// Loads at or above which a node redirects; 0 turns a load off.
struct RedirectThresholds {
  std::uint64_t allocations = 0;  // allocations held, over every worker
  std::uint64_t relayed_bps = 0;  // relayed payload, both directions, bits per second
  friend bool operator==(const RedirectThresholds&, const RedirectThresholds&) = default;
};

// Hysteresis: redirecting starts when one load reaches its threshold, and stops only when
// every load is below 90% of its threshold (threshold - threshold / 10), so a node at the edge
// does not flap.
[[nodiscard]] bool nextRedirecting(bool redirecting, const RedirectThresholds& thresholds,
                                   std::uint64_t allocations, std::uint64_t relayed_bps);

// The shared state of one node. setThresholds, update and the readers may run on any thread;
// sampleRelayed on one thread only (it keeps the window's start to itself).
class LoadRedirect {
 public:
  // The rate is relayed bytes over windows of this length.
  static constexpr std::chrono::milliseconds kWindow{1000};

  explicit LoadRedirect(RedirectThresholds thresholds = {}) { setThresholds(thresholds); }

  void setThresholds(const RedirectThresholds& thresholds);
  [[nodiscard]] RedirectThresholds thresholds() const;
  [[nodiscard]] bool enabled() const {
    const RedirectThresholds current = thresholds();
    return current.allocations != 0 || current.relayed_bps != 0;
  }

  // `bytes_total`: the sum of the relayed byte counters (they only grow). Once a window has
  // passed since the last rate, the rate becomes the bytes of that window over its length.
  void sampleRelayed(std::uint64_t bytes_total, MonotonicTime now);
  [[nodiscard]] std::uint64_t relayedBps() const {
    return relayed_bps_.load(std::memory_order_relaxed);
  }

  // Re-evaluates with the allocations held now and the last rate; true while new Allocate
  // requests should go to another node.
  bool update(std::uint64_t allocations);
  [[nodiscard]] bool redirecting() const { return redirecting_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> allocations_threshold_{0};
  std::atomic<std::uint64_t> bps_threshold_{0};
  std::atomic<std::uint64_t> relayed_bps_{0};
  // Written only on a change (a racing update may compute from slightly older totals; the next
  // Allocate or sample corrects it).
  std::atomic<bool> redirecting_{false};
  // sampleRelayed's thread only.
  bool window_started_ = false;
  MonotonicTime window_start_{};
  std::uint64_t window_bytes_ = 0;
};

// What the core asks before a new allocation: is this node past a threshold?
class LoadSignal {
 public:
  virtual ~LoadSignal() = default;
  [[nodiscard]] virtual bool overloaded() = 0;
};

}  // namespace turnpike::protocol

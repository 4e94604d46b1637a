// Prometheus families for the TURN cores' counters, summed over workers at scrape time.
#pragma once

#include <prometheus/metric_family.h>

#include <span>
#include <vector>

#include "protocol/turn/stats.hpp"

namespace turnpike::server {

// One sample of a counter or gauge family.
[[nodiscard]] prometheus::ClientMetric metricSample(
    prometheus::MetricType type, double value,
    std::vector<prometheus::ClientMetric::Label> labels = {});

// Sums one counter over every core; `pick` maps a CoreStats to the StatCounter.
template <typename Pick>
[[nodiscard]] double sum(std::span<const protocol::CoreStats* const> cores, Pick pick) {
  double total = 0;
  for (const protocol::CoreStats* stats : cores) {
    total += static_cast<double>(pick(*stats).get());
  }
  return total;
}

void appendCoreMetrics(std::span<const protocol::CoreStats* const> cores,
                       std::vector<prometheus::MetricFamily>& families);

}  // namespace turnpike::server

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

void appendCoreMetrics(std::span<const protocol::CoreStats* const> cores,
                       std::vector<prometheus::MetricFamily>& families);

}  // namespace turnpike::server

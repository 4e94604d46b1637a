// Prometheus families for the TURN cores' counters, summed over workers at scrape time.
#pragma once

#include <prometheus/metric_family.h>

#include <span>
#include <vector>

#include "protocol/turn/stats.hpp"

namespace turnpike::server {

void appendCoreMetrics(std::span<const protocol::CoreStats* const> cores,
                       std::vector<prometheus::MetricFamily>& families);

}  // namespace turnpike::server

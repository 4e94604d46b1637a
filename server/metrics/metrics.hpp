// Renders the workers' counters in the Prometheus text format. Counters are summed over the
// workers at scrape time; the data path never touches shared state (style.md section 11).
#pragma once

#include <string>
#include <string_view>

#include "server/server.hpp"

namespace turnpike::server {

[[nodiscard]] std::string renderMetrics(const ServerTotals& totals, std::size_t workers,
                                        std::string_view version);

}  // namespace turnpike::server

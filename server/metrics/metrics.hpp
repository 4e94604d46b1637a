// Renders the workers' counters in the Prometheus text format. Counters are summed over the
// workers at scrape time; the data path never touches shared state (style.md section 11).
#pragma once

#include <string>
#include <string_view>

#include "server/http/credential_api.hpp"
#include "server/server.hpp"

namespace turnpike::server {

// `api`: the credential API's request counters, or null when the API is off (no family then).
[[nodiscard]] std::string renderMetrics(const ServerTotals& totals, std::size_t workers,
                                        std::string_view version,
                                        const ApiRequestCounts* api = nullptr);

}  // namespace turnpike::server

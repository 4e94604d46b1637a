#include "server/metrics/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <vector>

#include "server/metrics/core_metrics.hpp"

namespace turnpike::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type,
                    std::vector<ClientMetric> samples) {
  return MetricFamily{std::move(name), std::move(help), type, std::move(samples)};
}

// turnpike_api_requests_total{endpoint, code}: every pair, zeros included.
MetricFamily apiFamily(const ApiRequestCounts& api) {
  std::vector<ClientMetric> samples;
  for (std::size_t e = 0; e < kApiEndpointCount; ++e) {
    for (std::size_t s = 0; s < kApiStatuses.size(); ++s) {
      samples.push_back(
          metricSample(MetricType::Counter, static_cast<double>(api.counts[e][s]),
                       {{"endpoint", std::string(toString(static_cast<ApiEndpoint>(e)))},
                        {"code", std::to_string(kApiStatuses[s])}}));
    }
  }
  return family("turnpike_api_requests_total",
                "Credential API requests, by endpoint and response status code.",
                MetricType::Counter, std::move(samples));
}

}  // namespace

std::string renderMetrics(const ServerTotals& totals, std::size_t workers, std::string_view version,
                          const ApiRequestCounts* api) {
  std::vector<MetricFamily> families;
  families.push_back(
      family("turnpike_build_info", "Build information; the value is always 1.", MetricType::Gauge,
             {metricSample(MetricType::Gauge, 1, {{"version", std::string(version)}})}));
  families.push_back(family("turnpike_workers", "Worker threads (event loops).", MetricType::Gauge,
                            {metricSample(MetricType::Gauge, static_cast<double>(workers))}));

  std::vector<ClientMetric> outcomes;
  for (std::size_t i = 0; i < totals.stun_outcomes.size(); ++i) {
    const auto outcome = static_cast<protocol::StunOutcome>(i);
    outcomes.push_back(metricSample(MetricType::Counter,
                                    static_cast<double>(totals.stun_outcomes[i]),
                                    {{"outcome", std::string(toString(outcome))}}));
  }
  families.push_back(family("turnpike_stun_messages_total",
                            "STUN messages received, by what was done with them (answered, or "
                            "dropped and why).",
                            MetricType::Counter, std::move(outcomes)));
  families.push_back(family(
      "turnpike_udp_datagrams_received_total", "Datagrams received on UDP listeners.",
      MetricType::Counter,
      {metricSample(MetricType::Counter, static_cast<double>(totals.udp_datagrams_received))}));
  families.push_back(family(
      "turnpike_tcp_connections_accepted_total", "TCP connections accepted.", MetricType::Counter,
      {metricSample(MetricType::Counter, static_cast<double>(totals.tcp_accepted))}));
  families.push_back(
      family("turnpike_tcp_connections_active", "TCP connections open now.", MetricType::Gauge,
             {metricSample(MetricType::Gauge, static_cast<double>(totals.tcp_active))}));
  std::vector<ClientMetric> closed;
  for (std::size_t i = 0; i < totals.tcp_closed.size(); ++i) {
    const auto reason = static_cast<uv::CloseReason>(i);
    closed.push_back(metricSample(MetricType::Counter, static_cast<double>(totals.tcp_closed[i]),
                                  {{"reason", std::string(uv::toString(reason))}}));
  }
  families.push_back(family("turnpike_tcp_connections_closed_total",
                            "TCP connections closed, by reason.", MetricType::Counter,
                            std::move(closed)));
  appendCoreMetrics(totals.cores, families);
  if (api != nullptr) {
    families.push_back(apiFamily(*api));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace turnpike::server

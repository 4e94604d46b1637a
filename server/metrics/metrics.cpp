#include "server/metrics/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "server/metrics/core_metrics.hpp"
#include "server/metrics/process_metrics.hpp"

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

// dtls listeners (RFC 7350): sessions, handshakes, cookie exchanges and what was dropped.
void appendDtlsMetrics(const ServerTotals& totals, std::vector<MetricFamily>& families) {
  const ServerTotals::Dtls& dtls = totals.dtls;
  const auto counter = [](std::uint64_t value, std::vector<ClientMetric::Label> labels) {
    return metricSample(MetricType::Counter, static_cast<double>(value), std::move(labels));
  };
  families.push_back(
      family("turnpike_dtls_sessions_active",
             "DTLS client sessions established now (dtls listeners).", MetricType::Gauge,
             {metricSample(MetricType::Gauge, static_cast<double>(dtls.sessions_active))}));
  families.push_back(
      family("turnpike_dtls_handshakes_total",
             "DTLS handshakes after a valid cookie, by result: success, failed, timeout.",
             MetricType::Counter,
             {counter(dtls.handshakes_ok, {{"result", "success"}}),
              counter(dtls.handshakes_failed, {{"result", "failed"}}),
              counter(dtls.handshakes_timed_out, {{"result", "timeout"}})}));
  families.push_back(family("turnpike_dtls_hello_verify_requests_total",
                            "HelloVerifyRequests sent (DTLS cookie exchanges).",
                            MetricType::Counter, {counter(dtls.hello_verify_sent, {})}));
  families.push_back(family(
      "turnpike_dtls_dropped_total",
      "Datagrams from new DTLS clients dropped: half_open_limit (limits.dtls_half_open reached), "
      "not_client_hello (not a DTLS ClientHello, or one OpenSSL rejects).",
      MetricType::Counter,
      {counter(dtls.half_open_rejected, {{"reason", "half_open_limit"}}),
       counter(dtls.datagrams_dropped, {{"reason", "not_client_hello"}})}));
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
  families.push_back(
      family("turnpike_mobility_forwarded_total",
             "Client messages handed to the worker thread that holds their allocation (RFC 8016: a "
             "moved client's new 5-tuple reached another worker).",
             MetricType::Counter,
             {metricSample(MetricType::Counter, static_cast<double>(totals.mobility_forwarded))}));
  families.push_back(
      family("turnpike_tcp_connection_handoffs_total",
             "TCP client connections handed to the worker thread that holds the peer connection "
             "their ConnectionBind names (RFC 6062: SO_REUSEPORT gave the new connection to "
             "another worker).",
             MetricType::Counter,
             {metricSample(MetricType::Counter, static_cast<double>(totals.tcp_handoffs))}));
  families.push_back(family(
      "turnpike_tcp_connections_accepted_total", "TCP connections accepted.", MetricType::Counter,
      {metricSample(MetricType::Counter, static_cast<double>(totals.tcp_accepted))}));
  families.push_back(
      family("turnpike_tls_passthrough_connections_total",
             "TLS connections spliced to a tls_passthrough backend (failed backend connects are in "
             "turnpike_tcp_connections_closed_total{reason=\"passthrough_connect_error\"}).",
             MetricType::Counter,
             {metricSample(MetricType::Counter, static_cast<double>(totals.tls_passthrough))}));
  families.push_back(
      family("turnpike_tcp_connections_active",
             "TCP and TLS client connections open now, by transport.", MetricType::Gauge,
             {metricSample(MetricType::Gauge, static_cast<double>(totals.connections_active[0]),
                           {{"transport", "tcp"}}),
              metricSample(MetricType::Gauge, static_cast<double>(totals.connections_active[1]),
                           {{"transport", "tls"}})}));
  const auto closed_by = [&](uv::CloseReason reason) {
    return static_cast<double>(totals.tcp_closed[static_cast<std::size_t>(reason)]);
  };
  families.push_back(family(
      "turnpike_tls_handshake_failures_total",
      "TLS handshakes that failed or timed out (old protocol versions, garbage, clients that "
      "reject the certificate, silent clients).",
      MetricType::Counter,
      {metricSample(MetricType::Counter, closed_by(uv::CloseReason::kTlsHandshakeError) +
                                             closed_by(uv::CloseReason::kHandshakeTimeout))}));
  std::vector<ClientMetric> closed;
  for (std::size_t i = 0; i < totals.tcp_closed.size(); ++i) {
    const auto reason = static_cast<uv::CloseReason>(i);
    closed.push_back(metricSample(MetricType::Counter, static_cast<double>(totals.tcp_closed[i]),
                                  {{"reason", std::string(uv::toString(reason))}}));
  }
  families.push_back(family("turnpike_tcp_connections_closed_total",
                            "TCP connections closed, by reason.", MetricType::Counter,
                            std::move(closed)));
  appendDtlsMetrics(totals, families);
  appendCoreMetrics(totals.cores, families);
  // Every limits.* rejection, by limit (allocations_total and allocations_per_user are also in
  // turnpike_quota_rejected_total, with allocations_per_client_ip).
  const auto core_sum = [&](const protocol::StatCounter protocol::CoreStats::*counter) {
    return sum(
        totals.cores, [counter](const protocol::CoreStats& stats) -> const auto& {
          return stats.*counter;
        });
  };
  const auto limit = [](const char* name, double value) {
    return metricSample(MetricType::Counter, value, {{"limit", name}});
  };
  families.push_back(family(
      "turnpike_limit_rejections_total",
      "Requests, packets and connections refused by limits.*, by limit.", MetricType::Counter,
      {limit("allocations_per_client_ip",
             core_sum(&protocol::CoreStats::allocations_per_client_ip_rejected)),
       limit("permissions_per_allocation",
             core_sum(&protocol::CoreStats::permission_limit_rejected)),
       limit("channels_per_allocation", core_sum(&protocol::CoreStats::channel_limit_rejected)),
       limit("unauthenticated_per_ip", core_sum(&protocol::CoreStats::unauthenticated_dropped)),
       limit("connections_total", static_cast<double>(totals.connections_total_rejected)),
       limit("connections_per_ip", static_cast<double>(totals.connections_per_ip_rejected))}));
  const fastpath::ChannelCounts kernel = totals.fast_path.value_or(fastpath::ChannelCounts{});
  families.push_back(
      family("turnpike_fast_path_enabled",
             "1 when fast_path: ebpf is loaded and relays bound channels in the kernel, else 0.",
             MetricType::Gauge, {metricSample(MetricType::Gauge, totals.fast_path ? 1.0 : 0.0)}));
  const auto direction = [](const char* name, std::uint64_t value) {
    return metricSample(MetricType::Counter, static_cast<double>(value), {{"direction", name}});
  };
  families.push_back(family(
      "turnpike_fast_path_relayed_packets_total",
      "Packets the kernel fast path relayed (not in turnpike_relayed_packets_total), by direction.",
      MetricType::Counter,
      {direction("to_peer", kernel.to_peer_packets),
       direction("to_client", kernel.to_client_packets)}));
  families.push_back(
      family("turnpike_fast_path_relayed_bytes_total",
             "Payload bytes the kernel fast path relayed (not in turnpike_relayed_bytes_total), by "
             "direction.",
             MetricType::Counter,
             {direction("to_peer", kernel.to_peer_bytes),
              direction("to_client", kernel.to_client_bytes)}));
  families.push_back(family(
      "turnpike_relay_ports_capacity",
      "Relay ports in all: port range size times relay addresses (capacity: one per allocation).",
      MetricType::Gauge,
      {metricSample(MetricType::Gauge, static_cast<double>(totals.relay_port_capacity))}));
  families.push_back(family(
      "turnpike_relay_ports_free",
      "Relay ports not held by an allocation (port range size times relay addresses, minus "
      "ports in use).",
      MetricType::Gauge,
      {metricSample(MetricType::Gauge, static_cast<double>(totals.relay_port_capacity -
                                                           std::min(totals.relay_port_capacity,
                                                                    totals.relay_ports_in_use)))}));

  ClientMetric histogram;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += totals.allocate_buckets[i];
    histogram.histogram.bucket.push_back({cumulative, LatencyHistogram::kBounds[i]});
  }
  histogram.histogram.bucket.push_back(
      {totals.allocate_count, std::numeric_limits<double>::infinity()});
  histogram.histogram.sample_count = totals.allocate_count;
  histogram.histogram.sample_sum = static_cast<double>(totals.allocate_sum_ns) / 1e9;
  families.push_back(family("turnpike_allocate_duration_seconds",
                            "Time from an Allocate request's arrival to its success response "
                            "being sent, for allocations created.",
                            MetricType::Histogram, {std::move(histogram)}));

  std::vector<ClientMetric> lag;
  for (std::size_t i = 0; i < totals.loop_lag_seconds.size(); ++i) {
    lag.push_back(metricSample(MetricType::Gauge, totals.loop_lag_seconds[i],
                               {{"worker", std::to_string(i)}}));
  }
  families.push_back(family("turnpike_event_loop_lag_seconds",
                            "How late each worker's 250 ms heartbeat timer last fired.",
                            MetricType::Gauge, std::move(lag)));
  families.push_back(
      family("turnpike_ready", "1 while taking new allocations (the /readyz answer), else 0.",
             MetricType::Gauge, {metricSample(MetricType::Gauge, totals.ready ? 1 : 0)}));
  families.push_back(family("turnpike_draining", "1 after SIGTERM, while draining, else 0.",
                            MetricType::Gauge,
                            {metricSample(MetricType::Gauge, totals.draining ? 1 : 0)}));
  families.push_back(
      family("turnpike_redirecting",
             "1 while a cluster.redirect_above load is reached: new Allocates get 300, else 0.",
             MetricType::Gauge, {metricSample(MetricType::Gauge, totals.redirecting ? 1 : 0)}));
  families.push_back(
      family("turnpike_relayed_bytes_per_second",
             "Relayed payload over the last second, both directions (cluster.redirect_above).",
             MetricType::Gauge,
             {metricSample(MetricType::Gauge, static_cast<double>(totals.relayed_bps) / 8)}));
  families.push_back(family(
      "turnpike_config_reloads_total", "Config reloads (SIGHUP), by result.", MetricType::Counter,
      {metricSample(MetricType::Counter, static_cast<double>(totals.reloads_succeeded),
                    {{"result", "success"}}),
       metricSample(MetricType::Counter, static_cast<double>(totals.reloads_failed),
                    {{"result", "failure"}})}));
  appendProcessMetrics(families);
  if (api != nullptr) {
    families.push_back(apiFamily(*api));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace turnpike::server

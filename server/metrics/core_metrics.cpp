#include "server/metrics/core_metrics.hpp"

#include <string>

namespace turnpike::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;
using protocol::CoreStats;
using protocol::StatCounter;

using turnpike::server::sum;

class Families {
 public:
  Families(std::span<const CoreStats* const> cores, std::vector<MetricFamily>& out)
      : cores_(cores), out_(out) {}

  template <typename Pick>
  void single(const char* name, const char* help, MetricType type, Pick pick) {
    out_.push_back({name, help, type, {metricSample(type, sum(cores_, pick))}});
  }

  // Returns the family's index: references into the vector would not survive more families.
  std::size_t family(const char* name, const char* help, MetricType type) {
    out_.push_back({name, help, type, {}});
    return out_.size() - 1;
  }

  template <typename Pick>
  void add(std::size_t index, Labels labels, Pick pick) {
    MetricFamily& family = out_[index];
    family.metric.push_back(metricSample(family.type, sum(cores_, pick), std::move(labels)));
  }

 private:
  std::span<const CoreStats* const> cores_;
  std::vector<MetricFamily>& out_;
};

constexpr std::array<const char*, 2> kFamilies{"ipv4", "ipv6"};
constexpr std::array<const char*, 2> kDirections{"to_peer", "to_client"};

std::string transportName(std::size_t index) {
  return std::string(toString(static_cast<protocol::ClientTransport>(index)));
}

}  // namespace

ClientMetric metricSample(MetricType type, double value, Labels labels) {
  ClientMetric metric;
  metric.label = std::move(labels);
  (type == MetricType::Counter ? metric.counter.value : metric.gauge.value) = value;
  return metric;
}

void appendCoreMetrics(std::span<const CoreStats* const> cores,
                       std::vector<MetricFamily>& families) {
  Families f(cores, families);
  using protocol::kClientTransportCount;
  const std::size_t requests =
      f.family("turnpike_requests_total",
               "TURN requests by method and result (success or error code).", MetricType::Counter);
  for (std::size_t m = 0; m < protocol::kRequestMethodCount; ++m) {
    for (std::size_t r = 0; r < protocol::kRequestResultCount; ++r) {
      f.add(requests,
            {{"method", std::string(toString(static_cast<protocol::RequestMethod>(m)))},
             {"result", std::string(protocol::requestResultLabel(r))}},
            [&](const CoreStats& s) -> const StatCounter& { return s.requests[m][r]; });
    }
  }
  const std::size_t auth = f.family("turnpike_auth_failures_total",
                                    "Authentication failures by reason.", MetricType::Counter);
  for (std::size_t i = 0; i < protocol::kAuthFailureCount; ++i) {
    f.add(auth, {{"reason", std::string(toString(static_cast<protocol::AuthFailure>(i)))}},
          [&](const CoreStats& s) -> const StatCounter& { return s.auth_failures[i]; });
  }
  const std::size_t active =
      f.family("turnpike_allocations_active",
               "Allocations now, by client transport and address family.", MetricType::Gauge);
  for (std::size_t t = 0; t < kClientTransportCount; ++t) {
    for (std::size_t a = 0; a < kFamilies.size(); ++a) {
      f.add(active, {{"transport", transportName(t)}, {"family", kFamilies[a]}},
            [&](const CoreStats& s) -> const StatCounter& { return s.allocations_active[t][a]; });
    }
  }
  f.single("turnpike_allocations_created_total", "Allocations created.", MetricType::Counter,
           [](const CoreStats& s) -> const StatCounter& { return s.allocations_created; });
  // The Allocate column of turnpike_requests_total, minus successes: the failure reason is the
  // error code (401 challenges included: every client's first Allocate gets one).
  const std::size_t failed =
      f.family("turnpike_allocations_failed_total",
               "Allocate requests answered with an error, by error code.", MetricType::Counter);
  constexpr auto kAllocate = static_cast<std::size_t>(protocol::RequestMethod::kAllocate);
  for (std::size_t r = 1; r < protocol::kRequestResultCount; ++r) {
    f.add(failed, {{"reason", std::string(protocol::requestResultLabel(r))}},
          [&](const CoreStats& s) -> const StatCounter& { return s.requests[kAllocate][r]; });
  }
  f.single("turnpike_allocations_deleted_total", "Allocations ended (any reason).",
           MetricType::Counter,
           [](const CoreStats& s) -> const StatCounter& { return s.allocations_deleted; });
  f.single("turnpike_permissions_active", "Permissions now.", MetricType::Gauge,
           [](const CoreStats& s) -> const StatCounter& { return s.permissions_active; });
  f.single("turnpike_channels_active", "Channel bindings now.", MetricType::Gauge,
           [](const CoreStats& s) -> const StatCounter& { return s.channels_active; });
  f.single("turnpike_relay_ports_in_use", "Relay ports held by allocations.", MetricType::Gauge,
           [](const CoreStats& s) -> const StatCounter& { return s.relay_ports_in_use; });
  f.single("turnpike_peer_denied_total", "Peers refused by the peer policy.", MetricType::Counter,
           [](const CoreStats& s) -> const StatCounter& { return s.peer_denied; });
  f.single("turnpike_mobility_moves_total",
           "Allocations moved to a new client 5-tuple by a MOBILITY-TICKET (RFC 8016).",
           MetricType::Counter,
           [](const CoreStats& s) -> const StatCounter& { return s.mobility_moves; });
  // RFC 6062 TCP allocations (tcp_allocations: true).
  f.single("turnpike_tcp_allocations_active",
           "TCP allocations now (RFC 6062; also in turnpike_allocations_active).",
           MetricType::Gauge,
           [](const CoreStats& s) -> const StatCounter& { return s.tcp_allocations_active; });
  f.single("turnpike_tcp_peer_connections_active",
           "Peer connections of TCP allocations now: connecting, waiting for ConnectionBind, or "
           "bound to a data connection.",
           MetricType::Gauge,
           [](const CoreStats& s) -> const StatCounter& { return s.tcp_peer_connections_active; });
  const std::size_t tcp_refused =
      f.family("turnpike_tcp_peer_connections_failed_total",
               "Peer connections of TCP allocations that failed or were refused, by reason.",
               MetricType::Counter);
  f.add(tcp_refused, {{"reason", "connect_failed"}},
        [](const CoreStats& s) -> const StatCounter& { return s.tcp_connect_failed; });
  f.add(tcp_refused, {{"reason", "bind_timeout"}},
        [](const CoreStats& s) -> const StatCounter& { return s.tcp_bind_timeouts; });
  f.add(tcp_refused, {{"reason", "no_permission"}},
        [](const CoreStats& s) -> const StatCounter& { return s.tcp_peer_rejected; });
  f.add(tcp_refused, {{"reason", "limit"}},
        [](const CoreStats& s) -> const StatCounter& { return s.tcp_connection_limit_rejected; });
  f.single("turnpike_tcp_relay_throttled_total",
           "Times a TCP allocation's splice stopped reading because its bandwidth budget "
           "(limits.bandwidth_per_allocation_bps, bandwidth_per_user_bps) was spent.",
           MetricType::Counter,
           [](const CoreStats& s) -> const StatCounter& { return s.tcp_throttled; });
  f.single("turnpike_quota_rejected_total", "Allocations refused by quotas.", MetricType::Counter,
           [](const CoreStats& s) -> const StatCounter& { return s.quota_rejected; });
  const std::size_t bytes =
      f.family("turnpike_relayed_bytes_total",
               "Relayed payload bytes, by direction and client transport.", MetricType::Counter);
  const std::size_t packets =
      f.family("turnpike_relayed_packets_total",
               "Relayed packets, by direction and client transport.", MetricType::Counter);
  for (std::size_t d = 0; d < kDirections.size(); ++d) {
    for (std::size_t t = 0; t < kClientTransportCount; ++t) {
      const Labels labels{{"direction", kDirections[d]}, {"transport", transportName(t)}};
      f.add(bytes, labels,
            [&](const CoreStats& s) -> const StatCounter& { return s.relayed_bytes[d][t]; });
      f.add(packets, labels,
            [&](const CoreStats& s) -> const StatCounter& { return s.relayed_packets[d][t]; });
    }
  }
  const std::size_t redirects =
      f.family("turnpike_allocate_redirects_total",
               "Allocate requests answered 300 Try Alternate, by reason (draining, load).",
               MetricType::Counter);
  for (std::size_t i = 0; i < protocol::kRedirectReasonCount; ++i) {
    f.add(redirects, {{"reason", std::string(toString(static_cast<protocol::RedirectReason>(i)))}},
          [&](const CoreStats& s) -> const StatCounter& { return s.redirects[i]; });
  }
  const std::size_t drops = f.family("turnpike_relay_dropped_total",
                                     "Relay packets dropped, by reason.", MetricType::Counter);
  for (std::size_t i = 0; i < protocol::kRelayDropCount; ++i) {
    f.add(drops, {{"reason", std::string(toString(static_cast<protocol::RelayDrop>(i)))}},
          [&](const CoreStats& s) -> const StatCounter& { return s.relay_drops[i]; });
  }
  const std::size_t nat = f.family(
      "turnpike_nat_discovery_answers_total",
      "RFC 5780 Binding answers sent from the other address (changed_address), from the other "
      "port (changed_port), or to the client's RESPONSE-PORT (response_port).",
      MetricType::Counter);
  f.add(nat, {{"kind", "changed_address"}},
        [](const CoreStats& s) -> const StatCounter& { return s.nat_changed_address; });
  f.add(nat, {{"kind", "changed_port"}},
        [](const CoreStats& s) -> const StatCounter& { return s.nat_changed_port; });
  f.add(nat, {{"kind", "response_port"}},
        [](const CoreStats& s) -> const StatCounter& { return s.nat_response_port; });
}

}  // namespace turnpike::server

// The whole server: N workers sharing only the read-only config and TurnShared.
#pragma once

#include <array>
#include <atomic>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/fastpath/ebpf_fast_path.hpp"
#include "server/worker.hpp"

namespace turnpike::server {

// Totals over all workers, read while they run.
struct ServerTotals {
  std::array<std::uint64_t, protocol::kStunOutcomeCount> stun_outcomes{};
  std::array<std::uint64_t, uv::kCloseReasonCount> tcp_closed{};
  std::uint64_t tcp_accepted = 0;
  std::uint64_t tls_passthrough = 0;
  std::uint64_t connections_total_rejected = 0;
  std::uint64_t connections_per_ip_rejected = 0;
  std::array<std::uint64_t, 2> connections_active{};  // [0] tcp, [1] tls
  std::uint64_t udp_datagrams_received = 0;
  std::uint64_t mobility_forwarded = 0;
  std::uint64_t tcp_handoffs = 0;  // RFC 6062 connections handed to another worker
  // dtls listeners (uv::DtlsStats, summed).
  struct Dtls {
    std::uint64_t hello_verify_sent = 0;
    std::uint64_t handshakes_ok = 0;
    std::uint64_t handshakes_failed = 0;
    std::uint64_t handshakes_timed_out = 0;
    std::uint64_t half_open_rejected = 0;
    std::uint64_t datagrams_dropped = 0;
    std::uint64_t sessions_active = 0;
  } dtls;
  std::uint64_t allocations_active = 0;
  std::uint64_t relay_ports_in_use = 0;
  std::uint64_t relay_port_capacity = 0;  // port range size x relay addresses
  // What the kernel fast path relayed; nullopt when it is off.
  std::optional<fastpath::ChannelCounts> fast_path;
  // Allocate latency, summed over workers: per-bucket counts (not cumulative), count, sum.
  std::array<std::uint64_t, LatencyHistogram::kBounds.size()> allocate_buckets{};
  std::uint64_t allocate_count = 0;
  std::uint64_t allocate_sum_ns = 0;
  std::vector<double> loop_lag_seconds;  // per worker
  bool draining = false;
  bool ready = false;
  bool redirecting = false;       // past a cluster.redirect_above load
  std::uint64_t relayed_bps = 0;  // relayed bits/s over the last second (sampled)
  std::uint64_t reloads_succeeded = 0;
  std::uint64_t reloads_failed = 0;
  // Each worker core's counters, for the TURN metric families (valid while the server lives).
  std::vector<const protocol::CoreStats*> cores;
};

// What a reload changed, and what it could not change without a restart.
struct ReloadReport {
  std::vector<std::string> applied;  // e.g. "auth", "tls"
  std::vector<std::string> ignored;  // e.g. "listeners (needs a restart)"
};

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens every listener in every worker and starts the worker threads.
  [[nodiscard]] std::expected<void, std::string> start();
  // Stops all workers and waits for them. Returns false if a loop had handles left open.
  [[nodiscard]] bool stop();

  // Applies a new config without dropping allocations or connections: auth (users and
  // secrets), peers, limits, log, drain, and the TLS certificate and key (re-read from the files
  // even when the paths are unchanged). Listeners, relay, allocation, realm, software, threads
  // and http need a restart and are reported as ignored. On error (e.g. an unreadable key)
  // nothing changes. Call from one thread at a time.
  [[nodiscard]] std::expected<ReloadReport, std::string> reload(const ServerConfig& next);
  // Counts a reload whose config did not load (for turnpike_config_reloads_total).
  void reloadRejected() { reloads_failed_.fetch_add(1); }

  // Stops taking new allocations (300 with an alternate server, else 403); existing ones go on.
  void startDraining();
  [[nodiscard]] bool draining() const { return draining_.load(); }

  // /healthz: every worker loop ran within the last few seconds. The error says which did not.
  [[nodiscard]] std::expected<void, std::string> health() const;
  // /readyz: taking new allocations (not draining, relay ports and quota left).
  [[nodiscard]] std::expected<void, std::string> readiness() const;

  [[nodiscard]] ServerTotals totals() const;
  [[nodiscard]] std::size_t workerCount() const { return workers_.size(); }
  [[nodiscard]] const ServerConfig& config() const { return config_; }
  // The relay addresses in use (configured or detected); empty before start().
  [[nodiscard]] std::span<const protocol::RelayAddress> relayAddresses() const;

 private:
  // fast_path: ebpf: loads and attaches the kernel fast path, or says why not.
  void startFastPath();
  ServerConfig config_;
  std::unique_ptr<TurnShared> shared_;
  std::shared_ptr<tls::TlsContext> tls_context_;
  std::shared_ptr<tls::TlsContext> dtls_context_;  // Protocol::kDtls, for dtls listeners
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> reloads_succeeded_{0};
  std::atomic<std::uint64_t> reloads_failed_{0};
};

// Worker threads for a config value: 0 means one per core.
[[nodiscard]] std::size_t workerCountFor(std::uint32_t threads);

}  // namespace turnpike::server

// What a worker's TURN core needs from the process: the config translated into core terms, and
// the real implementations of its interfaces (credentials, nonces, clock, randomness, quotas).
// Everything here is shared by the workers and safe to call from any of them.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "auth/credentials.hpp"
#include "auth/nonce.hpp"
#include "protocol/turn/core.hpp"
#include "server/config/config.hpp"

namespace turnpike::server {
namespace fastpath {
class EbpfFastPath;
}  // namespace fastpath

// RFC 8489 section 9.2: nonces expire; clients then get 438 and retry with the new one.
inline constexpr std::int64_t kNonceLifetimeSeconds = 600;

class SystemWallClock final : public protocol::WallClock {
 public:
  [[nodiscard]] std::int64_t unixNow() const override;
};

// A per-worker PRNG seeded from the OS CSPRNG (port choice, tokens, indication IDs).
class SeededRandom final : public protocol::RandomSource {
 public:
  SeededRandom();
  [[nodiscard]] std::uint64_t next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// The users and secrets of the current config. A reload swaps the whole store; a lookup
// already running keeps the one it started with.
class CredentialAdapter final : public protocol::CredentialSource {
 public:
  explicit CredentialAdapter(std::shared_ptr<const auth::CredentialStore> store)
      : store_(std::move(store)) {}
  [[nodiscard]] std::expected<protocol::UserCredential, protocol::CredentialLookupError> lookup(
      std::string_view username, std::int64_t now_unix) const override;
  void replace(std::shared_ptr<const auth::CredentialStore> store);
  [[nodiscard]] std::uint64_t generation() const override {
    return generation_.load(std::memory_order_acquire);
  }

 private:
  std::atomic<std::uint64_t> generation_{0};
  // A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12 implements that with a lock
  // bit ThreadSanitizer cannot see. Held only to copy the pointer, once per authenticated
  // request.
  mutable std::mutex mutex_;
  std::shared_ptr<const auth::CredentialStore> store_;
};

class NonceAdapter final : public protocol::NonceSource {
 public:
  explicit NonceAdapter(const auth::NonceCodec& codec) : codec_(codec) {}
  [[nodiscard]] std::string mint(const protocol::IpAddress& client,
                                 std::int64_t now_unix) const override {
    return codec_.mint(client, now_unix);
  }
  [[nodiscard]] protocol::NonceCheck verify(std::string_view nonce,
                                            const protocol::IpAddress& client,
                                            std::int64_t now_unix) const override;

 private:
  const auth::NonceCodec& codec_;
};

// allocations_total and allocations_per_user across all workers (taken only on Allocate and
// allocation end, never per packet).
class SharedQuota final : public protocol::AllocationQuota {
 public:
  explicit SharedQuota(const LimitsConfig& limits) : limits_(limits) {}
  [[nodiscard]] protocol::QuotaVerdict acquire(std::string_view user,
                                               const protocol::IpAddress& client) override;
  void release(std::string_view user, const protocol::IpAddress& client) override;
  // Under one lock: workers may take the new address's last slot at the same time.
  [[nodiscard]] protocol::QuotaVerdict move(std::string_view user, const protocol::IpAddress& from,
                                            const protocol::IpAddress& to) override;
  // New limits (reload) apply to the next Allocate; allocations over them are not ended.
  void setLimits(const LimitsConfig& limits);
  // True when allocations_total is set and reached.
  [[nodiscard]] bool exhausted();

 private:
  LimitsConfig limits_;
  std::mutex mutex_;
  std::uint64_t total_ = 0;
  std::map<std::string, std::uint32_t, std::less<>> per_user_;
  std::map<protocol::IpAddress, std::uint32_t> per_ip_;  // by protocol::limitKey
};

// limits.bandwidth_per_user_bps across workers: one token bucket per user (one second's worth),
// from which the workers' cores take leases of about 20 ms (never a lock per packet).
class SharedUserBandwidth final : public protocol::UserBandwidth {
 public:
  explicit SharedUserBandwidth(const LimitsConfig& limits)
      : bytes_per_second_(limits.bandwidth_per_user_bps / 8) {}
  [[nodiscard]] std::uint64_t lease(std::string_view user, std::uint64_t want,
                                    protocol::MonotonicTime now) override;
  void setLimits(const LimitsConfig& limits);

 private:
  std::mutex mutex_;
  std::uint64_t bytes_per_second_;
  std::map<std::string, protocol::TokenBucket, std::less<>> buckets_;
  std::uint64_t leases_ = 0;  // forgets idle buckets every so many leases
};

// limits.connections_total and limits.connections_per_ip across workers: taken when a TCP or TLS
// connection is accepted, given back when it closes (never per packet).
class SharedConnections {
 public:
  enum class Verdict : std::uint8_t { kOk, kTotalLimit, kIpLimit };
  explicit SharedConnections(const LimitsConfig& limits) : limits_(limits) {}
  [[nodiscard]] Verdict admit(const protocol::IpAddress& client);
  void release(const protocol::IpAddress& client);
  // RFC 6062 peer connections: one more (or one fewer) toward connections_total only (a peer
  // is not a client address). False over the limit.
  [[nodiscard]] bool admitPeer();
  void releasePeer();
  void setLimits(const LimitsConfig& limits);

 private:
  std::mutex mutex_;
  LimitsConfig limits_;
  std::uint64_t total_ = 0;
  std::map<protocol::IpAddress, std::uint32_t> per_ip_;  // by protocol::limitKey
};

// cluster.redirect_above across workers: the allocations held (read from the cores' counters on
// each new Allocate, no write) and the relayed rate (sampled by one worker's heartbeat from the
// cores' byte counters, so nothing is added per packet).
class SharedLoad final : public protocol::LoadSignal {
 public:
  explicit SharedLoad(const ClusterConfig& cluster) { setThresholds(cluster); }
  // Before the workers start.
  void addCore(const protocol::CoreStats& stats) { cores_.push_back(&stats); }
  void setThresholds(const ClusterConfig& cluster);
  // From one thread, every heartbeat: the rate, and the redirect state for /metrics.
  void sample(protocol::MonotonicTime now);
  [[nodiscard]] bool overloaded() override;
  [[nodiscard]] bool redirecting() const { return redirect_.enabled() && redirect_.redirecting(); }
  [[nodiscard]] std::uint64_t relayedBps() const { return redirect_.relayedBps(); }

 private:
  [[nodiscard]] std::uint64_t allocations() const;
  protocol::LoadRedirect redirect_;
  std::vector<const protocol::CoreStats*> cores_;
};

// RESERVATION-TOKEN reservations for all workers. A reserved port is a bound socket fd that no
// loop reads; the worker that claims the token adopts the fd. Expired ones are closed here.
class SharedReservations final : public protocol::ReservationStore {
 public:
  SharedReservations() = default;
  ~SharedReservations() override;
  SharedReservations(const SharedReservations&) = delete;
  SharedReservations& operator=(const SharedReservations&) = delete;

  void put(std::uint64_t token, const protocol::ReservedPort& port,
           protocol::MonotonicTime now) override;
  [[nodiscard]] std::optional<protocol::ReservedPort> take(std::uint64_t token,
                                                           protocol::MonotonicTime now) override;
  // Where a port goes when its reservation ends unclaimed (back to the port pool).
  void setPortPool(protocol::PortPool* pool) { pool_ = pool; }

 private:
  void expireLocked(protocol::MonotonicTime now);
  protocol::PortPool* pool_ = nullptr;
  std::mutex mutex_;
  std::map<std::uint64_t, protocol::ReservedPort> ports_;
};

// The relay addresses to use: relay.addresses (with external_addresses), or, when none are
// configured, the listeners' specific addresses, or else the host's first global IPv4 and IPv6
// addresses (getifaddrs). Never a wildcard.
[[nodiscard]] std::vector<protocol::RelayAddress> resolveRelayAddresses(const ServerConfig& config);

// The UDP listener sockets each worker opens, in order (a UDP listener's SocketRef id is its
// index here): the udp listeners of the config, then the RFC 5780 endpoints (nat_discovery)
// that the config does not list.
[[nodiscard]] std::vector<protocol::Endpoint> udpListenerEndpoints(const ServerConfig& config);

// The per-allocation and unauthenticated limits of `limits`, in core terms.
void applyLimits(const LimitsConfig& limits, protocol::CoreConfig& core);

[[nodiscard]] protocol::CoreConfig makeCoreConfig(const ServerConfig& config,
                                                  std::vector<protocol::RelayAddress> relays);

// peers.allow / peers.deny plus the server's own listener endpoints.
[[nodiscard]] protocol::PeerPolicy makePeerPolicy(const ServerConfig& config);

// The credential store for a config's users and secrets.
[[nodiscard]] std::shared_ptr<const auth::CredentialStore> makeCredentials(
    const ServerConfig& config);

// The core's cluster alternates for a config.
[[nodiscard]] protocol::AlternateServers makeAlternates(const ServerConfig& config);

// Everything the workers' cores share, built from the config. A reload replaces the
// credentials (credential_adapter.replace), the quota's limits and the policy (each worker
// takes its own reference, see Worker::setPolicy); the rest is fixed at start-up. Not copyable
// or movable (the adapters point at their neighbours).
struct TurnShared {
  explicit TurnShared(const ServerConfig& config);
  ~TurnShared();
  TurnShared(const TurnShared&) = delete;
  TurnShared& operator=(const TurnShared&) = delete;

  auth::NonceCodec nonces;
  CredentialAdapter credential_adapter;
  NonceAdapter nonce_adapter{nonces};
  SharedQuota quota;
  SharedConnections connections;
  SharedUserBandwidth user_bandwidth;
  SharedLoad load;
  // limits.connection_idle_timeout in seconds (reloadable; read by the workers' sweeps).
  std::atomic<std::uint32_t> connection_idle_timeout;
  SharedReservations reservations;
  SystemWallClock clock;
  std::vector<protocol::RelayAddress> relays;
  std::shared_ptr<const protocol::PeerPolicy> policy;  // the start-up policy
  protocol::CoreConfig core_config;
  SeededRandom port_order;  // shuffles the pool once
  // Every worker's relay ports (core_config's relay addresses and range).
  protocol::PortPool ports;
  // The kernel fast path when fast_path: ebpf loaded (its map updates are system calls: any
  // worker may call it); null otherwise.
  std::unique_ptr<fastpath::EbpfFastPath> fast_path;
};

}  // namespace turnpike::server

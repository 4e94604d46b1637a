// The whole server: N workers sharing only the read-only config and TurnShared.
#pragma once

#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/worker.hpp"

namespace turnpike::server {

// Totals over all workers, read while they run.
struct ServerTotals {
  std::array<std::uint64_t, protocol::kStunOutcomeCount> stun_outcomes{};
  std::array<std::uint64_t, uv::kCloseReasonCount> tcp_closed{};
  std::uint64_t tcp_accepted = 0;
  std::uint64_t tcp_active = 0;
  std::uint64_t udp_datagrams_received = 0;
  std::uint64_t allocations_active = 0;
  // Each worker core's counters, for the TURN metric families (valid while the server lives).
  std::vector<const protocol::CoreStats*> cores;
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

  [[nodiscard]] ServerTotals totals() const;
  [[nodiscard]] std::size_t workerCount() const { return workers_.size(); }
  [[nodiscard]] const ServerConfig& config() const { return config_; }
  // The relay addresses in use (configured or detected); empty before start().
  [[nodiscard]] std::span<const protocol::RelayAddress> relayAddresses() const;

 private:
  ServerConfig config_;
  std::unique_ptr<TurnShared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// Worker threads for a config value: 0 means one per core.
[[nodiscard]] std::size_t workerCountFor(std::uint32_t threads);

}  // namespace turnpike::server

#include "server/server.hpp"

#include <algorithm>
#include <thread>

#include "server/log.hpp"
#include "server/tls/tls_context.hpp"

namespace turnpike::server {

std::size_t workerCountFor(std::uint32_t threads) {
  if (threads != 0) {
    return threads;
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

Server::Server(ServerConfig config) : config_(std::move(config)) {}

Server::~Server() { (void)stop(); }

std::expected<void, std::string> Server::start() {
  // One TLS context for every worker, loaded only when a tls listener exists.
  std::shared_ptr<tls::TlsContext> tls_context;
  if (std::ranges::find(config_.listeners, Transport::kTls, &ListenerConfig::transport) !=
      config_.listeners.end()) {
    auto loaded = tls::TlsContext::load(config_.tls);
    if (!loaded) {
      return std::unexpected(loaded.error());
    }
    tls_context = std::move(*loaded);
  }
  shared_ = std::make_unique<TurnShared>(config_);
  if (shared_->relays.empty()) {
    TP_LOG(kWarn, "no relay address: set relay.addresses; Allocate will fail with 440");
  }
  for (const protocol::RelayAddress& relay : shared_->relays) {
    TP_LOG(kInfo, "relay address ", relay.local.toString(),
           relay.advertised == relay.local ? "" : " advertised as " + relay.advertised.toString(),
           " ports ", config_.relay.port_min, "-", config_.relay.port_max);
  }
  const std::size_t count = workerCountFor(config_.threads);
  for (std::size_t i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>(i, config_, *shared_, tls_context);
    if (auto opened = worker->open(); !opened) {
      workers_.clear();
      return std::unexpected(opened.error());
    }
    workers_.push_back(std::move(worker));
  }
  for (const std::string& listener : workers_.front()->listenerDescriptions()) {
    TP_LOG(kInfo, "listening on ", listener);
  }
  for (auto& worker : workers_) {
    worker->start();
  }
  TP_LOG(kInfo, "started ", count, " worker thread", count == 1 ? "" : "s");
  return {};
}

bool Server::stop() {
  for (auto& worker : workers_) {
    worker->stop();
  }
  bool clean = true;
  for (auto& worker : workers_) {
    clean = worker->join() == 0 && clean;
  }
  return clean;
}

std::span<const protocol::RelayAddress> Server::relayAddresses() const {
  if (!shared_) {
    return {};
  }
  return shared_->relays;
}

ServerTotals Server::totals() const {
  ServerTotals totals;
  for (const auto& worker : workers_) {
    const WorkerStats& stats = worker->stats();
    const protocol::CoreStats& core = worker->coreStats();
    for (std::size_t i = 0; i < totals.stun_outcomes.size(); ++i) {
      totals.stun_outcomes[i] += core.stun_outcomes[i].get();
    }
    for (std::size_t i = 0; i < totals.tcp_closed.size(); ++i) {
      totals.tcp_closed[i] += stats.tcp_closed[i].get();
    }
    totals.tcp_accepted += stats.tcp_accepted.get();
    totals.tcp_active += stats.tcp_active.get();
    totals.udp_datagrams_received += stats.udp_datagrams_received.get();
    for (const auto& by_family : core.allocations_active) {
      for (const auto& count : by_family) {
        totals.allocations_active += count.get();
      }
    }
    totals.cores.push_back(&core);
  }
  return totals;
}

}  // namespace turnpike::server

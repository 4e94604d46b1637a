#include "server/server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "server/fastpath/ebpf_fast_path.hpp"
#include "server/log.hpp"
#include "server/tls/tls_context.hpp"

namespace turnpike::server {

namespace {

// A worker whose loop has not run for this long is reported by /healthz.
constexpr std::chrono::seconds kHealthDeadline{3};

bool hasTlsListener(const ServerConfig& config) {
  return std::ranges::any_of(config.listeners, [](const ListenerConfig& listener) {
    return listener.transport == Transport::kTls || listener.transport == Transport::kAuto;
  });
}

bool hasDtlsListener(const ServerConfig& config) {
  return std::ranges::any_of(config.listeners, [](const ListenerConfig& listener) {
    return listener.transport == Transport::kDtls;
  });
}

std::uint64_t steadyNowNanoseconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// One UDP allocation holds one file descriptor: raise the soft limit to the hard one (the
// default soft limit, 1024, would cap a server near a thousand allocations). Returns the limit.
std::uint64_t raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      TP_LOG(kInfo, "open file limit raised from ", before, " to ", limit.rlim_cur);
    } else {
      limit.rlim_cur = before;
    }
  }
  return limit.rlim_cur;
}

std::uint64_t portsPerAddress(const RelayConfig& relay) {
  return static_cast<std::uint64_t>(relay.port_max - relay.port_min) + 1;
}

}  // namespace

std::size_t workerCountFor(std::uint32_t threads) {
  if (threads != 0) {
    return threads;
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : std::min(cores, kMaxThreads);
}

Server::Server(ServerConfig config) : config_(std::move(config)) {}

Server::~Server() { (void)stop(); }

std::expected<void, std::string> Server::start() {
  // One TLS context for every worker, loaded only when a tls listener exists.
  if (hasTlsListener(config_)) {
    auto loaded = tls::TlsContext::load(config_.tls);
    if (!loaded) {
      return std::unexpected(loaded.error());
    }
    tls_context_ = std::move(*loaded);
  }
  // DTLS 1.2 for dtls listeners: the same certificate and cipher settings in a DTLS context.
  if (hasDtlsListener(config_)) {
    auto loaded = tls::TlsContext::load(config_.tls, nullptr, tls::Protocol::kDtls);
    if (!loaded) {
      return std::unexpected(loaded.error());
    }
    dtls_context_ = std::move(*loaded);
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
  TP_LOG(kInfo, "capacity: ", raiseOpenFileLimit(), " file descriptors, ",
         portsPerAddress(config_.relay), " relay ports per relay address x ",
         shared_->relays.size(),
         " (each UDP allocation holds one port and one descriptor, a TCP/TLS one two "
         "descriptors)");
  startFastPath();
  const std::size_t count = workerCountFor(config_.threads);
  shared_->core_config.workers = count;  // RFC 6062 CONNECTION-IDs name their worker
  for (std::size_t i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>(i, config_, *shared_, tls_context_, dtls_context_);
    if (auto opened = worker->open(); !opened) {
      workers_.clear();
      return std::unexpected(opened.error());
    }
    shared_->load.addCore(worker->coreStats());
    workers_.push_back(std::move(worker));
  }
  for (const std::string& listener : workers_.front()->listenerDescriptions()) {
    TP_LOG(kInfo, "listening on ", listener);
  }
  std::vector<Worker*> siblings;
  for (const auto& worker : workers_) {
    siblings.push_back(worker.get());
  }
  for (auto& worker : workers_) {
    worker->setSiblings(siblings);
    worker->start();
  }
  TP_LOG(kInfo, "started ", count, " worker thread", count == 1 ? "" : "s");
  return {};
}

void Server::startFastPath() {
  if (config_.fast_path != FastPath::kEbpf) {
    return;
  }
  std::vector<protocol::IpAddress> addresses;
  for (const ListenerConfig& listener : config_.listeners) {
    if (listener.transport == Transport::kUdp && listener.address.isV4()) {
      addresses.push_back(listener.address);
    }
  }
  for (const protocol::RelayAddress& relay : shared_->relays) {
    if (relay.local.isV4()) {
      addresses.push_back(relay.local);
    }
  }
  const std::vector<std::string> interfaces = fastpath::EbpfFastPath::interfacesFor(addresses);
  auto attached = fastpath::EbpfFastPath::attach(interfaces);
  if (!attached) {
    TP_LOG(kWarn, "fast_path: ebpf is off, relaying in user space: ", attached.error());
    return;
  }
  std::string names;
  for (const std::string& name : interfaces) {
    names += (names.empty() ? "" : ", ") + name;
  }
  TP_LOG(kInfo, "fast_path: ebpf on ", names,
         " (bound channels of IPv4 UDP clients are relayed in the kernel)");
  shared_->fast_path = std::move(*attached);
  shared_->core_config.announce_routes = true;
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

std::expected<ReloadReport, std::string> Server::reload(const ServerConfig& next) {
  ReloadReport report;
  auto ignore = [&](bool changed, const char* key) {
    if (changed) {
      report.ignored.push_back(std::string(key) + " (needs a restart)");
    }
  };
  ignore(next.listeners != config_.listeners, "listeners");
  ignore(next.relay != config_.relay, "relay");
  ignore(next.allocation != config_.allocation, "allocation");
  ignore(next.realm != config_.realm, "realm");
  ignore(next.software != config_.software, "software");
  ignore(next.threads != config_.threads, "threads");
  // The credential API's keys and api_max_ttl reload (main.cpp hands them to the API); where
  // it listens, its rate limit, its URIs and whether it is on at all need a restart.
  ignore(next.http.address != config_.http.address || next.http.port != config_.http.port ||
             next.http.api_rate_limit != config_.http.api_rate_limit ||
             next.http.api_keys.empty() != config_.http.api_keys.empty() ||
             next.http.selftest != config_.http.selftest,
         "http");
  ignore(next.public_uris != config_.public_uris, "public_uris");
  ignore(next.nat_discovery != config_.nat_discovery, "nat_discovery");
  ignore(next.mobility != config_.mobility, "mobility");
  ignore(next.tcp_allocations != config_.tcp_allocations, "tcp_allocations");

  // The certificate first: it is the only step that can fail, and nothing has changed yet.
  if (tls_context_ != nullptr) {
    if (auto reloaded = tls_context_->reload(next.tls); !reloaded) {
      reloads_failed_.fetch_add(1);
      return std::unexpected(reloaded.error());
    }
    report.applied.emplace_back("tls");
  } else if (next.tls != config_.tls && dtls_context_ == nullptr) {
    report.ignored.emplace_back("tls (no tls listener)");
  }
  if (dtls_context_ != nullptr) {
    if (auto reloaded = dtls_context_->reload(next.tls); !reloaded) {
      reloads_failed_.fetch_add(1);
      return std::unexpected(reloaded.error());
    }
    report.applied.emplace_back("tls (dtls)");
  }
  ignore(next.auth.nonce_secret != config_.auth.nonce_secret, "auth.nonce_secret");
  const std::optional<std::string> nonce_secret = config_.auth.nonce_secret;
  config_.auth = next.auth;
  config_.auth.nonce_secret = nonce_secret;  // the nonce codec keeps its key
  shared_->credential_adapter.replace(makeCredentials(config_));
  report.applied.emplace_back("auth");
  config_.peers = next.peers;
  const auto policy = std::make_shared<const protocol::PeerPolicy>(makePeerPolicy(config_));
  for (auto& worker : workers_) {
    worker->setPolicy(policy);
  }
  report.applied.emplace_back("peers");
  ignore(next.limits.tls_handshake_timeout != config_.limits.tls_handshake_timeout,
         "limits.tls_handshake_timeout");
  ignore(next.limits.dtls_half_open != config_.limits.dtls_half_open, "limits.dtls_half_open");
  const std::uint32_t handshake_timeout = config_.limits.tls_handshake_timeout;
  const std::uint32_t dtls_half_open = config_.limits.dtls_half_open;
  config_.limits = next.limits;
  config_.limits.tls_handshake_timeout = handshake_timeout;  // the listeners keep theirs
  config_.limits.dtls_half_open = dtls_half_open;
  shared_->quota.setLimits(config_.limits);
  shared_->connections.setLimits(config_.limits);
  shared_->user_bandwidth.setLimits(config_.limits);
  shared_->connection_idle_timeout.store(config_.limits.connection_idle_timeout);
  protocol::CoreConfig core_limits;
  applyLimits(config_.limits, core_limits);
  for (auto& worker : workers_) {
    worker->setLimits(core_limits);
  }
  report.applied.emplace_back("limits");
  config_.log = next.log;
  setLogConfig(config_.log);
  report.applied.emplace_back("log");
  config_.drain = next.drain;
  report.applied.emplace_back("drain");
  config_.cluster = next.cluster;
  shared_->load.setThresholds(config_.cluster);
  for (auto& worker : workers_) {
    worker->setCluster(makeAlternates(config_));
  }
  report.applied.emplace_back("cluster");
  if (!config_.http.api_keys.empty() && !next.http.api_keys.empty()) {
    config_.http.api_keys = next.http.api_keys;
    config_.http.api_max_ttl = next.http.api_max_ttl;
    report.applied.emplace_back("http.api_keys");
  }
  reloads_succeeded_.fetch_add(1);
  return report;
}

void Server::startDraining() {
  if (draining_.exchange(true)) {
    return;
  }
  for (auto& worker : workers_) {
    // drain.alternate_servers when set, else the fleet's.
    worker->startDraining(config_.drain.alternate_servers.empty()
                              ? config_.cluster.alternate_servers
                              : config_.drain.alternate_servers);
  }
}

std::expected<void, std::string> Server::health() const {
  const std::uint64_t now = steadyNowNanoseconds();
  const auto deadline = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(kHealthDeadline).count());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const std::uint64_t beat = workers_[i]->stats().last_heartbeat_ns.get();
    if (now > beat && now - beat > deadline) {
      return std::unexpected(concat("worker ", i, " has not run its event loop for ",
                                    (now - beat) / 1'000'000, " ms"));
    }
  }
  return {};
}

std::expected<void, std::string> Server::readiness() const {
  if (draining_.load()) {
    return std::unexpected("draining");
  }
  if (shared_ == nullptr || shared_->relays.empty()) {
    return std::unexpected("no relay address");
  }
  const ServerTotals now = totals();
  if (now.relay_ports_in_use >= now.relay_port_capacity) {
    return std::unexpected("relay port pool exhausted");
  }
  if (shared_->quota.exhausted()) {
    return std::unexpected("limits.allocations_total reached");
  }
  return {};
}

std::span<const protocol::RelayAddress> Server::relayAddresses() const {
  if (!shared_) {
    return {};
  }
  return shared_->relays;
}

ServerTotals Server::totals() const {
  ServerTotals totals;
  totals.draining = draining_.load();
  totals.reloads_succeeded = reloads_succeeded_.load();
  totals.reloads_failed = reloads_failed_.load();
  if (shared_ != nullptr) {
    totals.redirecting = shared_->load.redirecting();
    totals.relayed_bps = shared_->load.relayedBps();
    totals.relay_port_capacity = portsPerAddress(config_.relay) * shared_->relays.size();
    if (shared_->fast_path != nullptr) {
      totals.fast_path = shared_->fast_path->totals();
    }
  }
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
    totals.tls_passthrough += stats.tls_passthrough.get();
    totals.connections_total_rejected += stats.connections_total_rejected.get();
    totals.connections_per_ip_rejected += stats.connections_per_ip_rejected.get();
    for (std::size_t i = 0; i < totals.connections_active.size(); ++i) {
      totals.connections_active[i] += stats.connections_active[i].get();
    }
    totals.udp_datagrams_received += stats.udp_datagrams_received.get();
    totals.mobility_forwarded += stats.mobility_forwarded.get();
    totals.tcp_handoffs += stats.tcp_handoffs.get();
    totals.dtls.hello_verify_sent += stats.dtls.hello_verify_sent.get();
    totals.dtls.handshakes_ok += stats.dtls.handshakes_ok.get();
    totals.dtls.handshakes_failed += stats.dtls.handshakes_failed.get();
    totals.dtls.handshakes_timed_out += stats.dtls.handshakes_timed_out.get();
    totals.dtls.half_open_rejected += stats.dtls.half_open_rejected.get();
    totals.dtls.datagrams_dropped += stats.dtls.datagrams_dropped.get();
    totals.dtls.sessions_active += stats.dtls.sessions_active.get();
    totals.allocations_active += protocol::total(core.allocations_active);
    totals.relay_ports_in_use += core.relay_ports_in_use.get();
    for (std::size_t i = 0; i < totals.allocate_buckets.size(); ++i) {
      totals.allocate_buckets[i] += stats.allocate_latency.buckets[i].get();
    }
    totals.allocate_count += stats.allocate_latency.count.get();
    totals.allocate_sum_ns += stats.allocate_latency.sum_ns.get();
    totals.loop_lag_seconds.push_back(static_cast<double>(stats.loop_lag_ns.get()) / 1e9);
    totals.cores.push_back(&core);
  }
  return totals;
}

}  // namespace turnpike::server

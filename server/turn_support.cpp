#include "server/turn_support.hpp"

#include "server/fastpath/ebpf_fast_path.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "server/log.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server {

std::int64_t SystemWallClock::unixNow() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SeededRandom::SeededRandom() {
  std::array<std::uint32_t, 8> seed{};
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()),  // NOLINT
                 static_cast<int>(sizeof(seed))) != 1) {
    std::random_device device;
    std::ranges::generate(seed, std::ref(device));
  }
  std::seed_seq sequence(seed.begin(), seed.end());
  engine_.seed(sequence);
}

std::expected<protocol::UserCredential, protocol::CredentialLookupError> CredentialAdapter::lookup(
    std::string_view username, std::int64_t now_unix) const {
  std::shared_ptr<const auth::CredentialStore> store;
  {
    const std::lock_guard lock(mutex_);
    store = store_;
  }
  auto credential = store->lookup(username, now_unix);
  if (!credential) {
    return std::unexpected(credential.error() == auth::CredentialError::kExpired
                               ? protocol::CredentialLookupError::kExpired
                               : protocol::CredentialLookupError::kUnknownUser);
  }
  return protocol::UserCredential{std::move(credential->user), std::move(credential->passwords),
                                  credential->expires_at};
}

void CredentialAdapter::replace(std::shared_ptr<const auth::CredentialStore> store) {
  {
    const std::lock_guard lock(mutex_);
    store_ = std::move(store);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);  // after: a new key comes from the new store
}

protocol::NonceCheck NonceAdapter::verify(std::string_view nonce, const protocol::IpAddress& client,
                                          std::int64_t now_unix) const {
  switch (codec_.verify(nonce, client, now_unix)) {
    case auth::NonceVerdict::kValid:
      return protocol::NonceCheck::kValid;
    case auth::NonceVerdict::kStale:
      return protocol::NonceCheck::kStale;
    case auth::NonceVerdict::kInvalid:
      return protocol::NonceCheck::kInvalid;
  }
  return protocol::NonceCheck::kInvalid;
}

protocol::QuotaVerdict SharedQuota::acquire(std::string_view user,
                                            const protocol::IpAddress& client) {
  const std::lock_guard lock(mutex_);
  if (limits_.allocations_total != 0 && total_ >= limits_.allocations_total) {
    return protocol::QuotaVerdict::kTotalLimit;
  }
  auto it = per_user_.find(user);
  if (limits_.allocations_per_user != 0 && it != per_user_.end() &&
      it->second >= limits_.allocations_per_user) {
    return protocol::QuotaVerdict::kUserLimit;
  }
  const protocol::IpAddress key = protocol::limitKey(client);
  auto from_ip = per_ip_.find(key);
  if (limits_.allocations_per_client_ip != 0 && from_ip != per_ip_.end() &&
      from_ip->second >= limits_.allocations_per_client_ip) {
    return protocol::QuotaVerdict::kClientIpLimit;
  }
  if (it == per_user_.end()) {
    it = per_user_.emplace(std::string(user), 0).first;
  }
  if (from_ip == per_ip_.end()) {
    from_ip = per_ip_.emplace(key, 0).first;
  }
  ++it->second;
  ++from_ip->second;
  ++total_;
  return protocol::QuotaVerdict::kOk;
}

std::uint64_t SharedUserBandwidth::lease(std::string_view user, std::uint64_t want,
                                         protocol::MonotonicTime now) {
  const std::lock_guard lock(mutex_);
  if (bytes_per_second_ == 0) {
    return want;
  }
  const auto capacity = static_cast<double>(bytes_per_second_);
  // Now and then, forget users whose buckets have been full for a while (idle users).
  constexpr std::uint64_t kSweepEvery = 4096;
  if (++leases_ % kSweepEvery == 0) {
    std::erase_if(buckets_, [&](const auto& entry) {
      return now - entry.second.refilled > std::chrono::seconds(10);
    });
  }
  auto it = buckets_.find(user);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(user), protocol::TokenBucket{capacity, now}).first;
  }
  protocol::TokenBucket& bucket = it->second;
  bucket.refill(capacity, capacity, now);  // one second's worth at most
  const double granted = std::min(static_cast<double>(want), bucket.tokens);
  bucket.tokens -= granted;
  return static_cast<std::uint64_t>(granted);
}

void SharedUserBandwidth::setLimits(const LimitsConfig& limits) {
  const std::lock_guard lock(mutex_);
  bytes_per_second_ = limits.bandwidth_per_user_bps / 8;
}

SharedConnections::Verdict SharedConnections::admit(const protocol::IpAddress& client) {
  const std::lock_guard lock(mutex_);
  if (limits_.connections_total != 0 && total_ >= limits_.connections_total) {
    return Verdict::kTotalLimit;
  }
  const protocol::IpAddress key = protocol::limitKey(client);
  const auto it = per_ip_.find(key);
  if (limits_.connections_per_ip != 0 && it != per_ip_.end() &&
      it->second >= limits_.connections_per_ip) {
    return Verdict::kIpLimit;
  }
  ++(it != per_ip_.end() ? it->second : per_ip_[key]);
  ++total_;
  return Verdict::kOk;
}

void SharedConnections::release(const protocol::IpAddress& client) {
  const std::lock_guard lock(mutex_);
  if (auto it = per_ip_.find(protocol::limitKey(client)); it != per_ip_.end()) {
    if (--it->second == 0) {
      per_ip_.erase(it);
    }
    --total_;
  }
}

bool SharedConnections::admitPeer() {
  const std::lock_guard lock(mutex_);
  if (limits_.connections_total != 0 && total_ >= limits_.connections_total) {
    return false;
  }
  ++total_;
  return true;
}

void SharedConnections::releasePeer() {
  const std::lock_guard lock(mutex_);
  if (total_ > 0) {
    --total_;
  }
}

void SharedConnections::setLimits(const LimitsConfig& limits) {
  const std::lock_guard lock(mutex_);
  limits_ = limits;
}

void SharedQuota::setLimits(const LimitsConfig& limits) {
  const std::lock_guard lock(mutex_);
  limits_ = limits;
}

bool SharedQuota::exhausted() {
  const std::lock_guard lock(mutex_);
  return limits_.allocations_total != 0 && total_ >= limits_.allocations_total;
}

protocol::QuotaVerdict SharedQuota::move(std::string_view /*user*/, const protocol::IpAddress& from,
                                         const protocol::IpAddress& to) {
  const protocol::IpAddress from_key = protocol::limitKey(from);
  const protocol::IpAddress to_key = protocol::limitKey(to);
  if (from_key == to_key) {
    return protocol::QuotaVerdict::kOk;
  }
  const std::lock_guard lock(mutex_);
  auto to_count = per_ip_.find(to_key);
  if (limits_.allocations_per_client_ip != 0 && to_count != per_ip_.end() &&
      to_count->second >= limits_.allocations_per_client_ip) {
    return protocol::QuotaVerdict::kClientIpLimit;
  }
  if (auto it = per_ip_.find(from_key); it != per_ip_.end() && --it->second == 0) {
    per_ip_.erase(it);
  }
  if (to_count == per_ip_.end()) {
    to_count = per_ip_.emplace(to_key, 0).first;
  }
  ++to_count->second;
  return protocol::QuotaVerdict::kOk;
}

void SharedQuota::release(std::string_view user, const protocol::IpAddress& client) {
  const std::lock_guard lock(mutex_);
  if (auto it = per_user_.find(user); it != per_user_.end()) {
    if (--it->second == 0) {
      per_user_.erase(it);
    }
    --total_;
  }
  if (auto it = per_ip_.find(protocol::limitKey(client)); it != per_ip_.end()) {
    if (--it->second == 0) {
      per_ip_.erase(it);
    }
  }
}

SharedReservations::~SharedReservations() {
  for (const auto& [token, port] : ports_) {
    ::close(static_cast<int>(port.handle));
  }
}

void SharedReservations::expireLocked(protocol::MonotonicTime now) {
  std::erase_if(ports_, [this, now](const auto& entry) {
    if (entry.second.expires > now) {
      return false;
    }
    ::close(static_cast<int>(entry.second.handle));
    if (pool_ != nullptr) {
      pool_->give(entry.second.local);
    }
    return true;
  });
}

void SharedReservations::put(std::uint64_t token, const protocol::ReservedPort& port,
                             protocol::MonotonicTime now) {
  const std::lock_guard lock(mutex_);
  expireLocked(now);
  if (!ports_.emplace(token, port).second) {
    ::close(static_cast<int>(port.handle));  // a token collision: 1 in 2^64, drop the new one
    if (pool_ != nullptr) {
      pool_->give(port.local);
    }
  }
}

std::optional<protocol::ReservedPort> SharedReservations::take(std::uint64_t token,
                                                               protocol::MonotonicTime now) {
  const std::lock_guard lock(mutex_);
  expireLocked(now);
  const auto it = ports_.find(token);
  if (it == ports_.end()) {
    return std::nullopt;
  }
  protocol::ReservedPort port = it->second;
  ports_.erase(it);
  return port;
}

namespace {

// The host's interface addresses, in getifaddrs order.
std::vector<protocol::IpAddress> interfaceAddresses() {
  std::vector<protocol::IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return out;
  }
  for (const ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr != nullptr &&
        (it->ifa_addr->sa_family == AF_INET || it->ifa_addr->sa_family == AF_INET6)) {
      out.push_back(uv::fromSockaddr(it->ifa_addr).address);
    }
  }
  freeifaddrs(list);
  return out;
}

// Globally routable enough to relay from: not loopback, link-local or wildcard.
bool isRelayCandidate(const protocol::IpAddress& address) {
  const auto& b = address.bytes();
  if (isWildcard(address)) {
    return false;
  }
  if (address.isV4()) {
    return b[0] != 127 && !(b[0] == 169 && b[1] == 254);
  }
  const bool loopback =
      std::all_of(b.begin(), b.begin() + 15, [](auto x) { return x == 0; }) && b[15] == 1;
  return !loopback && !(b[0] == 0xFE && (b[1] & 0xC0U) == 0x80U);
}

}  // namespace

std::vector<protocol::RelayAddress> resolveRelayAddresses(const ServerConfig& config) {
  std::vector<protocol::RelayAddress> relays;
  const auto& relay = config.relay;
  for (std::size_t i = 0; i < relay.addresses.size(); ++i) {
    const protocol::IpAddress advertised =
        i < relay.external_addresses.size() ? relay.external_addresses[i] : relay.addresses[i];
    relays.push_back({relay.addresses[i], advertised});
  }
  if (!relays.empty()) {
    return relays;
  }
  // No relay addresses configured: the listeners' own specific addresses...
  for (const ListenerConfig& listener : config.listeners) {
    const bool known =
        std::ranges::any_of(relays, [&](const auto& r) { return r.local == listener.address; });
    if (!isWildcard(listener.address) && !known) {
      relays.push_back({listener.address, listener.address});
    }
  }
  if (!relays.empty()) {
    return relays;
  }
  // ...or the host's first usable IPv4 and IPv6 addresses.
  for (const protocol::IpAddress& address : interfaceAddresses()) {
    const bool family_taken = std::ranges::any_of(
        relays, [&](const auto& r) { return r.local.family() == address.family(); });
    if (isRelayCandidate(address) && !family_taken) {
      relays.push_back({address, address});
    }
  }
  return relays;
}

std::vector<protocol::Endpoint> udpListenerEndpoints(const ServerConfig& config) {
  std::vector<protocol::Endpoint> endpoints;
  for (const ListenerConfig& listener : config.listeners) {
    if (listener.transport == Transport::kUdp) {
      endpoints.push_back({listener.address, listener.port});
    }
  }
  if (const auto nat = natDiscoveryEndpoints(config)) {
    for (const auto& by_port : *nat) {
      for (const protocol::Endpoint& endpoint : by_port) {
        if (std::ranges::find(endpoints, endpoint) == endpoints.end()) {
          endpoints.push_back(endpoint);
        }
      }
    }
  }
  return endpoints;
}

void applyLimits(const LimitsConfig& limits, protocol::CoreConfig& core) {
  core.max_permissions = limits.permissions_per_allocation;
  core.max_channels = limits.channels_per_allocation;
  core.max_tcp_connections = limits.tcp_connections_per_allocation;
  core.bandwidth_bytes_per_second = limits.bandwidth_per_allocation_bps / 8;
  core.user_bandwidth_bytes_per_second = limits.bandwidth_per_user_bps / 8;
  core.unauthenticated_per_second = limits.unauthenticated_per_ip_per_second;
  core.unauthenticated_burst = limits.unauthenticated_per_ip_burst;
}

protocol::CoreConfig makeCoreConfig(const ServerConfig& config,
                                    std::vector<protocol::RelayAddress> relays) {
  protocol::CoreConfig core;
  core.realm = config.realm;
  core.software = config.software;
  core.default_lifetime = protocol::Seconds{config.allocation.default_lifetime};
  core.max_lifetime = protocol::Seconds{config.allocation.max_lifetime};
  core.relay_addresses = std::move(relays);
  core.port_min = config.relay.port_min;
  core.port_max = config.relay.port_max;
  if (config.mobility) {
    // RFC 8016 tickets' key: per process, like a nonce key without auth.nonce_secret. Without
    // a CSPRNG there is no unforgeable ticket: mobility stays off.
    core.mobility_key = auth::NonceCodec::randomKey();
  }
  core.tcp_allocations = config.tcp_allocations;
  applyLimits(config.limits, core);
  core.cluster = makeAlternates(config);
  if (const auto nat = natDiscoveryEndpoints(config)) {
    const std::vector<protocol::Endpoint> udp = udpListenerEndpoints(config);
    protocol::NatDiscoveryConfig sockets;
    for (std::size_t address = 0; address < 2; ++address) {
      for (std::size_t port = 0; port < 2; ++port) {
        const protocol::Endpoint& endpoint = (*nat)[address][port];
        sockets.endpoints[address][port] = endpoint;
        sockets.listeners[address][port] =
            static_cast<std::uint64_t>(std::ranges::find(udp, endpoint) - udp.begin());
      }
    }
    core.nat_discovery = sockets;
  }
  return core;
}

protocol::AlternateServers makeAlternates(const ServerConfig& config) {
  return protocol::AlternateServers{config.cluster.alternate_servers,
                                    config.cluster.alternate_domain};
}

void SharedLoad::setThresholds(const ClusterConfig& cluster) {
  redirect_.setThresholds(protocol::RedirectThresholds{cluster.redirect_above_allocations,
                                                       cluster.redirect_above_relayed_bps});
}

std::uint64_t SharedLoad::allocations() const {
  std::uint64_t sum = 0;
  for (const protocol::CoreStats* core : cores_) {
    sum += protocol::total(core->allocations_active);
  }
  return sum;
}

void SharedLoad::sample(protocol::MonotonicTime now) {
  std::uint64_t bytes = 0;
  for (const protocol::CoreStats* core : cores_) {
    bytes += protocol::total(core->relayed_bytes);
  }
  redirect_.sampleRelayed(bytes, now);
  if (redirect_.enabled()) {
    (void)redirect_.update(allocations());
  }
}

bool SharedLoad::overloaded() { return redirect_.enabled() && redirect_.update(allocations()); }

protocol::PeerPolicy makePeerPolicy(const ServerConfig& config) {
  // Own endpoints are the listeners (a wildcard listener stands for every interface address).
  // Relay addresses are deliberately not denied: two clients relaying through the same server
  // (both browsers relay-only) are each other's peers at their relayed addresses.
  std::vector<protocol::Endpoint> own;
  const std::vector<protocol::IpAddress> interfaces = interfaceAddresses();
  if (const auto nat = natDiscoveryEndpoints(config)) {
    for (const auto& by_port : *nat) {
      own.insert(own.end(), by_port.begin(), by_port.end());  // RFC 5780 sockets
    }
  }
  for (const ListenerConfig& listener : config.listeners) {
    if (!isWildcard(listener.address)) {
      own.push_back({listener.address, listener.port});
      continue;
    }
    for (const protocol::IpAddress& address : interfaces) {
      if (address.family() == listener.address.family()) {
        own.push_back({address, listener.port});
      }
    }
    own.push_back({listener.address, listener.port});
  }
  // The host itself on other ports than the relay range: every interface address, the
  // listeners' and relays' configured addresses and the external (1:1 NAT) ones.
  protocol::PeerPolicy::OwnHost host{interfaces, config.relay.port_min, config.relay.port_max};
  if (config.nat_discovery.enabled) {
    host.addresses.push_back(config.nat_discovery.alternate_address);
  }
  for (const ListenerConfig& listener : config.listeners) {
    if (!isWildcard(listener.address)) {
      host.addresses.push_back(listener.address);
    }
  }
  for (const auto* list : {&config.relay.addresses, &config.relay.external_addresses}) {
    host.addresses.insert(host.addresses.end(), list->begin(), list->end());
  }
  return protocol::PeerPolicy(config.peers.allow, config.peers.deny, std::move(own),
                              std::move(host));
}

namespace {

auth::NonceCodec::Key nonceKey(const AuthConfig& auth) {
  // auth.nonce_secret: every node with the same secret accepts the others' nonces. Without
  // it, a fresh random key per process: nonces stay valid across this server's workers only.
  if (auth.nonce_secret) {
    return auth::NonceCodec::keyFromSecret(*auth.nonce_secret);
  }
  return auth::NonceCodec::randomKey().value_or(auth::NonceCodec::Key{});
}

}  // namespace

std::shared_ptr<const auth::CredentialStore> makeCredentials(const ServerConfig& config) {
  return std::make_shared<const auth::CredentialStore>(config.auth.users, config.auth.secrets);
}

TurnShared::~TurnShared() = default;

TurnShared::TurnShared(const ServerConfig& config)
    : nonces(nonceKey(config.auth), kNonceLifetimeSeconds),
      credential_adapter(makeCredentials(config)),
      quota(config.limits),
      connections(config.limits),
      user_bandwidth(config.limits),
      load(config.cluster),
      connection_idle_timeout(config.limits.connection_idle_timeout),
      relays(resolveRelayAddresses(config)),
      policy(std::make_shared<const protocol::PeerPolicy>(makePeerPolicy(config))),
      core_config(makeCoreConfig(config, relays)),
      ports(
          [&] {
            std::vector<protocol::IpAddress> locals;
            for (const protocol::RelayAddress& relay : core_config.relay_addresses) {
              locals.push_back(relay.local);
            }
            return locals;
          }(),
          core_config.port_min, core_config.port_max, port_order) {
  reservations.setPortPool(&ports);
}

}  // namespace turnpike::server

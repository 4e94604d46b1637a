// The checks validate() runs on a parsed ServerConfig: cross-key rules that no single key's reader
// can see (listeners and their TLS, relay ranges, auth, the API, the fleet, RFC 5780).
#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "server/config/config.hpp"
#include "server/config/config_detail.hpp"
#include "server/config/tls_ciphers.hpp"

namespace turnpike::server {

using config_detail::childPath;
using config_detail::fail;
using config_detail::indexPath;
using config_detail::IpAddress;
using config_detail::kMaxApiRate;
using config_detail::kMaxApiTtl;
using config_detail::kMaxLifetime;
using config_detail::kMaxPort;
using config_detail::kMaxQuotedValue;
using config_detail::kMaxTextBytes;
using config_detail::kMaxTextChars;
using config_detail::kMaxUriBytes;
using config_detail::kMaxUsernameBytes;
using config_detail::kMinApiKeyChars;
using config_detail::kMinRelayPort;
using config_detail::Status;

namespace {

// ---- Checks on the plain struct, run by validate() ----

std::size_t countUtf8Chars(std::string_view text) {
  return static_cast<std::size_t>(std::ranges::count_if(
      text, [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

Status checkStunText(std::string_view text, const std::string& key, bool allow_empty) {
  if (text.empty() && !allow_empty) {
    return fail(key, "must not be empty");
  }
  if (countUtf8Chars(text) > kMaxTextChars || text.size() > kMaxTextBytes) {
    return fail(key, "must be fewer than 128 characters and at most 763 bytes, got " +
                         std::to_string(text.size()) + " bytes");
  }
  return {};
}

Status validateText(const ServerConfig& config) {
  if (Status status = checkStunText(config.realm, "realm", false); !status) {
    return status;
  }
  return checkStunText(config.software, "software", true);
}

std::string describeListener(const ListenerConfig& listener) {
  return std::string(toString(listener.transport)) + " " +
         protocol::Endpoint{listener.address, listener.port}.toString();
}

bool isStream(Transport transport) {
  return transport != Transport::kUdp && transport != Transport::kDtls;
}

Status validatePassthrough(const ListenerConfig& listener, const std::string& path) {
  const protocol::PassthroughRoutes& routes = listener.tls_passthrough;
  if (!routes.enabled()) {
    return {};
  }
  const std::string key = path + ".tls_passthrough";
  if (listener.transport != Transport::kTls && listener.transport != Transport::kAuto) {
    return fail(key, "is for tls and auto listeners only");
  }
  // A backend that is this listener would splice connections into themselves (on a wildcard
  // listener: a loopback backend on its port).
  const bool wildcard = isWildcard(listener.address);
  const auto is_self = [&](const protocol::Endpoint& backend) {
    const IpAddress& address = backend.address;
    const bool loopback =  // 127.0.0.0/8 or ::1
        address.isV4() ? address.bytes()[0] == 127
                       : address == IpAddress::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    return backend.port == listener.port && (address == listener.address || (wildcard && loopback));
  };
  if (routes.default_backend && is_self(*routes.default_backend)) {
    return fail(key + ".default", "is this listener's own address");
  }
  for (const auto& [name, backend] : routes.sni) {
    if (is_self(backend)) {
      return fail(key + ".sni." + name, "is this listener's own address");
    }
  }
  return {};
}

Status validateListeners(const ServerConfig& config) {
  const auto& listeners = config.listeners;
  if (listeners.empty()) {
    return fail("listeners", "must contain at least one listener");
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (listeners[i].port == 0) {
      return fail(indexPath("listeners", i) + ".port", "must be between 1 and 65535, got 0");
    }
    if (listeners[i].proxy_protocol && !isStream(listeners[i].transport)) {
      return fail(indexPath("listeners", i) + ".proxy_protocol",
                  "is for tcp, tls and auto listeners only (the PROXY protocol over UDP is not "
                  "supported)");
    }
    if (Status status = validatePassthrough(listeners[i], indexPath("listeners", i)); !status) {
      return status;
    }
    for (std::size_t j = 0; j < i; ++j) {
      // tcp, tls and auto listeners all bind TCP sockets: two on one port would split its
      // connections between them (SO_REUSEPORT).
      const bool same = isStream(listeners[i].transport) == isStream(listeners[j].transport) &&
                        listeners[i].address == listeners[j].address &&
                        listeners[i].port == listeners[j].port;
      if (same) {
        return fail(indexPath("listeners", i), "duplicates " + indexPath("listeners", j) + " (" +
                                                   describeListener(listeners[i]) + ")");
      }
    }
  }
  return {};
}

// Checked whether or not a tls listener exists: a reload may add one.
Status validateTlsSettings(const TlsConfig& tls) {
  if (auto ciphers = checkTls12CipherList(tls.ciphers); !ciphers) {
    return fail("tls.ciphers", ciphers.error());
  }
  if (auto suites = checkTls13Ciphersuites(tls.ciphersuites); !suites) {
    return fail("tls.ciphersuites", suites.error());
  }
  if (tls.ticket_key_rotation < 1 || tls.ticket_key_rotation > kMaxLifetime) {
    return fail("tls.ticket_key_rotation", "must be between 1 and 86400 seconds, got " +
                                               std::to_string(tls.ticket_key_rotation));
  }
  return {};
}

Status validateTls(const ServerConfig& config) {
  if (Status settings = validateTlsSettings(config.tls); !settings) {
    return settings;
  }
  const auto tls_listener = std::ranges::find_if(config.listeners, [](const ListenerConfig& l) {
    return l.transport == Transport::kTls || l.transport == Transport::kAuto ||
           l.transport == Transport::kDtls;
  });
  if (tls_listener == config.listeners.end()) {
    return {};
  }
  const std::string reason =
      "is required because " +
      indexPath("listeners", static_cast<std::size_t>(tls_listener - config.listeners.begin())) +
      " uses " + std::string(toString(tls_listener->transport));
  if (config.tls.certificate.empty()) {
    return fail("tls.certificate", reason);
  }
  if (config.tls.private_key.empty()) {
    return fail("tls.private_key", reason);
  }
  return {};
}

Status validateRelay(const ServerConfig& config) {
  const RelayConfig& relay = config.relay;
  const auto& internal = relay.addresses;
  const auto& external = relay.external_addresses;
  if (!external.empty() && external.size() != internal.size()) {
    return fail("relay.external_addresses", "must have as many entries as relay.addresses (" +
                                                std::to_string(internal.size()) + "), got " +
                                                std::to_string(external.size()));
  }
  for (std::size_t i = 0; i < external.size(); ++i) {
    if (external[i].family() != internal[i].family()) {
      return fail(indexPath("relay.external_addresses", i),
                  "must be the same address family as " + indexPath("relay.addresses", i) + " (" +
                      internal[i].toString() + ")");
    }
  }
  if (relay.port_min < kMinRelayPort) {
    return fail("relay.port_range",
                "min port must be at least 1024, got " + std::to_string(relay.port_min));
  }
  if (relay.port_min > relay.port_max) {
    return fail("relay.port_range", "min port (" + std::to_string(relay.port_min) +
                                        ") must not exceed max port (" +
                                        std::to_string(relay.port_max) + ")");
  }
  return {};
}

Status validateAllocation(const ServerConfig& config) {
  const AllocationConfig& allocation = config.allocation;
  const std::array<std::pair<std::uint32_t, const char*>, 2> lifetimes{
      {{allocation.default_lifetime, "allocation.default_lifetime"},
       {allocation.max_lifetime, "allocation.max_lifetime"}}};
  for (const auto& [seconds, key] : lifetimes) {
    if (seconds < 1 || seconds > kMaxLifetime) {
      return fail(key, "must be between 1 and 86400 seconds, got " + std::to_string(seconds));
    }
  }
  if (allocation.default_lifetime > allocation.max_lifetime) {
    // Appended, not "(" + ...: GCC 12 warns (-Wrestrict, a false positive) on that here.
    std::string message = "(";
    message.append(std::to_string(allocation.default_lifetime))
        .append(") must not exceed allocation.max_lifetime (")
        .append(std::to_string(allocation.max_lifetime))
        .append(")");
    return fail("allocation.default_lifetime", std::move(message));
  }
  return {};
}

Status validateAuth(const ServerConfig& config) {
  for (std::size_t i = 0; i < config.auth.secrets.size(); ++i) {
    if (config.auth.secrets[i].empty()) {
      return fail(indexPath("auth.secrets", i), "must not be empty");
    }
  }
  for (const auto& [user, password] : config.auth.users) {
    const std::string key = childPath("auth.users", user);
    if (user.empty()) {
      return fail("auth.users", "user names must not be empty");
    }
    if (user.find(':') != std::string::npos) {
      return fail(key, "user name must not contain ':'");
    }
    if (user.size() > kMaxUsernameBytes) {
      return fail(key, "user name must be at most 509 bytes");
    }
    if (password.empty()) {
      return fail(key, "password must not be empty");
    }
  }
  return {};
}

std::uint8_t maxPrefix(const IpAddress& address) { return address.isV4() ? 32 : 128; }

Status checkCidrs(const std::vector<Cidr>& cidrs, std::string_view path) {
  for (std::size_t i = 0; i < cidrs.size(); ++i) {
    if (cidrs[i].length > maxPrefix(cidrs[i].address)) {
      return fail(indexPath(path, i), "prefix length " + std::to_string(cidrs[i].length) +
                                          " is too long for " + cidrs[i].address.toString());
    }
  }
  return {};
}

Status validatePeers(const ServerConfig& config) {
  if (Status status = checkCidrs(config.peers.allow, "peers.allow"); !status) {
    return status;
  }
  return checkCidrs(config.peers.deny, "peers.deny");
}

// Visible ASCII only: no spaces, no control characters.
bool isVisibleAscii(std::string_view text) {
  return std::ranges::all_of(text, [](char c) { return c > ' ' && c < '\x7F'; });
}

// stun:, turn: or turns: (RFC 7064, RFC 7065), something after it, and nothing a client would
// choke on.
Status checkPublicUri(const std::string& uri, const std::string& key) {
  constexpr std::array<std::string_view, 3> kSchemes{"stun:", "turn:", "turns:"};
  const auto* scheme =
      std::ranges::find_if(kSchemes, [&](std::string_view s) { return uri.starts_with(s); });
  if (scheme == kSchemes.end()) {
    return fail(key, "must start with stun:, turn: or turns:, got \"" +
                         uri.substr(0, kMaxQuotedValue) + "\"");
  }
  if (uri.size() == scheme->size()) {
    return fail(key, "needs a host after " + std::string(*scheme));
  }
  if (uri.size() > kMaxUriBytes || !isVisibleAscii(uri)) {
    return fail(key, "must be at most 1024 characters of ASCII, without spaces");
  }
  return {};
}

Status validateApi(const ServerConfig& config) {
  const HttpConfig& http = config.http;
  for (std::size_t i = 0; i < http.api_keys.size(); ++i) {
    const std::string& key = http.api_keys[i];
    if (key.size() < kMinApiKeyChars) {
      return fail(indexPath("http.api_keys", i),
                  "must be at least 16 characters, got " + std::to_string(key.size()));
    }
    if (!isVisibleAscii(key)) {
      return fail(indexPath("http.api_keys", i),
                  "must be ASCII without spaces (it is sent as an HTTP bearer token)");
    }
  }
  if (!http.api_keys.empty() && config.auth.secrets.empty()) {
    return fail("http.api_keys", "needs auth.secrets to mint with");
  }
  if (http.api_max_ttl < 1 || http.api_max_ttl > kMaxApiTtl) {
    return fail("http.api_max_ttl",
                "must be between 1 and 31536000 seconds, got " + std::to_string(http.api_max_ttl));
  }
  if (http.api_rate_limit.per_second > kMaxApiRate) {
    return fail("http.api_rate_limit.per_second", "must be between 0 and 1000000");
  }
  if (http.api_rate_limit.burst < 1 || http.api_rate_limit.burst > kMaxApiRate) {
    return fail("http.api_rate_limit.burst", "must be between 1 and 1000000");
  }
  for (std::size_t i = 0; i < config.public_uris.size(); ++i) {
    if (Status status = checkPublicUri(config.public_uris[i], indexPath("public_uris", i));
        !status) {
      return status;
    }
  }
  return {};
}

// Fleets: a domain is a DNS name (RFC 8489 section 14.16: at most 255 bytes); thresholds and a
// domain need somewhere to send clients; a nonce secret is long enough to key an HMAC.
Status validateCluster(const ServerConfig& config) {
  constexpr std::size_t kMaxDomainBytes = 255;
  constexpr std::size_t kMinNonceSecret = 16;
  const ClusterConfig& cluster = config.cluster;
  const std::string& domain = cluster.alternate_domain;
  const bool name_chars = std::ranges::all_of(domain, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
  if (!name_chars || domain.size() > kMaxDomainBytes || domain.starts_with('.') ||
      domain.find("..") != std::string::npos) {
    return fail("cluster.alternate_domain",
                "must be a DNS name of at most 255 bytes (letters, digits, '-' and '.'), got \"" +
                    domain.substr(0, kMaxQuotedValue) + "\"");
  }
  if (!domain.empty() && cluster.alternate_servers.empty()) {
    return fail("cluster.alternate_domain", "needs cluster.alternate_servers");
  }
  if ((cluster.redirect_above_allocations != 0 || cluster.redirect_above_relayed_bps != 0) &&
      cluster.alternate_servers.empty()) {
    return fail("cluster.redirect_above",
                "needs cluster.alternate_servers to send clients to (or set it to 0)");
  }
  if (config.auth.nonce_secret && config.auth.nonce_secret->size() < kMinNonceSecret) {
    return fail("auth.nonce_secret", "must be at least 16 characters, got " +
                                         std::to_string(config.auth.nonce_secret->size()));
  }
  return {};
}

// The first udp listener is the primary address and port (RFC 5780 section 3).
const ListenerConfig* primaryUdpListener(const ServerConfig& config) {
  const auto udp = std::ranges::find(config.listeners, Transport::kUdp, &ListenerConfig::transport);
  return udp == config.listeners.end() ? nullptr : &*udp;
}

std::uint16_t alternatePort(const NatDiscoveryConfig& nat, const ListenerConfig& primary) {
  return nat.alternate_port != 0 ? nat.alternate_port
                                 : static_cast<std::uint16_t>(primary.port + 1);
}

Status validateNatDiscovery(const ServerConfig& config) {
  const NatDiscoveryConfig& nat = config.nat_discovery;
  if (!nat.enabled) {
    return {};
  }
  const ListenerConfig* primary = primaryUdpListener(config);
  if (primary == nullptr) {
    return fail("nat_discovery.enabled", "needs a udp listener (the primary address and port)");
  }
  if (isWildcard(primary->address)) {
    return fail("nat_discovery.enabled",
                "needs the first udp listener bound to a specific address (it is the primary "
                "address clients are told about), got " +
                    primary->address.toString());
  }
  if (isWildcard(nat.alternate_address)) {
    return fail("nat_discovery.alternate_address",
                "is required when nat_discovery is enabled: a specific address, got " +
                    nat.alternate_address.toString());
  }
  if (nat.alternate_address.family() != primary->address.family()) {
    return fail("nat_discovery.alternate_address",
                "must be the same address family as the first udp listener (" +
                    primary->address.toString() + ")");
  }
  if (nat.alternate_address == primary->address) {
    return fail("nat_discovery.alternate_address",
                "must differ from the first udp listener's address " + primary->address.toString());
  }
  if (nat.alternate_port == 0 && primary->port == kMaxPort) {
    return fail("nat_discovery.alternate_port", "is required when the primary port is 65535");
  }
  if (alternatePort(nat, *primary) == primary->port) {
    return fail("nat_discovery.alternate_port",
                "must differ from the primary port " + std::to_string(primary->port));
  }
  return {};
}

Status validateThreads(const ServerConfig& config) {
  if (config.threads > kMaxThreads) {
    return fail("threads", "must be between 0 and 256, got " + std::to_string(config.threads));
  }
  return {};
}

}  // namespace

std::optional<NatDiscoveryEndpoints> natDiscoveryEndpoints(const ServerConfig& config) {
  const ListenerConfig* primary = primaryUdpListener(config);
  if (!config.nat_discovery.enabled || primary == nullptr) {
    return std::nullopt;
  }
  const std::uint16_t alternate_port = alternatePort(config.nat_discovery, *primary);
  const IpAddress& alternate = config.nat_discovery.alternate_address;
  NatDiscoveryEndpoints endpoints;
  endpoints[0] = {protocol::Endpoint{primary->address, primary->port},
                  protocol::Endpoint{primary->address, alternate_port}};
  endpoints[1] = {protocol::Endpoint{alternate, primary->port},
                  protocol::Endpoint{alternate, alternate_port}};
  return endpoints;
}

std::expected<void, ConfigError> validate(const ServerConfig& config) {
  using Check = Status (*)(const ServerConfig&);
  constexpr std::array<Check, 11> kChecks{validateText,    validateListeners,   validateTls,
                                          validateRelay,   validateAllocation,  validateAuth,
                                          validatePeers,   validateApi,         validateThreads,
                                          validateCluster, validateNatDiscovery};
  for (const Check check : kChecks) {
    if (Status status = check(config); !status) {
      return status;
    }
  }
  return {};
}

}  // namespace turnpike::server
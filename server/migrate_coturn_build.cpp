// CoturnSettings -> ServerConfig: the parts where coturn's meaning has to be worked out from
// several options (listeners, TLS, relay address pairing, credentials, peer ranges).
#include <algorithm>
#include <array>
#include <utility>

#include "server/config/config_writer.hpp"
#include "server/migrate_coturn_settings.hpp"

namespace turnpike::server::migrate {
namespace {

using protocol::AddressPrefix;
using protocol::IpAddress;

constexpr std::uint16_t kCoturnPort = 3478;
constexpr std::uint16_t kCoturnTlsPort = 5349;
constexpr std::uint16_t kMinRelayPort = 1024;
constexpr std::uint32_t kCoturnDefaultLifetime = 600;  // STUN_DEFAULT_ALLOCATE_LIFETIME
constexpr std::size_t kMaxUsernameBytes = 509;         // RFC 8489 section 14.3
constexpr std::size_t kMaxRealmChars = 127;            // RFC 8489 section 14.9
constexpr std::size_t kMaxRealmBytes = 763;

bool isOn(const std::optional<At<bool>>& flag) { return flag && flag->value; }

IpAddress anyV6() { return IpAddress::v6({}); }

AddressRange rangeOf(std::string_view prefix) { return toRange(*AddressPrefix::parse(prefix)); }

template <typename T>
void appendUnique(std::vector<T>& list, const T& item) {
  if (std::ranges::find(list, item) == list.end()) {
    list.push_back(item);
  }
}

// ---- Listeners and TLS ----

// Whether coturn had a working TLS listener that turnpike can serve too; says why not otherwise.
bool carryTls(const CoturnSettings& settings, Messages& messages) {
  const auto& cert = settings.cert;
  const auto& pkey = settings.pkey;
  if (!cert && !pkey) {
    if (settings.tls_listening_port && !isOn(settings.no_tls)) {
      messages.note(settings.tls_listening_port->line, "tls-listening-port",
                    "no cert and pkey: coturn serves TLS only if it finds turn_server_cert.pem and "
                    "turn_server_pkey.pem in its config directories; no tls listener is written");
    }
    return false;
  }
  const At<std::string>& given = cert ? *cert : *pkey;
  if (isOn(settings.no_tls)) {
    messages.note(given.line, cert ? "cert" : "pkey",
                  "no-tls is set, so coturn did not use it; no tls listener is written");
    return false;
  }
  if (!cert || !pkey) {
    messages.warn(given.line, cert ? "cert" : "pkey",
                  std::string("no ") + (cert ? "pkey" : "cert") +
                      ": coturn took it from its default file name; set both cert and pkey to "
                      "carry TLS over; no tls listener is written");
    return false;
  }
  bool usable = true;
  for (const auto& [file, option] : {std::pair{&*cert, "cert"}, {&*pkey, "pkey"}}) {
    if (!isValidUtf8(file->value)) {
      messages.warn(file->line, option, "the path is not valid UTF-8, which YAML cannot carry");
      usable = false;
    } else if (!file->value.starts_with('/')) {
      messages.warn(file->line, option,
                    "relative path: coturn searched its config directories (/etc/, "
                    "/usr/local/etc/, ...) for it, turnpike opens it relative to its working "
                    "directory; make it absolute");
    }
  }
  return usable;
}

void buildListeners(const CoturnSettings& settings, ServerConfig& config, Messages& messages) {
  const std::uint16_t port = settings.listening_port ? settings.listening_port->value : kCoturnPort;
  const std::uint16_t tls_port =
      settings.tls_listening_port ? settings.tls_listening_port->value : kCoturnTlsPort;
  const bool udp = !isOn(settings.no_udp);
  const bool tcp = !isOn(settings.no_tcp);
  bool tls = carryTls(settings, messages);
  if (tls && tcp && tls_port == port) {
    const auto& where = settings.tls_listening_port ? settings.tls_listening_port->line
                                                    : settings.listening_port->line;
    messages.warn(where, settings.tls_listening_port ? "tls-listening-port" : "listening-port",
                  "TLS and plain TCP on the same port: turnpike serves one transport per port; no "
                  "tls listener is written");
    tls = false;
  }
  // coturn serves DTLS on the TLS port (UDP) with the same certificate unless no-dtls is set.
  bool dtls = tls && !isOn(settings.no_dtls);
  if (dtls && udp && tls_port == port) {
    messages.warn(settings.tls_listening_port ? settings.tls_listening_port->line
                                              : settings.listening_port->line,
                  settings.tls_listening_port ? "tls-listening-port" : "listening-port",
                  "DTLS and plain UDP on the same port: turnpike serves one transport per port; "
                  "no dtls listener is written");
    dtls = false;
  }
  // Without listening-ip coturn listens on every IPv4 and IPv6 address of the host.
  std::vector<IpAddress> addresses;
  for (const auto& address : settings.listening_ips) {
    appendUnique(addresses, address.value);
  }
  if (addresses.empty()) {
    addresses = {IpAddress(), anyV6()};
  }
  std::vector<ListenerConfig> listeners;
  for (const IpAddress& address : addresses) {
    if (udp) {
      listeners.push_back({Transport::kUdp, address, port});
    }
    if (tcp) {
      listeners.push_back({Transport::kTcp, address, port});
    }
    if (tls) {
      listeners.push_back({Transport::kTls, address, tls_port});
    }
    if (dtls) {
      listeners.push_back({Transport::kDtls, address, tls_port});
    }
  }
  if (listeners.empty()) {
    const std::size_t line = settings.no_udp ? settings.no_udp->line : settings.no_tcp->line;
    messages.warn(line, settings.no_udp ? "no-udp" : "no-tcp",
                  "no listener is left that turnpike supports (UDP, TCP or TLS); turnpike's "
                  "default listeners are written instead");
    return;
  }
  config.listeners = std::move(listeners);
  if (tls) {
    config.tls = {settings.cert->value, settings.pkey->value};
  }
}

// ---- Relay addresses and ports ----

void buildPortRange(const CoturnSettings& settings, RelayConfig& relay, Messages& messages) {
  std::uint16_t min = settings.min_port ? settings.min_port->value : relay.port_min;
  const std::uint16_t max = settings.max_port ? settings.max_port->value : relay.port_max;
  if (min < kMinRelayPort) {
    messages.warn(settings.min_port->line, "min-port",
                  "turnpike's relay ports start at 1024 or above; carried over as 1024");
    min = kMinRelayPort;
  }
  if (min > max) {
    const auto& where = settings.max_port ? *settings.max_port : *settings.min_port;
    messages.warn(where.line, settings.max_port ? "max-port" : "min-port",
                  "the port range is empty (min " + std::to_string(min) + " > max " +
                      std::to_string(max) + "); turnpike's default 49152-65535 is kept");
    return;
  }
  relay.port_min = min;
  relay.port_max = max;
}

// turnpike pairs relay.external_addresses 1:1 with relay.addresses. coturn maps PRIVATE to
// PUBLIC (external-ip=PUBLIC/PRIVATE), or advertises one IP for every relay address
// (external-ip=IP). Relay addresses without a mapping are paired with themselves.
void buildExternal(const CoturnSettings& settings, RelayConfig& relay, Messages& messages) {
  std::vector<IpAddress>& addresses = relay.addresses;
  std::string source;  // where the relay addresses came from when relay-ip is not set
  if (addresses.empty()) {
    // Without relay-ip coturn relays from the address the client reached: the listening-ip
    // addresses, or else the host's own addresses, which the PRIVATE parts name.
    source = "listening-ip";
    for (const auto& listening : settings.listening_ips) {
      if (!isWildcard(listening.value)) {
        appendUnique(addresses, listening.value);
      }
    }
    if (addresses.empty()) {
      source = "the private addresses of external-ip";
      for (const ExternalIp& external : settings.external_ips) {
        if (external.private_address) {
          appendUnique(addresses, *external.private_address);
        }
      }
    }
  }
  std::vector<IpAddress> advertised = addresses;
  std::vector<bool> mapped(addresses.size(), false);
  for (const ExternalIp& external : settings.external_ips) {
    if (external.private_address) {
      const auto found = std::ranges::find(addresses, *external.private_address);
      if (found == addresses.end()) {
        messages.warn(external.line, "external-ip",
                      external.private_address->toString() +
                          " is not a relay address (relay-ip, listening-ip); not carried over");
        continue;
      }
      const auto index = static_cast<std::size_t>(found - addresses.begin());
      advertised[index] = external.public_address;
      mapped[index] = true;
    }
  }
  for (const ExternalIp& external : settings.external_ips) {
    if (external.private_address) {
      continue;
    }
    bool used = false;
    for (std::size_t i = 0; i < addresses.size(); ++i) {
      if (!mapped[i] && addresses[i].family() == external.public_address.family()) {
        advertised[i] = external.public_address;
        mapped[i] = used = true;
      }
    }
    if (!used) {
      messages.warn(external.line, "external-ip",
                    "not carried over: turnpike advertises an external address in place of a relay "
                    "address it knows, and there is no " +
                        std::string(external.public_address.isV4() ? "IPv4" : "IPv6") +
                        " relay address; write external-ip=PUBLIC/PRIVATE or add relay-ip=PRIVATE");
    }
  }
  if (std::ranges::find(mapped, true) == mapped.end()) {
    if (!source.empty()) {
      addresses.clear();  // only taken to pair with external addresses
    }
    return;
  }
  relay.external_addresses = std::move(advertised);
  if (!source.empty()) {
    messages.note(settings.external_ips.front().line, "external-ip",
                  "relay-ip is not set; turnpike pairs relay.external_addresses with "
                  "relay.addresses, which are taken from " +
                      source);
  }
}

void buildRelay(const CoturnSettings& settings, RelayConfig& relay, Messages& messages) {
  for (const auto& address : settings.relay_ips) {
    if (isWildcard(address.value)) {
      messages.warn(address.line, "relay-ip",
                    "a wildcard address cannot be advertised to clients; give the interface's "
                    "address; ignored");
      continue;
    }
    appendUnique(relay.addresses, address.value);
  }
  if (!settings.external_ips.empty()) {
    buildExternal(settings, relay, messages);
  }
  if (settings.min_port || settings.max_port) {
    buildPortRange(settings, relay, messages);
  }
}

// ---- Credentials ----

void buildUsers(const CoturnSettings& settings, AuthConfig& auth, Messages& messages) {
  for (const auto& [value, line] : settings.users) {
    const std::size_t colon = value.find(':');
    const std::string name = value.substr(0, colon);
    if (settings.use_auth_secret) {
      messages.warn(line, "user",
                    "user " + name +
                        " is not carried over: coturn ignores user= when use-auth-secret or "
                        "static-auth-secret is set");
      continue;
    }
    std::string_view password;
    if (colon != std::string::npos) {
      password = std::string_view(value).substr(colon + 1);
      password.remove_prefix(std::min(password.find_first_not_of(" \t"), password.size()));
    }
    if (name.empty() || password.empty()) {
      messages.warn(line, "user", "not NAME:PASSWORD; coturn rejects it too; ignored");
      continue;
    }
    if (password.starts_with("0x")) {
      messages.warn(line, "user",
                    "user " + name +
                        " has a key (0x...), not a password; turnpike needs the password in "
                        "auth.users; not carried over");
      continue;
    }
    if (name.size() > kMaxUsernameBytes || !isValidUtf8(name) || !isValidUtf8(password)) {
      messages.warn(line, "user",
                    "user " + name +
                        ": the name is over 509 bytes, or the name or password is not valid "
                        "UTF-8; not carried over");
      continue;
    }
    if (auth.users.contains(name)) {
      messages.note(line, "user", "user " + name + " is set again; the last password wins");
    }
    auth.users[name] = std::string(password);
  }
}

void buildAuth(const CoturnSettings& settings, AuthConfig& auth, Messages& messages) {
  for (const auto& secret : settings.secrets) {
    if (!isValidUtf8(secret.value)) {
      messages.warn(secret.line, "static-auth-secret",
                    "the secret is not valid UTF-8, which YAML cannot carry; not carried over");
      continue;
    }
    auth.secrets.push_back(secret.value);
  }
  if (settings.use_auth_secret && settings.secrets.empty()) {
    messages.warn(settings.use_auth_secret->line, "use-auth-secret",
                  "no static-auth-secret: coturn read the secrets from its database; put them in "
                  "auth.secrets");
  }
  buildUsers(settings, auth, messages);
  const bool anonymous = isOn(settings.no_auth);
  if (anonymous) {
    messages.warn(settings.no_auth->line, "no-auth",
                  "not carried over: turnpike has no anonymous TURN; every Allocate needs a user "
                  "(auth.users) or a REST credential (auth.secrets)");
  }
  const bool no_credentials = auth.users.empty() && auth.secrets.empty();
  if (!anonymous && settings.users.empty() && !settings.use_auth_secret && !settings.lt_cred_mech &&
      !settings.user_database_line) {
    messages.warn(0, "auth",
                  "no user, secret or database is configured, so coturn allowed anonymous TURN; "
                  "turnpike answers every Allocate with 401 until auth.users or auth.secrets is "
                  "set");
  }
  if (settings.stun_only_line) {
    if (no_credentials) {
      messages.note(*settings.stun_only_line, "stun-only",
                    "without credentials turnpike answers every Allocate with 401, so it serves "
                    "STUN only, as here");
    } else {
      messages.warn(*settings.stun_only_line, "stun-only",
                    "not carried over: turnpike serves TURN to clients with credentials; leave "
                    "auth.users and auth.secrets empty to serve STUN only");
    }
  }
}

// ---- Peers ----

// What coturn refuses before it looks at allowed-peer-ip (good_peer_addr()): the zero address,
// loopback unless allow-loopback-peers, multicast with no-multicast-peers.
std::vector<AddressRange> refusedByCoturn(const CoturnSettings& settings) {
  std::vector<AddressRange> refused{rangeOf("0.0.0.0/32"), rangeOf("::/128")};
  if (!isOn(settings.allow_loopback_peers)) {
    refused.push_back(rangeOf("127.0.0.0/8"));
    refused.push_back(rangeOf("::1/128"));
  }
  if (settings.no_multicast_peers) {
    refused.push_back(rangeOf("224.0.0.0/4"));
    refused.push_back(rangeOf("ff00::/8"));
  }
  return refused;
}

void appendPrefixes(const std::vector<AddressRange>& ranges, std::vector<Cidr>& out) {
  for (const AddressRange& range : ranges) {
    for (const AddressPrefix& prefix : toPrefixes(range)) {
      appendUnique(out, prefix);
    }
  }
}

// turnpike denies private and other special-purpose peers by default; coturn did not.
void notePrivatePeers(const std::vector<AddressRange>& allowed,
                      const std::vector<PeerRange>& denied, Messages& messages) {
  std::vector<AddressRange> decided = allowed;
  for (const PeerRange& entry : denied) {
    decided.push_back(entry.range);
  }
  for (const std::string_view prefix : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}) {
    if (!subtract(rangeOf(prefix), decided).empty()) {
      messages.warn(0, "peers",
                    "turnpike denies peers in private, loopback, link-local, CGNAT and other "
                    "special-purpose ranges by default (README: Peer policy), while coturn "
                    "relayed to any address not in denied-peer-ip; add the private networks "
                    "your peers use to peers.allow");
      return;
    }
  }
}

void buildPeers(const CoturnSettings& settings, PeersConfig& peers, Messages& messages) {
  const std::vector<AddressRange> refused = refusedByCoturn(settings);
  std::vector<AddressRange> allowed;
  for (const PeerRange& entry : settings.allowed_peers) {
    const std::vector<AddressRange> left = subtract(entry.range, refused);
    if (left != std::vector<AddressRange>{entry.range}) {
      messages.note(entry.line, "allowed-peer-ip",
                    "addresses coturn refuses whatever allowed-peer-ip says (0.0.0.0, ::, "
                    "loopback without allow-loopback-peers, multicast with no-multicast-peers) "
                    "are left out of peers.allow");
    }
    allowed.insert(allowed.end(), left.begin(), left.end());
    appendPrefixes(left, peers.allow);
  }
  if (isOn(settings.allow_loopback_peers)) {
    appendPrefixes({rangeOf("127.0.0.0/8"), rangeOf("::1/128")}, peers.allow);
    allowed.push_back(rangeOf("127.0.0.0/8"));
    messages.warn(settings.allow_loopback_peers->line, "allow-loopback-peers",
                  "carried over as peers.allow 127.0.0.0/8 and ::1/128: clients can then reach "
                  "services on the server's loopback; use it for tests only");
  }
  // coturn lets allowed-peer-ip win over denied-peer-ip; in turnpike peers.deny wins, so the
  // allowed addresses are cut out of the denied ranges.
  for (const PeerRange& entry : settings.denied_peers) {
    const std::vector<AddressRange> left = subtract(entry.range, allowed);
    if (left.empty()) {
      messages.note(entry.line, "denied-peer-ip",
                    "every address in " + entry.text +
                        " is also allowed (allowed-peer-ip wins in coturn); nothing to deny");
    } else if (left != std::vector<AddressRange>{entry.range}) {
      messages.note(entry.line, "denied-peer-ip",
                    "the allowed-peer-ip addresses are cut out of " + entry.text +
                        ", because peers.deny wins over peers.allow in turnpike");
    }
    appendPrefixes(left, peers.deny);
  }
  notePrivatePeers(allowed, settings.denied_peers, messages);
}

// ---- Everything else ----

void buildRealm(const CoturnSettings& settings, ServerConfig& config, Messages& messages) {
  if (settings.software && !settings.software->value) {
    config.software.clear();  // no-software-attribute: no SOFTWARE attribute
  }
  if (!settings.realm) {
    return;
  }
  const std::string& realm = settings.realm->value;
  const auto chars = static_cast<std::size_t>(std::ranges::count_if(
      realm, [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
  if (realm.empty() || !isValidUtf8(realm) || chars > kMaxRealmChars ||
      realm.size() > kMaxRealmBytes) {
    messages.warn(settings.realm->line, "realm",
                  "a REALM must be non-empty UTF-8, fewer than 128 characters (RFC 8489); "
                  "turnpike's default is kept");
    return;
  }
  config.realm = realm;
}

void buildOperations(const CoturnSettings& settings, ServerConfig& config, Messages& messages) {
  if (settings.total_quota) {
    config.limits.allocations_total = settings.total_quota->value;
  }
  if (settings.user_quota) {
    config.limits.allocations_per_user = settings.user_quota->value;
  }
  if (settings.max_bps) {
    config.limits.bandwidth_per_allocation_bps = std::uint64_t{settings.max_bps->value} * 16;
  }
  if (settings.max_allocate_lifetime) {
    config.allocation.max_lifetime = settings.max_allocate_lifetime->value;
    config.allocation.default_lifetime =
        std::min(kCoturnDefaultLifetime, config.allocation.max_lifetime);
  }
  if (isOn(settings.prometheus)) {
    if (settings.prometheus_port) {
      config.http.port = settings.prometheus_port->value;
    }
    if (settings.prometheus_address) {
      config.http.address = settings.prometheus_address->value;
    }
  } else {
    for (const auto& [line, option] :
         {std::pair{settings.prometheus_port ? settings.prometheus_port->line : 0,
                    "prometheus-port"},
          {settings.prometheus_address ? settings.prometheus_address->line : 0,
           "prometheus-address"}}) {
      if (line != 0) {
        messages.note(line, option,
                      "ignored: prometheus is off; turnpike's HTTP endpoint keeps its defaults");
      }
    }
  }
  if (isOn(settings.extra_verbose)) {
    config.log.level = LogLevel::kDebug;
  }
  config.mobility = isOn(settings.mobility);
  if (settings.relay_threads) {
    config.threads = settings.relay_threads->value;
  }
  for (const auto& alternate : settings.alternate_servers) {
    config.cluster.alternate_servers.push_back(alternate.value);
    messages.warn(alternate.line, "alternate-server",
                  "carried over to cluster.alternate_servers, with another meaning: coturn "
                  "redirected every Allocate to these in turn; turnpike redirects only while "
                  "draining (SIGTERM) or past cluster.redirect_above, which you set");
  }
}

}  // namespace

ServerConfig buildConfig(const CoturnSettings& settings, Messages& messages) {
  ServerConfig config = defaultServerConfig();
  buildRealm(settings, config, messages);
  buildListeners(settings, config, messages);
  buildRelay(settings, config.relay, messages);
  buildAuth(settings, config.auth, messages);
  buildPeers(settings, config.peers, messages);
  buildOperations(settings, config, messages);
  if (auto valid = validate(config); !valid) {
    messages.warn(0, "(internal)", "the converted config is invalid: " + toString(valid.error()));
  }
  return config;
}

}  // namespace turnpike::server::migrate

// YAML -> ServerConfig. yaml-cpp throws; every exception is caught in the two public loaders and
// turned into a ConfigError, so nothing escapes this file (style.md section 6).
#include "server/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <system_error>
#include <utility>

#include "server/config/config_detail.hpp"

namespace turnpike::server::config_detail {

std::string childPath(std::string_view path, std::string_view key) {
  std::string result(path);
  if (!result.empty()) {
    result += '.';
  }
  result += key;
  return result;
}

std::string indexPath(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

namespace {

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

constexpr std::array<EnumName<Transport>, 5> kTransports{{{"udp", Transport::kUdp},
                                                          {"tcp", Transport::kTcp},
                                                          {"tls", Transport::kTls},
                                                          {"auto", Transport::kAuto},
                                                          {"dtls", Transport::kDtls}}};
// tls_passthrough.proxy_protocol: the header sent to backends.
constexpr std::array<EnumName<protocol::ProxyVersion>, 3> kProxyVersions{
    {{"off", protocol::ProxyVersion::kNone},
     {"v1", protocol::ProxyVersion::kV1},
     {"v2", protocol::ProxyVersion::kV2}}};
constexpr std::array<EnumName<bool>, 2> kBooleans{{{"true", true}, {"false", false}}};
// transport: auto is for the port firewalls leave open.
constexpr std::uint16_t kHttpsPort = 443;
constexpr std::array<EnumName<LogLevel>, 4> kLogLevels{{{"debug", LogLevel::kDebug},
                                                        {"info", LogLevel::kInfo},
                                                        {"warn", LogLevel::kWarn},
                                                        {"error", LogLevel::kError}}};
constexpr std::array<EnumName<LogFormat>, 2> kLogFormats{
    {{"text", LogFormat::kText}, {"json", LogFormat::kJson}}};
constexpr std::array<EnumName<FastPath>, 2> kFastPaths{
    {{"off", FastPath::kOff}, {"ebpf", FastPath::kEbpf}}};

// ---- Error text ----

std::string location(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (node.IsNull() || mark.is_null()) {
    return "";
  }
  return " (line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ")";
}

// What a node is, for "got ..." in messages. Scalars are quoted and shortened.
std::string describe(const YAML::Node& node) {
  if (node.IsSequence()) {
    return "a list of " + std::to_string(node.size()) + " item(s)";
  }
  if (node.IsMap()) {
    return "a map";
  }
  if (!node.IsScalar()) {
    return "an empty value";
  }
  std::string text = node.Scalar();
  if (text.size() > kMaxQuotedValue) {
    text = text.substr(0, kMaxQuotedValue) + "...";
  }
  const bool quoted = node.Tag() == "!";
  return (quoted ? "the quoted string \"" : "\"") + text + "\"";
}

std::unexpected<ConfigError> typeError(const YAML::Node& node, std::string path,
                                       std::string_view expected) {
  return fail(std::move(path),
              "must be " + std::string(expected) + ", got " + describe(node) + location(node));
}

// ---- Scalar readers ----

Result<std::string> readString(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    return typeError(node, path, "a string");
  }
  return node.Scalar();
}

// Plain decimal integers only: "1.5", "0x10", a quoted "5" and a map are all type errors.
Result<std::int64_t> readInt(const YAML::Node& node, const std::string& path, std::int64_t min,
                             std::int64_t max) {
  const auto error = [&] {
    return typeError(node, path,
                     "an integer between " + std::to_string(min) + " and " + std::to_string(max));
  };
  const bool plain = node.Tag() == "?" || node.Tag() == "tag:yaml.org,2002:int";
  if (!node.IsScalar() || !plain) {
    return error();
  }
  const std::string& text = node.Scalar();
  const char* end = text.data() + text.size();
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || value < min || value > max) {
    return error();
  }
  return value;
}

Result<IpAddress> readAddress(const YAML::Node& node, const std::string& path) {
  const std::optional<IpAddress> address =
      node.IsScalar() ? IpAddress::parse(node.Scalar()) : std::nullopt;
  if (!address) {
    return typeError(node, path, "an IPv4 or IPv6 address literal");
  }
  return *address;
}

// "192.0.2.1:3478" or "[2001:db8::1]:3478": an address literal with a port.
Result<protocol::Endpoint> readEndpoint(const YAML::Node& node, const std::string& path) {
  const std::optional<protocol::Endpoint> endpoint =
      node.IsScalar() ? protocol::Endpoint::parse(node.Scalar()) : std::nullopt;
  if (!endpoint) {
    return typeError(node, path, "ADDRESS:PORT, e.g. 192.0.2.1:3478 or [2001:db8::1]:3478");
  }
  return *endpoint;
}

// "10.0.0.0/8", "::1/128", or a bare address (a host prefix). Host bits are masked off.
Result<Cidr> readCidr(const YAML::Node& node, const std::string& path) {
  const std::optional<Cidr> cidr =
      node.IsScalar() ? protocol::AddressPrefix::parse(node.Scalar()) : std::nullopt;
  if (!cidr) {
    return typeError(node, path, "an address or address/prefix (CIDR)");
  }
  return *cidr;
}

template <typename E, std::size_t N>
Result<E> readEnum(const YAML::Node& node, const std::string& path,
                   const std::array<EnumName<E>, N>& names) {
  std::string expected = "one of";
  for (const auto& entry : names) {
    if (node.IsScalar() && node.Scalar() == entry.name) {
      return entry.value;
    }
    expected += (&entry == names.data() ? " " : ", ") + std::string(entry.name);
  }
  return typeError(node, path, expected);
}

// ---- Structure: maps with a fixed set of keys, and lists ----

using FieldReader = std::function<Status(const YAML::Node& value, const std::string& path)>;

struct Field {
  std::string_view name;
  FieldReader read;
};

template <typename T, typename U>
Status assignTo(Result<T> result, U& out) {
  if (!result) {
    return std::unexpected(std::move(result.error()));
  }
  out = static_cast<U>(std::move(*result));
  return {};
}

std::string keyNames(std::initializer_list<Field> fields) {
  std::string names;
  for (const Field& field : fields) {
    names += (names.empty() ? "" : ", ") + std::string(field.name);
  }
  return names;
}

// Checks that `node` is a map whose keys are all known and unique, then reads each value.
Status readMap(const YAML::Node& node, const std::string& path,
               std::initializer_list<Field> fields) {
  if (!node.IsMap()) {
    return typeError(node, path, "a map");
  }
  std::set<std::string, std::less<>> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return fail(path.empty() ? "(root)" : path,
                  "keys must be strings, got " + describe(entry.first) + location(entry.first));
    }
    const std::string& name = entry.first.Scalar();
    const std::string key_path = childPath(path, name);
    const auto* field = std::ranges::find(fields, name, &Field::name);
    if (field == fields.end()) {
      return fail(key_path,
                  "unknown key" + location(entry.first) + "; expected one of: " + keyNames(fields));
    }
    if (!seen.insert(name).second) {
      return fail(key_path, "is set more than once" + location(entry.first));
    }
    if (Status status = field->read(entry.second, key_path); !status) {
      return status;
    }
  }
  return {};
}

Status readList(const YAML::Node& node, const std::string& path, const FieldReader& read_item) {
  if (!node.IsSequence()) {
    return typeError(node, path, "a list");
  }
  std::size_t index = 0;
  for (const auto& item : node) {
    if (Status status = read_item(item, indexPath(path, index++)); !status) {
      return status;
    }
  }
  return {};
}

// ---- Field readers for readMap ----

FieldReader stringField(std::string& out) {
  return [&out](const YAML::Node& node, const std::string& path) {
    return assignTo(readString(node, path), out);
  };
}

template <typename T>
FieldReader intField(T& out, std::int64_t min, std::int64_t max) {
  return [&out, min, max](const YAML::Node& node, const std::string& path) {
    return assignTo(readInt(node, path, min, max), out);
  };
}

FieldReader addressField(IpAddress& out) {
  return [&out](const YAML::Node& node, const std::string& path) {
    return assignTo(readAddress(node, path), out);
  };
}

template <typename E, std::size_t N>
FieldReader enumField(const std::array<EnumName<E>, N>& names, E& out) {
  return [&names, &out](const YAML::Node& node, const std::string& path) {
    return assignTo(readEnum(node, path, names), out);
  };
}

// A list whose items are read by `read_item` (e.g. readAddress) and appended to `out`.
template <typename T>
FieldReader listField(Result<T> (*read_item)(const YAML::Node&, const std::string&),
                      std::vector<T>& out) {
  return [read_item, &out](const YAML::Node& node, const std::string& path) {
    out.clear();
    return readList(node, path, [&](const YAML::Node& item, const std::string& item_path) {
      return assignTo(read_item(item, item_path), out.emplace_back());
    });
  };
}

template <typename T>
FieldReader sectionField(Status (*read_section)(const YAML::Node&, const std::string&, T&),
                         T& out) {
  return [read_section, &out](const YAML::Node& node, const std::string& path) {
    return read_section(node, path, out);
  };
}

// ---- Sections ----

// tls_passthrough.sni: host name: ADDRESS:PORT. The names are data, so readMap does not apply.
Status readSniRoutes(const YAML::Node& node, const std::string& path,
                     std::map<std::string, protocol::Endpoint, std::less<>>& out) {
  if (!node.IsMap()) {
    return typeError(node, path, "a map of host name: ADDRESS:PORT");
  }
  out.clear();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return fail(
          path, "host names must be strings, got " + describe(entry.first) + location(entry.first));
    }
    const std::string name_path = childPath(path, entry.first.Scalar());
    // Lowercased as the ClientHello's server_name is, so the two compare.
    std::optional<std::string> name = protocol::normalizeHostName(entry.first.Scalar());
    if (!name) {
      return fail(name_path, "is not a host name (letters, digits, '-', '.', '_'; at most 255)" +
                                 location(entry.first));
    }
    Result<protocol::Endpoint> backend = readEndpoint(entry.second, name_path);
    if (!backend) {
      return std::unexpected(std::move(backend.error()));
    }
    if (!out.emplace(std::move(*name), *backend).second) {
      return fail(name_path,
                  "is set more than once (names are case-insensitive)" + location(entry.first));
    }
  }
  return {};
}

Status readPassthrough(const YAML::Node& node, const std::string& path,
                       protocol::PassthroughRoutes& out) {
  Status status = readMap(node, path,
                          {{"default",
                            [&out](const YAML::Node& value, const std::string& key) {
                              Result<protocol::Endpoint> backend = readEndpoint(value, key);
                              if (!backend) {
                                return Status(std::unexpected(std::move(backend.error())));
                              }
                              out.default_backend = *backend;
                              return Status{};
                            }},
                           {"proxy_protocol", enumField(kProxyVersions, out.send_proxy)},
                           {"sni", [&out](const YAML::Node& value, const std::string& key) {
                              return readSniRoutes(value, key, out.sni);
                            }}});
  if (status && !out.enabled()) {
    return fail(path, "needs a default backend or at least one sni entry" + location(node));
  }
  return status;
}

Status readListener(const YAML::Node& node, const std::string& path, ListenerConfig& out) {
  out.port = 0;  // Not a valid input (the range starts at 1), so 0 means "use the default".
  Status status =
      readMap(node, path,
              {{"transport", enumField(kTransports, out.transport)},
               {"address", addressField(out.address)},
               {"port", intField(out.port, 1, kMaxPort)},
               {"proxy_protocol", enumField(kBooleans, out.proxy_protocol)},
               {"tls_passthrough", sectionField(readPassthrough, out.tls_passthrough)}});
  if (!status) {
    return status;
  }
  if (!node["transport"].IsDefined()) {
    return fail(childPath(path, "transport"),
                "is required: udp, tcp, tls, auto or dtls" + location(node));
  }
  if (out.port == 0) {
    // RFC 7350 section 4.6: turns over DTLS uses 5349 too.
    out.port = out.transport == Transport::kTls || out.transport == Transport::kDtls ? kStunTlsPort
               : out.transport == Transport::kAuto                                   ? kHttpsPort
                                                                                     : kStunPort;
  }
  return {};
}

Status readListeners(const YAML::Node& node, const std::string& path,
                     std::vector<ListenerConfig>& out) {
  out.clear();
  return readList(node, path, [&](const YAML::Node& item, const std::string& item_path) {
    return readListener(item, item_path, out.emplace_back());
  });
}

Status readTls(const YAML::Node& node, const std::string& path, TlsConfig& out) {
  return readMap(node, path,
                 {{"certificate", stringField(out.certificate)},
                  {"private_key", stringField(out.private_key)},
                  {"ciphers", stringField(out.ciphers)},
                  {"ciphersuites", stringField(out.ciphersuites)},
                  {"ticket_key_rotation", intField(out.ticket_key_rotation, 1, kMaxLifetime)}});
}

Status readPortRange(const YAML::Node& node, const std::string& path, RelayConfig& out) {
  std::vector<std::uint16_t> ports;
  Status status = readList(node, path, [&](const YAML::Node& item, const std::string& item_path) {
    return assignTo(readInt(item, item_path, kMinRelayPort, kMaxPort), ports.emplace_back());
  });
  if (!status) {
    return status;
  }
  if (ports.size() != 2) {
    return typeError(node, path, "a list of two ports [min, max]");
  }
  out.port_min = ports[0];
  out.port_max = ports[1];
  return {};
}

Status readRelay(const YAML::Node& node, const std::string& path, RelayConfig& out) {
  return readMap(node, path,
                 {{"addresses", listField(readAddress, out.addresses)},
                  {"external_addresses", listField(readAddress, out.external_addresses)},
                  {"port_range", sectionField(readPortRange, out)}});
}

Status readAllocation(const YAML::Node& node, const std::string& path, AllocationConfig& out) {
  return readMap(node, path,
                 {{"default_lifetime", intField(out.default_lifetime, 1, kMaxLifetime)},
                  {"max_lifetime", intField(out.max_lifetime, 1, kMaxLifetime)}});
}

// user: password pairs. The keys are data, not schema, so readMap does not apply.
Status readUsers(const YAML::Node& node, const std::string& path,
                 std::map<std::string, std::string>& out) {
  if (!node.IsMap()) {
    return typeError(node, path, "a map of user: password");
  }
  out.clear();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return fail(
          path, "user names must be strings, got " + describe(entry.first) + location(entry.first));
    }
    const std::string user_path = childPath(path, entry.first.Scalar());
    Result<std::string> password = readString(entry.second, user_path);
    if (!password) {
      return std::unexpected(std::move(password.error()));
    }
    if (!out.emplace(entry.first.Scalar(), std::move(*password)).second) {
      return fail(user_path, "is set more than once" + location(entry.first));
    }
  }
  return {};
}

Status readAuth(const YAML::Node& node, const std::string& path, AuthConfig& out) {
  return readMap(node, path,
                 {{"secrets", listField(readString, out.secrets)},
                  {"users", sectionField(readUsers, out.users)},
                  {"nonce_secret", [&out](const YAML::Node& value, const std::string& key) {
                     return assignTo(readString(value, key), out.nonce_secret.emplace());
                   }}});
}

Status readPeers(const YAML::Node& node, const std::string& path, PeersConfig& out) {
  return readMap(
      node, path,
      {{"allow", listField(readCidr, out.allow)}, {"deny", listField(readCidr, out.deny)}});
}

Status readLimits(const YAML::Node& node, const std::string& path, LimitsConfig& out) {
  constexpr std::int64_t kMaxPerAllocation = 4096;
  constexpr std::int64_t kMaxBitsPerSecond = std::int64_t{1} << 40;  // ~1 Tbit/s
  constexpr std::int64_t kMaxTimeout = 3600;
  return readMap(
      node, path,
      {{"allocations_total", intField(out.allocations_total, 0, kMaxUint32)},
       {"allocations_per_user", intField(out.allocations_per_user, 0, kMaxUint32)},
       {"allocations_per_client_ip", intField(out.allocations_per_client_ip, 0, kMaxUint32)},
       {"permissions_per_allocation",
        intField(out.permissions_per_allocation, 1, kMaxPerAllocation)},
       {"channels_per_allocation", intField(out.channels_per_allocation, 1, kMaxPerAllocation)},
       {"tcp_connections_per_allocation",
        intField(out.tcp_connections_per_allocation, 1, kMaxPerAllocation)},
       {"bandwidth_per_user_bps", intField(out.bandwidth_per_user_bps, 0, kMaxBitsPerSecond)},
       {"bandwidth_per_allocation_bps",
        intField(out.bandwidth_per_allocation_bps, 0, kMaxBitsPerSecond)},
       {"unauthenticated_per_ip_per_second",
        intField(out.unauthenticated_per_ip_per_second, 0, kMaxUint32)},
       {"unauthenticated_per_ip_burst", intField(out.unauthenticated_per_ip_burst, 1, kMaxUint32)},
       {"connections_total", intField(out.connections_total, 0, kMaxUint32)},
       {"connections_per_ip", intField(out.connections_per_ip, 0, kMaxUint32)},
       {"connection_idle_timeout", intField(out.connection_idle_timeout, 1, kMaxTimeout)},
       {"tls_handshake_timeout", intField(out.tls_handshake_timeout, 1, kMaxTimeout)},
       {"dtls_half_open", intField(out.dtls_half_open, 1, kMaxUint32)}});
}

Status readApiRateLimit(const YAML::Node& node, const std::string& path, ApiRateLimit& out) {
  return readMap(node, path,
                 {{"per_second", intField(out.per_second, 0, kMaxApiRate)},
                  {"burst", intField(out.burst, 1, kMaxApiRate)}});
}

Status readHttp(const YAML::Node& node, const std::string& path, HttpConfig& out) {
  return readMap(node, path,
                 {{"address", addressField(out.address)},
                  {"port", intField(out.port, 0, kMaxPort)},
                  {"api_keys", listField(readString, out.api_keys)},
                  {"api_max_ttl", intField(out.api_max_ttl, 1, kMaxApiTtl)},
                  {"api_rate_limit", sectionField(readApiRateLimit, out.api_rate_limit)},
                  {"selftest", enumField(kBooleans, out.selftest)}});
}

Status readDrain(const YAML::Node& node, const std::string& path, DrainConfig& out) {
  return readMap(node, path,
                 {{"timeout", intField(out.timeout, 0, kMaxLifetime)},
                  {"alternate_servers", listField(readEndpoint, out.alternate_servers)}});
}

Status readRedirectAbove(const YAML::Node& node, const std::string& path, ClusterConfig& out) {
  constexpr std::int64_t kMaxBitsPerSecond = std::int64_t{1} << 40;
  return readMap(node, path,
                 {{"allocations", intField(out.redirect_above_allocations, 0, kMaxUint32)},
                  {"relayed_bps", intField(out.redirect_above_relayed_bps, 0, kMaxBitsPerSecond)}});
}

Status readCluster(const YAML::Node& node, const std::string& path, ClusterConfig& out) {
  return readMap(node, path,
                 {{"alternate_servers", listField(readEndpoint, out.alternate_servers)},
                  {"alternate_domain", stringField(out.alternate_domain)},
                  {"redirect_above", sectionField(readRedirectAbove, out)}});
}

Status readNatDiscovery(const YAML::Node& node, const std::string& path, NatDiscoveryConfig& out) {
  return readMap(node, path,
                 {{"enabled", enumField(kBooleans, out.enabled)},
                  {"alternate_address", addressField(out.alternate_address)},
                  {"alternate_port", intField(out.alternate_port, 1, kMaxPort)}});
}

Status readLog(const YAML::Node& node, const std::string& path, LogConfig& out) {
  return readMap(node, path,
                 {{"level", enumField(kLogLevels, out.level)},
                  {"format", enumField(kLogFormats, out.format)}});
}

Status readRoot(const YAML::Node& root, ServerConfig& out) {
  return readMap(root, "",
                 {{"realm", stringField(out.realm)},
                  {"software", stringField(out.software)},
                  {"listeners", sectionField(readListeners, out.listeners)},
                  {"tls", sectionField(readTls, out.tls)},
                  {"relay", sectionField(readRelay, out.relay)},
                  {"allocation", sectionField(readAllocation, out.allocation)},
                  {"auth", sectionField(readAuth, out.auth)},
                  {"peers", sectionField(readPeers, out.peers)},
                  {"limits", sectionField(readLimits, out.limits)},
                  {"http", sectionField(readHttp, out.http)},
                  {"drain", sectionField(readDrain, out.drain)},
                  {"cluster", sectionField(readCluster, out.cluster)},
                  {"nat_discovery", sectionField(readNatDiscovery, out.nat_discovery)},
                  {"log", sectionField(readLog, out.log)},
                  {"threads", intField(out.threads, 0, kMaxThreads)},
                  {"fast_path", enumField(kFastPaths, out.fast_path)},
                  {"mobility", enumField(kBooleans, out.mobility)},
                  {"tcp_allocations", enumField(kBooleans, out.tcp_allocations)},
                  {"public_uris", listField(readString, out.public_uris)}});
}

// The values the schema documents for absent keys; ServerConfig{} leaves listeners empty.
ServerConfig defaultConfig() {
  ServerConfig config;
  config.listeners = {
      ListenerConfig{Transport::kUdp, IpAddress(), kStunPort},
      ListenerConfig{Transport::kTcp, IpAddress(), kStunPort},
  };
  config.http.address = IpAddress::v4({127, 0, 0, 1});
  return config;
}

// May throw (yaml-cpp); loadConfigText catches.
Result<ServerConfig> parseText(std::string_view yaml_text) {
  const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml_text));
  if (documents.size() > 1) {
    return fail("(yaml)", "expected one YAML document, found " + std::to_string(documents.size()));
  }
  ServerConfig config = defaultConfig();
  // No document, or one that is only "~" or comments: all defaults.
  if (!documents.empty() && !documents.front().IsNull()) {
    const YAML::Node& root = documents.front();
    if (!root.IsMap()) {
      return fail("(root)", "the configuration must be a map of settings (key: value), got " +
                                describe(root));
    }
    if (Status status = readRoot(root, config); !status) {
      return std::unexpected(std::move(status.error()));
    }
  }
  if (Status status = validate(config); !status) {
    return std::unexpected(std::move(status.error()));
  }
  return config;
}

Result<std::string> readFile(const std::string& path) {
  auto text = readTextFile(path);
  if (!text) {
    return fail("(file)", "cannot read " + path + ": " + text.error());
  }
  return std::move(*text);
}

}  // namespace
}  // namespace turnpike::server::config_detail

namespace turnpike::server {

using config_detail::EnumName;
using config_detail::fail;
using config_detail::kMaxFileBytes;
using config_detail::kTransports;
using config_detail::parseText;
using config_detail::readFile;
using config_detail::Result;

std::string_view toString(Transport transport) {
  const auto* entry = std::ranges::find(kTransports, transport, &EnumName<Transport>::value);
  return entry == kTransports.end() ? "?" : entry->name;
}

std::string toString(const ConfigError& error) {
  if (error.key.empty()) {
    return "config: " + error.message;
  }
  return "config: " + error.key + ": " + error.message;
}

std::expected<std::string, std::string> readTextFile(const std::string& path) {
  struct FileCloser {
    void operator()(std::FILE* file) const { static_cast<void>(std::fclose(file)); }
  };
  errno = 0;
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    return std::unexpected(std::system_category().message(errno));
  }
  std::string text;
  std::array<char, 4096> chunk{};
  std::size_t count = 0;
  do {
    count = std::fread(chunk.data(), 1, chunk.size(), file.get());
    text.append(chunk.data(), count);
    if (text.size() > kMaxFileBytes) {
      return std::unexpected("file is larger than 16 MiB");
    }
  } while (count == chunk.size());
  if (std::ferror(file.get()) != 0) {
    return std::unexpected(std::system_category().message(errno));
  }
  return text;
}

std::expected<ServerConfig, ConfigError> loadConfigText(std::string_view yaml_text) {
  try {
    return parseText(yaml_text);
  } catch (const YAML::Exception& e) {
    return fail("(yaml)", e.what());  // yaml-cpp's text includes the line and column.
  } catch (const std::exception& e) {
    return fail("(internal)", std::string("unexpected error while loading: ") + e.what());
  } catch (...) {
    return fail("(internal)", "unexpected error while loading");
  }
}

std::expected<ServerConfig, ConfigError> loadConfigFile(const std::string& path) {
  try {
    Result<std::string> text = readFile(path);
    if (!text) {
      return std::unexpected(std::move(text.error()));
    }
    return loadConfigText(*text);
  } catch (const std::exception& e) {
    return fail("(file)", "cannot read " + path + ": " + e.what());
  } catch (...) {
    return fail("(file)", "cannot read " + path);
  }
}

}  // namespace turnpike::server

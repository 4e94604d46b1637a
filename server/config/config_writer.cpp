#include "server/config/config_writer.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>
#include <vector>

namespace turnpike::server {
namespace {

using protocol::IpAddress;

constexpr std::array<std::string_view, 4> kLevelNames{"debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> kFormatNames{"text", "json"};

// IPv4 plain (10.0.0.1); IPv6 quoted, since a plain YAML value cannot end in ':' ("::").
std::string yamlAddress(const IpAddress& address) {
  return address.isV4() ? address.toString() : yamlQuote(address.toString());
}

std::string yamlPrefix(const Cidr& prefix) {
  return prefix.address.isV4() ? prefix.toString() : yamlQuote(prefix.toString());
}

template <typename T>
std::string flowList(const std::vector<T>& items, std::string (*format)(const T&)) {
  std::string text = "[";
  for (const T& item : items) {
    text += (text.size() > 1 ? ", " : "") + format(item);
  }
  return text + "]";
}

// A section: "name:" then its indented lines, written only if it has any.
class Section {
 public:
  void add(std::string_view key, const std::string& value) {
    body_.append("  ").append(key).append(": ").append(value).append("\n");
  }
  void addList(std::string_view key, const std::vector<std::string>& items) {
    body_.append("  ").append(key).append(":\n");
    for (const std::string& item : items) {
      body_.append("    - ").append(item).append("\n");
    }
  }
  void addMap(std::string_view key, const std::vector<std::pair<std::string, std::string>>& items) {
    body_.append("  ").append(key).append(":\n");
    for (const auto& [name, value] : items) {
      body_.append("    ").append(name).append(": ").append(value).append("\n");
    }
  }
  void writeTo(std::string& out, std::string_view name) const {
    if (!body_.empty()) {
      out.append(name).append(":\n").append(body_);
    }
  }

 private:
  std::string body_;
};

void writeListeners(const ServerConfig& config, const ServerConfig& defaults, std::string& out) {
  if (config.listeners == defaults.listeners) {
    return;
  }
  out += "listeners:\n";
  for (const ListenerConfig& listener : config.listeners) {
    out.append("  - {transport: ")
        .append(toString(listener.transport))
        .append(", address: ")
        .append(yamlAddress(listener.address))
        .append(", port: ")
        .append(std::to_string(listener.port))
        .append(listener.proxy_protocol ? ", proxy_protocol: true}\n" : "}\n");
  }
}

void writeRelay(const RelayConfig& relay, const RelayConfig& defaults, std::string& out) {
  Section section;
  if (!relay.addresses.empty()) {
    section.add("addresses", flowList(relay.addresses, yamlAddress));
  }
  if (!relay.external_addresses.empty()) {
    section.add("external_addresses", flowList(relay.external_addresses, yamlAddress));
  }
  if (relay.port_min != defaults.port_min || relay.port_max != defaults.port_max) {
    section.add("port_range", std::string("[")
                                  .append(std::to_string(relay.port_min))
                                  .append(", ")
                                  .append(std::to_string(relay.port_max))
                                  .append("]"));
  }
  section.writeTo(out, "relay");
}

void writeAuth(const AuthConfig& auth, std::string& out) {
  Section section;
  if (!auth.secrets.empty()) {
    std::vector<std::string> secrets;
    for (const std::string& secret : auth.secrets) {
      secrets.push_back(yamlQuote(secret));
    }
    section.addList("secrets", secrets);
  }
  if (!auth.users.empty()) {
    std::vector<std::pair<std::string, std::string>> users;
    for (const auto& [name, password] : auth.users) {
      users.emplace_back(yamlQuote(name), yamlQuote(password));
    }
    section.addMap("users", users);
  }
  section.writeTo(out, "auth");
}

void writePeers(const PeersConfig& peers, std::string& out) {
  Section section;
  for (const auto& [key, list] : {std::pair{"allow", &peers.allow}, {"deny", &peers.deny}}) {
    if (!list->empty()) {
      std::vector<std::string> items;
      for (const Cidr& prefix : *list) {
        items.push_back(yamlPrefix(prefix));
      }
      section.addList(key, items);
    }
  }
  section.writeTo(out, "peers");
}

void writeTls(const TlsConfig& config, const TlsConfig& defaults, std::string& out) {
  Section tls;
  if (!config.certificate.empty()) {
    tls.add("certificate", yamlQuote(config.certificate));
  }
  if (!config.private_key.empty()) {
    tls.add("private_key", yamlQuote(config.private_key));
  }
  if (config.ciphers != defaults.ciphers) {
    tls.add("ciphers", yamlQuote(config.ciphers));
  }
  if (config.ciphersuites != defaults.ciphersuites) {
    tls.add("ciphersuites", yamlQuote(config.ciphersuites));
  }
  if (config.ticket_key_rotation != defaults.ticket_key_rotation) {
    tls.add("ticket_key_rotation", std::to_string(config.ticket_key_rotation));
  }
  tls.writeTo(out, "tls");
}

void writeTail(const ServerConfig& config, const ServerConfig& defaults, std::string& out) {
  Section limits;
  if (config.limits.allocations_total != defaults.limits.allocations_total) {
    limits.add("allocations_total", std::to_string(config.limits.allocations_total));
  }
  if (config.limits.allocations_per_user != defaults.limits.allocations_per_user) {
    limits.add("allocations_per_user", std::to_string(config.limits.allocations_per_user));
  }
  if (config.limits.bandwidth_per_allocation_bps != defaults.limits.bandwidth_per_allocation_bps) {
    limits.add("bandwidth_per_allocation_bps",
               std::to_string(config.limits.bandwidth_per_allocation_bps));
  }
  limits.writeTo(out, "limits");
  Section http;
  if (config.http.address != defaults.http.address) {
    http.add("address", yamlAddress(config.http.address));
  }
  if (config.http.port != defaults.http.port) {
    http.add("port", std::to_string(config.http.port));
  }
  http.writeTo(out, "http");
  Section log;
  if (config.log.level != defaults.log.level) {
    log.add("level", std::string(kLevelNames.at(static_cast<std::size_t>(config.log.level))));
  }
  if (config.log.format != defaults.log.format) {
    log.add("format", std::string(kFormatNames.at(static_cast<std::size_t>(config.log.format))));
  }
  log.writeTo(out, "log");
  Section cluster;
  if (config.cluster.alternate_servers != defaults.cluster.alternate_servers) {
    cluster.add("alternate_servers",
                flowList(
                    config.cluster.alternate_servers,
                    +[](const protocol::Endpoint& e) { return yamlQuote(e.toString()); }));
  }
  cluster.writeTo(out, "cluster");
  if (config.threads != defaults.threads) {
    out += "threads: " + std::to_string(config.threads) + "\n";
  }
  if (config.mobility != defaults.mobility) {
    out += std::string("mobility: ") + (config.mobility ? "true" : "false") + "\n";
  }
}

}  // namespace

const ServerConfig& defaultServerConfig() {
  static const ServerConfig kDefaults = loadConfigText(kDefaultConfigYaml).value();
  return kDefaults;
}

std::string yamlQuote(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kSpecial{{
      {"\xC2\x85", "\\u0085"},
      {"\xE2\x80\xA8", "\\u2028"},
      {"\xE2\x80\xA9", "\\u2029"},
      {"\xEF\xBB\xBF", "\\uFEFF"},
  }};
  std::string quoted = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const std::string_view rest = text.substr(i);
    if (byte == '"' || byte == '\\') {
      quoted.append("\\").push_back(static_cast<char>(byte));
    } else if (byte < 0x20 || byte == 0x7F) {
      std::array<char, 5> escape{};
      std::snprintf(escape.data(), escape.size(), "\\x%02X", byte);
      quoted.append(escape.data());
    } else if (const auto* special = std::ranges::find_if(
                   kSpecial, [&](const auto& entry) { return rest.starts_with(entry.first); });
               special != kSpecial.end()) {
      // NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR and BOM: YAML readers may take them for line
      // breaks or drop them. (\N, yaml-cpp's escape for NEL, decodes to a lone 0x85 byte.)
      quoted.append(special->second);
      i += special->first.size() - 1;
    } else {
      quoted.push_back(static_cast<char>(byte));
    }
  }
  return quoted + "\"";
}

std::string writeConfigYaml(const ServerConfig& config) {
  const ServerConfig& defaults = defaultServerConfig();
  std::string out;
  if (config.realm != defaults.realm) {
    out += "realm: " + yamlQuote(config.realm) + "\n";
  }
  if (config.software != defaults.software) {
    out += "software: " + yamlQuote(config.software) + "\n";
  }
  writeListeners(config, defaults, out);
  writeTls(config.tls, defaults.tls, out);
  writeRelay(config.relay, defaults.relay, out);
  Section allocation;
  if (config.allocation.default_lifetime != defaults.allocation.default_lifetime) {
    allocation.add("default_lifetime", std::to_string(config.allocation.default_lifetime));
  }
  if (config.allocation.max_lifetime != defaults.allocation.max_lifetime) {
    allocation.add("max_lifetime", std::to_string(config.allocation.max_lifetime));
  }
  allocation.writeTo(out, "allocation");
  writeAuth(config.auth, out);
  writePeers(config.peers, out);
  writeTail(config, defaults, out);
  return out;
}

}  // namespace turnpike::server

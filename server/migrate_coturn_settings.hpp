// Internal to migrate_coturn*.cpp: what a turnserver.conf says, in coturn's terms, and the step
// that turns it into a ServerConfig. migrate_coturn.cpp reads the lines into CoturnSettings
// (messages for options without a turnpike setting come from migrate_coturn_unsupported.cpp);
// migrate_coturn_build.cpp builds the config from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/endpoint.hpp"
#include "server/address_range.hpp"
#include "server/config/config.hpp"
#include "server/migrate_coturn.hpp"

namespace turnpike::server::migrate {

// A value and the line it came from.
template <typename T>
struct At {
  T value{};
  std::size_t line = 0;
};

struct ExternalIp {
  protocol::IpAddress public_address;
  std::optional<protocol::IpAddress> private_address;  // unset for the `external-ip=IP` form
  std::size_t line = 0;
};

struct PeerRange {
  AddressRange range;
  std::string text;  // as written, for messages
  std::size_t line = 0;
};

// Options as coturn understood them. For single-valued options the last line wins, as in coturn.
struct CoturnSettings {
  std::optional<At<std::uint16_t>> listening_port;
  std::optional<At<std::uint16_t>> tls_listening_port;
  std::vector<At<protocol::IpAddress>> listening_ips;
  std::optional<At<bool>> no_udp;
  std::optional<At<bool>> no_tcp;
  std::optional<At<bool>> no_tls;
  std::optional<At<bool>> no_dtls;

  std::vector<At<protocol::IpAddress>> relay_ips;
  std::vector<ExternalIp> external_ips;
  std::optional<At<std::uint16_t>> min_port;
  std::optional<At<std::uint16_t>> max_port;

  std::optional<At<std::string>> realm;
  std::optional<At<bool>> software;  // no-software-attribute / software-attribute

  std::optional<At<bool>> use_auth_secret;  // also set by static-auth-secret, as in coturn
  std::vector<At<std::string>> secrets;
  std::vector<At<std::string>> users;  // "name:password" as written; coturn reads them last
  bool lt_cred_mech = false;
  std::optional<At<bool>> no_auth;
  std::optional<std::size_t> user_database_line;  // userdb, psql-userdb, redis-userdb, ...
  std::optional<std::size_t> stun_only_line;

  std::optional<At<std::string>> cert;
  std::optional<At<std::string>> pkey;

  std::vector<At<protocol::Endpoint>> alternate_servers;  // alternate-server
  std::vector<PeerRange> allowed_peers;
  std::vector<PeerRange> denied_peers;
  std::optional<At<bool>> allow_loopback_peers;
  bool no_multicast_peers = false;

  std::optional<At<std::uint32_t>> total_quota;
  std::optional<At<std::uint32_t>> user_quota;
  std::optional<At<std::uint32_t>> max_bps;  // bytes per second per direction
  std::optional<At<std::uint32_t>> max_allocate_lifetime;
  std::optional<At<std::uint32_t>> relay_threads;

  std::optional<At<bool>> prometheus;
  std::optional<At<std::uint16_t>> prometheus_port;
  std::optional<At<protocol::IpAddress>> prometheus_address;
  std::optional<At<bool>> extra_verbose;  // Verbose
  std::optional<At<bool>> mobility;       // RFC 8016
};

// Collects messages; sorted() puts them in line order with file-wide ones (line 0) last.
class Messages {
 public:
  void add(std::size_t line, std::string_view option, MigrationSeverity severity,
           std::string text) {
    messages_.push_back({line, std::string(option), severity, std::move(text)});
  }
  void warn(std::size_t line, std::string_view option, std::string text) {
    add(line, option, MigrationSeverity::kWarning, std::move(text));
  }
  void note(std::size_t line, std::string_view option, std::string text) {
    add(line, option, MigrationSeverity::kNote, std::move(text));
  }
  [[nodiscard]] std::vector<MigrationMessage> sorted() &&;

 private:
  std::vector<MigrationMessage> messages_;
};

// A coturn option turnpike has no setting for, and what to say about it. For a flag (an
// option that takes a boolean), nothing is said when it is off.
struct UnsupportedOption {
  std::string_view name;
  bool flag;
  MigrationSeverity severity;
  std::string_view text;
};

// The entry for `name` (migrate_coturn_unsupported.cpp), or nullptr.
[[nodiscard]] const UnsupportedOption* findUnsupported(std::string_view name);

// True if `text` is well-formed UTF-8 (YAML cannot carry anything else).
[[nodiscard]] bool isValidUtf8(std::string_view text);

// The ServerConfig that does what `settings` did in coturn, as far as turnpike can; messages
// for the rest.
[[nodiscard]] ServerConfig buildConfig(const CoturnSettings& settings, Messages& messages);

}  // namespace turnpike::server::migrate

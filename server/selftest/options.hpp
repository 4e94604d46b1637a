// `turnpike selftest`: the command line, parsed and checked. Pure, unit-tested.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/selftest/diagnosis.hpp"

namespace turnpike::server::selftest {

inline constexpr std::uint16_t kDefaultPort = 3478;     // RFC 8656 section 4: turn, UDP and TCP
inline constexpr std::uint16_t kDefaultTlsPort = 5349;  // turns
inline constexpr std::chrono::milliseconds kDefaultTimeout{3000};

struct HostPort {
  std::string host;  // a name or an IP literal (without brackets)
  std::optional<std::uint16_t> port;
};

// "HOST", "HOST:PORT", "[IPv6]", "[IPv6]:PORT" or a bare IPv6 literal.
[[nodiscard]] std::expected<HostPort, std::string> parseHostPort(std::string_view text);

struct SelftestOptions {
  HostPort server;
  std::uint16_t port = kDefaultPort;
  std::uint16_t tls_port = kDefaultTlsPort;
  std::optional<std::string> secret;
  std::optional<std::string> user;
  std::optional<std::string> password;
  std::string ca_file;
  bool insecure = false;
  std::string tls_name;  // empty: HOST when it is a name, else the IP address is checked
  std::array<bool, 3> transports = {true, true, true};  // indexed by Transport
  std::chrono::milliseconds timeout = kDefaultTimeout;
  bool json = false;
  bool help = false;

  [[nodiscard]] bool enabled(Transport transport) const {
    return transports.at(static_cast<std::size_t>(transport));
  }
};

// Parses "--name value" and "--name=value"; checks the combinations (--server is required, one
// of --secret or --user with --password, not --ca with --insecure, ...). The error is one line.
[[nodiscard]] std::expected<SelftestOptions, std::string> parseSelftestOptions(
    const std::vector<std::string>& args);

}  // namespace turnpike::server::selftest

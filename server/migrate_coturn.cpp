// Reading turnserver.conf: lines -> options -> CoturnSettings, plus a message for every option
// turnpike has no equivalent for. The line syntax follows coturn 4.6.1's read_config_file() and
// parse_arg_string() (src/apps/relay/mainrelay.c); booleans follow its get_bool_value().
#include "server/migrate_coturn.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "server/config/config_writer.hpp"
#include "server/migrate_coturn_settings.hpp"

namespace turnpike::server {
namespace migrate {
namespace {

using protocol::IpAddress;

// One option line: `name=value`, `name value` or a bare flag `name` (value "").
struct Line {
  std::size_t number = 0;
  std::string name;
  std::string value;
};

// "text" with quotes. (Appends: g++ 12 warns falsely, -Wrestrict, on "\"" + std::string.)
std::string quoted(std::string_view text) {
  return std::string().append("\"").append(text).append("\"");
}

bool isBlank(char c) { return c == ' ' || c == '\t'; }
bool isSpace(char c) { return isBlank(c) || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// coturn: skip leading blanks; '#' starts a comment line; strip trailing white space; the name
// ends at the first ' ', '=' or tab and the value starts after the run of them; a value that
// starts with '"' loses it and one trailing '"'. Comments are whole lines only, so '#' inside a
// value (a password) is kept. `--name` is accepted too (coturn itself rejects it in the file).
std::optional<Line> parseLine(std::string_view text, std::size_t number, Messages& messages) {
  while (!text.empty() && isBlank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isSpace(text.back())) {
    text.remove_suffix(1);
  }
  if (text.empty() || text.front() == '#') {
    return std::nullopt;
  }
  if (text.starts_with("--")) {
    text.remove_prefix(2);
  }
  Line line;
  line.number = number;
  const std::size_t name_end = text.find_first_of(" =\t");
  line.name = std::string(text.substr(0, name_end));
  if (line.name.empty()) {
    line.name = std::string(text);  // "=value": name the whole line in messages
  }
  std::string_view value = name_end == std::string_view::npos ? "" : text.substr(name_end);
  while (!value.empty() && (isBlank(value.front()) || value.front() == '=')) {
    value.remove_prefix(1);
  }
  if (value.starts_with('"')) {
    value.remove_prefix(1);
    if (value.ends_with('"')) {
      value.remove_suffix(1);
    }
  }
  line.value = std::string(value);
  if (text.ends_with(';')) {
    messages.warn(number, line.name,
                  "the line ends with ';', which coturn keeps as part of the value");
  }
  return line;
}

// coturn's get_bool_value(): empty is true; then the first character decides (0/n/f false,
// y/t/1-9 true), and on/off in three spellings. Anything else made coturn exit.
std::optional<bool> parseBool(std::string_view value) {
  if (value.empty()) {
    return true;
  }
  constexpr std::string_view kFalse = "0nNfF";
  constexpr std::string_view kTrue = "yYtT123456789";
  if (kFalse.find(value.front()) != std::string_view::npos) {
    return false;
  }
  if (kTrue.find(value.front()) != std::string_view::npos) {
    return true;
  }
  if (value == "off" || value == "OFF" || value == "Off") {
    return false;
  }
  if (value == "on" || value == "ON" || value == "On") {
    return true;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> parseUint(std::string_view value) {
  std::uint32_t number = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, number);
  if (value.empty() || ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return number;
}

// Reads the option lines into CoturnSettings.
class Reader {
 public:
  Reader(CoturnSettings& settings, Messages& messages) : settings_(settings), messages_(messages) {}

  void read(const Line& line);

 private:
  using Handler = void (Reader::*)(const Line&);
  struct Mapped {
    std::string_view name;
    Handler handle;
  };

  void warn(const Line& line, std::string text) {
    messages_.warn(line.number, line.name, std::move(text));
  }
  void note(const Line& line, std::string text) {
    messages_.note(line.number, line.name, std::move(text));
  }
  std::optional<bool> flag(const Line& line);
  std::optional<std::uint16_t> port(const Line& line);
  std::optional<std::uint32_t> number(const Line& line);
  std::optional<IpAddress> address(const Line& line);
  bool nonEmpty(const Line& line);

  void setBool(const Line& line, std::optional<At<bool>>& out) {
    if (auto on = flag(line)) {
      out = At<bool>{*on, line.number};
    }
  }
  void setPort(const Line& line, std::optional<At<std::uint16_t>>& out) {
    if (auto value = port(line)) {
      out = At<std::uint16_t>{*value, line.number};
    }
  }
  void setNumber(const Line& line, std::optional<At<std::uint32_t>>& out) {
    if (auto value = number(line)) {
      out = At<std::uint32_t>{*value, line.number};
    }
  }
  void addAddress(const Line& line, std::vector<At<IpAddress>>& out) {
    if (auto value = address(line)) {
      out.push_back({*value, line.number});
    }
  }

  void listeningPort(const Line& line) { setPort(line, settings_.listening_port); }
  void tlsListeningPort(const Line& line) { setPort(line, settings_.tls_listening_port); }
  void listeningIp(const Line& line) { addAddress(line, settings_.listening_ips); }
  void noUdp(const Line& line) { setBool(line, settings_.no_udp); }
  void noTcp(const Line& line) { setBool(line, settings_.no_tcp); }
  void noTls(const Line& line) { setBool(line, settings_.no_tls); }
  void noDtls(const Line& line) { setBool(line, settings_.no_dtls); }
  void relayIp(const Line& line) { addAddress(line, settings_.relay_ips); }
  void alternateServer(const Line& line);
  void externalIp(const Line& line);
  void minPort(const Line& line) { setPort(line, settings_.min_port); }
  void maxPort(const Line& line) { setPort(line, settings_.max_port); }
  void realm(const Line& line) { settings_.realm = At<std::string>{line.value, line.number}; }
  void noSoftwareAttribute(const Line& line) {
    if (auto on = flag(line)) {
      settings_.software = At<bool>{!*on, line.number};
    }
  }
  void softwareAttribute(const Line& line) { setBool(line, settings_.software); }
  void useAuthSecret(const Line& line);
  void staticAuthSecret(const Line& line);
  void user(const Line& line) { settings_.users.push_back({line.value, line.number}); }
  void noAuth(const Line& line) { setBool(line, settings_.no_auth); }
  void ltCredMech(const Line& line);
  void stunOnly(const Line& line);
  void cert(const Line& line) {
    if (nonEmpty(line)) {
      settings_.cert = At<std::string>{line.value, line.number};
    }
  }
  void pkey(const Line& line) {
    if (nonEmpty(line)) {
      settings_.pkey = At<std::string>{line.value, line.number};
    }
  }
  void allowedPeerIp(const Line& line) { peerRange(line, settings_.allowed_peers); }
  void deniedPeerIp(const Line& line) { peerRange(line, settings_.denied_peers); }
  void peerRange(const Line& line, std::vector<PeerRange>& out);
  void allowLoopbackPeers(const Line& line) { setBool(line, settings_.allow_loopback_peers); }
  void noMulticastPeers(const Line& line);
  void totalQuota(const Line& line) { setNumber(line, settings_.total_quota); }
  void userQuota(const Line& line) { setNumber(line, settings_.user_quota); }
  void bandwidth(const Line& line);
  void maxAllocateLifetime(const Line& line);
  void fixedLifetime(const Line& line);
  void relayThreads(const Line& line);
  void prometheus(const Line& line);
  void prometheusPort(const Line& line) { setPort(line, settings_.prometheus_port); }
  void prometheusAddress(const Line& line);
  void verbose(const Line& line);
  void extraVerbose(const Line& line) { setBool(line, settings_.extra_verbose); }
  void mobility(const Line& line) { setBool(line, settings_.mobility); }
  void logFile(const Line& line);
  void restApiSeparator(const Line& line);
  void addressFamily(const Line& line);

  CoturnSettings& settings_;
  Messages& messages_;
};

void Reader::read(const Line& line) {
  static constexpr auto kMapped = std::to_array<Mapped>({
      {"listening-port", &Reader::listeningPort},
      {"tls-listening-port", &Reader::tlsListeningPort},
      {"listening-ip", &Reader::listeningIp},
      {"no-udp", &Reader::noUdp},
      {"no-tcp", &Reader::noTcp},
      {"no-tls", &Reader::noTls},
      {"no-dtls", &Reader::noDtls},
      {"relay-ip", &Reader::relayIp},
      {"external-ip", &Reader::externalIp},
      {"min-port", &Reader::minPort},
      {"max-port", &Reader::maxPort},
      {"realm", &Reader::realm},
      {"no-software-attribute", &Reader::noSoftwareAttribute},
      {"software-attribute", &Reader::softwareAttribute},
      {"use-auth-secret", &Reader::useAuthSecret},
      {"static-auth-secret", &Reader::staticAuthSecret},
      {"user", &Reader::user},
      {"no-auth", &Reader::noAuth},
      {"lt-cred-mech", &Reader::ltCredMech},
      {"stun-only", &Reader::stunOnly},
      {"cert", &Reader::cert},
      {"pkey", &Reader::pkey},
      {"allowed-peer-ip", &Reader::allowedPeerIp},
      {"denied-peer-ip", &Reader::deniedPeerIp},
      {"alternate-server", &Reader::alternateServer},
      {"allow-loopback-peers", &Reader::allowLoopbackPeers},
      {"no-multicast-peers", &Reader::noMulticastPeers},
      {"total-quota", &Reader::totalQuota},
      {"user-quota", &Reader::userQuota},
      {"max-bps", &Reader::bandwidth},
      {"bps-capacity", &Reader::bandwidth},
      {"max-allocate-lifetime", &Reader::maxAllocateLifetime},
      {"channel-lifetime", &Reader::fixedLifetime},
      {"permission-lifetime", &Reader::fixedLifetime},
      {"relay-threads", &Reader::relayThreads},
      {"mobility", &Reader::mobility},
      {"prometheus", &Reader::prometheus},
      {"prometheus-port", &Reader::prometheusPort},
      {"prometheus-address", &Reader::prometheusAddress},
      {"verbose", &Reader::verbose},
      {"Verbose", &Reader::extraVerbose},
      {"log-file", &Reader::logFile},
      {"rest-api-separator", &Reader::restApiSeparator},
      {"allocation-default-address-family", &Reader::addressFamily},
  });
  constexpr std::array<std::string_view, 7> kUserDatabases{
      "userdb", "db", "psql-userdb", "sql-userdb", "mysql-userdb", "mongo-userdb", "redis-userdb"};
  if (std::ranges::find(kUserDatabases, line.name) != kUserDatabases.end()) {
    settings_.user_database_line = line.number;  // and warned about below
  }
  if (const auto* mapped = std::ranges::find(kMapped, line.name, &Mapped::name);
      mapped != kMapped.end()) {
    (this->*mapped->handle)(line);
    return;
  }
  const UnsupportedOption* known = findUnsupported(line.name);
  if (known == nullptr) {
    warn(line, "unknown or unsupported option; not carried over");
    return;
  }
  if (known->flag) {
    const std::optional<bool> on = flag(line);
    if (!on || !*on) {
      return;  // off: nothing is lost (a bad value was reported by flag())
    }
  }
  messages_.add(line.number, line.name, known->severity, std::string(known->text));
}

std::optional<bool> Reader::flag(const Line& line) {
  const std::optional<bool> on = parseBool(line.value);
  if (!on) {
    warn(line, quoted(line.value) +
                   " is not a boolean (on/off, yes/no, true/false, 1/0); coturn refuses to "
                   "start on it; ignored");
  }
  return on;
}

std::optional<std::uint16_t> Reader::port(const Line& line) {
  const std::optional<std::uint32_t> value = parseUint(line.value);
  if (!value || *value < 1 || *value > 65535) {
    warn(line, quoted(line.value) + " is not a port number (1-65535); ignored");
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(*value);
}

// A whole number that fits turnpike's 32-bit settings.
std::optional<std::uint32_t> Reader::number(const Line& line) {
  const std::optional<std::uint32_t> value = parseUint(line.value);
  if (!value) {
    warn(line, quoted(line.value) + " is not a whole number from 0 to 4294967295; ignored");
  }
  return value;
}

std::optional<IpAddress> Reader::address(const Line& line) {
  std::optional<IpAddress> value = IpAddress::parse(line.value);
  if (!value) {
    warn(line, quoted(line.value) +
                   " is not an IPv4 or IPv6 address; turnpike takes address literals only; "
                   "ignored");
  }
  return value;
}

// coturn's forms: ADDRESS, ADDRESS:PORT and [IPV6]:PORT (a bare IPv6 address has no port);
// the port defaults to 3478.
void Reader::alternateServer(const Line& line) {
  constexpr std::uint16_t kDefaultPort = 3478;
  std::string_view text = line.value;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);  // [IPV6] without a port
  }
  std::optional<protocol::Endpoint> endpoint = protocol::Endpoint::parse(line.value);
  if (const auto bare = IpAddress::parse(text)) {
    endpoint = protocol::Endpoint{*bare, kDefaultPort};
  }
  if (!endpoint) {
    warn(line, quoted(line.value) +
                   " is not ADDRESS, ADDRESS:PORT or [IPV6]:PORT with an address literal; ignored");
    return;
  }
  settings_.alternate_servers.push_back({*endpoint, line.number});
}

bool Reader::nonEmpty(const Line& line) {
  if (line.value.empty()) {
    warn(line, "has no value; ignored");
    return false;
  }
  return true;
}

void Reader::externalIp(const Line& line) {
  const std::size_t slash = line.value.find('/');
  const auto public_address = IpAddress::parse(std::string_view(line.value).substr(0, slash));
  std::optional<IpAddress> private_address;
  if (slash != std::string::npos) {
    private_address = IpAddress::parse(std::string_view(line.value).substr(slash + 1));
  }
  if (!public_address || (slash != std::string::npos && !private_address)) {
    warn(line,
         quoted(line.value) + " is not IP or PUBLIC-IP/PRIVATE-IP with address literals; ignored");
    return;
  }
  if (private_address && private_address->family() != public_address->family()) {
    warn(line, "the public and private addresses are of different IP families; ignored");
    return;
  }
  if (!private_address) {
    const bool has_single =
        std::ranges::any_of(settings_.external_ips,
                            [](const ExternalIp& external) { return !external.private_address; });
    if (has_single) {
      warn(line,
           "coturn accepts one external-ip without a private address and ignores the others; "
           "ignored");
      return;
    }
  }
  settings_.external_ips.push_back({*public_address, private_address, line.number});
}

void Reader::useAuthSecret(const Line& line) {
  // coturn turns REST credentials on whatever the value says.
  if (parseBool(line.value) == false) {
    note(line, "coturn turns REST credentials on whatever the value says; so does the migration");
  }
  settings_.use_auth_secret = At<bool>{true, line.number};
}

void Reader::staticAuthSecret(const Line& line) {
  if (!nonEmpty(line)) {
    return;
  }
  settings_.secrets.push_back({line.value, line.number});
  if (!settings_.use_auth_secret) {
    settings_.use_auth_secret = At<bool>{true, line.number};
  }
}

void Reader::ltCredMech(const Line& line) {
  if (auto on = flag(line); on && *on) {
    settings_.lt_cred_mech = true;
    note(line, "turnpike always uses the long-term credential mechanism");
  }
}

void Reader::stunOnly(const Line& line) {
  if (auto on = flag(line); on && *on) {
    settings_.stun_only_line = line.number;
  }
}

void Reader::peerRange(const Line& line, std::vector<PeerRange>& out) {
  auto range = parseAddressRange(line.value);
  if (!range) {
    warn(line, range.error() + " (expected IP or IP-IP); coturn ignores it too; ignored");
    return;
  }
  if (line.value.find('/') != std::string::npos) {
    note(line, "coturn 4.6.1 takes IP or IP-IP only and ignored this prefix; carried as written");
  }
  out.push_back({*range, line.value, line.number});
}

void Reader::noMulticastPeers(const Line& line) {
  if (auto on = flag(line); on && *on) {
    settings_.no_multicast_peers = true;
    note(line, "turnpike denies multicast peers (224.0.0.0/4, ff00::/8) by default");
  }
}

void Reader::bandwidth(const Line& line) {
  const auto value = number(line);
  if (!value || *value == 0) {
    return;  // 0 is unlimited, as in turnpike
  }
  if (line.name == "max-bps") {
    // coturn: bytes per second per session, each direction on its own; turnpike: bits per
    // second per allocation, both directions together.
    settings_.max_bps = At<std::uint32_t>{*value, line.number};
    note(line, "carried over as limits.bandwidth_per_allocation_bps: " +
                   std::to_string(std::uint64_t{*value} * 16) +
                   " (bits per second, both directions together; coturn counts bytes per "
                   "direction)");
    return;
  }
  warn(line,
       "not carried over: turnpike has no server-wide bandwidth limit (it has "
       "limits.bandwidth_per_allocation_bps and limits.bandwidth_per_user_bps)");
}

void Reader::maxAllocateLifetime(const Line& line) {
  constexpr std::uint32_t kMaxLifetime = 86400;
  if (line.value.empty()) {
    return;  // coturn's default, 3600 s: turnpike's too
  }
  const auto value = number(line);
  if (!value) {
    return;
  }
  if (*value < 1 || *value > kMaxLifetime) {
    warn(line, "turnpike's allocation.max_lifetime must be 1-86400 seconds; not carried over");
    return;
  }
  settings_.max_allocate_lifetime = At<std::uint32_t>{*value, line.number};
}

void Reader::fixedLifetime(const Line& line) {
  const bool channel = line.name == "channel-lifetime";
  const std::uint32_t fixed = channel ? 600 : 300;  // RFC 8656 sections 9 and 12
  // coturn takes an empty value as its default, which is the RFC's.
  const auto value = line.value.empty() ? fixed : number(line);
  if (!value) {
    return;
  }
  const std::string what = channel ? "channel bindings last" : "permissions last";
  if (*value == fixed) {
    note(line, "turnpike's " + what + " " + std::to_string(fixed) + " s too (RFC 8656)");
    return;
  }
  warn(line, "not carried over: turnpike's " + what + " " + std::to_string(fixed) +
                 " s (RFC 8656), not configurable");
}

void Reader::relayThreads(const Line& line) {
  const auto value = number(line);
  if (!value) {
    return;
  }
  // coturn: 0 runs the relay in the listener's thread, i.e. one thread.
  const std::uint32_t threads = std::clamp<std::uint32_t>(*value, 1, kMaxThreads);
  settings_.relay_threads = At<std::uint32_t>{threads, line.number};
  note(line, "carried over as threads: " + std::to_string(threads) +
                 " (turnpike workers each receive, authenticate and relay; 0 would mean one per "
                 "CPU core)");
}

void Reader::prometheus(const Line& line) {
  settings_.prometheus = At<bool>{true, line.number};  // coturn ignores the value
  note(line,
       "turnpike always serves /metrics (and /healthz) on http.address:http.port, by default "
       "127.0.0.1:9641; coturn's exporter used port 9641 on every address: set http.address to "
       "scrape from another host");
}

void Reader::prometheusAddress(const Line& line) {
  if (auto value = address(line)) {
    settings_.prometheus_address = At<IpAddress>{*value, line.number};
  }
}

void Reader::verbose(const Line& line) {
  if (auto on = flag(line); on && *on) {
    note(line,
         "turnpike's default level (info) already logs each allocation; log.level debug (coturn's "
         "Verbose) adds per-request detail");
  }
}

void Reader::logFile(const Line& line) {
  constexpr std::string_view kLogsToStderr =
      "turnpike logs to stderr (the journal under systemd), one line per allocation at info level";
  if (line.value == "stdout" || line.value == "-" || line.value == "syslog") {
    note(line, std::string(kLogsToStderr));
    return;
  }
  warn(line,
       "not carried over: " + std::string(kLogsToStderr) + "; redirect stderr to keep a log file");
}

void Reader::restApiSeparator(const Line& line) {
  if (line.value.empty() || line.value.front() == ':') {
    note(line, "turnpike's REST usernames use ':' too (<expiry>:<user>)");
    return;
  }
  warn(line, "not carried over: turnpike's REST usernames are <expiry>:<user>, with ':'");
}

void Reader::addressFamily(const Line& line) {
  if (line.value == "ipv4") {
    note(line, "turnpike relays over IPv4 unless the client asks for IPv6 (RFC 8656), the same");
    return;
  }
  warn(line,
       "not carried over: turnpike relays over IPv4 unless the client asks for IPv6 (RFC 8656)");
}

}  // namespace

bool isValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if ((lead & 0xE0U) == 0xC0U) {
      length = 2;
      code = lead & 0x1FU;
    } else if ((lead & 0xF0U) == 0xE0U) {
      length = 3;
      code = lead & 0x0FU;
    } else if ((lead & 0xF8U) == 0xF0U) {
      length = 4;
      code = lead & 0x07U;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0U) != 0x80U) {
        return false;
      }
      code = (code << 6U) | (next & 0x3FU);
    }
    constexpr std::array<std::uint32_t, 5> kMinCode{0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinCode.at(length) || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;  // overlong, out of range, or a surrogate
    }
    i += length;
  }
  return true;
}

std::vector<MigrationMessage> Messages::sorted() && {
  std::ranges::stable_sort(messages_, [](const MigrationMessage& a, const MigrationMessage& b) {
    const std::size_t last = std::numeric_limits<std::size_t>::max();
    return (a.line == 0 ? last : a.line) < (b.line == 0 ? last : b.line);
  });
  return std::move(messages_);
}

}  // namespace migrate

CoturnMigration migrateCoturn(std::string_view coturn_conf, std::string_view source_name) {
  migrate::Messages messages;
  migrate::CoturnSettings settings;
  migrate::Reader reader(settings, messages);
  std::size_t number = 0;
  while (!coturn_conf.empty()) {
    const std::size_t end = coturn_conf.find('\n');
    const std::string_view text = coturn_conf.substr(0, end);
    coturn_conf.remove_prefix(end == std::string_view::npos ? coturn_conf.size() : end + 1);
    if (auto line = migrate::parseLine(text, ++number, messages)) {
      reader.read(*line);
    }
  }
  CoturnMigration migration;
  migration.config = migrate::buildConfig(settings, messages);
  migration.messages = std::move(messages).sorted();
  // The file name goes into a comment: keep it on one line.
  std::string name(source_name);
  std::ranges::replace_if(
      name, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }, '?');
  migration.yaml = "# Generated by turnpike migrate-coturn from " + name + "\n" +
                   writeConfigYaml(migration.config);
  return migration;
}

std::string formatMessage(const MigrationMessage& message, std::string_view source_name) {
  std::string text(source_name);
  if (message.line != 0) {
    text.append(":").append(std::to_string(message.line));
  }
  text += message.severity == MigrationSeverity::kWarning ? ": warning: " : ": note: ";
  return text + message.option + ": " + message.text;
}

}  // namespace turnpike::server

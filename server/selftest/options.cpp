#include "server/selftest/options.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace turnpike::server::selftest {
namespace {

std::optional<std::uint64_t> parseNumber(std::string_view text, std::uint64_t min,
                                         std::uint64_t max) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint16_t> parsePort(std::string_view text) {
  const auto port = parseNumber(text, 1, 65535);
  return port ? std::optional(static_cast<std::uint16_t>(*port)) : std::nullopt;
}

// "udp,tcp" -> {true, true, false}.
std::expected<std::array<bool, 3>, std::string> parseTransports(std::string_view text) {
  std::array<bool, 3> enabled{};
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    bool known = false;
    for (const Transport transport : {Transport::kUdp, Transport::kTcp, Transport::kTls}) {
      if (name == toString(transport)) {
        enabled.at(static_cast<std::size_t>(transport)) = true;
        known = true;
      }
    }
    if (!known) {
      return std::unexpected("--transports: unknown transport '" + std::string(name) +
                             "' (use udp, tcp, tls separated by commas)");
    }
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (enabled == std::array<bool, 3>{}) {
    return std::unexpected(std::string("--transports: name at least one of udp, tcp, tls"));
  }
  return enabled;
}

std::expected<void, std::string> checkCombinations(const SelftestOptions& options) {
  if (options.server.host.empty()) {
    return std::unexpected(std::string("--server HOST[:PORT] is required"));
  }
  if (options.secret && (options.user || options.password)) {
    return std::unexpected(std::string("give either --secret or --user/--password, not both"));
  }
  if (!options.secret && !(options.user && options.password)) {
    return std::unexpected(
        std::string("credentials are required: --secret S, or --user U with --password P"));
  }
  if (options.secret && options.secret->empty()) {
    return std::unexpected(std::string("--secret must not be empty"));
  }
  if (!options.ca_file.empty() && options.insecure) {
    return std::unexpected(std::string("give either --ca or --insecure, not both"));
  }
  return {};
}

}  // namespace

std::expected<HostPort, std::string> parseHostPort(std::string_view text) {
  const auto bad = [&text](std::string_view why) {
    return std::unexpected("--server '" + std::string(text) + "': " + std::string(why));
  };
  HostPort result;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    result.host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return bad("expected ':PORT' after ']'");
      }
      port_text = rest.substr(1);
      if (port_text.empty()) {
        return bad("empty port");
      }
    }
  } else if (text.find(':') != text.rfind(':')) {
    result.host = text;  // a bare IPv6 literal: no port
  } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    result.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) {
      return bad("empty port");
    }
  } else {
    result.host = text;
  }
  if (result.host.empty()) {
    return bad("empty host");
  }
  if (!port_text.empty()) {
    result.port = parsePort(port_text);
    if (!result.port) {
      return bad("the port must be 1..65535");
    }
  }
  return result;
}

std::expected<SelftestOptions, std::string> parseSelftestOptions(
    const std::vector<std::string>& args) {
  SelftestOptions options;
  std::map<std::string, std::string, std::less<>> values;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return options;
    }
    if (arg == "--json" || arg == "--insecure") {
      (arg == "--json" ? options.json : options.insecure) = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (const std::size_t equals = arg.find('='); arg.starts_with("--") && equals != arg.npos) {
      inline_value = std::string(arg.substr(equals + 1));
      arg = arg.substr(0, equals);
    }
    static constexpr std::array<std::string_view, 9> kValued = {
        "--server", "--secret",   "--user",       "--password", "--tls-port",
        "--ca",     "--tls-name", "--transports", "--timeout"};
    if (std::find(kValued.begin(), kValued.end(), arg) == kValued.end()) {
      return std::unexpected("unknown argument '" + std::string(arg) + "'");
    }
    if (values.contains(arg)) {
      return std::unexpected(std::string(arg) + " given more than once");
    }
    if (!inline_value && i + 1 >= args.size()) {
      return std::unexpected(std::string(arg) + " needs a value");
    }
    values.emplace(arg, inline_value ? *inline_value : args[++i]);
  }
  const auto take = [&values](std::string_view name) -> std::optional<std::string> {
    const auto found = values.find(name);
    return found == values.end() ? std::nullopt : std::optional(found->second);
  };
  if (auto server = take("--server")) {
    auto parsed = parseHostPort(*server);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    options.server = *parsed;
    options.port = parsed->port.value_or(kDefaultPort);
  }
  if (auto tls_port = take("--tls-port")) {
    const auto port = parsePort(*tls_port);
    if (!port) {
      return std::unexpected("--tls-port must be 1..65535, got '" + *tls_port + "'");
    }
    options.tls_port = *port;
  }
  if (auto timeout = take("--timeout")) {
    const auto seconds = parseNumber(*timeout, 1, 60);
    if (!seconds) {
      return std::unexpected("--timeout must be whole seconds 1..60, got '" + *timeout + "'");
    }
    options.timeout = std::chrono::seconds(*seconds);
  }
  if (auto transports = take("--transports")) {
    auto parsed = parseTransports(*transports);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    options.transports = *parsed;
  }
  options.secret = take("--secret");
  options.user = take("--user");
  options.password = take("--password");
  options.ca_file = take("--ca").value_or("");
  options.tls_name = take("--tls-name").value_or("");
  if (auto valid = checkCombinations(options); !valid) {
    return std::unexpected(valid.error());
  }
  return options;
}

}  // namespace turnpike::server::selftest

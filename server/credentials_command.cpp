#include "server/credentials_command.hpp"

#include <charconv>
#include <chrono>
#include <optional>
#include <string_view>

#include "auth/credentials.hpp"
#include "auth/rest_credentials.hpp"
#include "server/config/config.hpp"

namespace turnpike::server {
namespace {

constexpr std::string_view kUsage =
    "usage: turnpike credentials (--secret SECRET | --config FILE.yaml) [--user NAME]\n"
    "                            [--ttl SECONDS]\n"
    "Mints a TURN REST API credential: username=<expiry>:<user>,\n"
    "password=base64(HMAC-SHA1(secret, username)).\n"
    "  --secret SECRET   the shared secret (auth.secrets in the server config)\n"
    "  --config FILE     use the first auth.secrets entry of this config file instead\n"
    "  --user NAME       the user part of the username (default: none)\n"
    "  --ttl SECONDS     validity, 1..31536000 (default: 86400)\n";

constexpr std::int64_t kDefaultTtl = 86400;
constexpr std::int64_t kMaxTtl = 31536000;  // 365 days

struct Options {
  std::optional<std::string> secret;
  std::optional<std::string> config;
  std::optional<std::string> user;
  std::optional<std::string> ttl;
  bool help = false;
};

// Parses "--name value" and "--name=value". Returns an error message on failure.
std::optional<std::string> parseOptions(const std::vector<std::string>& args, Options& options) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (const std::size_t equals = arg.find('='); arg.starts_with("--") && equals != arg.npos) {
      inline_value = std::string(arg.substr(equals + 1));
      arg = arg.substr(0, equals);
    }
    std::optional<std::string>* slot = nullptr;
    if (arg == "--secret") {
      slot = &options.secret;
    } else if (arg == "--config") {
      slot = &options.config;
    } else if (arg == "--user") {
      slot = &options.user;
    } else if (arg == "--ttl") {
      slot = &options.ttl;
    } else {
      return "unknown argument '" + std::string(arg) + "'";
    }
    if (slot->has_value()) {
      return std::string(arg) + " given more than once";
    }
    if (inline_value) {
      *slot = std::move(inline_value);
    } else if (i + 1 < args.size()) {
      *slot = args[++i];
    } else {
      return std::string(arg) + " needs a value";
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> parseTtl(std::string_view text) {
  std::int64_t ttl = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ttl);
  if (text.empty() || text.front() == '-' || ec != std::errc{} ||
      end != text.data() + text.size() || ttl < 1 || ttl > kMaxTtl) {
    return std::nullopt;
  }
  return ttl;
}

// The secret from --secret or from the config file's first auth.secrets entry.
std::optional<std::string> resolveSecret(const Options& options, std::ostream& err) {
  if (options.secret && options.config) {
    err << "turnpike credentials: give either --secret or --config, not both\n";
    return std::nullopt;
  }
  if (options.secret) {
    if (options.secret->empty()) {
      err << "turnpike credentials: --secret must not be empty\n";
      return std::nullopt;
    }
    return options.secret;
  }
  if (!options.config) {
    err << "turnpike credentials: --secret or --config is required\n" << kUsage;
    return std::nullopt;
  }
  const auto config = loadConfigFile(*options.config);
  if (!config) {
    err << *options.config << ": " << toString(config.error()) << "\n";
    return std::nullopt;
  }
  if (config->auth.secrets.empty()) {
    err << *options.config << ": auth.secrets is empty; nothing to mint with\n";
    return std::nullopt;
  }
  return config->auth.secrets.front();
}

}  // namespace

int runCredentialsCommand(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err, std::int64_t now_unix) {
  constexpr int kUsageError = 2;
  Options options;
  if (auto error = parseOptions(args, options)) {
    err << "turnpike credentials: " << *error << "\n" << kUsage;
    return kUsageError;
  }
  if (options.help) {
    out << kUsage;
    return 0;
  }
  std::int64_t ttl = kDefaultTtl;
  if (options.ttl) {
    const auto parsed = parseTtl(*options.ttl);
    if (!parsed) {
      err << "turnpike credentials: --ttl must be a whole number of seconds in 1.." << kMaxTtl
          << ", got '" << *options.ttl << "'\n";
      return kUsageError;
    }
    ttl = *parsed;
  }
  const auto secret = resolveSecret(options, err);
  if (!secret) {
    return kUsageError;
  }
  const std::string user = options.user.value_or("");
  const auth::RestCredential credential = auth::mintRestCredential(*secret, user, ttl, now_unix);
  if (credential.username.size() > auth::CredentialStore::kMaxUsernameSize) {
    err << "turnpike credentials: --user is too long: the username must be at most "
        << auth::CredentialStore::kMaxUsernameSize << " bytes\n";
    return kUsageError;
  }
  out << "username=" << credential.username << "\n"
      << "password=" << credential.password << "\n";
  return 0;
}

int runCredentialsCommand(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return runCredentialsCommand(args, out, err,
                               std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

}  // namespace turnpike::server

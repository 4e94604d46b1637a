// turnpike: wiring only. Parses the command line, loads the config, runs the server until
// SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.hpp"
#include "server/credentials_command.hpp"
#include "server/http/credential_api.hpp"
#include "server/http/http_server.hpp"
#include "server/log.hpp"
#include "server/metrics/metrics.hpp"
#include "server/server.hpp"

namespace {

using turnpike::server::ServerConfig;

constexpr std::string_view kUsage =
    "usage: turnpike [--config FILE.yaml]   run the server (embedded defaults without --config)\n"
    "       turnpike --check-config FILE.yaml   validate a config file and exit\n"
    "       turnpike --print-default-config      print the embedded default config\n"
    "       turnpike credentials --secret S --user NAME [--ttl SECONDS]\n"
    "                                          mint a REST (shared secret) credential\n"
    "       turnpike --version\n";

// Loads and validates a config: the file, or the embedded defaults when path is null.
std::expected<ServerConfig, turnpike::server::ConfigError> load(const std::string* path) {
  return path == nullptr ? turnpike::server::loadConfigText(turnpike::server::kDefaultConfigYaml)
                         : turnpike::server::loadConfigFile(*path);
}

int checkConfig(const std::string& path) {
  auto config = load(&path);
  if (!config) {
    std::cerr << path << ": " << toString(config.error()) << "\n";
    return 1;
  }
  std::cout << path << ": OK\n";
  return 0;
}

void logTotals(const turnpike::server::Server& server) {
  const auto totals = server.totals();
  std::string stun;
  for (std::size_t i = 0; i < totals.stun_outcomes.size(); ++i) {
    stun += turnpike::server::concat(" ", toString(static_cast<turnpike::protocol::StunOutcome>(i)),
                                     "=", totals.stun_outcomes[i]);
  }
  TP_LOG(kInfo, "stun messages:", stun);
  TP_LOG(
      kInfo, "tcp connections accepted=", totals.tcp_accepted, " framing_errors=",
      totals.tcp_closed[static_cast<std::size_t>(turnpike::server::uv::CloseReason::kFramingError)],
      " allocations_active=", totals.allocations_active);
}

int run(ServerConfig config) {
  turnpike::server::setLogConfig(config.log);
  // Block the signals before any thread starts, so only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const turnpike::server::HttpConfig http_config = config.http;
  turnpike::server::Server server(std::move(config));
  if (auto started = server.start(); !started) {
    TP_LOG(kError, started.error());
    return 1;
  }
  // The credential API, when http.api_keys is set: served and scraped on the HTTP thread.
  const std::unique_ptr<turnpike::server::CredentialApi> api =
      turnpike::server::makeCredentialApi(server.config(), server.relayAddresses());
  turnpike::server::HttpServer http(
      http_config,
      [&server, &api] {
        const std::optional<turnpike::server::ApiRequestCounts> counts =
            api ? std::optional(api->requestCounts()) : std::nullopt;
        return turnpike::server::renderMetrics(server.totals(), server.workerCount(),
                                               TURNPIKE_VERSION, counts ? &*counts : nullptr);
      },
      api.get());
  if (auto started = http.start(); !started) {
    TP_LOG(kError, started.error());
    (void)server.stop();
    return 1;
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  TP_LOG(kInfo, "received ", signal_number == SIGINT ? "SIGINT" : "SIGTERM", ", shutting down");
  http.stop();
  const bool clean = server.stop();
  logTotals(server);
  if (!clean) {
    TP_LOG(kError, "shutdown left libuv handles open");
    return 1;
  }
  TP_LOG(kInfo, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::cout << "turnpike " << TURNPIKE_VERSION << "\n";
    return 0;
  }
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  if (args.size() == 1 && args[0] == "--print-default-config") {
    std::cout << turnpike::server::kDefaultConfigYaml;
    return 0;
  }
  if (!args.empty() && args[0] == "credentials") {
    return turnpike::server::runCredentialsCommand({args.begin() + 1, args.end()}, std::cout,
                                                   std::cerr);
  }
  if (args.size() == 2 && args[0] == "--check-config") {
    return checkConfig(args[1]);
  }
  if (args.empty() || (args.size() == 2 && args[0] == "--config")) {
    auto config = load(args.empty() ? nullptr : &args[1]);
    if (!config) {
      std::cerr << (args.empty() ? "default config" : args[1]) << ": " << toString(config.error())
                << "\n";
      return 1;
    }
    return run(std::move(*config));
  }
  std::cerr << kUsage;
  return 2;
}

// turnpike: wiring only. Parses the command line, loads the config, runs the server: SIGHUP
// reloads the config, SIGTERM/SIGINT drain and stop.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
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
#include "server/migrate_coturn_command.hpp"
#include "server/selftest/selftest_command.hpp"
#include "server/server.hpp"
#include "server/systemd_notify.hpp"

namespace {

using turnpike::server::ServerConfig;

constexpr std::string_view kUsage =
    "usage: turnpike [--config FILE.yaml]   run the server (embedded defaults without --config)\n"
    "       turnpike --check-config FILE.yaml   validate a config file and exit\n"
    "       turnpike --print-default-config      print the embedded default config\n"
    "       turnpike credentials --secret S --user NAME [--ttl SECONDS]\n"
    "                                          mint a REST (shared secret) credential\n"
    "       turnpike migrate-coturn TURNSERVER.CONF  print a coturn config as turnpike YAML\n"
    "       turnpike selftest --server HOST[:PORT] (--secret S | --user U --password P)\n"
    "                [--tls-port N] [--ca FILE | --insecure] [--transports udp,tcp,tls] [--json]\n"
    "                                          check a running server (selftest --help)\n"
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

// SIGHUP: re-reads the config file and applies what can change at run time.
void reloadConfig(turnpike::server::Server& server, const std::string* path,
                  turnpike::server::CredentialApi* api) {
  turnpike::server::notifySystemdReloading();
  if (path == nullptr) {
    TP_LOG(kWarn, "SIGHUP: running on the embedded defaults, no --config file to reload");
  } else if (auto next = turnpike::server::loadConfigFile(*path); !next) {
    server.reloadRejected();
    TP_LOG(kError, "reload rejected, the running config stays: ", *path, ": ",
           toString(next.error()));
  } else if (auto report = server.reload(*next); !report) {
    TP_LOG(kError, "reload rejected, the running config stays: ", report.error());
  } else {
    if (api != nullptr) {
      api->reload(server.config());  // new secrets and keys for the credentials it mints
    }
    std::string applied;
    for (const std::string& part : report->applied) {
      applied += (applied.empty() ? "" : ", ") + part;
    }
    TP_LOG(kInfo, "reloaded ", *path, ": applied ", applied);
    for (const std::string& ignored : report->ignored) {
      TP_LOG(kWarn, "reload: changes to ", ignored, " were not applied");
    }
  }
  turnpike::server::notifySystemd("READY=1");
}

// Waits for SIGTERM or SIGINT, reloading on SIGHUP meanwhile.
void serveUntilStopped(turnpike::server::Server& server, const sigset_t& signals,
                       const std::string* path, turnpike::server::CredentialApi* api) {
  for (;;) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGHUP) {
      reloadConfig(server, path, api);
      continue;
    }
    TP_LOG(kInfo, "received ", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    return;
  }
}

// Draining: no new allocations; returns when the existing ones have ended, drain.timeout has
// passed, or a second SIGTERM/SIGINT arrives.
void drain(turnpike::server::Server& server, const sigset_t& signals, const std::string* path,
           turnpike::server::CredentialApi* api) {
  const auto& config = server.config().drain;
  const std::uint64_t active = server.totals().allocations_active;
  if (config.timeout == 0 || active == 0) {
    return;
  }
  server.startDraining();
  TP_LOG(kInfo, "draining ", active, " allocations for up to ", config.timeout,
         " s; new Allocate requests get ",
         config.alternate_servers.empty() && server.config().cluster.alternate_servers.empty()
             ? "403"
             : "300 Try Alternate",
         "; send SIGTERM again to exit now");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.timeout);
  for (;;) {
    const std::uint64_t left = server.totals().allocations_active;
    if (left == 0) {
      TP_LOG(kInfo, "drained: every allocation has ended");
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      TP_LOG(kInfo, "drain timeout: ending ", left, " allocations");
      return;
    }
    constexpr timespec kPoll{0, 200'000'000};
    const int signal_number = sigtimedwait(&signals, nullptr, &kPoll);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      TP_LOG(kInfo, "second ", signal_number == SIGINT ? "SIGINT" : "SIGTERM", ": exiting now");
      return;
    }
    if (signal_number == SIGHUP) {
      reloadConfig(server, path, api);
    }
  }
}

int run(ServerConfig config, const std::string* path) {
  turnpike::server::setLogConfig(config.log);
  // Block the signals before any thread starts, so only this thread receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
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
        auto totals = server.totals();
        totals.ready = server.readiness().has_value();
        const std::optional<turnpike::server::ApiRequestCounts> counts =
            api ? std::optional(api->requestCounts()) : std::nullopt;
        return turnpike::server::renderMetrics(totals, server.workerCount(), TURNPIKE_VERSION,
                                               counts ? &*counts : nullptr);
      },
      {.health = [&server] { return server.health(); },
       .readiness = [&server] { return server.readiness(); }},
      api.get());
  if (auto started = http.start(); !started) {
    TP_LOG(kError, started.error());
    (void)server.stop();
    return 1;
  }
  turnpike::server::notifySystemd("READY=1");
  serveUntilStopped(server, signals, path, api.get());
  turnpike::server::notifySystemd("STOPPING=1");
  drain(server, signals, path, api.get());
  TP_LOG(kInfo, "shutting down");
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
  if (!args.empty() && args[0] == "migrate-coturn") {
    return turnpike::server::runMigrateCoturnCommand({args.begin() + 1, args.end()}, std::cout,
                                                     std::cerr);
  }
  if (!args.empty() && args[0] == "selftest") {
    return turnpike::server::runSelftestCommand({args.begin() + 1, args.end()}, std::cout,
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
    return run(std::move(*config), args.empty() ? nullptr : &args[1]);
  }
  std::cerr << kUsage;
  return 2;
}

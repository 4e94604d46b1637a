#include "server/migrate_coturn_command.hpp"

#include <expected>
#include <string_view>

#include "server/config/config.hpp"
#include "server/migrate_coturn.hpp"

namespace turnpike::server {
namespace {

constexpr std::string_view kUsage =
    "usage: turnpike migrate-coturn TURNSERVER.CONF\n"
    "Prints the equivalent turnpike YAML config on stdout, and on stderr one line per coturn\n"
    "option that is not carried over: FILE:LINE: warning|note: OPTION: why.\n"
    "Exit status: 0 when a config was printed (even with warnings), 1 when the file cannot be\n"
    "read, 2 on a usage error.\n";

}  // namespace

int runMigrateCoturnCommand(const std::vector<std::string>& args, std::ostream& out,
                            std::ostream& err) {
  constexpr int kCannotRead = 1;
  constexpr int kUsageError = 2;
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    out << kUsage;
    return 0;
  }
  if (args.size() != 1 || args[0].starts_with("-")) {
    err << "turnpike migrate-coturn: "
        << (args.empty() ? "a coturn config file is required" : "expected one file name") << "\n"
        << kUsage;
    return kUsageError;
  }
  const std::string& path = args[0];
  const auto text = readTextFile(path);
  if (!text) {
    err << "turnpike migrate-coturn: cannot read " << path << ": " << text.error() << "\n";
    return kCannotRead;
  }
  const CoturnMigration migration = migrateCoturn(*text, path);
  // The converter validates its output; loading it back is a last check that what is printed
  // is what --check-config accepts.
  if (auto loaded = loadConfigText(migration.yaml); !loaded) {
    err << "turnpike migrate-coturn: internal error: the generated config does not load: "
        << toString(loaded.error()) << "\n";
    return kCannotRead;
  }
  out << migration.yaml;
  for (const MigrationMessage& message : migration.messages) {
    err << formatMessage(message, path) << "\n";
  }
  return 0;
}

}  // namespace turnpike::server

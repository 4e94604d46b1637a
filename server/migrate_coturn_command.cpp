#include "server/migrate_coturn_command.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <expected>
#include <memory>
#include <string_view>
#include <system_error>

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

constexpr std::size_t kMaxFileBytes = std::size_t{16} << 20U;  // as the YAML loader

// The whole file, or why it cannot be read.
std::expected<std::string, std::string> readFile(const std::string& path) {
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
  const auto text = readFile(path);
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

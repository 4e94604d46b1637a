// Helpers for the migrate-coturn tests: run the conversion, check that its YAML loads back to
// the same config, and look up messages.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config_writer.hpp"
#include "server/migrate_coturn.hpp"

namespace turnpike::server::test {

inline std::string describe(const CoturnMigration& migration) {
  std::string text = "--- yaml ---\n" + migration.yaml + "--- messages ---\n";
  for (const MigrationMessage& message : migration.messages) {
    text += formatMessage(message, "test.conf") + "\n";
  }
  return text;
}

// Converts `conf` and checks that the YAML loads, to the config the conversion reports.
inline CoturnMigration migrate(std::string_view conf) {
  CoturnMigration migration = migrateCoturn(conf, "test.conf");
  const auto loaded = loadConfigText(migration.yaml);
  EXPECT_TRUE(loaded.has_value()) << (loaded ? "" : toString(loaded.error())) << "\n"
                                  << describe(migration);
  if (loaded) {
    EXPECT_EQ(writeConfigYaml(*loaded), writeConfigYaml(migration.config)) << describe(migration);
  }
  return migration;
}

// The messages about `option`.
inline std::vector<MigrationMessage> about(const CoturnMigration& migration,
                                           std::string_view option) {
  std::vector<MigrationMessage> found;
  std::ranges::copy_if(migration.messages, std::back_inserter(found),
                       [&](const MigrationMessage& message) { return message.option == option; });
  return found;
}

// True if a message about `option` on `line` with `severity` contains `part`.
inline bool says(const CoturnMigration& migration, std::size_t line, std::string_view option,
                 MigrationSeverity severity, std::string_view part) {
  return std::ranges::any_of(migration.messages, [&](const MigrationMessage& message) {
    return message.line == line && message.option == option && message.severity == severity &&
           message.text.find(part) != std::string::npos;
  });
}

inline bool warns(const CoturnMigration& migration, std::size_t line, std::string_view option,
                  std::string_view part = "") {
  return says(migration, line, option, MigrationSeverity::kWarning, part);
}

inline bool notes(const CoturnMigration& migration, std::size_t line, std::string_view option,
                  std::string_view part = "") {
  return says(migration, line, option, MigrationSeverity::kNote, part);
}

// The YAML without its header comment.
inline std::string body(const CoturnMigration& migration) {
  const std::size_t end = migration.yaml.find('\n');
  return migration.yaml.substr(end + 1);
}

inline protocol::IpAddress ip(std::string_view text) {
  return protocol::IpAddress::parse(text).value();
}

// "udp 0.0.0.0:3478" for each listener.
inline std::vector<std::string> listenerTexts(const ServerConfig& config) {
  std::vector<std::string> texts;
  for (const ListenerConfig& listener : config.listeners) {
    texts.push_back(std::string(toString(listener.transport)) + " " +
                    protocol::Endpoint{listener.address, listener.port}.toString());
  }
  return texts;
}

inline std::vector<std::string> prefixTexts(const std::vector<Cidr>& prefixes) {
  std::vector<std::string> texts;
  for (const Cidr& prefix : prefixes) {
    texts.push_back(prefix.toString());
  }
  return texts;
}

}  // namespace turnpike::server::test

// coturn turnserver.conf -> turnpike YAML, as pure text-to-text logic (no I/O). The command
// `turnpike migrate-coturn` (migrate_coturn_command.hpp) reads the file and prints the result.
//
// The input is read the way coturn 4.6.1 reads it: one option per line as `name=value` or
// `name value` (also `--name=value`), whole-line '#' comments, a value in double quotes loses
// them, a flag without a value is on, and a repeated single-valued option keeps its last value.
// Every option that is not carried over exactly gets a message saying why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.hpp"

namespace turnpike::server {

enum class MigrationSeverity : std::uint8_t {
  kNote,     // turnpike behaves the same (or better) without a setting: nothing to do
  kWarning,  // the setting is lost or behaves differently: look at it
};

struct MigrationMessage {
  std::size_t line = 0;  // 1-based line in the coturn file; 0 when about the file as a whole
  std::string option;    // the coturn option, e.g. "cipher-list" (a topic when line is 0)
  MigrationSeverity severity = MigrationSeverity::kWarning;
  std::string text;  // why it is not carried over, or what turnpike does instead
};

struct CoturnMigration {
  ServerConfig config;  // what `yaml` loads to
  std::string yaml;     // a header comment, then the keys that differ from turnpike's defaults
  std::vector<MigrationMessage> messages;  // in line order; messages about the whole file last
};

// Converts the text of a turnserver.conf. `source_name` is only used in the header comment.
// Never fails: what cannot be converted becomes a message.
[[nodiscard]] CoturnMigration migrateCoturn(std::string_view coturn_conf,
                                            std::string_view source_name);

// "FILE:LINE: warning: OPTION: TEXT", or "FILE: note: TOPIC: TEXT" for line 0.
[[nodiscard]] std::string formatMessage(const MigrationMessage& message,
                                        std::string_view source_name);

}  // namespace turnpike::server

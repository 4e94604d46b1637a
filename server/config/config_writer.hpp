// ServerConfig -> YAML text that loadConfigText() reads back to the same config. Used by
// `turnpike migrate-coturn`; written by hand (no yaml-cpp), so it has no I/O and cannot throw
// except on allocation failure.
#pragma once

#include <string>
#include <string_view>

#include "server/config/config.hpp"

namespace turnpike::server {

// The keys whose values differ from the built-in defaults (kDefaultConfigYaml), in the order of
// the README's configuration reference. A default config gives "". Strings are double-quoted
// with YAML escapes, so any UTF-8 text (quotes, '#', ':', control characters) round-trips.
[[nodiscard]] std::string writeConfigYaml(const ServerConfig& config);

// `text` as a YAML double-quoted scalar, e.g. a"b -> "a\"b". Expects UTF-8.
[[nodiscard]] std::string yamlQuote(std::string_view text);

// The built-in default configuration, as loadConfigText(kDefaultConfigYaml) gives it.
[[nodiscard]] const ServerConfig& defaultServerConfig();

}  // namespace turnpike::server

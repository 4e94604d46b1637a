// Process-wide logging. Arguments are formatted only when the level is enabled (style.md
// section 8); nothing is logged per packet above debug level.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

#include "server/config/config.hpp"

namespace turnpike::server {

void setLogConfig(const LogConfig& config);
[[nodiscard]] bool logEnabled(LogLevel level);
void logWrite(LogLevel level, std::string_view message);

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace turnpike::server

// TP_LOG(kInfo, "listening on ", endpoint.toString());
#define TP_LOG(level, ...)                                                     \
  do {                                                                         \
    if (::turnpike::server::logEnabled(::turnpike::server::LogLevel::level)) { \
      ::turnpike::server::logWrite(::turnpike::server::LogLevel::level,        \
                                   ::turnpike::server::concat(__VA_ARGS__));   \
    }                                                                          \
  } while (false)

// Process-wide logging. Arguments are formatted only when the level is enabled (style.md
// section 8); nothing is logged per packet above debug level.
//
// Worker threads defer their lines: info and debug lines are gathered per thread and written
// together when the event-loop iteration ends (logFlush), one write() for all of them, so an
// allocation's accounting line costs no system call of its own. Warnings and errors are written
// at once (with whatever the thread had gathered before them, in order).
#pragma once

#include <charconv>
#include <concepts>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "server/config/config.hpp"

namespace turnpike::server {

void setLogConfig(const LogConfig& config);
[[nodiscard]] bool logEnabled(LogLevel level);
void logWrite(LogLevel level, std::string_view message);
// On this thread, info and debug lines wait for logFlush() (an event loop's thread).
void logDeferWrites(bool defer);
// Writes this thread's deferred lines.
void logFlush();

namespace detail {

inline void appendText(std::string& out, std::string_view text) { out.append(text); }
inline void appendText(std::string& out, char c) { out.push_back(c); }
template <typename T>
requires std::integral<T> &&
    (!std::same_as<T, bool>)&&(!std::same_as<T, char>)void appendText(std::string& out, T value) {
  char digits[24];  // NOLINT: any 64-bit integer with its sign
  const auto end = std::to_chars(std::begin(digits), std::end(digits), value).ptr;
  out.append(std::begin(digits), end);
}
// Anything else that streams (floating point, bool, types with operator<<).
template <typename T>
requires(!std::convertible_to<const T&, std::string_view>) &&
    (!std::integral<T> || std::same_as<T, bool>)void appendText(std::string& out, const T& value) {
  std::ostringstream stream;
  stream << value;
  out += stream.str();
}

}  // namespace detail

// The arguments' text, joined: strings as they are, integers in decimal, anything else as
// operator<< writes it.
template <typename... Args>
std::string concat(const Args&... args) {
  std::string out;
  (detail::appendText(out, args), ...);
  return out;
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

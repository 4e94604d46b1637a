#include "server/log.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "server/http/json.hpp"

namespace turnpike::server {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kText};
std::mutex g_write_mutex;

std::string_view levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 32> buffer{};
  const std::size_t n = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::array<char, 48> out{};
  std::snprintf(out.data(), out.size(), "%.*s.%03dZ", static_cast<int>(n), buffer.data(),
                static_cast<int>(millis));
  return out.data();
}

}  // namespace

void setLogConfig(const LogConfig& config) {
  g_level.store(config.level, std::memory_order_relaxed);
  g_format.store(config.format, std::memory_order_relaxed);
}

bool logEnabled(LogLevel level) {
  return static_cast<int>(level) >= static_cast<int>(g_level.load(std::memory_order_relaxed));
}

void logWrite(LogLevel level, std::string_view message) {
  std::string line;
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    std::string text;
    appendJsonString(text, message);  // quoted; invalid UTF-8 becomes U+FFFD
    line = concat(R"({"ts":")", timestamp(), R"(","level":")", levelName(level), R"(","msg":)",
                  text, "}\n");
  } else {
    line = concat(timestamp(), " ", levelName(level), " ", message, "\n");
  }
  const std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace turnpike::server

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

// Per thread: the time of day to the second, formatted once a second, and the lines waiting
// for logFlush().
struct ThreadLog {
  std::time_t second = -1;
  std::array<char, 24> second_text{};  // "2026-01-02T03:04:05"
  std::size_t second_size = 0;
  bool defer = false;
  std::string pending;
};
thread_local ThreadLog t_log;

// Above this many bytes deferred lines are written at once.
constexpr std::size_t kMaxPending = 64 * 1024;

void appendTimestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  if (seconds != t_log.second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    t_log.second_size = std::strftime(t_log.second_text.data(), t_log.second_text.size(),
                                      "%Y-%m-%dT%H:%M:%S", &utc);
    t_log.second = seconds;
  }
  const auto millis = static_cast<unsigned>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  out.append(t_log.second_text.data(), t_log.second_size);
  const std::array<char, 5> fraction{'.', static_cast<char>('0' + millis / 100),
                                     static_cast<char>('0' + millis / 10 % 10),
                                     static_cast<char>('0' + millis % 10), 'Z'};
  out.append(fraction.data(), fraction.size());
}

void writeOut(std::string_view text) {
  const std::lock_guard lock(g_write_mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
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
  std::string& line = t_log.pending;  // the line is built where it may wait
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    line += R"({"ts":")";
    appendTimestamp(line);
    line += R"(","level":")";
    line += levelName(level);
    line += R"(","msg":)";
    appendJsonString(line, message);  // quoted; invalid UTF-8 becomes U+FFFD
    line += "}\n";
  } else {
    appendTimestamp(line);
    line += ' ';
    line += levelName(level);
    line += ' ';
    line += message;
    line += '\n';
  }
  if (!t_log.defer || level >= LogLevel::kWarn || line.size() > kMaxPending) {
    logFlush();
  }
}

void logDeferWrites(bool defer) {
  t_log.defer = defer;
  if (!defer) {
    logFlush();
  }
}

void logFlush() {
  if (!t_log.pending.empty()) {
    writeOut(t_log.pending);
    t_log.pending.clear();
  }
}

}  // namespace turnpike::server

#include "server/metrics/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <iterator>
#include <string>

#include "server/config/config.hpp"
#include "server/metrics/core_metrics.hpp"

namespace turnpike::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

std::optional<std::uint64_t> parseNumber(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

void add(std::vector<MetricFamily>& families, const char* name, const char* help, MetricType type,
         double value) {
  families.push_back(MetricFamily{name, help, type, {metricSample(type, value)}});
}

}  // namespace

std::optional<ProcStat> parseProcStat(std::string_view text) {
  const std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  // Fields from 3 (state) on, separated by single spaces.
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(start);
    const std::size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  // fields[0] is field 3, so field N is fields[N - 3].
  constexpr std::size_t kRssField = 24;
  if (fields.size() < kRssField - 2) {
    return std::nullopt;
  }
  auto field = [&](std::size_t n) { return parseNumber(fields[n - 3]); };
  const auto utime = field(14);
  const auto stime = field(15);
  const auto start = field(22);
  const auto vsize = field(23);
  const auto rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) {
    return std::nullopt;
  }
  return ProcStat{*utime, *stime, *start, *vsize, *rss};
}

std::optional<std::uint64_t> parseBootTime(std::string_view text) {
  constexpr std::string_view kKey = "btime ";
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    const std::string_view line =
        text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (line.starts_with(kKey)) {
      return parseNumber(line.substr(kKey.size()));
    }
    if (end == std::string_view::npos) {
      break;
    }
    at = end + 1;
  }
  return std::nullopt;
}

void appendProcessMetrics(std::vector<MetricFamily>& families) {
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  const long page_size = sysconf(_SC_PAGESIZE);
  const auto stat_text = readTextFile("/proc/self/stat");
  const auto stat = stat_text ? parseProcStat(*stat_text) : std::nullopt;
  if (stat && ticks_per_second > 0 && page_size > 0) {
    const auto ticks = static_cast<double>(ticks_per_second);
    add(families, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
        MetricType::Counter, static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks);
    add(families, "process_resident_memory_bytes", "Resident memory size in bytes.",
        MetricType::Gauge, static_cast<double>(stat->rss_pages) * static_cast<double>(page_size));
    add(families, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
        MetricType::Gauge, static_cast<double>(stat->vsize_bytes));
    const auto boot_text = readTextFile("/proc/stat");
    if (const auto boot = boot_text ? parseBootTime(*boot_text) : std::nullopt) {
      add(families, "process_start_time_seconds",
          "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
          static_cast<double>(*boot) + static_cast<double>(stat->start_ticks) / ticks);
    }
  }
  std::error_code error;
  std::size_t open = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++open;
  }
  if (!error) {
    // The directory iterator's own descriptor is counted too; it is closed again now.
    add(families, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(open > 0 ? open - 1 : 0));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    add(families, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace turnpike::server

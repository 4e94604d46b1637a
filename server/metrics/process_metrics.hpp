// The standard Prometheus process_* metrics (as client_golang names them), read from /proc at
// scrape time: CPU, memory, open and maximum file descriptors, start time.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace turnpike::server {

// The fields of /proc/<pid>/stat that the metrics use (proc(5)).
struct ProcStat {
  std::uint64_t utime_ticks = 0;  // field 14
  std::uint64_t stime_ticks = 0;  // field 15
  std::uint64_t start_ticks = 0;  // field 22: after boot
  std::uint64_t vsize_bytes = 0;  // field 23
  std::uint64_t rss_pages = 0;    // field 24
};

// Parses the text of /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'. nullopt when malformed.
[[nodiscard]] std::optional<ProcStat> parseProcStat(std::string_view text);

// The boot time ("btime" line) from the text of /proc/stat.
[[nodiscard]] std::optional<std::uint64_t> parseBootTime(std::string_view text);

// Appends process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds for this process; a metric whose source cannot be read is left out.
void appendProcessMetrics(std::vector<prometheus::MetricFamily>& families);

}  // namespace turnpike::server

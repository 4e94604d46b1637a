// Shared by the reliability suite (ctest label `reliability`): the server's resources read from
// /proc/<pid> and /metrics, the ReliabilityTest fixture (TurnTest with HTTP on), and small socket
// helpers for many-socket tests. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {

// ---- /proc/<pid> ----

// Entries in /proc/<pid>/fd, or nullopt when it cannot be read.
[[nodiscard]] std::optional<std::size_t> openFdCount(pid_t pid);
// VmRSS from /proc/<pid>/status, in bytes.
[[nodiscard]] std::optional<std::uint64_t> residentBytes(pid_t pid);
// utime + stime from /proc/<pid>/stat, in seconds.
[[nodiscard]] std::optional<double> cpuSeconds(pid_t pid);

// "fd -> target" lines from /proc/<pid>/fd, for failure messages.
[[nodiscard]] std::string fdTable(pid_t pid);

inline constexpr std::uint64_t kMiB = 1024 * 1024;

// Built with sanitizers (TURNPIKE_SANITIZE): ASan's quarantine keeps freed memory, so RSS bounds
// are not checked (they are reported); and the sanitizer runtimes need fds of their own (UBSan's
// vptr check opens a pipe to probe memory, and aborts the process when that fails), so the
// tests that run a process out of fds are skipped.
#ifdef TURNPIKE_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// An RSS bound, or none when kSanitized.
[[nodiscard]] constexpr std::uint64_t rssBound(std::uint64_t bound) {
  return kSanitized ? std::numeric_limits<std::uint64_t>::max() : bound;
}

// ---- Sockets ----

// A UDP socket bound to `address` (any port), not connected, with a receive buffer of
// `receive_buffer` bytes (capped by net.core.rmem_max) so that bursts are not dropped here.
[[nodiscard]] UniqueFd udpSocketOn(const protocol::IpAddress& address,
                                   int receive_buffer = 1 << 20);
// A non-blocking UDP socket bound to `source` (any port) and connected to `server`.
[[nodiscard]] UniqueFd udpConnectFrom(const protocol::IpAddress& source,
                                      const protocol::Endpoint& server);
// A non-blocking TCP connection from the loopback to `server` that is closed with a RST instead
// of a FIN when the fd is closed (SO_LINGER 0), as when a client's host disappears mid-stream
// and its kernel answers the next segment. Invalid fd when not connected within timeout.
[[nodiscard]] UniqueFd tcpConnectAbortive(const protocol::Endpoint& server,
                                          Millis timeout = kReplyTimeout);
// Sets SO_LINGER 0 on fd: close() then sends a RST.
void setAbortiveClose(int fd);
// A Binding request over UDP from a fresh socket, sent up to `tries` times 500 ms apart (RFC
// 8489 retransmission): the transmission that was answered (1 = the first), or 0 for none.
[[nodiscard]] int udpBindingAttempts(const protocol::Endpoint& server, int tries);
// How many of `fds` the server has not closed (EOF or RST) within `timeout`, shared by all.
[[nodiscard]] std::size_t stillOpen(const std::vector<int>& fds, Millis timeout);
// Reads and drops whatever is queued on a non-blocking fd (datagrams or stream bytes).
void discardPending(int fd);

// The first flight of a TLS client (its ClientHello records), made by OpenSSL in memory.
[[nodiscard]] Bytes tlsClientHello();

// The unauthenticated rate limiter's bucket for an IPv4 address: FNV-1a over the 4 bytes, as
// Core::admitUnauthenticated computes it (4096 buckets). Tests use it to keep a flood's source
// addresses out of the bucket of the clients that must still be served.
[[nodiscard]] std::size_t rateLimitBucket(const protocol::IpAddress& address);

// ---- The fixture ----

// What the server holds, from /proc/<pid> and /metrics at one moment.
struct ServerResources {
  std::size_t fds = 0;     // /proc/<pid>/fd entries
  std::uint64_t rss = 0;   // VmRSS bytes
  double metric_fds = -1;  // process_open_fds (counts the scrape's own connection)
  double metric_rss = -1;  // process_resident_memory_bytes
  double allocations = -1;
  double ports_in_use = -1;
  double ports_free = -1;
  double permissions = -1;
  double channels = -1;
  double tcp_active = -1;
  double tls_active = -1;

  [[nodiscard]] std::string toString() const;
};

// TurnTest (relay on 127.0.0.1, alice, peers on 127.0.0.0/8) with /metrics on.
class ReliabilityTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.http = true;
    return options;
  }

  [[nodiscard]] std::optional<std::string> scrape() const {
    return httpGet(httpServer(), "/metrics");
  }
  // One sample of a metric, or -1 when the scrape fails or the sample is missing.
  [[nodiscard]] double metric(std::string_view name,
                              const std::vector<std::string>& labels = {}) const;
  [[nodiscard]] ServerResources resources() const;
  // Waits until the server holds no allocation, permission, channel or relay port, no more
  // TCP/TLS connections than `baseline` and exactly its fd count (ports free as in the
  // baseline). The last reading, and whether it matched, for the failure message; on a
  // mismatch the server's fd table is printed.
  [[nodiscard]] bool backToBaseline(const ServerResources& baseline, Millis timeout,
                                    ServerResources& last) const;
  // Lines of the server log that contain every needle.
  [[nodiscard]] std::size_t logLines(const std::vector<std::string>& needles) const {
    return countLinesWith(serverLog(), needles);
  }
};

// Seconds since `start`, for reports.
[[nodiscard]] inline double secondsSince(TurnClock::time_point start) {
  return std::chrono::duration<double>(TurnClock::now() - start).count();
}

}  // namespace turnpike::test

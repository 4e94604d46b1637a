// turn_load's options, counters and small helpers: the peer sockets' echo, the payload layout,
// an RTT histogram, and the /proc probe of the server's CPU time and RSS.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "benchmarks/load_conn.hpp"

namespace turnpike::bench {

enum class Mode : std::uint8_t { kRelay, kChurn, kHold };

struct Options {
  Mode mode = Mode::kRelay;
  Endpoint server{protocol::IpAddress::v4({127, 0, 0, 1}), 3478};
  Transport transport = Transport::kUdp;
  bool bare = false;
  std::size_t allocations = 100;  // relay: K, hold: N
  double seconds = 5;
  double rate = 0;               // relay: ChannelData sent by the clients per second; 0 = flat out
  std::uint32_t window = 8;      // relay, flat out: packets in flight per allocation
  std::size_t payload = 120;     // relay: ChannelData payload bytes (at least 20)
  std::size_t concurrency = 64;  // requests in flight (establishing, churn, deleting)
  std::uint32_t lifetime = 0;    // LIFETIME asked for (0: the server's default)
  std::string secret = "bench-secret";
  std::string user = "bench";
  pid_t server_pid = 0;    // for server_cpu_s / RSS from /proc
  std::string ready_file;  // hold: written when every allocation is up
  bool busy_poll = false;  // relay: spin instead of sleeping in epoll_wait
};

extern const std::string_view kUsage;

// Empty on success, "help" for --help, otherwise the problem.
[[nodiscard]] std::string parseOptions(int argc, char** argv, Options& options);
[[nodiscard]] const char* toString(Transport transport);

// Soft RLIMIT_NOFILE up to the hard limit.
void raiseFdLimit();
// utime + stime of this process, seconds.
[[nodiscard]] double ownCpuSeconds();

// A non-blocking UDP socket on 127.0.0.1, any port; -1 on failure.
[[nodiscard]] int openPeerSocket();
void connectPeer(int fd, const Endpoint& relayed);
// Echoes every waiting datagram back to the connected relayed address (recvmmsg, sendmmsg);
// returns how many arrived.
std::size_t echoAll(int fd);

// The relay payload: flow index, sequence number, send time, then zeros.
struct Payload {
  std::size_t flow = 0;
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;
};
inline constexpr std::size_t kPayloadHeader = 20;
void encodePayload(MutableBytes out, const Payload& payload);
[[nodiscard]] Payload decodePayload(ConstBytes in);

struct RelayCounters {
  std::uint64_t sent = 0;           // ChannelData sent by the clients
  std::uint64_t peer_received = 0;  // relayed to the peers (server forwarding 1)
  std::uint64_t echoed = 0;         // relayed back to the clients (server forwarding 2)
  std::uint64_t invalid = 0;
  std::uint64_t refused = 0;  // not sent: the client socket's buffer was full
  [[nodiscard]] double lossPercent() const;
};

// RTT in microseconds: 1 us buckets up to 100 ms, then one overflow bucket.
class Histogram {
 public:
  Histogram() : buckets_(kBuckets + 1, 0) {}
  void add(std::int64_t nanoseconds);
  [[nodiscard]] double percentileMicros(double percentile) const;

 private:
  static constexpr std::size_t kBuckets = 100000;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
};

// The server process's CPU time and RSS from /proc (zero without a pid).
// Busy CPU seconds of the whole machine (every process, interrupts and softirq: /proc/stat's
// "cpu" line without idle and iowait). On loopback the kernel bills a packet's delivery to
// whichever context runs it, so this is the fair measure across servers and kernel fast paths.
[[nodiscard]] double machineCpuSeconds();

class ServerProbe {
 public:
  explicit ServerProbe(pid_t pid) : pid_(pid) {}
  [[nodiscard]] double cpuSeconds() const;
  [[nodiscard]] long rssKib() const;

 private:
  pid_t pid_;
};

}  // namespace turnpike::bench

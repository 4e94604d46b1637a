// Flood (issue 5): unauthenticated Allocate requests at kFloodRate for kFloodTime from many
// source ports -- kSockets from one address, and as many again spread over kAddresses other
// addresses -- with the unauthenticated rate limit at its defaults (100/s, burst 200, per
// address and worker). Meanwhile, every kBatchInterval, kBatchSize authenticated clients from
// 127.0.0.1 (challenge, then Allocate, with RFC 8489 retransmissions) must all get allocations,
// and the server's RSS must stay under its baseline + kRssBound. The flood's answers are
// bounded by the limiter: (burst + rate x time) per address and worker.
//
// The limiter keys a fixed table of 4096 buckets by a hash of the address, so two addresses
// can share a bucket; the flood's addresses are picked so that none shares the clients' bucket
// (a real attacker elsewhere on the Internet hashes anywhere).
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "tests/reliability/reliability_support.hpp"
#include "tests/reliability/udp_swarm.hpp"

namespace turnpike::test {
namespace {

constexpr int kFloodRate = 20'000;  // requests per second
constexpr Millis kFloodTime = 10'000ms;
constexpr int kSockets = 256;  // from 127.0.0.2, and as many again from kAddresses others
constexpr int kAddresses = 64;
constexpr Millis kBatchInterval = 500ms;
constexpr std::size_t kBatchSize = 10;
constexpr std::uint64_t kRssBound = 20 * kMiB;
constexpr int kWorkers = 2;
constexpr double kLimitRate = 100;  // the defaults under test
constexpr double kLimitBurst = 200;

class FloodTest : public ReliabilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.threads = kWorkers;
    options.limits.erase("unauthenticated_per_ip_per_second");  // the default: on
    return options;
  }
};

// Flood sources: 127.0.0.2 with kSockets ports, then kAddresses addresses of 127.0.1.0/24 with
// kSockets / kAddresses ports each, skipping addresses that share `protect`'s bucket.
std::vector<UniqueFd> floodSockets(const Endpoint& server, const protocol::IpAddress& protect,
                                   std::size_t& addresses) {
  std::vector<UniqueFd> sockets;
  const std::size_t avoid = rateLimitBucket(protect);
  std::vector<protocol::IpAddress> sources;
  for (std::uint8_t last = 2; sources.empty(); ++last) {
    const auto address = protocol::IpAddress::v4({127, 0, 0, last});
    if (rateLimitBucket(address) != avoid) {
      sources.push_back(address);
    }
  }
  for (int last = 1; last < 255 && static_cast<int>(sources.size()) < 1 + kAddresses; ++last) {
    const auto address = protocol::IpAddress::v4({127, 0, 1, static_cast<std::uint8_t>(last)});
    if (rateLimitBucket(address) != avoid) {
      sources.push_back(address);
    }
  }
  addresses = sources.size();
  for (int i = 0; i < kSockets; ++i) {
    sockets.push_back(udpConnectFrom(sources.front(), server));
  }
  for (int i = 0; i < kSockets; ++i) {
    sockets.push_back(udpConnectFrom(sources[1 + i % (sources.size() - 1)], server));
  }
  return sockets;
}

TEST_F(FloodTest, UnauthenticatedFloodsLeaveAuthenticatedClientsServedAndMemoryBounded) {
  const ServerResources baseline = resources();
  std::size_t addresses = 0;
  std::vector<UniqueFd> flood = floodSockets(server(), loopback(false).address, addresses);
  for (const UniqueFd& fd : flood) {
    ASSERT_TRUE(fd.valid());
  }
  // Valid unauthenticated Allocates, each with its own transaction ID.
  std::vector<Bytes> requests;
  for (int i = 0; i < 64; ++i) {
    requests.push_back(buildMessage(
        randomTransactionId(), [](MessageBuilder& b) { b.addRequestedTransport(17); },
        messageType(Method::kAllocate, MessageClass::kRequest)));
  }

  std::atomic<bool> stop{false};
  std::uint64_t sent = 0;
  std::uint64_t answered = 0;
  const auto flood_start = TurnClock::now();
  std::thread flooder([&] {
    const auto end = flood_start + kFloodTime;
    while (!stop.load() && TurnClock::now() < end) {
      // Paced: as many as are due by now, then read the answers.
      const auto due = static_cast<std::uint64_t>(secondsSince(flood_start) * kFloodRate);
      for (; sent < due; ++sent) {
        const Bytes& request = requests[sent % requests.size()];
        (void)::send(flood[sent % flood.size()].get(), request.data(), request.size(), 0);
      }
      std::array<std::byte, 1500> sink{};
      for (const UniqueFd& fd : flood) {
        while (::recv(fd.get(), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
          ++answered;
        }
      }
      std::this_thread::sleep_for(1ms);
    }
  });

  // Authenticated clients, batch after batch, while the flood runs.
  std::vector<std::unique_ptr<UdpSwarm>> clients;
  std::size_t attempted = 0;
  std::size_t granted = 0;
  double slowest = 0;
  std::uint64_t peak_rss = baseline.rss;
  while (secondsSince(flood_start) < std::chrono::duration<double>(kFloodTime).count()) {
    const auto t0 = TurnClock::now();
    auto batch = std::make_unique<UdpSwarm>(server(), kAlice, loopback(false).address);
    ASSERT_TRUE(batch->open(kBatchSize));
    EXPECT_TRUE(batch->challenge()) << "no 401 challenge for an authenticated client";
    granted += batch->allocate(UdpSwarm::indices(0, kBatchSize), 0, 20'000ms);
    attempted += kBatchSize;
    slowest = std::max(slowest, secondsSince(t0));
    clients.push_back(std::move(batch));
    peak_rss = std::max(peak_rss, residentBytes(serverPid()).value_or(0));
    std::this_thread::sleep_until(t0 + kBatchInterval);
  }
  stop = true;
  flooder.join();
  const double seconds = secondsSince(flood_start);

  EXPECT_EQ(granted, attempted) << "authenticated clients were refused during the flood";
  EXPECT_LE(peak_rss, rssBound(baseline.rss + kRssBound))
      << "RSS rose by " << (peak_rss - baseline.rss) / 1024 << " KiB during the flood";
  // What the limiter lets through: the burst, then the rate, per address and worker.
  const double allowed =
      static_cast<double>(addresses) * kWorkers * (kLimitBurst + kLimitRate * seconds);
  EXPECT_LE(static_cast<double>(answered), allowed);
  const double dropped =
      metric("turnpike_limit_rejections_total", {"limit=\"unauthenticated_per_ip\""});
  EXPECT_GE(dropped, static_cast<double>(sent) - allowed);
  std::uint64_t retransmissions = 0;
  for (const auto& batch : clients) {
    retransmissions += batch->retransmissions();
  }
  std::printf(
      "flood: %llu unauthenticated Allocates in %.1f s (%.0f/s) from %d sockets on %zu "
      "addresses; %llu answered (limit %.0f), %.0f dropped by the limiter; server CPU %.1f s; "
      "authenticated: %zu/%zu allocated, slowest batch of %zu %.0f ms, %llu retransmissions; "
      "RSS baseline %.1f MiB, peak %.1f MiB\n",
      static_cast<unsigned long long>(sent), seconds, static_cast<double>(sent) / seconds,
      2 * kSockets, addresses, static_cast<unsigned long long>(answered), allowed, dropped,
      cpuSeconds(serverPid()).value_or(0), granted, attempted, kBatchSize, slowest * 1000,
      static_cast<unsigned long long>(retransmissions), static_cast<double>(baseline.rss) / kMiB,
      static_cast<double>(peak_rss) / kMiB);

  // Everything the clients hold is returned.
  for (const auto& batch : clients) {
    EXPECT_EQ(batch->release(UdpSwarm::indices(0, kBatchSize), 20'000ms), kBatchSize);
  }
  clients.clear();
  ServerResources after;
  EXPECT_TRUE(backToBaseline(baseline, 5000ms, after))
      << "baseline: " << baseline.toString() << "\nafter:    " << after.toString();
  EXPECT_TRUE(udpBindingWorks());
}

}  // namespace
}  // namespace turnpike::test

// Soak (issue 4): allocations churn for a bounded time -- several thousand created at once from
// their own UDP sockets, a sample relaying both ways, all deleted -- round after round. After
// every round the server's fd count must be back exactly at its baseline and every relay port
// free. Memory: the first round warms the allocator up; after it, RSS may grow by kRssSlack plus
// kHeapBytesPerAllocation per allocation created since. That allowance is the core's deadline
// heap: a deleted allocation's entry (16 bytes, in a vector that doubles) stays until its first
// deadline, the response cache's 40 s, so the heap holds up to 40 s of churn and RSS levels off
// after 40 s (measured: +4.9 MiB at ~7,000 allocations/s, flat from then on). A leak of
// anything an allocation owns (~2.4 KiB each) fails at once. Runs longer than kPlateauAfter
// also check that level: RSS at the end within kRssSlack of RSS at kPlateauAfter.
//
// TURNPIKE_SOAK_SECONDS sets the duration (default kCiSeconds, the CI run);
// benchmarks/soak.sh runs it for longer.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/reliability/reliability_support.hpp"
#include "tests/reliability/udp_swarm.hpp"

namespace turnpike::test {
namespace {

constexpr std::size_t kLive = 3000;   // allocations held at once
constexpr std::size_t kSample = 200;  // of them relay each round
constexpr double kCiSeconds = 20;
constexpr int kMinRounds = 3;
constexpr std::uint64_t kRssSlack = 2 * kMiB;
constexpr std::uint64_t kHeapBytesPerAllocation = 32;
constexpr double kPlateauAfter = 60;
// Below the ephemeral range (32768+), so client sockets never sit in it, and away from the
// integration tests' 20000-29999.
constexpr std::uint16_t kPortMin = 10000;
constexpr std::uint16_t kPortMax = 14999;
constexpr Millis kBatchTimeout = 60'000ms;

double soakSeconds() {
  const char* text = std::getenv("TURNPIKE_SOAK_SECONDS");
  return text != nullptr && std::atof(text) > 0 ? std::atof(text) : kCiSeconds;
}

class SoakTest : public ReliabilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.relay_port_min = kPortMin;
    options.relay_port_max = kPortMax;
    options.log_format = "";
    return options;
  }
};

TEST_F(SoakTest, AllocationChurnLeavesNoFdPortOrMemoryBehind) {
  const double seconds = soakSeconds();
  const ServerResources baseline = resources();
  ASSERT_EQ(baseline.ports_free, kPortMax - kPortMin + 1) << baseline.toString();
  const UniqueFd peer = udpSocketOn(loopback(false).address, 4 << 20);
  ASSERT_TRUE(peer.valid());
  const Endpoint peer_endpoint = localEndpointOf(peer.get());

  const auto start = TurnClock::now();
  std::uint64_t warm_rss = 0;
  std::uint64_t peak_rss = 0;
  std::uint64_t first_full_rss = 0;
  std::uint64_t plateau_rss = 0;  // after kPlateauAfter
  std::uint64_t last_rss = 0;
  double allocate_seconds = 0;
  double release_seconds = 0;
  std::uint64_t retransmissions = 0;
  int rounds = 0;
  while (rounds < kMinRounds || secondsSince(start) < seconds) {
    SCOPED_TRACE("round " + std::to_string(rounds));
    // Fresh sockets each round: new 5-tuples, as new clients would be.
    UdpSwarm swarm(server(), kAlice, loopback(false).address);
    ASSERT_TRUE(swarm.open(kLive)) << "cannot open " << kLive << " client sockets";
    ASSERT_TRUE(swarm.challenge());
    const auto all = UdpSwarm::indices(0, kLive);

    auto t0 = TurnClock::now();
    ASSERT_EQ(swarm.allocate(all, 0, kBatchTimeout), kLive) << swarm.lastOutcome();
    const double allocated_in = secondsSince(t0);
    allocate_seconds += allocated_in;
    const ServerResources full = resources();
    EXPECT_EQ(full.allocations, kLive) << full.toString();
    EXPECT_EQ(full.ports_in_use, kLive) << full.toString();
    EXPECT_EQ(full.fds, baseline.fds + kLive) << "one fd per allocation: " << full.toString();
    peak_rss = std::max(peak_rss, full.rss);
    first_full_rss = rounds == 0 ? full.rss : first_full_rss;

    // A different sample relays each round.
    const std::size_t first = (rounds * kSample) % (kLive - kSample);
    const auto sample = UdpSwarm::indices(first, first + kSample);
    EXPECT_EQ(swarm.channelBind(sample, kChannel, peer_endpoint, kBatchTimeout), kSample)
        << swarm.lastOutcome();
    EXPECT_EQ(swarm.roundTrips(sample, kChannel, peer.get(), 10'000ms), kSample);

    t0 = TurnClock::now();
    EXPECT_EQ(swarm.release(all, kBatchTimeout), kLive) << swarm.lastOutcome();
    const double released_in = secondsSince(t0);
    release_seconds += released_in;
    retransmissions += swarm.retransmissions();
    swarm.closeAll();

    ServerResources after;
    ASSERT_TRUE(backToBaseline(baseline, 10'000ms, after))
        << "baseline: " << baseline.toString() << "\nafter:    " << after.toString();
    if (rounds == 0) {
      warm_rss = after.rss;
    } else {
      const std::uint64_t created = rounds * kLive;
      EXPECT_LE(after.rss, rssBound(warm_rss + kRssSlack + kHeapBytesPerAllocation * created))
          << "RSS grew by " << (after.rss - warm_rss) / 1024 << " KiB over " << created
          << " allocations since the first round";
    }
    if (plateau_rss == 0 && secondsSince(start) >= kPlateauAfter) {
      plateau_rss = after.rss;
    }
    last_rss = after.rss;
    if (rounds < 5 || rounds % 25 == 0) {
      std::printf(
          "round %d: %zu allocated in %.2f s, deleted in %.2f s; after: fds %zu (baseline %zu), "
          "RSS %.1f MiB\n",
          rounds, kLive, allocated_in, released_in, after.fds, baseline.fds,
          static_cast<double>(after.rss) / kMiB);
    }
    ++rounds;
    if (HasFailure()) {
      break;
    }
  }
  if (plateau_rss != 0) {
    EXPECT_LE(last_rss, rssBound(plateau_rss + kRssSlack))
        << "RSS still grows after " << kPlateauAfter << " s: a leak";
  }
  const double total = rounds * static_cast<double>(kLive);
  std::printf(
      "soak: %d rounds in %.1f s, %.0f allocations created and deleted; %.0f allocations/s, "
      "%.0f deletions/s; %llu retransmissions; RSS baseline %.1f MiB, peak %.1f MiB "
      "(first round: %.2f KiB per live allocation), after the first round %.1f MiB, "
      "at the end %.1f MiB\n",
      rounds, secondsSince(start), total, total / allocate_seconds, total / release_seconds,
      static_cast<unsigned long long>(retransmissions), static_cast<double>(baseline.rss) / kMiB,
      static_cast<double>(peak_rss) / kMiB,
      static_cast<double>(first_full_rss - baseline.rss) / 1024 / kLive,
      static_cast<double>(warm_rss) / kMiB, static_cast<double>(last_rss) / kMiB);
  EXPECT_EQ(logLines({"allocation ended", "reason=deleted"}), static_cast<std::size_t>(total));
}

}  // namespace
}  // namespace turnpike::test

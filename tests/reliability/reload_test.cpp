// Reload under load (issue 3): SIGHUP every second for kReloads seconds while 12 allocations
// (6 over UDP, 6 over TCP, each with a channel to its own peer, which echoes) relay 100 packets
// per second each way. Each reload rewrites the config (a new user, a changed limit, the peer
// policy) and re-reads the TLS certificate, and must be logged as applied. Afterwards no
// allocation has ended and each still relays, and loss stays within the tolerance: zero. Every
// relayed packet crosses loopback UDP at least once, whose only loss is a full socket buffer;
// at this rate that would take the server's loop stalling for over 100 ms, which a reload must
// not do.
#include <atomic>
#include <cstdio>
#include <thread>

#include "tests/reliability/relay_load.hpp"
#include "tests/reliability/reliability_support.hpp"

namespace turnpike::test {
namespace {

constexpr int kReloads = 10;
constexpr Millis kReloadInterval = 1000ms;
constexpr Millis kRelayInterval = 10ms;
constexpr std::uint64_t kLossTolerance = 0;

class ReloadUnderLoadTest : public ReliabilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.tls = true;  // so that each reload also re-reads the certificate and key
    return options;
  }
};

TEST_F(ReloadUnderLoadTest, ASighupEverySecondLosesNoAllocationAndNoPacket) {
  RelayLoad load;
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(load.add(std::make_unique<TurnClient>(
        server(), i % 2 == 0 ? TurnTransport::kUdp : TurnTransport::kTcp, kAlice)));
  }
  std::atomic<bool> stop{false};
  const auto start = TurnClock::now();
  std::thread relay(
      [&] { load.run(start + kReloads * kReloadInterval + 500ms, kRelayInterval, stop); });
  std::vector<std::string> outcomes;
  double slowest = 0;
  for (int r = 0; r < kReloads; ++r) {
    std::this_thread::sleep_until(start + (r + 1) * kReloadInterval);
    ServerOptions next = options();
    next.users["user" + std::to_string(r)] = "password" + std::to_string(r);
    next.limits["permissions_per_allocation"] = 64 + r;
    next.peers_allow = {"127.0.0.0/8", "198.51.100." + std::to_string(r) + "/32"};
    rewriteConfig(next);
    const auto t0 = TurnClock::now();
    outcomes.push_back(reload());
    slowest = std::max(slowest, secondsSince(t0));
  }
  relay.join();
  load.drain(500ms, 5000ms);

  std::printf(
      "%d reloads in %.1f s (slowest %.0f ms to be logged); relayed %llu packets, lost %llu "
      "(UDP clients %llu, TCP clients %llu), corrupt %llu, duplicated %llu\n",
      kReloads, secondsSince(start), slowest * 1000, static_cast<unsigned long long>(load.sent()),
      static_cast<unsigned long long>(load.lost()),
      static_cast<unsigned long long>(load.lost(TurnTransport::kUdp)),
      static_cast<unsigned long long>(load.lost(TurnTransport::kTcp)),
      static_cast<unsigned long long>(load.corrupt()),
      static_cast<unsigned long long>(load.duplicates()));
  for (const std::string& line : outcomes) {
    EXPECT_NE(line.find("reloaded "), std::string::npos) << "a reload was not applied: " << line;
  }
  EXPECT_EQ(metric("turnpike_config_reloads_total", {"result=\"success\""}), kReloads);
  EXPECT_LE(load.lost(), kLossTolerance) << load.summary();
  EXPECT_EQ(load.corrupt(), 0U) << load.summary();
  EXPECT_EQ(load.duplicates(), 0U) << load.summary();
  EXPECT_GT(load.sent(), 12U * 2 * 800) << "the load did not run";
  // No allocation lost, and each still relays (and refreshes with its credentials).
  EXPECT_EQ(logLines({"allocation ended"}), 0U) << serverLog();
  EXPECT_EQ(resources().allocations, 12.0);
  load.send();
  load.drain(300ms, 3000ms);
  EXPECT_LE(load.lost(), kLossTolerance) << load.summary();
  for (std::size_t i = 0; i < load.pairs().size(); ++i) {
    EXPECT_TRUE(succeeded(load.client(i).refresh(600), "Refresh after the reloads"));
  }
  // The last reload's user works.
  TurnClient newest(
      server(), TurnTransport::kUdp,
      {"user" + std::to_string(kReloads - 1), "password" + std::to_string(kReloads - 1)});
  EXPECT_TRUE(allocated(newest));
}

}  // namespace
}  // namespace turnpike::test

// Garbage storm (issue 1): for kStormTime, random, truncated, bit-flipped and lying datagrams
// hit the UDP listener (3,000/s) and the open relay ports (300/s, half from the peers' own
// address, which the server relays as Data indications, half from an address without a
// permission), and random or cut-off byte streams hit the TCP, TLS and HTTP listeners (60
// connections/s, up to 48 open, each ending with a FIN, a RST or silence). Meanwhile:
//   - the 8 allocations made before the storm (4 over UDP, 4 over TCP, each with a channel to
//     its own peer that echoes) relay 100 packets/s each way with zero loss, duplication or
//     corruption;
//   - Binding over UDP and over a fresh TCP connection, 4 times a second, is always answered
//     (UDP may retransmit as RFC 8489 does: 500 ms, at most 3 tries);
// and afterwards the server is healthy, its fds are back at the pre-storm count once the
// storm's connections have timed out, and its RSS is within kRssBound of the pre-storm value.
#include <atomic>
#include <cstdio>
#include <thread>

#include "tests/reliability/garbage_storm.hpp"
#include "tests/reliability/relay_load.hpp"
#include "tests/reliability/reliability_support.hpp"

namespace turnpike::test {
namespace {

constexpr Millis kStormTime = 30'000ms;
constexpr Millis kRelayInterval = 10ms;
constexpr Millis kProbeInterval = 250ms;
constexpr std::uint64_t kRssBound = 16 * kMiB;

class StormTest : public ReliabilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.tls = true;
    options.limits["connection_idle_timeout"] = 2;
    options.limits["tls_handshake_timeout"] = 2;
    return options;
  }
};

TEST_F(StormTest, GarbageOnEveryListenerLeavesRelayingAndBindingUntouched) {
  RelayLoad load;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(load.add(std::make_unique<TurnClient>(
        server(), i % 2 == 0 ? TurnTransport::kUdp : TurnTransport::kTcp, kAlice)));
  }
  const ServerResources before = resources();
  StormTargets targets;
  targets.udp = server();
  targets.tcp = {server()};
  targets.tls = {tlsServer()};
  targets.http = {httpServer()};
  for (const auto& pair : load.pairs()) {
    targets.relays.push_back(*pair.client->relayed());
  }
  targets.permitted = loopback(false).address;
  targets.stranger = protocol::IpAddress::v4({127, 0, 0, 2});
  GarbageStorm storm(targets, StormRates{}, std::random_device{}());

  std::atomic<bool> stop{false};
  const auto start = TurnClock::now();
  const auto until = start + kStormTime;
  std::thread storm_thread([&] { storm.run(until, stop); });
  int probes = 0;
  int udp_unanswered = 0;
  int udp_retransmitted = 0;
  int tcp_unanswered = 0;
  std::thread probe_thread([&] {
    while (!stop.load() && TurnClock::now() < until) {
      const auto next = TurnClock::now() + kProbeInterval;
      const int tries = udpBindingAttempts(server(), 3);
      udp_unanswered += tries == 0 ? 1 : 0;
      udp_retransmitted += tries > 1 ? 1 : 0;
      tcp_unanswered += tcpBindingWorks() ? 0 : 1;
      ++probes;
      std::this_thread::sleep_until(next);
    }
  });
  load.run(until, kRelayInterval, stop);
  stop = true;
  storm_thread.join();
  probe_thread.join();
  load.drain(500ms, 5000ms);

  const StormCounters& c = storm.counters();
  std::printf(
      "storm %.1f s: %llu datagrams to the listener (%llu answered), %llu to relay ports, "
      "%llu connections (%llu bytes; %llu closed by the server, %llu FIN, %llu RST, %llu "
      "refused); relayed %llu packets, lost %llu; %d Binding probes, UDP retransmitted %d, "
      "unanswered UDP %d TCP %d; server CPU %.1f s\n",
      secondsSince(start), static_cast<unsigned long long>(c.datagrams),
      static_cast<unsigned long long>(c.answers),
      static_cast<unsigned long long>(c.relay_datagrams),
      static_cast<unsigned long long>(c.connections),
      static_cast<unsigned long long>(c.stream_bytes),
      static_cast<unsigned long long>(c.closed_by_server), static_cast<unsigned long long>(c.fins),
      static_cast<unsigned long long>(c.resets),
      static_cast<unsigned long long>(c.connect_failures),
      static_cast<unsigned long long>(load.sent()), static_cast<unsigned long long>(load.lost()),
      probes, udp_retransmitted, udp_unanswered, tcp_unanswered,
      cpuSeconds(serverPid()).value_or(0));

  // The pre-storm allocations: not one packet lost, duplicated or altered.
  EXPECT_EQ(load.lost(), 0U) << load.summary();
  EXPECT_EQ(load.corrupt(), 0U) << load.summary();
  EXPECT_EQ(load.duplicates(), 0U) << load.summary();
  EXPECT_GT(load.sent(), 8U * 2 * 2000) << "the load did not run";
  std::uint64_t data_indications = 0;
  for (const auto& pair : load.pairs()) {
    data_indications += pair.other_frames;
  }
  EXPECT_GT(data_indications, 0U) << "junk from the permitted address was not relayed";
  // Binding kept answering.
  EXPECT_GT(probes, 60);
  EXPECT_EQ(udp_unanswered, 0);
  EXPECT_EQ(tcp_unanswered, 0);
  // The storm reached every parser.
  EXPECT_GT(c.datagrams, 60'000U);
  EXPECT_GT(c.connections, 1000U);
  const auto text = scrape();
  ASSERT_TRUE(text);
  EXPECT_GT(
      metricValue(*text, "turnpike_stun_messages_total", {"outcome=\"malformed\""}).value_or(0),
      1000);
  EXPECT_GT(
      metricValue(*text, "turnpike_tcp_connections_closed_total", {"reason=\"framing_error\""})
          .value_or(0),
      100);
  EXPECT_GT(metricValue(*text, "turnpike_tls_handshake_failures_total", {}).value_or(0), 100);
  EXPECT_GT(
      metricValue(*text, "turnpike_relay_dropped_total", {"reason=\"no_permission\""}).value_or(0),
      100);
  // And the server is whole: healthy, the 8 allocations and their 4 connections, nothing else.
  EXPECT_NE(httpGet(httpServer(), "/healthz").value_or("").find(" 200 "), std::string::npos);
  ServerResources after;
  EXPECT_TRUE(eventually(
      [&] {
        after = resources();
        return after.fds == before.fds && after.tcp_active == before.tcp_active &&
               after.tls_active == 0 && after.allocations == 8;
      },
      10'000ms))
      << "before: " << before.toString() << "\nafter:  " << after.toString();
  EXPECT_LE(after.rss, rssBound(before.rss + kRssBound))
      << "RSS rose by " << (after.rss - before.rss) / 1024 << " KiB";
  std::printf("RSS before %.1f MiB, after %.1f MiB; fds before %zu, after %zu\n",
              static_cast<double>(before.rss) / kMiB, static_cast<double>(after.rss) / kMiB,
              before.fds, after.fds);
  EXPECT_TRUE(udpBindingWorks());
}

}  // namespace
}  // namespace turnpike::test

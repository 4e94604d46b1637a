// Abuse limits against the real server (issue 6): TCP connections per address, the idle timeout
// for connections without an allocation, the unauthenticated rate limit, allocations per client
// address, per-allocation bandwidth, and their counters in /metrics.
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

class LimitsTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.http = true;
    return options;
  }
  [[nodiscard]] double rejections(const std::string& limit) const {
    return scrapeMetric(httpServer(), "turnpike_limit_rejections_total",
                        {"limit=\"" + limit + "\""})
        .value_or(-1);
  }
};

class ConnectionLimitsTest : public LimitsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = LimitsTest::options();
    options.limits["connections_per_ip"] = 2;
    options.limits["connection_idle_timeout"] = 1;
    return options;
  }
};

TEST_F(ConnectionLimitsTest, AThirdConnectionFromOneAddressIsClosedAtOnce) {
  std::optional<UniqueFd> first = tcpClient();
  const UniqueFd second = tcpClient();
  ASSERT_TRUE(first->valid() && second.valid());
  // Both accepted before the third connects (two workers accept in no fixed order).
  ASSERT_TRUE(eventually([&] {
    return scrapeMetric(httpServer(), "turnpike_tcp_connections_active", {"transport=\"tcp\""}) ==
           2.0;
  }));
  EXPECT_FALSE(tcpBindingWorks()) << "a third connection was served";
  EXPECT_TRUE(eventually([&] { return rejections("connections_per_ip") >= 1; }));
  // Closing one frees its slot.
  first.reset();
  EXPECT_TRUE(eventually([&] { return tcpBindingWorks(); }, 3000ms));
}

TEST_F(ConnectionLimitsTest, ConnectionsWithoutAnAllocationAreClosedWhenIdle) {
  const UniqueFd idle = tcpClient();
  ASSERT_TRUE(idle.valid());
  TurnClient working = client(TurnTransport::kTcp);
  ASSERT_TRUE(allocated(working));
  // The idle one goes after 1 s (swept every 250 ms); the one with an allocation stays.
  EXPECT_TRUE(waitForPeerClose(idle.get(), 3000ms)) << "the idle connection stayed open";
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(succeeded(working.refresh(600), "Refresh on the connection with an allocation"));
  EXPECT_NE(serverLog().find("closed: idle_timeout"), std::string::npos) << serverLog();
  EXPECT_GE(scrapeMetric(httpServer(), "turnpike_tcp_connections_closed_total",
                         {"reason=\"idle_timeout\""})
                .value_or(0),
            1.0);
}

class ConnectionsTotalTest : public LimitsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = LimitsTest::options();
    options.limits["connections_total"] = 1;
    return options;
  }
};

TEST_F(ConnectionsTotalTest, ASecondConnectionIsClosedAtOnceWhileOneIsOpen) {
  std::optional<UniqueFd> first = tcpClient();
  ASSERT_TRUE(first->valid());
  ASSERT_TRUE(eventually([&] {
    return scrapeMetric(httpServer(), "turnpike_tcp_connections_active", {"transport=\"tcp\""}) ==
           1.0;
  }));
  EXPECT_FALSE(tcpBindingWorks()) << "a second connection was served";
  EXPECT_TRUE(eventually([&] { return rejections("connections_total") >= 1; }));
  first.reset();
  EXPECT_TRUE(eventually([&] { return tcpBindingWorks(); }, 3000ms));
}

class UnauthenticatedRateTest : public LimitsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = LimitsTest::options();
    options.threads = 1;  // the limit is per worker thread
    options.limits["unauthenticated_per_ip_per_second"] = 5;
    options.limits["unauthenticated_per_ip_burst"] = 5;
    return options;
  }
};

TEST_F(UnauthenticatedRateTest, BindingFloodsFromOneAddressAreMostlyDropped) {
  // Start-up probes may have used a token or two: wait for the bucket to fill again.
  std::this_thread::sleep_for(1100ms);
  const UniqueFd udp = udpClient();
  constexpr int kSent = 40;
  for (int i = 0; i < kSent; ++i) {
    sendUdp(udp.get(), buildMessage(randomTransactionId()));
  }
  int answers = 0;
  while (recvUdp(udp.get(), 300ms)) {
    ++answers;
  }
  // The burst of 5, plus what refilled while sending (5 per second).
  EXPECT_GE(answers, 5);
  EXPECT_LE(answers, 8);
  EXPECT_TRUE(eventually([&] { return rejections("unauthenticated_per_ip") >= kSent - 8; }));
}

class AllocationsPerIpTest : public LimitsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = LimitsTest::options();
    options.limits["allocations_per_client_ip"] = 1;
    return options;
  }
};

TEST_F(AllocationsPerIpTest, ASecondAllocationFromOneAddressGets486) {
  TurnClient first = client();
  ASSERT_TRUE(allocated(first));
  TurnClient second = client(TurnTransport::kTcp);
  ASSERT_TRUE(second.connected());
  EXPECT_TRUE(failedWith(second.allocate(), protocol::error::kAllocationQuotaReached,
                         "a second allocation from 127.0.0.1"));
  EXPECT_EQ(rejections("allocations_per_client_ip"), 1.0);
  ASSERT_TRUE(succeeded(first.refresh(0), "Refresh 0"));
  TurnClient third = client();
  EXPECT_TRUE(allocated(third));
}

class BandwidthTest : public LimitsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = LimitsTest::options();
    options.limits["bandwidth_per_allocation_bps"] = 16000;  // 2000 bytes per second
    return options;
  }
};

TEST_F(BandwidthTest, AnAllocationRelaysAboutItsRateAndTheRestIsDropped) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  // 20 x 500 bytes at once: the 2000-byte bucket lets 4 through.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(turn.sendChannelData(kChannel, patternPayload(500)));
  }
  int received = 0;
  while (peer.receive(300ms)) {
    ++received;
  }
  EXPECT_GE(received, 4);
  EXPECT_LE(received, 5);
  EXPECT_GE(scrapeMetric(httpServer(), "turnpike_relay_dropped_total", {"reason=\"bandwidth\""})
                .value_or(0),
            15.0);
}

class UserBandwidthTest : public LimitsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = LimitsTest::options();
    options.limits["bandwidth_per_user_bps"] = 24000;  // 3000 bytes per second for alice
    return options;
  }
};

// Two allocations of one user, on different transports (and so, likely, different workers),
// share the budget; the excess of both together is dropped.
TEST_F(UserBandwidthTest, AUsersAllocationsShareOneBudget) {
  TurnClient udp = client();
  TurnClient tcp = client(TurnTransport::kTcp);
  ASSERT_TRUE(allocated(udp));
  ASSERT_TRUE(allocated(tcp));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(udp.channelBind(kChannel, peer.endpoint()), "ChannelBind udp"));
  ASSERT_TRUE(succeeded(tcp.channelBind(kChannel, peer.endpoint()), "ChannelBind tcp"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(udp.sendChannelData(kChannel, patternPayload(500)));
    ASSERT_TRUE(tcp.sendChannelData(kChannel, patternPayload(500)));
  }
  int received = 0;
  while (peer.receive(300ms)) {
    ++received;
  }
  // 3000 bytes of budget (plus what refills while sending): 6 or 7 of the 20 packets.
  EXPECT_GE(received, 6);
  EXPECT_LE(received, 8);
  EXPECT_GE(
      scrapeMetric(httpServer(), "turnpike_relay_dropped_total", {"reason=\"user_bandwidth\""})
          .value_or(0),
      12.0);
}

}  // namespace
}  // namespace turnpike::test

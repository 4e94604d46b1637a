// Lifetime rules, one test each (style.md section 9): allocation (RFC 8656 section 6), permission
// 300 s (section 9), channel 600 s (section 12), Refresh with lifetime 0 (section 8.2), the timer
// contract (nextDeadline), TCP connection close (section 3.1) and shutdown.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreLifetimeTest : public CoreFixture {
 protected:
  static Attrs lifetime(std::uint32_t seconds) {
    return [seconds](MessageBuilder& b) { b.addU32(attr::kLifetime, seconds); };
  }
  bool relayed(const ClientSource& source, const Endpoint& to) {
    return send(source, sendIndication(to, test::patternBytes(4))).entries().size() == 1;
  }
};

TEST_F(CoreLifetimeTest, AllocationEndsWhenItsLifetimeIsOver) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  const SocketRef relay = relaySocketOf(client);
  const std::uint64_t id = tagOf(client);
  at(599);
  tick();
  ASSERT_NE(allocationOf(client), nullptr);
  EXPECT_TRUE(relays.isOpen(relay));
  at(600);
  tick();
  EXPECT_EQ(allocationOf(client), nullptr);
  EXPECT_FALSE(relays.isOpen(relay));
  ASSERT_EQ(events.ended.size(), 1U);
  EXPECT_EQ(events.ended[0].id, id);
  EXPECT_EQ(events.ended[0].end, AllocationEnd::kExpired);
  EXPECT_EQ(quota.total, 0U);
  const CoreStats& stats = core->stats();
  EXPECT_EQ(stats.allocations_deleted.get(), 1U);
  EXPECT_EQ(stats.allocations_active[0][0].get(), 0U);
  EXPECT_EQ(stats.relay_ports_in_use.get(), 0U);
  EXPECT_EQ(stats.permissions_active.get(), 0U);
  EXPECT_EQ(stats.channels_active.get(), 0U);
  // Its relay socket's datagrams find nothing.
  EXPECT_TRUE(fromPeer(id, peer, test::patternBytes(4)).entries().empty());
}

TEST_F(CoreLifetimeTest, PermissionLastsThreeHundredSeconds) {
  allocateOk(client, lifetime(3600));
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer, peer2})), 0);
  at(200);
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer2})), 0);  // peer2 now until 500
  at(299);
  tick();
  EXPECT_TRUE(relayed(client, peer));
  at(300);
  tick();
  EXPECT_FALSE(relayed(client, peer));
  EXPECT_TRUE(relayed(client, peer2));
  EXPECT_EQ(allocationOf(client)->permissions.size(), 1U);
  EXPECT_EQ(core->stats().permissions_active.get(), 1U);
  at(500);
  tick();
  EXPECT_FALSE(relayed(client, peer2));
  EXPECT_EQ(core->stats().permissions_active.get(), 0U);
}

TEST_F(CoreLifetimeTest, ChannelLastsSixHundredSeconds) {
  allocateOk(client, lifetime(3600));
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  at(500);
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer})), 0);  // keeps the permission to 800
  const Bytes data = channelData(0x4000, test::patternBytes(4));
  at(599);
  tick();
  EXPECT_EQ(send(client, data).entries().size(), 1U);
  at(600);
  tick();
  EXPECT_TRUE(send(client, data).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoChannel), 1U);
  EXPECT_EQ(core->stats().channels_active.get(), 0U);
  // The peer is still permitted: its datagrams now arrive as Data indications.
  const Bytes from_peer = test::patternBytes(4);  // outbox payloads point into it
  fromPeer(tagOf(client), peer, from_peer);
  ASSERT_EQ(outbox.entries().size(), 1U);
  const Bytes wire = wireBytes(outbox.entries().front());
  const auto message = Message::parse(wire);
  ASSERT_TRUE(message);
  EXPECT_TRUE(message->isMethod(Method::kData));
}

TEST_F(CoreLifetimeTest, RefreshWithLifetimeZeroDeletesTheAllocation) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer})), 0);
  const SocketRef relay = relaySocketOf(client);
  at(10);
  const Bytes response = refresh(client, 0);
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(u32Of(response, attr::kLifetime), 0U);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_EQ(allocationOf(client), nullptr);
  EXPECT_FALSE(relays.isOpen(relay));
  ASSERT_EQ(events.ended.size(), 1U);
  EXPECT_EQ(events.ended[0].end, AllocationEnd::kDeleted);
  EXPECT_EQ(events.ended[0].at, time(10));
  EXPECT_EQ(quota.total, 0U);
  EXPECT_EQ(core->stats().permissions_active.get(), 0U);
  // Deleting again: 437, which the client takes as success (section 8.3).
  EXPECT_EQ(errorCodeOf(refresh(client, 0)), error::kAllocationMismatch);
}

// Churn leaves timer entries of deleted allocations in the heap (600 s away); they are dropped in
// bulk once they outnumber the live ones, so the heap stays near one entry per allocation.
TEST_F(CoreLifetimeTest, DeletedAllocationsDoNotPileUpInTheTimerHeap) {
  constexpr std::uint16_t kKeep = 50;  // the fixture has 100 relay ports
  constexpr std::uint16_t kChurn = 6000;
  for (std::uint16_t i = 0; i < kKeep; ++i) {
    allocateOk(udpClient(static_cast<std::uint16_t>(30000 + i)));
  }
  std::size_t most = 0;
  for (std::uint16_t i = 0; i < kChurn; ++i) {
    const ClientSource churned = udpClient(static_cast<std::uint16_t>(40000 + i));
    allocateOk(churned);
    ASSERT_EQ(errorCodeOf(refresh(churned, 0)), 0);
    most = std::max(most, core->queuedDeadlines());
  }
  EXPECT_LE(most, 2U * (kKeep + 1) + 1024 + 1);
  EXPECT_LT(core->queuedDeadlines(), most);
  // The live allocations' deadlines survived the compaction.
  at(600);
  tick();
  EXPECT_EQ(core->stats().allocations_active[0][0].get(), 0U);
  EXPECT_EQ(events.ended.size(), static_cast<std::size_t>(kKeep + kChurn));
  EXPECT_EQ(core->queuedDeadlines(), 0U);
}

TEST_F(CoreLifetimeTest, NextDeadlineIsNeverLaterThanTheNextExpiry) {
  const ClientSource a = udpClient(40100);
  const ClientSource b = udpClient(40101);
  allocateOk(a, lifetime(3600));
  allocateOk(b, [](MessageBuilder& m) { m.addEvenPort(true); });  // reserves N + 1 for 30 s
  const auto check = [&] {
    const auto next = core->nextDeadline();
    ASSERT_TRUE(next.has_value());
    for (const ClientSource* source : {&a, &b}) {
      if (const Allocation* allocation = allocationOf(*source)) {
        EXPECT_LE(*next, allocation->nextDeadline());
        EXPECT_LE(*next, allocation->expires);
        // Nothing past due survives a wake-up.
        for (const Permission& p : allocation->permissions) EXPECT_GT(p.expires, now);
        for (const ChannelBinding& c : allocation->channels) {
          EXPECT_TRUE(!c.active || c.expires > now);
        }
      }
    }
  };
  check();
  // Requests that move deadlines both ways.
  struct Step {
    int at;
    std::function<void()> run;
  };
  const Step steps[] = {
      {10, [&] { EXPECT_EQ(errorCodeOf(createPermission(a, {peer})), 0); }},    // 310
      {20, [&] { EXPECT_EQ(errorCodeOf(channelBind(a, 0x4000, peer2)), 0); }},  // 620, 320
      {100, [&] { EXPECT_EQ(errorCodeOf(refresh(b, 1200)), 0); }},              // b: 1300
      {150, [&] { EXPECT_EQ(errorCodeOf(refresh(a, 700)), 0); }},               // a: 850
  };
  const auto wake_until = [&](MonotonicTime until) {
    for (auto next = core->nextDeadline(); next && *next <= until; next = core->nextDeadline()) {
      now = *next;
      tick();
      if (core->allocationCount() > 0) check();
    }
  };
  for (const Step& step : steps) {
    wake_until(time(step.at));
    at(step.at);
    step.run();
    check();
  }
  wake_until(time(5000));
  ASSERT_EQ(events.ended.size(), 2U);
  EXPECT_EQ(events.ended[0].at, time(850));
  EXPECT_EQ(events.ended[1].at, time(1300));
}

TEST_F(CoreLifetimeTest, ClosingTheTcpConnectionEndsItsAllocation) {
  const ClientSource tcp = tcpClient(7);
  allocateOk(tcp);
  allocateOk(client);
  const SocketRef relay = relaySocketOf(tcp);
  core->onConnectionClosed(SocketRef{SocketRef::Kind::kConnection, 8}, now);
  EXPECT_NE(allocationOf(tcp), nullptr);
  core->onConnectionClosed(tcp.socket, now);
  EXPECT_EQ(allocationOf(tcp), nullptr);
  EXPECT_NE(allocationOf(client), nullptr);
  EXPECT_FALSE(relays.isOpen(relay));
  ASSERT_EQ(events.ended.size(), 1U);
  EXPECT_EQ(events.ended[0].end, AllocationEnd::kConnectionClosed);
  EXPECT_EQ(core->stats().allocations_active[1][0].get(), 0U);
  EXPECT_EQ(core->stats().allocations_active[0][0].get(), 1U);
  EXPECT_EQ(quota.total, 1U);
}

TEST_F(CoreLifetimeTest, ShutdownEndsEverythingAndClosesEveryRelaySocket) {
  makeCore(dualConfig());
  allocateOk(udpClient(40100));
  allocateOk(tcpClient(7));
  allocateOk(udpClient(40101), [](MessageBuilder& b) {
    b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
  });
  allocateOk(udpClient(40102), [](MessageBuilder& b) { b.addEvenPort(true); });  // + reservation
  ASSERT_EQ(relays.openCount(), 6U);
  core->shutdown(now);
  EXPECT_EQ(core->allocationCount(), 0U);
  // The reserved port belongs to the shared store (another worker may claim it) until it expires.
  EXPECT_EQ(relays.openCount(), 1U);
  EXPECT_EQ(relays.closed.size(), 5U);
  reservations.expire(now + Seconds{31});
  EXPECT_EQ(relays.openCount(), 0U);
  EXPECT_EQ(relays.closed.size(), 6U);
  ASSERT_EQ(events.ended.size(), 4U);
  for (const FakeEvents::Ended& ended : events.ended) {
    EXPECT_EQ(ended.end, AllocationEnd::kShutdown);
  }
  EXPECT_EQ(quota.total, 0U);
  EXPECT_EQ(core->stats().relay_ports_in_use.get(), 0U);
  // Timers that were pending find nothing left to close.
  at(5000);
  tick();
  EXPECT_EQ(relays.closed.size(), 6U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

// Abuse limits in the core (issue 6): allocations per client address (486), the caps on
// permissions and channels (508), the per-allocation bandwidth bucket, and the rate limit on
// STUN messages from sources without an allocation. Each rejection is counted.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreLimitsTest : public CoreFixture {
 protected:
  void makeCoreWith(const std::function<void(CoreConfig&)>& change) {
    CoreConfig config = baseConfig();
    change(config);
    makeCore(std::move(config));
  }
  // A Binding request with no attributes, as anyone may send.
  Bytes binding() { return request(Method::kBinding, {}, noAuth()); }
};

TEST_F(CoreLimitsTest, AllocationsPerClientAddressGet486AndAreCounted) {
  quota.per_ip_limit = 1;
  allocateOk(client);
  const ClientSource same_host = udpClient(40001);
  EXPECT_EQ(errorCodeOf(allocate(same_host)), error::kAllocationQuotaReached);
  EXPECT_EQ(core->stats().allocations_per_client_ip_rejected.get(), 1U);
  EXPECT_EQ(core->stats().quota_rejected.get(), 1U);
  // Another address is not affected; the first one frees its slot when its allocation ends.
  ClientSource other = udpClient(40002);
  other.client = ep("198.51.100.8", 40002);
  allocateOk(other);
  EXPECT_EQ(errorCodeOf(refresh(client, 0)), 0);
  allocateOk(same_host);
}

TEST_F(CoreLimitsTest, PermissionAndChannelCapsGet508AndAreCounted) {
  makeCoreWith([](CoreConfig& c) {
    c.max_permissions = 2;
    c.max_channels = 1;
  });
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(createPermission(client, {ep("192.0.2.5", 1), ep("192.0.2.6", 1)})), 0);
  EXPECT_EQ(errorCodeOf(createPermission(client, {ep("192.0.2.7", 1)})),
            error::kInsufficientCapacity);
  EXPECT_EQ(core->stats().permission_limit_rejected.get(), 1U);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, ep("192.0.2.5", 1))), 0);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4001, ep("192.0.2.6", 1))),
            error::kInsufficientCapacity);
  EXPECT_EQ(core->stats().channel_limit_rejected.get(), 1U);
}

TEST_F(CoreLimitsTest, BandwidthBucketDropsTheExcessBothWaysAndRefills) {
  makeCoreWith([](CoreConfig& c) { c.bandwidth_bytes_per_second = 1000; });
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  const Bytes payload = test::patternBytes(400);
  // The bucket starts full (one second's worth): two packets pass, the third does not.
  EXPECT_EQ(send(client, channelData(0x4000, payload)).entries().size(), 1U);
  EXPECT_EQ(fromPeer(tagOf(client), peer, payload).entries().size(), 1U);
  EXPECT_TRUE(send(client, channelData(0x4000, payload)).entries().empty());
  EXPECT_TRUE(fromPeer(tagOf(client), peer, payload).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kBandwidth), 2U);
  // Half a second later, 500 bytes more: one packet, not two.
  now += std::chrono::milliseconds(500);
  EXPECT_EQ(send(client, channelData(0x4000, payload)).entries().size(), 1U);
  EXPECT_TRUE(fromPeer(tagOf(client), peer, payload).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kBandwidth), 3U);
  // Only what was relayed is counted as relayed.
  EXPECT_EQ(allocationOf(client)->bytes_to_peer, 800U);
  EXPECT_EQ(allocationOf(client)->bytes_to_client, 400U);
}

TEST_F(CoreLimitsTest, WithoutABandwidthLimitNothingIsDropped) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(send(client, channelData(0x4000, test::patternBytes(1200))).entries().size(), 1U);
  }
  EXPECT_EQ(relayDrops(RelayDrop::kBandwidth), 0U);
}

TEST_F(CoreLimitsTest, UnauthenticatedMessagesPerSourceAreRateLimited) {
  makeCoreWith([](CoreConfig& c) {
    c.unauthenticated_per_second = 2;
    c.unauthenticated_burst = 3;
  });
  // A burst of 3 is answered, the rest dropped without an answer and counted.
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    answered += static_cast<int>(send(udpClient(41000 + i), binding()).entries().size());
  }
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(core->stats().unauthenticated_dropped.get(), 7U);
  // Another address has its own bucket.
  ClientSource other = udpClient(40000);
  other.client = ep("198.51.100.99", 40000);
  EXPECT_EQ(send(other, binding()).entries().size(), 1U);
  // Two per second come back.
  now += std::chrono::seconds(1);
  answered = 0;
  for (int i = 0; i < 5; ++i) {
    answered += static_cast<int>(send(client, binding()).entries().size());
  }
  EXPECT_EQ(answered, 2);
}

TEST_F(CoreLimitsTest, ASourceWithAnAllocationIsNotRateLimited) {
  makeCoreWith([](CoreConfig& c) {
    c.unauthenticated_per_second = 1;
    c.unauthenticated_burst = 2;
  });
  allocateOk(client);  // uses the burst: the challenge and the authenticated Allocate
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(errorCodeOf(refresh(client, 600)), 0) << i;
  }
  EXPECT_EQ(core->stats().unauthenticated_dropped.get(), 0U);
}

TEST_F(CoreLimitsTest, LimitsChangeAtRunTime) {
  allocateOk(client);
  CoreConfig limits;
  limits.max_permissions = 1;
  limits.bandwidth_bytes_per_second = 10;
  core->setLimits(limits);
  EXPECT_EQ(errorCodeOf(createPermission(client, {ep("192.0.2.5", 1), ep("192.0.2.6", 1)})),
            error::kInsufficientCapacity);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

namespace turnpike::protocol::core_test {
namespace {

class CoreUserBandwidthTest : public CoreFixture {
 protected:
  void SetUp() override {
    CoreConfig config = baseConfig();
    config.user_bandwidth_bytes_per_second = 50000;  // leases of 1000 bytes (20 ms)
    makeCore(std::move(config));
    user_bandwidth.initial = 3000;  // alice's budget in this test, not refilled
  }
};

TEST_F(CoreUserBandwidthTest, OneUsersAllocationsShareOneBudgetTakenInLeases) {
  const ClientSource second = udpClient(40001);
  allocateOk(client);
  allocateOk(second);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  ASSERT_EQ(errorCodeOf(channelBind(second, 0x4000, peer)), 0);
  const Bytes payload = test::patternBytes(500);
  int relayed = 0;
  for (int i = 0; i < 5; ++i) {
    relayed += static_cast<int>(send(client, channelData(0x4000, payload)).entries().size());
    relayed += static_cast<int>(send(second, channelData(0x4000, payload)).entries().size());
  }
  // 3000 bytes for both allocations together: 6 of the 10 packets.
  EXPECT_EQ(relayed, 6);
  EXPECT_EQ(relayDrops(RelayDrop::kUserBandwidth), 4U);
  // Leases of 1000 bytes: 3 granted, then asked again for each dropped packet.
  EXPECT_EQ(user_bandwidth.budget["alice"], 0U);
  EXPECT_LE(user_bandwidth.leases, 3 + 4);
  // Another user has a budget of their own.
  ClientSource bob = udpClient(40002);
  bob.client = ep("198.51.100.9", 40002);
  Auth as_bob;
  as_bob.username = "bob";
  as_bob.password = "bob-password";
  allocateOk(bob, {}, as_bob);
  ASSERT_EQ(errorCodeOf(channelBind(bob, 0x4000, peer, as_bob)), 0);
  EXPECT_EQ(send(bob, channelData(0x4000, payload)).entries().size(), 1U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

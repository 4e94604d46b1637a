// Route events for a kernel fast path (CoreConfig::announce_routes): a UDP client's channel is
// announced while it is bound and its peer has a live permission, and taken down the moment
// either expires, or before its allocation ends. One rule per test (style.md section 9).
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreRoutesTest : public CoreFixture {
 protected:
  CoreRoutesTest() {
    CoreConfig config = baseConfig();
    config.announce_routes = true;
    makeCore(config);
  }
  [[nodiscard]] std::string up(const ClientSource& source, std::uint16_t channel,
                               const Endpoint& to) {
    return "up " + std::to_string(tagOf(source)) + " " + std::to_string(channel) + " " +
           to.toString();
  }
  [[nodiscard]] std::string down(const ClientSource& source, std::uint16_t channel,
                                 const Endpoint& to) {
    return "down " + std::to_string(tagOf(source)) + " " + std::to_string(channel) + " " +
           to.toString();
  }
};

TEST_F(CoreRoutesTest, AChannelBindAnnouncesItsRouteOnce) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  EXPECT_EQ(events.routes, std::vector<std::string>{up(client, 0x4000, peer)});
  // A refresh of the same binding, and a CreatePermission for its peer, change nothing.
  at(100);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer})), 0);
  EXPECT_EQ(events.routes.size(), 1U);
}

TEST_F(CoreRoutesTest, ThePermissionExpiringTakesTheRouteDownAndARefreshBringsItBack) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);  // permission until 300
  at(300);
  tick();
  ASSERT_EQ(events.routes.size(), 2U);
  EXPECT_EQ(events.routes[1], down(client, 0x4000, peer));
  // The channel is still bound (until 600): a new permission makes the route good again.
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer})), 0);
  ASSERT_EQ(events.routes.size(), 3U);
  EXPECT_EQ(events.routes[2], up(client, 0x4000, peer));
}

TEST_F(CoreRoutesTest, TheChannelExpiringTakesTheRouteDown) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  at(299);
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer})), 0);  // permission until 599
  at(500);
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer})), 0);  // permission until 800
  ASSERT_EQ(errorCodeOf(refresh(client, 1200)), 0);  // the allocation outlives the channel
  at(600);                                           // the channel ends here
  tick();
  ASSERT_NE(allocationOf(client), nullptr);
  EXPECT_EQ(events.routes,
            (std::vector<std::string>{up(client, 0x4000, peer), down(client, 0x4000, peer)}));
}

// A timer that fires only after the channel's cooldown too (a stalled loop) still takes the
// route down, naming its peer: the kernel entry is found by it.
TEST_F(CoreRoutesTest, ALateTimerStillTakesTheRouteDownWithItsPeer) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  ASSERT_EQ(errorCodeOf(refresh(client, 3600)), 0);
  at(1000);  // channel expired at 600, cooled down at 900
  tick();
  EXPECT_EQ(events.routes,
            (std::vector<std::string>{up(client, 0x4000, peer), down(client, 0x4000, peer)}));
}

TEST_F(CoreRoutesTest, RoutesGoDownBeforeTheAllocationEnds) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4001, peer2)), 0);
  const std::uint64_t id = tagOf(client);
  ASSERT_EQ(errorCodeOf(refresh(client, 0)), 0);
  ASSERT_EQ(events.routes.size(), 4U);
  EXPECT_EQ(events.routes[2], "down " + std::to_string(id) + " 16384 " + peer.toString());
  EXPECT_EQ(events.routes[3], "down " + std::to_string(id) + " 16385 " + peer2.toString());
  ASSERT_EQ(events.ended.size(), 1U);
}

TEST_F(CoreRoutesTest, TcpClientsAndBandwidthLimitsAnnounceNothing) {
  const ClientSource tcp = tcpClient(3);
  allocateOk(tcp);
  ASSERT_EQ(errorCodeOf(channelBind(tcp, 0x4000, peer)), 0);
  EXPECT_TRUE(events.routes.empty()) << "TCP clients stay in user space";

  CoreConfig limited = baseConfig();
  limited.announce_routes = true;
  limited.bandwidth_bytes_per_second = 1'000'000;
  makeCore(limited);
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  EXPECT_TRUE(events.routes.empty()) << "a bandwidth limit needs every packet in user space";
}

TEST_F(CoreRoutesTest, OffByDefault) {
  makeCore(baseConfig());
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  EXPECT_TRUE(events.routes.empty());
}

}  // namespace
}  // namespace turnpike::protocol::core_test

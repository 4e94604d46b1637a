// Refresh, CreatePermission and ChannelBind (RFC 8656 sections 8.2, 10.2 and 12.2).
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreRequestsTest : public CoreFixture {
 protected:
  [[nodiscard]] bool permitted(const Endpoint& who) const {
    const Allocation* allocation = allocationOf(client);
    return allocation != nullptr && allocation->hasPermission(who.address, now);
  }
  [[nodiscard]] const ChannelBinding* channel(std::uint16_t number) const {
    const Allocation* allocation = allocationOf(client);
    return allocation == nullptr ? nullptr : allocation->channelByNumber(number, now);
  }
  static Attrs lifetime(std::uint32_t seconds) {
    return [seconds](MessageBuilder& b) { b.addU32(attr::kLifetime, seconds); };
  }
  static Attrs family(std::uint16_t type, AddressFamily value) {
    return [type, value](MessageBuilder& b) { b.addAddressFamily(type, value); };
  }
};

// ---- Refresh (RFC 8656 section 8.2) ----

TEST_F(CoreRequestsTest, RefreshWithoutAllocationIs437) {
  const Bytes response = refresh(client, 600);
  EXPECT_EQ(errorCodeOf(response), error::kAllocationMismatch);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_EQ(requests(RequestMethod::kRefresh, 437), 1U);
}

TEST_F(CoreRequestsTest, RefreshSetsANewLifetime) {
  allocateOk(client);
  at(500);
  const Bytes response = refresh(client, 1200);
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(u32Of(response, attr::kLifetime), 1200U);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  // The old expiry (600 s) passes; the new one (500 + 1200 s) ends the allocation.
  advanceTo(1699);
  EXPECT_NE(allocationOf(client), nullptr);
  advanceTo(1700);
  EXPECT_EQ(allocationOf(client), nullptr);
}

TEST_F(CoreRequestsTest, RefreshLifetimeIsClampedLikeAllocate) {
  allocateOk(client);
  struct Case {
    std::optional<std::uint32_t> requested;
    std::uint32_t granted;
  };
  for (const Case& c : {Case{std::nullopt, 600}, Case{99999, 3600}, Case{30, 600}}) {
    SCOPED_TRACE(c.requested ? std::to_string(*c.requested) : "none");
    EXPECT_EQ(u32Of(refresh(client, c.requested), attr::kLifetime), c.granted);
    EXPECT_EQ(allocationOf(client)->expires, now + Seconds{c.granted});
  }
}

TEST_F(CoreRequestsTest, RefreshForAFamilyTheAllocationLacksIs443) {
  struct Case {
    const char* name;
    bool dual_config;
    Attrs allocate_attrs;
    AddressFamily refreshed;
    std::uint16_t code;
  };
  const Case cases[] = {
      {"IPv4 allocation, IPv6 refresh",
       false,
       {},
       AddressFamily::kIpv6,
       error::kPeerAddressFamilyMismatch},
      {"IPv6 allocation, IPv4 refresh", true,
       family(attr::kRequestedAddressFamily, AddressFamily::kIpv6), AddressFamily::kIpv4,
       error::kPeerAddressFamilyMismatch},
      {"IPv4 allocation, IPv4 refresh", false, {}, AddressFamily::kIpv4, 0},
      {"dual allocation, IPv6 refresh", true,
       family(attr::kAdditionalAddressFamily, AddressFamily::kIpv6), AddressFamily::kIpv6, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    core->shutdown(now);
    at(0);
    makeCore(c.dual_config ? dualConfig() : baseConfig());
    allocateOk(client, c.allocate_attrs);
    at(100);
    const Bytes response =
        refresh(client, 1200, family(attr::kRequestedAddressFamily, c.refreshed));
    EXPECT_EQ(errorCodeOf(response), c.code);
    // A rejected refresh leaves the expiry alone.
    EXPECT_EQ(allocationOf(client)->expires, time(c.code == 0 ? 1300 : 600));
  }
}

TEST_F(CoreRequestsTest, RefreshWithExpiredRestCredentialIs401AndExpiryStays) {
  credentials.add("1700000300:erin", {"erin-password"}, kUnixStart + 300, "erin");
  const Auth erin = as("1700000300:erin", "erin-password");
  allocateOk(client, {}, erin);
  at(301);  // the credential expired at 300
  const Bytes response = refresh(client, 1200, {}, erin);
  EXPECT_EQ(errorCodeOf(response), error::kUnauthenticated);
  EXPECT_TRUE(hasAttribute(response, attr::kNonce));
  EXPECT_FALSE(hasAttribute(response, attr::kMessageIntegrity));
  EXPECT_EQ(authFailures(AuthFailure::kExpired), 1U);
  advanceTo(599);
  EXPECT_NE(allocationOf(client), nullptr);
  advanceTo(600);
  EXPECT_EQ(allocationOf(client), nullptr);
  ASSERT_EQ(events.ended.size(), 1U);
  EXPECT_EQ(events.ended[0].end, AllocationEnd::kExpired);
}

// ---- CreatePermission (RFC 8656 section 10.2) ----

TEST_F(CoreRequestsTest, CreatePermissionInstallsAPermissionForTheAddress) {
  allocateOk(client);
  const Bytes response = createPermission(client, {peer});
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_TRUE(permitted(peer));
  EXPECT_TRUE(permitted(ep("192.0.2.5", 1)));  // any port of the address (section 9)
  EXPECT_FALSE(permitted(peer2));
  EXPECT_EQ(core->stats().permissions_active.get(), 1U);
  // Again: refreshed, not duplicated.
  EXPECT_EQ(errorCodeOf(createPermission(client, {peer})), 0);
  EXPECT_EQ(allocationOf(client)->permissions.size(), 1U);
  EXPECT_EQ(core->stats().permissions_active.get(), 1U);
}

TEST_F(CoreRequestsTest, CreatePermissionInstallsEveryPeerOfTheRequest) {
  allocateOk(client);
  const std::vector<Endpoint> peers{peer, peer2, ep("192.0.2.6", 1), ep("192.0.2.5", 2)};
  ASSERT_EQ(errorCodeOf(createPermission(client, peers)), 0);
  for (const Endpoint& p : peers) {
    EXPECT_TRUE(permitted(p)) << p.toString();
  }
  EXPECT_EQ(allocationOf(client)->permissions.size(), 3U);  // 192.0.2.5 once
}

TEST_F(CoreRequestsTest, CreatePermissionWithoutPeerIs400) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(createPermission(client, {})), error::kBadRequest);
  EXPECT_EQ(requests(RequestMethod::kCreatePermission, 400), 1U);
}

TEST_F(CoreRequestsTest, CreatePermissionForOtherFamilyIs443AndInstallsNothing) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(createPermission(client, {peer, peer6})),
            error::kPeerAddressFamilyMismatch);
  EXPECT_FALSE(permitted(peer));
}

TEST_F(CoreRequestsTest, DeniedPeerIs403AndNothingIsInstalled) {
  allocateOk(client);
  struct Case {
    const char* name;
    Endpoint denied;
  };
  const Case cases[] = {
      {"private address", private_peer},
      {"TEST-NET-3 (built-in list)", test_net_peer},
      {"configured deny", config_denied_peer},
  };
  std::uint64_t denied = core->stats().peer_denied.get();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // The allowed peer listed first is not installed either: all or nothing.
    EXPECT_EQ(errorCodeOf(createPermission(client, {peer, c.denied})), error::kForbidden);
    EXPECT_TRUE(allocationOf(client)->permissions.empty());
    EXPECT_EQ(core->stats().peer_denied.get(), ++denied);
  }
}

// A permission is for an IP address (RFC 8656 section 10.2, the port is ignored), so the
// listener's own address may get one; the listener endpoint itself stays unreachable: ChannelBind
// to it is 403 and a Send indication to it is dropped.
TEST_F(CoreRequestsTest, OwnListenerEndpointIsDeniedForChannelsAndSends) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(createPermission(client, {server})), 0);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, server)), error::kForbidden);
  const std::uint64_t before = relayDrops(RelayDrop::kDenied);
  EXPECT_TRUE(send(client, sendIndication(server, Bytes(8, std::byte{1}))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kDenied), before + 1);
}

TEST_F(CoreRequestsTest, The65thPermissionIs508) {
  allocateOk(client);
  std::vector<Endpoint> all;
  for (std::uint8_t i = 1; i <= 65; ++i) {
    all.push_back(Endpoint{IpAddress::v4({127, 0, 1, i}), 9});
  }
  // 28 peers fit in one request beside USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.
  for (std::size_t first = 0; first < 64; first += 28) {
    const std::size_t last = std::min<std::size_t>(first + 28, 64);
    ASSERT_EQ(errorCodeOf(createPermission(client, {all.begin() + first, all.begin() + last})), 0);
  }
  EXPECT_EQ(allocationOf(client)->permissions.size(), 64U);
  EXPECT_EQ(errorCodeOf(createPermission(client, {all[0], all[64]})), error::kInsufficientCapacity);
  EXPECT_FALSE(permitted(all[64]));
  // Refreshing the 64 it has is still fine.
  EXPECT_EQ(errorCodeOf(createPermission(client, {all[0], all[63]})), 0);
  EXPECT_EQ(core->stats().permissions_active.get(), 64U);
}

// Fixed bug, kept as a regression test (the core once): asks the peer policy about the whole
// XOR-PEER-ADDRESS, port included, so a CreatePermission whose port is 0 gets 403 (the policy
// denies port 0). RFC 8656 section 10.2: "The port portion of each attribute is ignored and may be
// any arbitrary value"; the restriction it allows is "on the IP address".
TEST_F(CoreRequestsTest, CreatePermissionIgnoresThePort) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(createPermission(client, {ep("192.0.2.5", 0)})), 0);
  EXPECT_TRUE(permitted(peer));
}

// ---- ChannelBind (RFC 8656 section 12.2) ----

TEST_F(CoreRequestsTest, ChannelBindBindsAndInstallsAPermission) {
  allocateOk(client);
  const Bytes response = channelBind(client, 0x4000, peer);
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  ASSERT_NE(channel(0x4000), nullptr);
  EXPECT_EQ(channel(0x4000)->peer, peer);
  EXPECT_EQ(channel(0x4000)->expires, now + Seconds{600});
  EXPECT_TRUE(permitted(peer));
  EXPECT_EQ(core->stats().channels_active.get(), 1U);
  EXPECT_EQ(core->stats().permissions_active.get(), 1U);
}

TEST_F(CoreRequestsTest, MalformedChannelBindIs400) {
  allocateOk(client);
  struct Case {
    const char* name;
    Attrs attrs;
  };
  const Case cases[] = {
      {"number 0x3FFF",
       [&](MessageBuilder& b) {
         b.addChannelNumber(0x3FFF);
         b.addXorAddress(attr::kXorPeerAddress, peer);
       }},
      {"number 0x8000",
       [&](MessageBuilder& b) {
         b.addChannelNumber(0x8000);
         b.addXorAddress(attr::kXorPeerAddress, peer);
       }},
      {"no CHANNEL-NUMBER",
       [&](MessageBuilder& b) { b.addXorAddress(attr::kXorPeerAddress, peer); }},
      {"no XOR-PEER-ADDRESS", [](MessageBuilder& b) { b.addChannelNumber(0x4000); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(errorCodeOf(exchange(client, request(Method::kChannelBind, c.attrs))),
              error::kBadRequest);
  }
  EXPECT_TRUE(allocationOf(client)->channels.empty());
  EXPECT_TRUE(allocationOf(client)->permissions.empty());
}

TEST_F(CoreRequestsTest, ConflictingChannelBindIs400) {
  allocateOk(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  struct Case {
    const char* name;
    std::uint16_t number;
    Endpoint to;
  };
  const Case cases[] = {
      {"number bound to another peer", 0x4000, peer2},
      {"number bound to another port of the peer", 0x4000, ep("192.0.2.5", 6001)},
      {"peer bound to another number", 0x4001, peer},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(errorCodeOf(channelBind(client, c.number, c.to)), error::kBadRequest);
  }
  EXPECT_EQ(allocationOf(client)->channels.size(), 1U);
  EXPECT_EQ(channel(0x4000)->peer, peer);
}

TEST_F(CoreRequestsTest, RebindingTheSamePairRefreshesIt) {
  allocateOk(client, lifetime(3600));
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  advanceTo(500);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  EXPECT_EQ(channel(0x4000)->expires, time(1100));
  EXPECT_EQ(allocationOf(client)->channels.size(), 1U);
  EXPECT_EQ(core->stats().channels_active.get(), 1U);
  advanceTo(1099);
  EXPECT_NE(channel(0x4000), nullptr);
  advanceTo(1100);
  EXPECT_EQ(channel(0x4000), nullptr);
}

TEST_F(CoreRequestsTest, ExpiredChannelCoolsDownForFiveMinutes) {
  allocateOk(client, lifetime(3600));
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  advanceTo(600);
  EXPECT_EQ(channel(0x4000), nullptr);
  EXPECT_EQ(core->stats().channels_active.get(), 0U);
  // During the cooldown neither the number nor the peer may be bound to something else.
  advanceTo(899);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, peer2)), error::kBadRequest);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4001, peer)), error::kBadRequest);
  advanceTo(900);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, peer2)), 0);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4001, peer)), 0);
  EXPECT_EQ(core->stats().channels_active.get(), 2U);
}

TEST_F(CoreRequestsTest, ChannelBindToDeniedPeerIs403) {
  allocateOk(client);
  struct Case {
    const char* name;
    Endpoint denied;
  };
  const Case cases[] = {
      {"private address", private_peer},
      {"configured deny", config_denied_peer},
      {"the server's listener", server},
      {"port 0", ep("192.0.2.5", 0)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, c.denied)), error::kForbidden);
  }
  EXPECT_TRUE(allocationOf(client)->channels.empty());
  EXPECT_TRUE(allocationOf(client)->permissions.empty());
  EXPECT_EQ(core->stats().peer_denied.get(), std::size(cases));
}

TEST_F(CoreRequestsTest, ChannelBindToOtherFamilyIs443) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, peer6)), error::kPeerAddressFamilyMismatch);
  EXPECT_TRUE(allocationOf(client)->channels.empty());
}

}  // namespace
}  // namespace turnpike::protocol::core_test

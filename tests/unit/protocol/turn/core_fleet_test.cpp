// Fleets (issue 8): with cluster alternates and a load signal, new Allocate requests get 300 Try
// Alternate (ALTERNATE-SERVER, and ALTERNATE-DOMAIN for TLS clients) while the node is
// overloaded; existing allocations are untouched. Draining with the cluster's domain.
#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class FakeLoad final : public LoadSignal {
 public:
  bool overloaded() override {
    ++asked;
    return full;
  }
  bool full = false;
  int asked = 0;
};

class CoreFleetTest : public CoreFixture {
 protected:
  CoreFleetTest() {
    CoreConfig config = dualConfig();
    config.cluster.servers = {ep("2001:db8::7", 3478), ep("192.0.2.7", 3478),
                              ep("192.0.2.8", 3479)};
    config.cluster.domain = "turn.example.com";
    core = std::make_unique<Core>(
        std::move(config),
        CoreDependencies{relays, random, clock, credentials, nonces, quota, reservations, &policy,
                         &events, &user_bandwidth, &load});
  }
  [[nodiscard]] ClientSource tlsClient(std::uint64_t connection) const {
    return {ClientTransport::kTls, SocketRef{SocketRef::Kind::kConnection, connection},
            ep("198.51.100.7", 42000), server};
  }
  [[nodiscard]] std::uint64_t redirects(RedirectReason reason) const {
    return core->stats().redirects[static_cast<std::size_t>(reason)].get();
  }
  static std::optional<Endpoint> alternateOf(const Bytes& response) {
    const auto value = attributeOf(response, attr::kAlternateServer);
    auto decoded = value ? decodeAddress(*value) : std::unexpected(AttributeError::kBadLength);
    return decoded ? std::optional<Endpoint>(*decoded) : std::nullopt;
  }

  FakeLoad load;
};

TEST_F(CoreFleetTest, AnOverloadedNodeSendsNewAllocationsToTheAlternatesInTurn) {
  load.full = true;
  const Bytes first = allocate(client);
  ASSERT_EQ(errorCodeOf(first), error::kTryAlternate);
  EXPECT_EQ(alternateOf(first), ep("192.0.2.7", 3478));  // the client's family only
  EXPECT_EQ(integrityOf(first, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_FALSE(hasAttribute(first, attr::kAlternateDomain));  // not a TLS client
  EXPECT_EQ(alternateOf(allocate(udpClient(40001))), ep("192.0.2.8", 3479));
  EXPECT_EQ(alternateOf(allocate(udpClient(40002))), ep("192.0.2.7", 3478));
  EXPECT_EQ(redirects(RedirectReason::kLoad), 3U);
  EXPECT_EQ(redirects(RedirectReason::kDraining), 0U);
  EXPECT_EQ(requests(RequestMethod::kAllocate, error::kTryAlternate), 3U);
  // Nothing was allocated: no socket, no quota.
  EXPECT_TRUE(relays.opened.empty());
  EXPECT_EQ(quota.total, 0U);
}

TEST_F(CoreFleetTest, TlsClientsAlsoGetTheAlternateDomain) {
  load.full = true;
  const Bytes response = allocate(tlsClient(7));
  ASSERT_EQ(errorCodeOf(response), error::kTryAlternate);
  EXPECT_EQ(alternateOf(response), ep("192.0.2.7", 3478));
  EXPECT_EQ(textOf(response, attr::kAlternateDomain), "turn.example.com");
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  // And without a configured domain, none.
  core->setCluster(AlternateServers{{ep("192.0.2.9", 3478)}, ""});
  const Bytes plain = allocate(tlsClient(8));
  EXPECT_EQ(alternateOf(plain), ep("192.0.2.9", 3478));
  EXPECT_FALSE(hasAttribute(plain, attr::kAlternateDomain));
}

TEST_F(CoreFleetTest, ExistingAllocationsAndOtherRequestsAreUntouched) {
  allocateOk(client);
  load.full = true;
  load.asked = 0;
  EXPECT_EQ(errorCodeOf(refresh(client, 600)), 0);
  EXPECT_EQ(errorCodeOf(createPermission(client, {peer})), 0);
  EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  // A second Allocate on the same 5-tuple is still 437, not a redirect.
  EXPECT_EQ(errorCodeOf(allocate(client)), error::kAllocationMismatch);
  // Unauthenticated requests get the challenge: nobody is redirected by a stranger.
  const Bytes challenge = allocate(udpClient(40001), {}, noAuth());
  EXPECT_EQ(errorCodeOf(challenge), error::kUnauthenticated);
  EXPECT_FALSE(alternateOf(challenge));
  EXPECT_EQ(load.asked, 0);  // only new, authenticated allocations ask
  EXPECT_EQ(redirects(RedirectReason::kLoad), 0U);
  ASSERT_NE(allocationOf(client), nullptr);
}

TEST_F(CoreFleetTest, ANodeWithRoomOrWithoutAnAlternateOfTheFamilyAllocates) {
  allocateOk(client);
  EXPECT_EQ(load.asked, 1);
  // Overloaded, but no IPv4 alternate: better served here than refused.
  load.full = true;
  core->setCluster(AlternateServers{{ep("2001:db8::7", 3478)}, ""});
  allocateOk(udpClient(40001));
  // No alternates at all: the signal is not even asked.
  core->setCluster(AlternateServers{});
  load.asked = 0;
  allocateOk(udpClient(40002));
  EXPECT_EQ(load.asked, 0);
  EXPECT_EQ(redirects(RedirectReason::kLoad), 0U);
  EXPECT_EQ(core->allocationCount(), 3U);
}

TEST_F(CoreFleetTest, DrainingRedirectsAreCountedApartAndCarryTheDomain) {
  core->startDraining({ep("192.0.2.20", 3478)});
  const Bytes response = allocate(tlsClient(9));
  ASSERT_EQ(errorCodeOf(response), error::kTryAlternate);
  EXPECT_EQ(alternateOf(response), ep("192.0.2.20", 3478));
  EXPECT_EQ(textOf(response, attr::kAlternateDomain), "turn.example.com");
  EXPECT_EQ(redirects(RedirectReason::kDraining), 1U);
  EXPECT_EQ(redirects(RedirectReason::kLoad), 0U);
  // A 403 (no alternate of the family) is not a redirect.
  core->startDraining({ep("2001:db8::20", 3478)});
  EXPECT_EQ(errorCodeOf(allocate(client)), error::kForbidden);
  EXPECT_EQ(redirects(RedirectReason::kDraining), 1U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

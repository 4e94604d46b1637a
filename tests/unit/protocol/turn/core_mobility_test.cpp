// RFC 8016 mobility (CoreConfig::mobility_key): a ticket on Allocate, and a Refresh with it from a
// new UDP 5-tuple moving the allocation there, with its permissions, channels and routes.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

Bytes attributeOf(const Bytes& response, std::uint16_t type) {
  const auto message = Message::parse(response);
  if (!message) {
    return {};
  }
  const RawAttribute* attribute = message->find(type);
  if (attribute == nullptr) {
    return {};
  }
  const ConstBytes value = message->value(*attribute);
  return {value.begin(), value.end()};
}

class CoreMobilityTest : public CoreFixture {
 protected:
  CoreMobilityTest() { makeCore(mobilityConfig()); }
  static CoreConfig mobilityConfig() {
    CoreConfig config = baseConfig();
    config.mobility_key.emplace().fill(std::byte{0x5A});
    return config;
  }
  // Allocates for `source` asking for a ticket; returns the ticket.
  Bytes allocateWithTicket(const ClientSource& source) {
    const Bytes response =
        allocate(source, [](MessageBuilder& b) { b.addBytes(attr::kMobilityTicket, {}); });
    EXPECT_EQ(errorCodeOf(response), 0);
    return attributeOf(response, attr::kMobilityTicket);
  }
  // The ticket a Refresh with `ticket` answered with: a fresh one, of a ticket's size.
  static Bytes freshTicketOf(const Bytes& response, const Bytes& ticket) {
    Bytes fresh = attributeOf(response, attr::kMobilityTicket);
    EXPECT_EQ(fresh.size(), 48U);
    EXPECT_NE(fresh, ticket);
    return fresh;
  }
  Bytes refreshWithTicket(const ClientSource& source, const Bytes& ticket, const Auth& auth = {}) {
    return refresh(
        source, std::nullopt, [&](MessageBuilder& b) { b.addBytes(attr::kMobilityTicket, ticket); },
        auth);
  }

  const ClientSource new_port = udpClient(40001);
  const ClientSource new_address{ClientTransport::kUdp, kListener, ep("198.51.100.99", 40000),
                                 server};
};

TEST_F(CoreMobilityTest, AllocateWithAnEmptyTicketGetsOne) {
  EXPECT_EQ(allocateWithTicket(client).size(), 48U);
  // Without the attribute, no ticket.
  EXPECT_TRUE(attributeOf(allocate(new_port), attr::kMobilityTicket).empty());
}

TEST_F(CoreMobilityTest, OffAllocateWithATicketGets405AndRefreshIgnoresIt) {
  makeCore(baseConfig());
  const Bytes response =
      allocate(client, [](MessageBuilder& b) { b.addBytes(attr::kMobilityTicket, {}); });
  EXPECT_EQ(errorCodeOf(response), error::kMobilityForbidden);
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, Bytes(48))), error::kAllocationMismatch);
}

TEST_F(CoreMobilityTest, RefreshWithTheTicketFromANewPortMovesTheAllocation) {
  const Bytes ticket = allocateWithTicket(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  const std::uint64_t id = tagOf(client);
  at(10);
  const Bytes response = refreshWithTicket(new_port, ticket);
  ASSERT_EQ(errorCodeOf(response), 0);
  const Bytes fresh = freshTicketOf(response, ticket);
  EXPECT_EQ(allocationOf(client), nullptr);
  ASSERT_NE(allocationOf(new_port), nullptr);
  EXPECT_EQ(allocationOf(new_port)->id, id);
  EXPECT_EQ(allocationOf(new_port)->channels.size(), 1U);
  EXPECT_EQ(allocationOf(new_port)->permissions.size(), 1U);
  EXPECT_EQ(core->stats().mobility_moves.get(), 1U);
  EXPECT_EQ(events.moves,
            std::vector<std::string>{std::to_string(id) + " " + client.client.toString() + " -> " +
                                     new_port.client.toString()});
  // Data from the peer goes to the new 5-tuple; the client's channel works from it.
  fromPeer(id, peer, Bytes(4, std::byte{1}));
  ASSERT_EQ(outbox.entries().size(), 1U);
  EXPECT_EQ(outbox.entries().front().destination, new_port.client);
  send(new_port, channelData(0x4000, Bytes(4, std::byte{2})));
  ASSERT_EQ(outbox.entries().size(), 1U);
  EXPECT_EQ(outbox.entries().front().destination, peer);
  // The old 5-tuple has nothing any more.
  EXPECT_EQ(errorCodeOf(refresh(client, std::nullopt)), error::kAllocationMismatch);
  // The fresh ticket moves it again, to a new address.
  ASSERT_EQ(errorCodeOf(refreshWithTicket(new_address, fresh)), 0);
  EXPECT_EQ(allocationOf(new_address)->id, id);
  EXPECT_EQ(allocationOf(new_port), nullptr);
}

TEST_F(CoreMobilityTest, MovingToANewAddressMovesItsQuotaCount) {
  quota.per_ip_limit = 1;
  const Bytes ticket = allocateWithTicket(client);
  // The old address's slot is free again; the new one's is taken.
  ASSERT_EQ(errorCodeOf(refreshWithTicket(new_address, ticket)), 0);
  allocateOk(udpClient(40002));
  const ClientSource other{ClientTransport::kUdp, kListener, ep("198.51.100.99", 40009), server};
  EXPECT_EQ(errorCodeOf(allocate(other)), error::kAllocationQuotaReached);
}

TEST_F(CoreMobilityTest, ARefreshWithTheTicketFromTheSame5TupleGetsAFreshOne) {
  const Bytes ticket = allocateWithTicket(client);
  at(10);
  const Bytes response = refreshWithTicket(client, ticket);
  ASSERT_EQ(errorCodeOf(response), 0);
  (void)freshTicketOf(response, ticket);
  EXPECT_EQ(core->stats().mobility_moves.get(), 0U);
  EXPECT_TRUE(events.moves.empty());
}

TEST_F(CoreMobilityTest, AForgedTicketGets400AndMovesNothing) {
  Bytes ticket = allocateWithTicket(client);
  ticket[20] ^= std::byte{1};
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket)), error::kBadRequest);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, Bytes(12))), error::kBadRequest);
  EXPECT_NE(allocationOf(client), nullptr);
  EXPECT_EQ(allocationOf(new_port), nullptr);
}

// A Refresh the allocation refuses (REQUESTED-ADDRESS-FAMILY it does not have: 443) moves
// nothing: the check comes before the move.
TEST_F(CoreMobilityTest, ARefusedRefreshWithTheTicketMovesNothing) {
  const Bytes ticket = allocateWithTicket(client);
  const Bytes response = refresh(new_port, std::nullopt, [&](MessageBuilder& b) {
    b.addBytes(attr::kMobilityTicket, ticket);
    b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv6);
  });
  EXPECT_EQ(errorCodeOf(response), error::kPeerAddressFamilyMismatch);
  EXPECT_NE(allocationOf(client), nullptr);
  EXPECT_EQ(allocationOf(new_port), nullptr);
  EXPECT_EQ(core->stats().mobility_moves.get(), 0U);
}

// A ticket is good for allocation.max_lifetime (3600 s) after it is issued; a Refresh without
// one keeps the allocation alive, not the ticket.
TEST_F(CoreMobilityTest, AnExpiredTicketGets400AndMovesNothing) {
  const Bytes ticket = allocateWithTicket(client);
  at(500);
  ASSERT_EQ(errorCodeOf(refresh(client, 3600)), 0);
  at(3601);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket)), error::kBadRequest);
  EXPECT_NE(allocationOf(client), nullptr);
  EXPECT_EQ(allocationOf(new_port), nullptr);
}

// UDP only: neither a TCP allocation's ticket nor a Refresh over TCP moves anything (405).
TEST_F(CoreMobilityTest, TcpAllocationsAndTcpRefreshesGet405) {
  const ClientSource tcp = tcpClient(7);
  const Bytes tcp_ticket = allocateWithTicket(tcp);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, tcp_ticket)), error::kMobilityForbidden);
  const Bytes udp_ticket = allocateWithTicket(client);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(tcpClient(8), udp_ticket)), error::kMobilityForbidden);
  EXPECT_NE(allocationOf(tcp), nullptr);
  EXPECT_NE(allocationOf(client), nullptr);
  EXPECT_EQ(core->stats().mobility_moves.get(), 0U);
}

TEST_F(CoreMobilityTest, AnotherKeyMakesTheTicketInvalid) {
  const Bytes ticket = allocateWithTicket(client);
  CoreConfig other = mobilityConfig();
  other.mobility_key->fill(std::byte{0x33});
  makeCore(other);
  allocateWithTicket(client);  // the same allocation id in the new core
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket)), error::kBadRequest);
}

TEST_F(CoreMobilityTest, AnotherUserGets441) {
  const Bytes ticket = allocateWithTicket(client);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket, as("bob", "bob-password"))),
            error::kWrongCredentials);
  EXPECT_NE(allocationOf(client), nullptr);
}

TEST_F(CoreMobilityTest, AnEndedAllocationGets437) {
  const Bytes ticket = allocateWithTicket(client);
  ASSERT_EQ(errorCodeOf(refresh(client, 0)), 0);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket)), error::kAllocationMismatch);
}

TEST_F(CoreMobilityTest, AnUnauthenticatedTicketRefreshIsChallenged) {
  const Bytes ticket = allocateWithTicket(client);
  EXPECT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket, noAuth())), error::kUnauthenticated);
  EXPECT_NE(allocationOf(client), nullptr);
}

TEST_F(CoreMobilityTest, RoutesGoDownWithTheOldTupleAndUpWithTheNew) {
  CoreConfig config = mobilityConfig();
  config.announce_routes = true;
  makeCore(config);
  const Bytes ticket = allocateWithTicket(client);
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);
  const std::string route = std::to_string(tagOf(client)) + " 16384 " + peer.toString();
  ASSERT_EQ(errorCodeOf(refreshWithTicket(new_port, ticket)), 0);
  EXPECT_EQ(events.routes,
            (std::vector<std::string>{"up " + route, "down " + route, "up " + route}));
}

}  // namespace
}  // namespace turnpike::protocol::core_test

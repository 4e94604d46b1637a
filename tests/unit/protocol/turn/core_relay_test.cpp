// The data path (RFC 8656 sections 11 and 12): Send indications and ChannelData to peers, Data
// indications and ChannelData to clients, and what is dropped. Relayed payloads are not copied.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreRelayTest : public CoreFixture {
 protected:
  // An allocation for `source` with a permission for `peer`, and a channel if asked.
  void setUpRelay(const ClientSource& source, std::optional<std::uint16_t> number = std::nullopt) {
    allocateOk(source, [](MessageBuilder& b) { b.addU32(attr::kLifetime, 3600); });
    ASSERT_EQ(errorCodeOf(createPermission(source, {peer})), 0);
    if (number) {
      ASSERT_EQ(errorCodeOf(channelBind(source, *number, peer)), 0);
    }
  }
  // The entry's payload is a view into `input` (zero copy).
  static bool pointsInto(const OutboxEntry& entry, const Bytes& input) {
    const std::byte* begin = input.data();
    return entry.payload.data() >= begin &&
           entry.payload.data() + entry.payload.size() <= begin + input.size();
  }
  const OutboxEntry* single() const {
    EXPECT_EQ(outbox.entries().size(), 1U);
    return outbox.entries().size() == 1 ? &outbox.entries().front() : nullptr;
  }
};

TEST_F(CoreRelayTest, SendIndicationWithPermissionGoesToThePeer) {
  setUpRelay(client);
  const Bytes data = test::patternBytes(11);
  const Bytes message = sendIndication(peer, data);
  send(client, message);
  const OutboxEntry* entry = single();
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->socket, relaySocketOf(client));
  EXPECT_EQ(entry->destination, peer);
  EXPECT_EQ(entry->head_size, 0U);
  EXPECT_EQ(entry->padding, 0U);
  EXPECT_EQ(test::toHex(entry->payload), test::toHex(data));
  EXPECT_TRUE(pointsInto(*entry, message));
  EXPECT_EQ(core->stats().relayed_bytes[0][0].get(), 11U);
  EXPECT_EQ(core->stats().relayed_packets[0][0].get(), 1U);
  EXPECT_EQ(allocationOf(client)->bytes_to_peer, 11U);
}

TEST_F(CoreRelayTest, SendIndicationWithoutPermissionIsDropped) {
  allocateOk(client);
  EXPECT_TRUE(send(client, sendIndication(peer, test::patternBytes(8))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoPermission), 1U);
}

TEST_F(CoreRelayTest, SendIndicationWithoutAllocationIsDropped) {
  EXPECT_TRUE(send(client, sendIndication(peer, test::patternBytes(8))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoAllocation), 1U);
}

TEST_F(CoreRelayTest, SendIndicationToTheServersOwnPortIsDropped) {
  allocateOk(client);
  // A permission is per address: one for the listener's address, through another port...
  ASSERT_EQ(errorCodeOf(createPermission(client, {ep("192.0.2.1", 5000)})), 0);
  send(client, sendIndication(ep("192.0.2.1", 5000), test::patternBytes(4)));
  EXPECT_EQ(outbox.entries().size(), 1U);
  // ...still does not reach the listener itself (RFC 8656 section 21.1.7, loops).
  EXPECT_TRUE(send(client, sendIndication(server, test::patternBytes(4))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kDenied), 1U);
}

TEST_F(CoreRelayTest, MalformedSendIndicationIsDropped) {
  setUpRelay(client);
  const Bytes no_data = indication(
      Method::kSend, [&](MessageBuilder& b) { b.addXorAddress(attr::kXorPeerAddress, peer); });
  const Bytes no_peer =
      indication(Method::kSend, [](MessageBuilder& b) { b.addBytes(attr::kData, Bytes(4)); });
  for (const Bytes* message : {&no_data, &no_peer}) {
    EXPECT_TRUE(send(client, *message).entries().empty());
  }
  EXPECT_EQ(relayDrops(RelayDrop::kMalformed), 2U);
}

TEST_F(CoreRelayTest, PeerDatagramWithoutChannelBecomesADataIndication) {
  setUpRelay(client);
  const Bytes data = test::patternBytes(13);
  fromPeer(tagOf(client), peer, data);
  const OutboxEntry* entry = single();
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->socket, client.socket);
  EXPECT_EQ(entry->destination, client.client);
  EXPECT_EQ(entry->payload.data(), data.data());  // the DATA value is the caller's buffer
  // Head, payload and padding make one valid STUN message.
  const Bytes wire = wireBytes(*entry);
  EXPECT_EQ(wire.size() % 4, 0U);
  const auto message = Message::parse(wire);
  ASSERT_TRUE(message) << test::toHex(wire);
  EXPECT_TRUE(message->isMethod(Method::kData));
  EXPECT_EQ(message->messageClass(), MessageClass::kIndication);
  EXPECT_EQ(xorAddressesOf(wire, attr::kXorPeerAddress), std::vector{peer});
  EXPECT_EQ(test::toHex(test::valueOf(*message, attr::kData)), test::toHex(data));
  EXPECT_EQ(core->stats().relayed_bytes[1][0].get(), 13U);
  EXPECT_EQ(allocationOf(client)->packets_to_client, 1U);
}

TEST_F(CoreRelayTest, PeerDatagramOnAChannelBecomesChannelData) {
  struct Case {
    bool tcp;
    std::size_t size;
    std::uint8_t padding;  // none over UDP, to a multiple of 4 over TCP (section 12.5)
  };
  const Case cases[] = {{false, 5, 0}, {false, 8, 0}, {true, 5, 3}, {true, 8, 0}, {true, 1, 3}};
  std::uint16_t port = 40100;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << (c.tcp ? "TCP " : "UDP ") << c.size);
    const ClientSource source = c.tcp ? tcpClient(port) : udpClient(port);
    ++port;
    setUpRelay(source, 0x4123);
    const Bytes data = test::patternBytes(c.size);
    fromPeer(tagOf(source), peer, data);
    const OutboxEntry* entry = single();
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->socket, source.socket);
    EXPECT_EQ(test::toHex(entry->head()),
              test::toHex(test::octets({0x41, 0x23, 0x00, static_cast<std::uint8_t>(c.size)})));
    EXPECT_EQ(entry->payload.data(), data.data());
    EXPECT_EQ(entry->payload.size(), c.size);
    EXPECT_EQ(entry->padding, c.padding);
    const Bytes wire = wireBytes(*entry);
    const auto parsed = parseChannelData(wire);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(test::toHex(parsed->data), test::toHex(data));
  }
  EXPECT_EQ(core->stats().relayed_packets[1][0].get(), 2U);
  EXPECT_EQ(core->stats().relayed_packets[1][1].get(), 3U);
}

TEST_F(CoreRelayTest, PeerWithoutPermissionIsDropped) {
  setUpRelay(client);
  EXPECT_TRUE(fromPeer(tagOf(client), peer2, test::patternBytes(8)).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoPermission), 1U);
}

TEST_F(CoreRelayTest, DatagramForNoAllocationIsDropped) {
  setUpRelay(client);
  const std::uint64_t tag = tagOf(client);
  EXPECT_TRUE(fromPeer(tag + 100, peer, test::patternBytes(8)).entries().empty());
  ASSERT_EQ(errorCodeOf(refresh(client, 0)), 0);
  EXPECT_TRUE(fromPeer(tag, peer, test::patternBytes(8)).entries().empty());
}

TEST_F(CoreRelayTest, ChannelDataFromClientGoesToThePeer) {
  std::uint16_t port = 40100;
  for (const bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "TCP" : "UDP");
    const ClientSource source = tcp ? tcpClient(port) : udpClient(port);
    ++port;
    setUpRelay(source, 0x4001);
    const Bytes data = test::patternBytes(7);
    const Bytes message = channelData(0x4001, data, tcp);  // padded to 12 over TCP
    send(source, message);
    const OutboxEntry* entry = single();
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->socket, relaySocketOf(source));
    EXPECT_EQ(entry->destination, peer);
    EXPECT_EQ(entry->head_size, 0U);
    EXPECT_EQ(test::toHex(entry->payload), test::toHex(data));
    EXPECT_TRUE(pointsInto(*entry, message));
  }
}

TEST_F(CoreRelayTest, ChannelDataOnAnUnboundChannelIsDropped) {
  setUpRelay(client, 0x4000);
  EXPECT_TRUE(send(client, channelData(0x4001, test::patternBytes(4))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoChannel), 1U);
  // From a 5-tuple without an allocation.
  EXPECT_TRUE(send(udpClient(40999), channelData(0x4000, test::patternBytes(4))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoAllocation), 1U);
}

TEST_F(CoreRelayTest, ExpiredPermissionStopsALiveChannelBothWays) {
  allocateOk(client, [](MessageBuilder& b) { b.addU32(attr::kLifetime, 3600); });
  ASSERT_EQ(errorCodeOf(channelBind(client, 0x4000, peer)), 0);  // permission until 300
  const Bytes to_peer = channelData(0x4000, test::patternBytes(6));
  const Bytes from_peer = test::patternBytes(6);
  advanceTo(299);
  EXPECT_EQ(send(client, to_peer).entries().size(), 1U);
  EXPECT_EQ(fromPeer(tagOf(client), peer, from_peer).entries().size(), 1U);
  advanceTo(300);
  EXPECT_NE(allocationOf(client)->channelByNumber(0x4000, now), nullptr);  // still bound
  EXPECT_TRUE(send(client, to_peer).entries().empty());
  EXPECT_TRUE(fromPeer(tagOf(client), peer, from_peer).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kNoPermission), 2U);
}

TEST_F(CoreRelayTest, DualAllocationSendsEachFamilyFromItsOwnRelaySocket) {
  makeCore(dualConfig());
  allocateOk(client, [](MessageBuilder& b) {
    b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
  });
  ASSERT_EQ(errorCodeOf(createPermission(client, {peer, peer6})), 0);
  const Allocation* allocation = allocationOf(client);
  ASSERT_EQ(allocation->legs.size(), 2U);
  for (const auto& [to, leg] : {std::pair{peer, 0}, std::pair{peer6, 1}}) {
    SCOPED_TRACE(to.toString());
    send(client, sendIndication(to, test::patternBytes(4)));
    const OutboxEntry* entry = single();
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->socket, allocation->legs[static_cast<std::size_t>(leg)].socket);
    EXPECT_EQ(entry->destination, to);
  }
}

// Fixed bug, kept as a regression test (the core once): adds the outbox entry before rejecting a
// datagram of more than 0xFFFF bytes and returns without removeLast(): an empty entry (no head, no
// payload) is left for the adapter to send to the client. Expected: nothing in the outbox, a
// kSendFailed drop.
TEST_F(CoreRelayTest, OversizedPeerDatagramLeavesNothingInTheOutbox) {
  setUpRelay(client);
  EXPECT_TRUE(fromPeer(tagOf(client), peer, Bytes(0x10000)).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kSendFailed), 1U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

// What the core answers for every bypass form of issue 6 under the default policy (no `allow`):
// CreatePermission and ChannelBind (RFC 8656 sections 10.2 and 12.2) on IPv4, IPv6 and dual
// allocations, and Send indications (section 11.2) to the loopback forms. 403 where the
// allocation has a relay of the peer's family; 443 (Peer Address Family Mismatch, a MUST in
// section 10.2) where it has none. Either way nothing is installed and nothing is sent.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

// A public-looking listener address, so that the own-endpoint rule (and not the built-in list)
// is what applies to it.
constexpr std::string_view kListenerAddress = "93.184.216.34";
constexpr std::uint16_t kListenerPort = 3478;

struct Form {
  std::string_view name;
  Endpoint peer;
};

// The forms of issue 6 that are fixed addresses (the relay's own endpoints are added per test).
std::vector<Form> bypassForms() {
  return {
      {"0.0.0.0", ep("0.0.0.0", 5000)},
      {"127.0.0.1", ep("127.0.0.1", 5000)},
      {"127.0.0.2", ep("127.0.0.2", 5000)},
      {"127.255.255.254", ep("127.255.255.254", 5000)},
      {"::ffff:127.0.0.1 (IPv4-mapped)", ep("::ffff:127.0.0.1", 5000)},
      {"::ffff:10.0.0.1 (IPv4-mapped)", ep("::ffff:10.0.0.1", 5000)},
      {":: (unspecified)", ep("::", 5000)},
      {"::1", ep("::1", 5000)},
      {"::127.0.0.1 (IPv4-compatible)", ep("::127.0.0.1", 5000)},
      {"64:ff9b::a00:1 (NAT64 of 10.0.0.1)", ep("64:ff9b::a00:1", 5000)},
      {"2002:7f00:1:: (6to4 of 127.0.0.1)", ep("2002:7f00:1::", 5000)},
      {"fe80::1", ep("fe80::1", 5000)},
      {"fc00::1", ep("fc00::1", 5000)},
      {"ff02::1", ep("ff02::1", 5000)},
      {"169.254.169.254", ep("169.254.169.254", 80)},
      {"100.64.0.1", ep("100.64.0.1", 5000)},
      {"192.168.1.1", ep("192.168.1.1", 5000)},
      {"172.16.0.1", ep("172.16.0.1", 5000)},
      {"10.0.0.1", ep("10.0.0.1", 5000)},
      {"224.0.0.1", ep("224.0.0.1", 5000)},
      {"255.255.255.255", ep("255.255.255.255", 5000)},
  };
}

enum class Relay : std::uint8_t { kIpv4, kIpv6, kDual };

// Default config apart from relay addresses: no `allow`, no `deny`, the listener as own
// endpoint; relays on 127.0.0.1 and ::1.
class CorePeerPolicyTest : public CoreFixture {
 protected:
  CorePeerPolicyTest() {
    policy = PeerPolicy({}, {}, {ep(kListenerAddress, kListenerPort)});
    makeCore(dualConfig());
  }

  // An allocation of the given kind for `client`; its relayed addresses.
  std::vector<Endpoint> allocateRelay(Relay relay) {
    const Bytes response = allocate(client, [relay](MessageBuilder& b) {
      if (relay == Relay::kIpv6) {
        b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv6);
      } else if (relay == Relay::kDual) {
        b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
      }
    });
    EXPECT_EQ(errorCodeOf(response), 0);
    return xorAddressesOf(response, attr::kXorRelayedAddress);
  }

  // The forms, plus every relayed endpoint of the allocation and its address on another port.
  static std::vector<Form> formsWithRelays(const std::vector<Endpoint>& relayed) {
    std::vector<Form> forms = bypassForms();
    for (const Endpoint& relay : relayed) {
      forms.push_back({"a relayed endpoint", relay});
      forms.push_back({"a relay address, other port",
                       {relay.address, static_cast<std::uint16_t>(relay.port + 1)}});
    }
    return forms;
  }

  static bool hasLeg(Relay relay, const IpAddress& address) {
    return relay == Relay::kDual || address.isV4() == (relay == Relay::kIpv4);
  }

  // Every form is refused by CreatePermission and ChannelBind, with 403 when the allocation has
  // a relay of the peer's family and 443 when not; nothing is installed.
  void expectAllRefused(Relay relay) {
    const std::vector<Form> forms = formsWithRelays(allocateRelay(relay));
    ASSERT_NE(allocationOf(client), nullptr);
    std::uint64_t denied = core->stats().peer_denied.get();
    for (const Form& form : forms) {
      SCOPED_TRACE(std::string(form.name) + " " + form.peer.toString());
      const std::uint16_t expected =
          hasLeg(relay, form.peer.address) ? error::kForbidden : error::kPeerAddressFamilyMismatch;
      EXPECT_EQ(errorCodeOf(createPermission(client, {form.peer})), expected);
      EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, form.peer)), expected);
      if (expected == error::kForbidden) {
        denied += 2;
      }
      EXPECT_EQ(core->stats().peer_denied.get(), denied);
    }
    EXPECT_TRUE(allocationOf(client)->permissions.empty());
    EXPECT_TRUE(allocationOf(client)->channels.empty());
  }
};

TEST_F(CorePeerPolicyTest, DualAllocationRefusesEveryFormWith403) {
  expectAllRefused(Relay::kDual);
}

TEST_F(CorePeerPolicyTest, Ipv4AllocationRefusesIpv4FormsWith403AndIpv6FormsWith443) {
  expectAllRefused(Relay::kIpv4);
}

TEST_F(CorePeerPolicyTest, Ipv6AllocationRefusesIpv6FormsWith403AndIpv4FormsWith443) {
  expectAllRefused(Relay::kIpv6);
}

// An IPv4-mapped peer comes as an IPv6 XOR-PEER-ADDRESS: on an IPv6 relay it is judged as the
// IPv4 address inside; on an IPv4-only allocation it is another family.
TEST_F(CorePeerPolicyTest, MappedLoopbackIsRefusedWhateverTheRelayFamily) {
  for (const Relay relay : {Relay::kIpv4, Relay::kIpv6, Relay::kDual}) {
    SCOPED_TRACE(static_cast<int>(relay));
    // A client (5-tuple) per relay kind.
    const ClientSource source =
        udpClient(static_cast<std::uint16_t>(41000 + static_cast<int>(relay)));
    const Bytes response = allocate(source, [relay](MessageBuilder& b) {
      if (relay == Relay::kIpv6) {
        b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv6);
      } else if (relay == Relay::kDual) {
        b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
      }
    });
    ASSERT_EQ(errorCodeOf(response), 0);
    const std::uint16_t expected =
        relay == Relay::kIpv4 ? error::kPeerAddressFamilyMismatch : error::kForbidden;
    for (const Endpoint& mapped :
         {ep("::ffff:127.0.0.1", 5000), ep("::ffff:10.0.0.1", 5000), ep("::ffff:0.0.0.0", 5000)}) {
      EXPECT_EQ(errorCodeOf(createPermission(source, {mapped})), expected) << mapped.toString();
      EXPECT_EQ(errorCodeOf(channelBind(source, 0x4000, mapped)), expected) << mapped.toString();
    }
    EXPECT_TRUE(allocationOf(source)->permissions.empty());
    EXPECT_TRUE(allocationOf(source)->channels.empty());
  }
}

// The listener on a public address: a permission is for an address and ignores the port (RFC
// 8656 section 10.2), so CreatePermission for the listener's address succeeds, as for any other
// port of that host; the listener endpoint itself is refused to ChannelBind and to sends, in
// either form (the TURN loop of section 21.1.7).
TEST_F(CorePeerPolicyTest, ListenerEndpointIsRefusedToChannelsAndSends) {
  allocateRelay(Relay::kDual);
  for (const Endpoint& listener :
       {ep(kListenerAddress, kListenerPort), ep("::ffff:93.184.216.34", kListenerPort)}) {
    SCOPED_TRACE(listener.toString());
    EXPECT_EQ(errorCodeOf(createPermission(client, {listener})), 0);
    EXPECT_EQ(errorCodeOf(channelBind(client, 0x4000, listener)), error::kForbidden);
    const std::uint64_t dropped = relayDrops(RelayDrop::kDenied);
    EXPECT_TRUE(send(client, sendIndication(listener, Bytes(8, std::byte{1}))).entries().empty());
    EXPECT_EQ(relayDrops(RelayDrop::kDenied), dropped + 1);
  }
  EXPECT_TRUE(allocationOf(client)->channels.empty());
}

// Send indications to the loopback forms, after their CreatePermission was refused: nothing is
// sent, and every one is counted as a drop.
TEST_F(CorePeerPolicyTest, SendIndicationsToLoopbackFormsSendNothing) {
  allocateRelay(Relay::kDual);
  // A permission for a public peer exists: the drops below are not for an empty allocation.
  ASSERT_EQ(errorCodeOf(createPermission(client, {ep("8.8.8.8", 53)})), 0);
  const std::vector<Endpoint> loopback_forms{
      ep("0.0.0.0", 5000),          ep("127.0.0.1", 5000), ep("127.0.0.2", 5000),
      ep("127.255.255.254", 5000),  ep("::1", 5000),       ep("::ffff:127.0.0.1", 5000),
      ep("::ffff:127.0.0.2", 5000), ep("::", 5000),
  };
  const std::uint64_t dropped = relayDrops(RelayDrop::kNoPermission);
  for (const Endpoint& form : loopback_forms) {
    SCOPED_TRACE(form.toString());
    EXPECT_EQ(errorCodeOf(createPermission(client, {form})), error::kForbidden);
    EXPECT_TRUE(send(client, sendIndication(form, Bytes(8, std::byte{1}))).entries().empty());
  }
  EXPECT_EQ(relayDrops(RelayDrop::kNoPermission), dropped + loopback_forms.size());
  EXPECT_EQ(core->stats().relayed_packets[0][0].get(), 0U);
  // The public peer still gets data, through the IPv4 relay.
  EXPECT_EQ(
      send(client, sendIndication(ep("8.8.8.8", 53), Bytes(8, std::byte{1}))).entries().size(), 1U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

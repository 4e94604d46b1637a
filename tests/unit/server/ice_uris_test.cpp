// The URIs the credential API hands out: public_uris ordered UDP, TCP, TLS with stun: apart; and
// derivation from the listeners with the host rules (external address, specific listener address,
// relay address of the family), IPv6 brackets, dedupe and the STUN entry.
#include "server/http/ice_uris.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace turnpike::server {
namespace {

using protocol::IpAddress;
using protocol::RelayAddress;
using Uris = std::vector<std::string>;

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value_or(IpAddress()); }

ListenerConfig listener(Transport transport, std::string_view address, std::uint16_t port) {
  return ListenerConfig{transport, ip(address), port};
}

TEST(IceUrisTest, PublicUrisAreOrderedUdpTcpTlsAndStunIsApart) {
  const IceUris uris = classifyPublicUris({
      "turns:b.example:443?transport=tcp",
      "turn:b.example:3478?transport=tcp",
      "stun:a.example:3478",
      "turn:a.example:3478?transport=udp",
      "turn:c.example",  // no transport: UDP first (RFC 7065 section 3)
      "turn:d.example:3478?foo=1&transport=tcp",
      "turns:a.example:5349",
      "turn:a.example:3478?transport=udp",  // a duplicate
      "stun:b.example",
  });
  EXPECT_EQ(uris.turn,
            (Uris{"turn:a.example:3478?transport=udp", "turn:c.example",
                  "turn:b.example:3478?transport=tcp", "turn:d.example:3478?foo=1&transport=tcp",
                  "turns:b.example:443?transport=tcp", "turns:a.example:5349"}));
  EXPECT_EQ(uris.stun, (Uris{"stun:a.example:3478", "stun:b.example"}));
}

TEST(IceUrisTest, PublicUrisWinOverDerivation) {
  ServerConfig config;
  config.listeners = {listener(Transport::kUdp, "127.0.0.1", 3478)};
  config.public_uris = {"turns:turn.example.com:443?transport=tcp"};
  const IceUris uris = iceUrisFor(config, {});
  EXPECT_EQ(uris.turn, (Uris{"turns:turn.example.com:443?transport=tcp"}));
  EXPECT_TRUE(uris.stun.empty());
}

TEST(IceUrisTest, SpecificListenersInTransportOrder) {
  ServerConfig config;
  config.listeners = {
      listener(Transport::kTls, "192.0.2.1", 5349), listener(Transport::kTcp, "192.0.2.1", 3478),
      listener(Transport::kUdp, "192.0.2.1", 3478), listener(Transport::kUdp, "2001:db8::1", 3479)};
  const IceUris uris = iceUrisFor(config, {});
  EXPECT_EQ(uris.turn,
            (Uris{"turn:192.0.2.1:3478?transport=udp", "turn:[2001:db8::1]:3479?transport=udp",
                  "turn:192.0.2.1:3478?transport=tcp", "turns:192.0.2.1:5349?transport=tcp"}));
  // Only the first udp listener gives a STUN URI.
  EXPECT_EQ(uris.stun, (Uris{"stun:192.0.2.1:3478"}));
}

TEST(IceUrisTest, AnAutoListenerServesTurnOverTcpAndTurns) {
  ServerConfig config;
  config.listeners = {listener(Transport::kUdp, "192.0.2.1", 3478),
                      listener(Transport::kAuto, "192.0.2.1", 443)};
  const IceUris uris = iceUrisFor(config, {});
  EXPECT_EQ(uris.turn,
            (Uris{"turn:192.0.2.1:3478?transport=udp", "turn:192.0.2.1:443?transport=tcp",
                  "turns:192.0.2.1:443?transport=tcp"}));
}

TEST(IceUrisTest, ExternalAddressesOfTheListenersFamilyComeFirst) {
  ServerConfig config;
  config.listeners = {listener(Transport::kUdp, "0.0.0.0", 3478),
                      listener(Transport::kTcp, "10.0.0.5", 3478),
                      listener(Transport::kUdp, "::", 3478)};
  config.relay.addresses = {ip("10.0.0.5"), ip("fd00::5")};
  config.relay.external_addresses = {ip("203.0.113.5"), ip("2001:db8::5")};
  const std::vector<RelayAddress> relays = {{ip("10.0.0.5"), ip("203.0.113.5")},
                                            {ip("fd00::5"), ip("2001:db8::5")}};
  const IceUris uris = deriveIceUris(config, relays);
  EXPECT_EQ(uris.turn,
            (Uris{"turn:203.0.113.5:3478?transport=udp", "turn:[2001:db8::5]:3478?transport=udp",
                  "turn:203.0.113.5:3478?transport=tcp"}));
  EXPECT_EQ(uris.stun, (Uris{"stun:203.0.113.5:3478"}));
}

TEST(IceUrisTest, WildcardListenersUseTheRelayAddressesOfTheirFamily) {
  ServerConfig config;
  config.listeners = {listener(Transport::kUdp, "0.0.0.0", 3478),
                      listener(Transport::kTcp, "0.0.0.0", 3478),
                      listener(Transport::kTls, "::", 5349)};
  // Detected relay addresses (no relay.addresses in the config): one per family.
  const std::vector<RelayAddress> relays = {{ip("192.0.2.7"), ip("192.0.2.7")},
                                            {ip("2001:db8::7"), ip("2001:db8::7")}};
  const IceUris uris = deriveIceUris(config, relays);
  EXPECT_EQ(uris.turn,
            (Uris{"turn:192.0.2.7:3478?transport=udp", "turn:192.0.2.7:3478?transport=tcp",
                  "turns:[2001:db8::7]:5349?transport=tcp"}));
  EXPECT_EQ(uris.stun, (Uris{"stun:192.0.2.7:3478"}));
}

TEST(IceUrisTest, AListenerWithNoAddressToAdvertiseGivesNoUri) {
  ServerConfig config;
  config.listeners = {listener(Transport::kUdp, "::", 3478),
                      listener(Transport::kUdp, "0.0.0.0", 3479)};
  const std::vector<RelayAddress> relays = {{ip("192.0.2.7"), ip("192.0.2.7")}};
  const IceUris uris = deriveIceUris(config, relays);
  EXPECT_EQ(uris.turn, (Uris{"turn:192.0.2.7:3479?transport=udp"}));
  // The first udp listener with an address gives the STUN URI.
  EXPECT_EQ(uris.stun, (Uris{"stun:192.0.2.7:3479"}));
  EXPECT_TRUE(deriveIceUris(config, {}).turn.empty());
}

TEST(IceUrisTest, DuplicatesAreDropped) {
  ServerConfig config;
  config.listeners = {listener(Transport::kUdp, "0.0.0.0", 3478),
                      listener(Transport::kUdp, "192.0.2.7", 3478)};
  const std::vector<RelayAddress> relays = {{ip("192.0.2.7"), ip("192.0.2.7")},
                                            {ip("192.0.2.7"), ip("192.0.2.7")}};
  const IceUris uris = deriveIceUris(config, relays);
  EXPECT_EQ(uris.turn, (Uris{"turn:192.0.2.7:3478?transport=udp"}));
  EXPECT_EQ(uris.stun, (Uris{"stun:192.0.2.7:3478"}));
}

}  // namespace
}  // namespace turnpike::server

// migrateCoturn() and the peer policy: coturn's allowed-peer-ip / denied-peer-ip ranges become
// CIDR lists, with coturn's precedence (allowed wins) kept although turnpike's deny wins.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/stun/endpoint.hpp"
#include "tests/unit/server/migrate_test_support.hpp"

namespace turnpike::server::test {
namespace {

using Texts = std::vector<std::string>;

bool anyContains(const std::vector<Cidr>& prefixes, std::string_view address) {
  return std::ranges::any_of(prefixes, [&](const Cidr& p) { return p.contains(ip(address)); });
}

TEST(MigrateCoturnPeersTest, DeniedRangeBecomesMinimalPrefixes) {
  const CoturnMigration m = migrate(
      "denied-peer-ip=83.166.64.0-83.166.95.255\n"
      "denied-peer-ip=10.0.0.1-10.0.0.6\n"
      "denied-peer-ip=203.0.113.7\n");
  EXPECT_EQ(prefixTexts(m.config.peers.deny),
            (Texts{"83.166.64.0/19", "10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32",
                   "203.0.113.7/32"}));
  EXPECT_TRUE(about(m, "denied-peer-ip").empty()) << describe(m);
  EXPECT_NE(m.yaml.find("peers:\n  deny:\n    - 83.166.64.0/19\n"), std::string::npos) << m.yaml;
}

TEST(MigrateCoturnPeersTest, Ipv6Ranges) {
  const CoturnMigration m = migrate(
      "denied-peer-ip=2001:db8::-2001:db8::ffff\n"
      "allowed-peer-ip=2001:db8:1::1-2001:db8:1::2\n");
  EXPECT_EQ(prefixTexts(m.config.peers.deny), Texts{"2001:db8::/112"});
  EXPECT_EQ(prefixTexts(m.config.peers.allow), (Texts{"2001:db8:1::1/128", "2001:db8:1::2/128"}));
  EXPECT_NE(m.yaml.find("    - \"2001:db8::/112\"\n"), std::string::npos) << m.yaml;
}

// coturn: "If an ip address is specified as both allowed and denied, then the ip address is
// considered to be allowed." turnpike's deny beats allow, so the allowed part is cut out.
TEST(MigrateCoturnPeersTest, AllowedAddressesAreCutOutOfDeniedRanges) {
  const CoturnMigration m = migrate(
      "denied-peer-ip=83.166.64.0-83.166.95.255\n"
      "allowed-peer-ip=83.166.68.45\n");
  EXPECT_EQ(prefixTexts(m.config.peers.allow), Texts{"83.166.68.45/32"});
  EXPECT_FALSE(anyContains(m.config.peers.deny, "83.166.68.45"));
  EXPECT_TRUE(anyContains(m.config.peers.deny, "83.166.68.44"));
  EXPECT_TRUE(anyContains(m.config.peers.deny, "83.166.68.46"));
  EXPECT_TRUE(anyContains(m.config.peers.deny, "83.166.64.0"));
  EXPECT_TRUE(anyContains(m.config.peers.deny, "83.166.95.255"));
  EXPECT_FALSE(anyContains(m.config.peers.deny, "83.166.96.0"));
  EXPECT_EQ(m.config.peers.deny.size(), 13U);  // /19 minus one address: 32 - 19 prefixes
  EXPECT_TRUE(notes(m, 1, "denied-peer-ip", "cut out"));

  const CoturnMigration whole = migrate(
      "denied-peer-ip=10.0.0.5\n"
      "allowed-peer-ip=10.0.0.0-10.0.0.255\n");
  EXPECT_TRUE(whole.config.peers.deny.empty());
  EXPECT_TRUE(notes(whole, 1, "denied-peer-ip", "nothing to deny"));
  EXPECT_EQ(prefixTexts(whole.config.peers.allow), Texts{"10.0.0.0/24"});
}

TEST(MigrateCoturnPeersTest, AllowLoopbackPeers) {
  const CoturnMigration m = migrate("allow-loopback-peers\n");
  EXPECT_EQ(prefixTexts(m.config.peers.allow), (Texts{"127.0.0.0/8", "::1/128"}));
  EXPECT_TRUE(warns(m, 1, "allow-loopback-peers", "tests only"));
  EXPECT_NE(m.yaml.find("peers:\n  allow:\n    - 127.0.0.0/8\n    - \"::1/128\"\n"),
            std::string::npos)
      << m.yaml;
  EXPECT_TRUE(migrate("allow-loopback-peers=false\n").config.peers.allow.empty());
}

// coturn refuses loopback (without allow-loopback-peers), multicast (with no-multicast-peers)
// and the zero address before it looks at allowed-peer-ip; peers.allow would open them.
TEST(MigrateCoturnPeersTest, AllowedPeersNeverOpenWhatCoturnRefused) {
  const CoturnMigration loopback = migrate("allowed-peer-ip=127.0.0.1\n");
  EXPECT_TRUE(loopback.config.peers.allow.empty());
  EXPECT_TRUE(notes(loopback, 1, "allowed-peer-ip", "left out"));

  const CoturnMigration everything = migrate("allowed-peer-ip=0.0.0.0-255.255.255.255\n");
  EXPECT_FALSE(anyContains(everything.config.peers.allow, "0.0.0.0"));
  EXPECT_FALSE(anyContains(everything.config.peers.allow, "127.0.0.1"));
  EXPECT_TRUE(anyContains(everything.config.peers.allow, "0.0.0.1"));
  EXPECT_TRUE(anyContains(everything.config.peers.allow, "10.0.0.1"));
  EXPECT_TRUE(anyContains(everything.config.peers.allow, "224.0.0.1"));
  EXPECT_TRUE(anyContains(everything.config.peers.allow, "128.0.0.1"));
  EXPECT_TRUE(about(everything, "peers").empty()) << "private networks are allowed";

  const CoturnMigration multicast =
      migrate("no-multicast-peers\nallowed-peer-ip=224.0.0.1\nallowed-peer-ip=ff02::1\n");
  EXPECT_TRUE(multicast.config.peers.allow.empty()) << describe(multicast);
  EXPECT_TRUE(notes(multicast, 1, "no-multicast-peers", "by default"));
  EXPECT_EQ(prefixTexts(migrate("allowed-peer-ip=224.0.0.1\n").config.peers.allow),
            Texts{"224.0.0.1/32"});

  const CoturnMigration v6 = migrate("allowed-peer-ip=::-::ff\n");
  EXPECT_FALSE(anyContains(v6.config.peers.allow, "::"));
  EXPECT_FALSE(anyContains(v6.config.peers.allow, "::1"));
  EXPECT_TRUE(anyContains(v6.config.peers.allow, "::2"));

  const CoturnMigration opened = migrate("allow-loopback-peers\nallowed-peer-ip=127.0.0.1\n");
  EXPECT_EQ(prefixTexts(opened.config.peers.allow),
            (Texts{"127.0.0.1/32", "127.0.0.0/8", "::1/128"}));
}

TEST(MigrateCoturnPeersTest, BadRangesAndPrefixes) {
  const CoturnMigration m = migrate(
      "denied-peer-ip=10.0.0.9-10.0.0.1\n"
      "allowed-peer-ip=peer.example.com\n"
      "denied-peer-ip=192.0.2.0/24\n");
  EXPECT_TRUE(warns(m, 1, "denied-peer-ip", "comes before"));
  EXPECT_TRUE(warns(m, 2, "allowed-peer-ip", "not an IP address"));
  EXPECT_TRUE(notes(m, 3, "denied-peer-ip", "IP or IP-IP only"));
  EXPECT_EQ(prefixTexts(m.config.peers.deny), Texts{"192.0.2.0/24"});
  EXPECT_TRUE(m.config.peers.allow.empty());
}

TEST(MigrateCoturnPeersTest, PrivateNetworkWarningUnlessCoturnDeniedThemToo) {
  EXPECT_TRUE(warns(migrate(""), 0, "peers", "private"));
  EXPECT_TRUE(warns(migrate("denied-peer-ip=10.0.0.0-10.255.255.255\n"), 0, "peers"));
  const CoturnMigration hardened = migrate(
      "denied-peer-ip=10.0.0.0-10.255.255.255\n"
      "denied-peer-ip=172.16.0.0-172.31.255.255\n"
      "denied-peer-ip=192.168.0.0-192.168.255.255\n");
  EXPECT_TRUE(about(hardened, "peers").empty()) << describe(hardened);
  const CoturnMigration opened = migrate(
      "allowed-peer-ip=10.0.0.0-10.255.255.255\n"
      "allowed-peer-ip=172.16.0.0-172.31.255.255\n"
      "denied-peer-ip=192.168.0.0-192.168.255.255\n");
  EXPECT_TRUE(about(opened, "peers").empty()) << describe(opened);
}

}  // namespace
}  // namespace turnpike::server::test

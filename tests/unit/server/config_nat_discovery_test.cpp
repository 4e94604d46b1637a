// nat_discovery (RFC 5780): the section, its four endpoints, and errors that name the key.
#include <gtest/gtest.h>

#include <string>

#include "server/config/config.hpp"
#include "tests/unit/server/config_test_support.hpp"

namespace turnpike::server {
namespace {

const std::string kPrimary =
    "listeners:\n"
    "  - {transport: tcp, address: 0.0.0.0, port: 3478}\n"
    "  - {transport: udp, address: 127.0.0.1, port: 3478}\n"
    "  - {transport: udp, address: \"::\", port: 3478}\n";

TEST(ConfigNatDiscovery, OffByDefault) {
  const auto config = loadConfigText("");
  ASSERT_TRUE(config) << toString(config.error());
  EXPECT_FALSE(config->nat_discovery.enabled);
  EXPECT_FALSE(natDiscoveryEndpoints(*config));
  // The section can be written out with everything at its default.
  const auto written = loadConfigText("nat_discovery: {enabled: false}\n");
  ASSERT_TRUE(written);
  EXPECT_FALSE(natDiscoveryEndpoints(*written));
}

TEST(ConfigNatDiscovery, TheFirstUdpListenerIsPrimaryAndFourEndpointsFollow) {
  const auto config =
      loadConfigText(kPrimary +
                     "nat_discovery: {enabled: true, alternate_address: 127.0.0.2, alternate_port: "
                     "4000}\n");
  ASSERT_TRUE(config) << toString(config.error());
  const auto endpoints = natDiscoveryEndpoints(*config);
  ASSERT_TRUE(endpoints);
  EXPECT_EQ((*endpoints)[0][0], endpoint("127.0.0.1", 3478));
  EXPECT_EQ((*endpoints)[0][1], endpoint("127.0.0.1", 4000));
  EXPECT_EQ((*endpoints)[1][0], endpoint("127.0.0.2", 3478));
  EXPECT_EQ((*endpoints)[1][1], endpoint("127.0.0.2", 4000));
}

TEST(ConfigNatDiscovery, TheAlternatePortDefaultsToThePrimaryPlusOne) {
  const auto config = loadConfigText(
      "listeners: [{transport: udp, address: \"2001:db8::1\", port: 3478}]\n"
      "nat_discovery: {enabled: true, alternate_address: \"2001:db8::2\"}\n");
  ASSERT_TRUE(config) << toString(config.error());
  const auto endpoints = natDiscoveryEndpoints(*config);
  ASSERT_TRUE(endpoints);
  EXPECT_EQ((*endpoints)[1][1], endpoint("2001:db8::2", 3479));
}

INSTANTIATE_TEST_SUITE_P(
    NatDiscovery, ConfigErrorTest,
    testing::Values(
        ConfigErrorCase{"NotABoolean", "nat_discovery: {enabled: yes}\n", "nat_discovery.enabled",
                        "true, false"},
        ConfigErrorCase{"UnknownKey", "nat_discovery: {alternate_ip: 127.0.0.2}\n",
                        "nat_discovery.alternate_ip", "unknown key"},
        ConfigErrorCase{"BadAddress", "nat_discovery: {alternate_address: localhost}\n",
                        "nat_discovery.alternate_address", "address literal"},
        ConfigErrorCase{"PortZero", "nat_discovery: {alternate_port: 0}\n",
                        "nat_discovery.alternate_port", "between 1 and 65535"},
        ConfigErrorCase{"WildcardPrimary",
                        "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n",
                        "nat_discovery.enabled", "specific address"},
        ConfigErrorCase{"NoUdpListener",
                        "listeners: [{transport: tcp, address: 127.0.0.1}]\n"
                        "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n",
                        "nat_discovery.enabled", "udp listener"},
        ConfigErrorCase{"AlternateMissing", kPrimary + "nat_discovery: {enabled: true}\n",
                        "nat_discovery.alternate_address", "is required"},
        ConfigErrorCase{"AlternateOtherFamily",
                        kPrimary + "nat_discovery: {enabled: true, alternate_address: \"::1\"}\n",
                        "nat_discovery.alternate_address", "same address family"},
        ConfigErrorCase{"AlternateIsPrimary",
                        kPrimary + "nat_discovery: {enabled: true, alternate_address: 127.0.0.1}\n",
                        "nat_discovery.alternate_address", "must differ"},
        ConfigErrorCase{"AlternatePortIsPrimary",
                        kPrimary + "nat_discovery: {enabled: true, alternate_address: 127.0.0.2, "
                                   "alternate_port: 3478}\n",
                        "nat_discovery.alternate_port", "must differ"},
        ConfigErrorCase{"NoPortAfter65535",
                        "listeners: [{transport: udp, address: 127.0.0.1, port: 65535}]\n"
                        "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n",
                        "nat_discovery.alternate_port", "is required"}),
    configErrorName);

}  // namespace
}  // namespace turnpike::server

// nat_discovery (RFC 5780): the section, its four endpoints, and errors that name the key.
#include <gtest/gtest.h>

#include <string>

#include "server/config/config.hpp"

namespace turnpike::server {
namespace {

protocol::Endpoint endpoint(std::string_view address, std::uint16_t port) {
  return {protocol::IpAddress::parse(address).value(), port};
}

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

struct NatErrorCase {
  std::string name;
  std::string yaml;
  std::string key;
  std::string says;  // a part of the message
};

void PrintTo(const NatErrorCase& c, std::ostream* os) { *os << c.name; }

class ConfigNatDiscoveryErrorTest : public testing::TestWithParam<NatErrorCase> {};

TEST_P(ConfigNatDiscoveryErrorTest, NamesTheKey) {
  const NatErrorCase& c = GetParam();
  const auto result = loadConfigText(c.yaml);
  ASSERT_FALSE(result.has_value()) << c.yaml;
  EXPECT_EQ(result.error().key, c.key) << toString(result.error());
  EXPECT_NE(result.error().message.find(c.says), std::string::npos) << toString(result.error());
}

INSTANTIATE_TEST_SUITE_P(
    Config, ConfigNatDiscoveryErrorTest,
    testing::Values(
        NatErrorCase{"NotABoolean", "nat_discovery: {enabled: yes}\n", "nat_discovery.enabled",
                     "true, false"},
        NatErrorCase{"UnknownKey", "nat_discovery: {alternate_ip: 127.0.0.2}\n",
                     "nat_discovery.alternate_ip", "unknown key"},
        NatErrorCase{"BadAddress", "nat_discovery: {alternate_address: localhost}\n",
                     "nat_discovery.alternate_address", "address literal"},
        NatErrorCase{"PortZero", "nat_discovery: {alternate_port: 0}\n",
                     "nat_discovery.alternate_port", "between 1 and 65535"},
        NatErrorCase{"WildcardPrimary",
                     "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n",
                     "nat_discovery.enabled", "specific address"},
        NatErrorCase{"NoUdpListener",
                     "listeners: [{transport: tcp, address: 127.0.0.1}]\n"
                     "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n",
                     "nat_discovery.enabled", "udp listener"},
        NatErrorCase{"AlternateMissing", kPrimary + "nat_discovery: {enabled: true}\n",
                     "nat_discovery.alternate_address", "is required"},
        NatErrorCase{"AlternateOtherFamily",
                     kPrimary + "nat_discovery: {enabled: true, alternate_address: \"::1\"}\n",
                     "nat_discovery.alternate_address", "same address family"},
        NatErrorCase{"AlternateIsPrimary",
                     kPrimary + "nat_discovery: {enabled: true, alternate_address: 127.0.0.1}\n",
                     "nat_discovery.alternate_address", "must differ"},
        NatErrorCase{"AlternatePortIsPrimary",
                     kPrimary + "nat_discovery: {enabled: true, alternate_address: 127.0.0.2, "
                                "alternate_port: 3478}\n",
                     "nat_discovery.alternate_port", "must differ"},
        NatErrorCase{"NoPortAfter65535",
                     "listeners: [{transport: udp, address: 127.0.0.1, port: 65535}]\n"
                     "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n",
                     "nat_discovery.alternate_port", "is required"}),
    [](const testing::TestParamInfo<NatErrorCase>& info) { return info.param.name; });

}  // namespace
}  // namespace turnpike::server

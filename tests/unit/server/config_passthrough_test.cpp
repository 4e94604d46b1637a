// listeners[].tls_passthrough: default and sni backends, and errors that name the key.
#include <gtest/gtest.h>

#include <string>

#include "server/config/config.hpp"

namespace turnpike::server {
namespace {

protocol::Endpoint endpoint(std::string_view address, std::uint16_t port) {
  return {protocol::IpAddress::parse(address).value(), port};
}

const std::string kTls = "tls: {certificate: c.pem, private_key: k.pem}\n";

TEST(ConfigPassthrough, OffByDefault) {
  const auto config = loadConfigText("listeners: [{transport: auto}]\n" + kTls);
  ASSERT_TRUE(config) << toString(config.error());
  EXPECT_FALSE(config->listeners[0].tls_passthrough.enabled());
}

TEST(ConfigPassthrough, DefaultAndSniBackendsOnAutoAndTls) {
  const auto config = loadConfigText(
      "listeners:\n"
      "  - transport: auto\n"
      "    tls_passthrough:\n"
      "      default: 127.0.0.1:8443\n"
      "      sni: {Www.Example.com: \"[::1]:9443\", api.example.com: 10.0.0.2:443}\n"
      "  - {transport: tls, tls_passthrough: {sni: {a.test: 127.0.0.1:1}}}\n" +
      kTls);
  ASSERT_TRUE(config) << toString(config.error());
  const auto& routes = config->listeners[0].tls_passthrough;
  EXPECT_EQ(routes.default_backend, endpoint("127.0.0.1", 8443));
  ASSERT_EQ(routes.sni.size(), 2U);
  EXPECT_EQ(routes.sni.at("www.example.com"), endpoint("::1", 9443));  // lowercased
  EXPECT_EQ(routes.sni.at("api.example.com"), endpoint("10.0.0.2", 443));
  EXPECT_FALSE(config->listeners[1].tls_passthrough.default_backend);
  EXPECT_EQ(config->listeners[1].tls_passthrough.sni.size(), 1U);
}

struct PassthroughError {
  const char* name;
  std::string yaml;
  std::string key;
};

void PrintTo(const PassthroughError& error, std::ostream* os) { *os << error.name; }

class ConfigPassthroughError : public testing::TestWithParam<PassthroughError> {};

TEST_P(ConfigPassthroughError, NamesTheKey) {
  const auto config = loadConfigText(GetParam().yaml + kTls);
  ASSERT_FALSE(config) << GetParam().name;
  EXPECT_EQ(config.error().key, GetParam().key) << toString(config.error());
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ConfigPassthroughError,
    testing::Values(
        PassthroughError{"OnTcp",
                         "listeners: [{transport: tcp, tls_passthrough: {default: 127.0.0.1:1}}]\n",
                         "listeners[0].tls_passthrough"},
        PassthroughError{"OnUdp",
                         "listeners: [{transport: udp, tls_passthrough: {default: 127.0.0.1:1}}]\n",
                         "listeners[0].tls_passthrough"},
        PassthroughError{"Empty", "listeners: [{transport: auto, tls_passthrough: {}}]\n",
                         "listeners[0].tls_passthrough"},
        PassthroughError{"NotAMap", "listeners: [{transport: auto, tls_passthrough: yes}]\n",
                         "listeners[0].tls_passthrough"},
        PassthroughError{"UnknownKey",
                         "listeners: [{transport: auto, tls_passthrough: {fallback: 1.2.3.4:5}}]\n",
                         "listeners[0].tls_passthrough.fallback"},
        PassthroughError{
            "DefaultHostName",
            "listeners: [{transport: auto, tls_passthrough: {default: localhost:8443}}]\n",
            "listeners[0].tls_passthrough.default"},
        PassthroughError{"DefaultNoPort",
                         "listeners: [{transport: auto, tls_passthrough: {default: 127.0.0.1}}]\n",
                         "listeners[0].tls_passthrough.default"},
        PassthroughError{
            "SniBackendBad",
            "listeners: [{transport: auto, tls_passthrough: {sni: {a.test: nowhere}}}]\n",
            "listeners[0].tls_passthrough.sni.a.test"},
        PassthroughError{
            "SniNameBad",
            "listeners: [{transport: auto, tls_passthrough: {sni: {\"a b\": 127.0.0.1:1}}}]\n",
            "listeners[0].tls_passthrough.sni.a b"},
        PassthroughError{"SniNotAMap",
                         "listeners: [{transport: auto, tls_passthrough: {sni: [a]}}]\n",
                         "listeners[0].tls_passthrough.sni"},
        PassthroughError{"SniSameNameTwice",
                         "listeners: [{transport: auto, tls_passthrough: {sni: {A.test: "
                         "127.0.0.1:1, a.test: 127.0.0.1:2}}}]\n",
                         "listeners[0].tls_passthrough.sni.a.test"},
        PassthroughError{"DefaultIsTheListener",
                         "listeners: [{transport: auto, port: 443, tls_passthrough: {default: "
                         "127.0.0.1:443}}]\n",
                         "listeners[0].tls_passthrough.default"},
        PassthroughError{"SniIsTheListenerOverIpv6Loopback",
                         "listeners: [{transport: tls, address: \"::\", port: 5349, "
                         "tls_passthrough: {sni: {a.test: \"[::1]:5349\"}}}]\n",
                         "listeners[0].tls_passthrough.sni.a.test"}),
    [](const testing::TestParamInfo<PassthroughError>& info) { return info.param.name; });

}  // namespace
}  // namespace turnpike::server

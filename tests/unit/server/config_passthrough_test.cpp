// listeners[].tls_passthrough: default and sni backends, and errors that name the key.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "server/config/config.hpp"
#include "tests/unit/server/config_test_support.hpp"

namespace turnpike::server {
namespace {

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
  EXPECT_EQ(routes.send_proxy, protocol::ProxyVersion::kNone);  // no PROXY header by default
}

TEST(ConfigPassthrough, APROXYHeaderToTheBackendV1OrV2) {
  for (const auto& [text, version] : {std::pair{"v1", protocol::ProxyVersion::kV1},
                                      {"v2", protocol::ProxyVersion::kV2},
                                      {"off", protocol::ProxyVersion::kNone}}) {
    const auto config = loadConfigText(
        std::string("listeners: [{transport: auto, tls_passthrough: {default: 127.0.0.1:8443, "
                    "proxy_protocol: ") +
        text + "}}]\n" + kTls);
    ASSERT_TRUE(config) << toString(config.error());
    EXPECT_EQ(config->listeners[0].tls_passthrough.send_proxy, version) << text;
  }
}

// Every table entry is refused with the tls section present (so only tls_passthrough is wrong).
ConfigErrorCase refused(std::string name, const std::string& yaml, std::string key) {
  return {std::move(name), yaml + kTls, std::move(key), {}};
}

INSTANTIATE_TEST_SUITE_P(
    Passthrough, ConfigErrorTest,
    testing::Values(
        refused("OnTcp", "listeners: [{transport: tcp, tls_passthrough: {default: 127.0.0.1:1}}]\n",
                "listeners[0].tls_passthrough"),
        refused("OnUdp", "listeners: [{transport: udp, tls_passthrough: {default: 127.0.0.1:1}}]\n",
                "listeners[0].tls_passthrough"),
        refused("Empty", "listeners: [{transport: auto, tls_passthrough: {}}]\n",
                "listeners[0].tls_passthrough"),
        refused("NotAMap", "listeners: [{transport: auto, tls_passthrough: yes}]\n",
                "listeners[0].tls_passthrough"),
        refused("UnknownKey",
                "listeners: [{transport: auto, tls_passthrough: {fallback: 1.2.3.4:5}}]\n",
                "listeners[0].tls_passthrough.fallback"),
        refused("DefaultHostName",
                "listeners: [{transport: auto, tls_passthrough: {default: localhost:8443}}]\n",
                "listeners[0].tls_passthrough.default"),
        refused("DefaultNoPort",
                "listeners: [{transport: auto, tls_passthrough: {default: 127.0.0.1}}]\n",
                "listeners[0].tls_passthrough.default"),
        refused("SniBackendBad",
                "listeners: [{transport: auto, tls_passthrough: {sni: {a.test: nowhere}}}]\n",
                "listeners[0].tls_passthrough.sni.a.test"),
        refused("SniNameBad",
                "listeners: [{transport: auto, tls_passthrough: {sni: {\"a b\": 127.0.0.1:1}}}]\n",
                "listeners[0].tls_passthrough.sni.a b"),
        refused("SniNotAMap", "listeners: [{transport: auto, tls_passthrough: {sni: [a]}}]\n",
                "listeners[0].tls_passthrough.sni"),
        refused("SniSameNameTwice",
                "listeners: [{transport: auto, tls_passthrough: {sni: {A.test: "
                "127.0.0.1:1, a.test: 127.0.0.1:2}}}]\n",
                "listeners[0].tls_passthrough.sni.a.test"),
        refused("DefaultIsTheListener",
                "listeners: [{transport: auto, port: 443, tls_passthrough: {default: "
                "127.0.0.1:443}}]\n",
                "listeners[0].tls_passthrough.default"),
        refused("ProxyProtocolV3",
                "listeners: [{transport: auto, tls_passthrough: {default: 127.0.0.1:1, "
                "proxy_protocol: v3}}]\n",
                "listeners[0].tls_passthrough.proxy_protocol"),
        refused("ProxyProtocolAlone",
                "listeners: [{transport: auto, tls_passthrough: {proxy_protocol: v2}}]\n",
                "listeners[0].tls_passthrough"),
        refused("SniIsTheListenerOverIpv6Loopback",
                "listeners: [{transport: tls, address: \"::\", port: 5349, "
                "tls_passthrough: {sni: {a.test: \"[::1]:5349\"}}}]\n",
                "listeners[0].tls_passthrough.sni.a.test")),
    configErrorName);

}  // namespace
}  // namespace turnpike::server

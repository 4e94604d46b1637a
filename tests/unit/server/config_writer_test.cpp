// writeConfigYaml(): only non-default keys, in the README's order, and text that
// loadConfigText() reads back to the same config, whatever characters the strings hold.
#include "server/config/config_writer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace turnpike::server {
namespace {

using protocol::IpAddress;

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }

ServerConfig loadOk(const std::string& yaml) {
  auto config = loadConfigText(yaml);
  EXPECT_TRUE(config.has_value()) << (config ? "" : toString(config.error())) << "\n" << yaml;
  return config.value_or(ServerConfig{});
}

// A config with every key away from its default.
ServerConfig everything() {
  ServerConfig config = defaultServerConfig();
  config.realm = "example.org";
  config.software = "";
  config.listeners = {{Transport::kUdp, ip("10.0.0.1"), 3479},
                      {Transport::kTcp, ip("2001:db8::1"), 3479},
                      {Transport::kTls, ip("::"), 5350}};
  config.tls.certificate = "/etc/turnpike/cert.pem";
  config.tls.private_key = "/etc/turnpike/key.pem";
  config.tls.ciphers = "ECDHE+AESGCM:!aRSA";
  config.tls.ciphersuites = "TLS_AES_128_GCM_SHA256";
  config.tls.ticket_key_rotation = 600;
  config.relay.addresses = {ip("10.0.0.5"), ip("2001:db8::5")};
  config.relay.external_addresses = {ip("203.0.113.5"), ip("2001:db8::5")};
  config.relay.port_min = 50000;
  config.relay.port_max = 50100;
  config.allocation = {300, 1800};
  config.auth.secrets = {"north", "south"};
  config.auth.users = {{"alice", "wonderland"}, {"bob", "builder"}};
  config.peers.allow = {*Cidr::parse("127.0.0.0/8"), *Cidr::parse("::1/128")};
  config.peers.deny = {*Cidr::parse("83.166.64.0/19")};
  config.limits.allocations_total = 100;
  config.limits.allocations_per_user = 5;
  config.http.address = ip("0.0.0.0");
  config.http.port = 9642;
  config.log = {LogLevel::kDebug, LogFormat::kJson};
  config.threads = 4;
  config.mobility = true;
  return config;
}

TEST(ConfigWriterTest, DefaultConfigWritesNothing) {
  EXPECT_EQ(writeConfigYaml(defaultServerConfig()), "");
  EXPECT_EQ(writeConfigYaml(loadOk("")), "");
}

TEST(ConfigWriterTest, EveryKeyRoundTripsInReadmeOrder) {
  const ServerConfig config = everything();
  const std::string yaml = writeConfigYaml(config);
  const ServerConfig loaded = loadOk(yaml);
  EXPECT_EQ(writeConfigYaml(loaded), yaml);
  EXPECT_EQ(loaded.realm, "example.org");
  EXPECT_EQ(loaded.software, "");
  ASSERT_EQ(loaded.listeners.size(), 3U);
  EXPECT_EQ(loaded.listeners[1].address, ip("2001:db8::1"));
  EXPECT_EQ(loaded.listeners[2].transport, Transport::kTls);
  EXPECT_EQ(loaded.listeners[2].port, 5350);
  EXPECT_EQ(loaded.tls, config.tls);
  EXPECT_EQ(loaded.relay.external_addresses, config.relay.external_addresses);
  EXPECT_EQ(loaded.relay.port_min, 50000);
  EXPECT_EQ(loaded.relay.port_max, 50100);
  EXPECT_EQ(loaded.allocation.default_lifetime, 300U);
  EXPECT_EQ(loaded.auth.secrets, config.auth.secrets);
  EXPECT_EQ(loaded.auth.users, config.auth.users);
  EXPECT_EQ(loaded.peers.allow, config.peers.allow);
  EXPECT_EQ(loaded.peers.deny, config.peers.deny);
  EXPECT_EQ(loaded.limits.allocations_per_user, 5U);
  EXPECT_EQ(loaded.http.address, ip("0.0.0.0"));
  EXPECT_EQ(loaded.log.format, LogFormat::kJson);
  EXPECT_EQ(loaded.threads, 4U);
  EXPECT_TRUE(loaded.mobility);
  // The README's configuration reference order.
  std::size_t last = 0;
  for (const std::string_view key :
       {"realm:", "software:", "listeners:", "tls:", "relay:", "allocation:", "auth:", "peers:",
        "limits:", "http:", "log:", "threads:", "mobility:"}) {
    const std::size_t at = yaml.find("\n" + std::string(key));
    const std::size_t found = yaml.starts_with(key) ? 0 : at;
    ASSERT_NE(found, std::string::npos) << key << "\n" << yaml;
    EXPECT_GE(found, last) << key;
    last = found;
  }
}

TEST(ConfigWriterTest, WritesOnlyTheKeysThatDiffer) {
  ServerConfig config = defaultServerConfig();
  config.allocation.max_lifetime = 7200;
  config.relay.port_max = 60000;
  config.limits.allocations_per_user = 3;
  EXPECT_EQ(writeConfigYaml(config),
            "relay:\n"
            "  port_range: [49152, 60000]\n"
            "allocation:\n"
            "  max_lifetime: 7200\n"
            "limits:\n"
            "  allocations_per_user: 3\n");
}

TEST(ConfigWriterTest, QuotesIpv6AndLeavesIpv4Plain) {
  ServerConfig config = defaultServerConfig();
  config.listeners = {{Transport::kUdp, ip("::"), 3478}, {Transport::kUdp, ip("10.0.0.1"), 3478}};
  config.peers.deny = {*Cidr::parse("fc00::/7"), *Cidr::parse("10.0.0.0/8")};
  const std::string yaml = writeConfigYaml(config);
  EXPECT_NE(yaml.find("{transport: udp, address: \"::\", port: 3478}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("{transport: udp, address: 10.0.0.1, port: 3478}"), std::string::npos);
  EXPECT_NE(yaml.find("    - \"fc00::/7\"\n    - 10.0.0.0/8\n"), std::string::npos) << yaml;
  EXPECT_EQ(loadOk(yaml).peers.deny, config.peers.deny);
}

// Strings that YAML would misread unless quoted and escaped: each must come back exactly, as a
// password, a user name, a secret, a path and the realm.
TEST(ConfigWriterTest, AnyStringRoundTrips) {
  const std::vector<std::string> tricky{
      ":#\"' ",
      "p:#\"' x",
      "back\\slash\\",
      "\"quoted\"",
      "'single'",
      "# not a comment",
      "a #comment?",
      "key: value",
      "- item",
      "[flow]",
      "{map: 1}",
      "&anchor",
      "*alias",
      "!tag",
      "%directive",
      "@at",
      "`tick`",
      "|",
      ">",
      "yes",
      "No",
      "null",
      "~",
      "123",
      "0x1F",
      "1e3",
      "  leading and trailing spaces  ",
      "tab\there",
      "new\nline",
      "cr\rlf",
      std::string("nul\0byte", 8),
      "bell\x07",
      "del\x7F",
      "pässwörd €",
      "\xF0\x9F\x94\x91 emoji",
      "nel\xC2\x85here",
      "line\xE2\x80\xA8sep",
      "para\xE2\x80\xA9sep",
      "\xEF\xBB\xBF"
      "bom",
      "\\x41 not an escape",
      "---",
      "...",
  };
  for (const std::string& text : tricky) {
    SCOPED_TRACE(yamlQuote(text));
    ServerConfig config = defaultServerConfig();
    std::string name = "user " + text;
    std::erase(name, ':');  // user names must not contain ':'
    config.auth.users = {{name, text}};
    config.auth.secrets = {text};
    config.tls.certificate = text;
    if (text.find('\0') == std::string::npos && text.size() < 100) {
      config.realm = text;
    }
    const std::string yaml = writeConfigYaml(config);
    const ServerConfig loaded = loadOk(yaml);
    EXPECT_EQ(loaded.auth.users, config.auth.users) << yaml;
    EXPECT_EQ(loaded.auth.secrets, config.auth.secrets) << yaml;
    EXPECT_EQ(loaded.tls.certificate, text) << yaml;
    EXPECT_EQ(loaded.realm, config.realm) << yaml;
  }
}

TEST(ConfigWriterTest, QuoteEscapes) {
  EXPECT_EQ(yamlQuote(""), "\"\"");
  EXPECT_EQ(yamlQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(yamlQuote("a\nb\tc"), "\"a\\x0Ab\\x09c\"");
  EXPECT_EQ(yamlQuote("x\xC2\x85y"), "\"x\\u0085y\"");
  EXPECT_EQ(yamlQuote("\xEF\xBB\xBFx\xE2\x80\xA8"), "\"\\uFEFFx\\u2028\"");
  EXPECT_EQ(yamlQuote("ü"), "\"ü\"");
}

}  // namespace
}  // namespace turnpike::server

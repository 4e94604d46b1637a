#include "server/config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/server/config_test_support.hpp"

namespace turnpike::protocol {
// Readable gtest failure output for addresses.
void PrintTo(const IpAddress& address, std::ostream* os) { *os << address.toString(); }
}  // namespace turnpike::protocol

namespace turnpike::server {
namespace {

using protocol::IpAddress;

IpAddress ip(std::string_view text) {
  const std::optional<IpAddress> address = IpAddress::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress());
}

ServerConfig loadOk(std::string_view yaml) {
  auto config = loadConfigText(yaml);
  EXPECT_TRUE(config.has_value()) << (config ? "" : toString(config.error())) << "\n" << yaml;
  return config.value_or(ServerConfig{});
}

void expectSameCidrs(const std::vector<Cidr>& a, const std::vector<Cidr>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].address, b[i].address) << i;
    EXPECT_EQ(a[i].length, b[i].length) << i;
  }
}

void expectSameConfig(const ServerConfig& a, const ServerConfig& b) {
  EXPECT_EQ(a.realm, b.realm);
  EXPECT_EQ(a.software, b.software);
  ASSERT_EQ(a.listeners.size(), b.listeners.size());
  for (std::size_t i = 0; i < a.listeners.size(); ++i) {
    EXPECT_EQ(a.listeners[i].transport, b.listeners[i].transport) << i;
    EXPECT_EQ(a.listeners[i].address, b.listeners[i].address) << i;
    EXPECT_EQ(a.listeners[i].port, b.listeners[i].port) << i;
  }
  EXPECT_EQ(a.tls.certificate, b.tls.certificate);
  EXPECT_EQ(a.tls.private_key, b.tls.private_key);
  EXPECT_EQ(a.tls.ciphers, b.tls.ciphers);
  EXPECT_EQ(a.tls.ciphersuites, b.tls.ciphersuites);
  EXPECT_EQ(a.tls.ticket_key_rotation, b.tls.ticket_key_rotation);
  EXPECT_EQ(a.relay.addresses, b.relay.addresses);
  EXPECT_EQ(a.relay.external_addresses, b.relay.external_addresses);
  EXPECT_EQ(a.relay.port_min, b.relay.port_min);
  EXPECT_EQ(a.relay.port_max, b.relay.port_max);
  EXPECT_EQ(a.allocation.default_lifetime, b.allocation.default_lifetime);
  EXPECT_EQ(a.allocation.max_lifetime, b.allocation.max_lifetime);
  EXPECT_EQ(a.auth.secrets, b.auth.secrets);
  EXPECT_EQ(a.auth.users, b.auth.users);
  expectSameCidrs(a.peers.allow, b.peers.allow);
  expectSameCidrs(a.peers.deny, b.peers.deny);
  EXPECT_EQ(a.limits.allocations_total, b.limits.allocations_total);
  EXPECT_EQ(a.limits.allocations_per_user, b.limits.allocations_per_user);
  EXPECT_EQ(a.http.address, b.http.address);
  EXPECT_EQ(a.http.port, b.http.port);
  EXPECT_EQ(a.http.api_keys, b.http.api_keys);
  EXPECT_EQ(a.http.api_max_ttl, b.http.api_max_ttl);
  EXPECT_EQ(a.http.api_rate_limit.per_second, b.http.api_rate_limit.per_second);
  EXPECT_EQ(a.http.api_rate_limit.burst, b.http.api_rate_limit.burst);
  EXPECT_EQ(a.http.selftest, b.http.selftest);
  EXPECT_EQ(a.public_uris, b.public_uris);
  EXPECT_EQ(a.log.level, b.log.level);
  EXPECT_EQ(a.log.format, b.log.format);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.fast_path, b.fast_path);
  EXPECT_EQ(a.mobility, b.mobility);
  EXPECT_EQ(a.tcp_allocations, b.tcp_allocations);
  EXPECT_EQ(a.limits.tcp_connections_per_allocation, b.limits.tcp_connections_per_allocation);
  EXPECT_EQ(a.drain, b.drain);
  EXPECT_EQ(a.cluster, b.cluster);
  EXPECT_EQ(a.auth.nonce_secret, b.auth.nonce_secret);
}

ServerConfig expectedDefaults() {
  ServerConfig config;
  config.listeners = {{Transport::kUdp, ip("0.0.0.0"), 3478},
                      {Transport::kTcp, ip("0.0.0.0"), 3478}};
  config.http.address = ip("127.0.0.1");
  return config;
}

// ---- Defaults ----

TEST(ConfigDefaults, EmptyCommentOnlyAndNullDocumentsGiveDefaults) {
  for (const std::string_view yaml : {"", "\n\n", "# only a comment\n", "---\n", "~\n"}) {
    SCOPED_TRACE(yaml);
    expectSameConfig(loadOk(yaml), expectedDefaults());
  }
}

TEST(ConfigDefaults, DefaultValues) {
  const ServerConfig config = loadOk("");
  EXPECT_EQ(config.realm, "turnpike");
  EXPECT_EQ(config.software, "turnpike");
  ASSERT_EQ(config.listeners.size(), 2U);
  EXPECT_EQ(config.listeners[0].transport, Transport::kUdp);
  EXPECT_EQ(config.listeners[1].transport, Transport::kTcp);
  EXPECT_EQ(config.http.address, ip("127.0.0.1"));
  EXPECT_EQ(config.http.port, 9641);
  EXPECT_EQ(config.relay.port_min, 49152);
  EXPECT_EQ(config.relay.port_max, 65535);
  EXPECT_EQ(config.allocation.default_lifetime, 600U);
  EXPECT_EQ(config.allocation.max_lifetime, 3600U);
  EXPECT_EQ(config.log.level, LogLevel::kInfo);
  EXPECT_EQ(config.log.format, LogFormat::kText);
  EXPECT_EQ(config.threads, 0U);
  EXPECT_TRUE(config.http.api_keys.empty());
  EXPECT_EQ(config.http.api_max_ttl, 86400U);
  EXPECT_EQ(config.http.api_rate_limit.per_second, 5U);
  EXPECT_EQ(config.http.api_rate_limit.burst, 20U);
  EXPECT_TRUE(config.public_uris.empty());
}

TEST(ConfigTls, CipherSettingsAreRead) {
  const ServerConfig config = loadOk(R"yaml(
tls:
  ciphers: "ECDHE+AESGCM:!aRSA:@STRENGTH"
  ciphersuites: "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
  ticket_key_rotation: 600
)yaml");
  EXPECT_EQ(config.tls.ciphers, "ECDHE+AESGCM:!aRSA:@STRENGTH");
  EXPECT_EQ(config.tls.ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
  EXPECT_EQ(config.tls.ticket_key_rotation, 600U);
}

TEST(ConfigTls, DefaultsAreModern) {
  const TlsConfig tls = loadOk("").tls;
  EXPECT_EQ(tls.ciphers, kDefaultTls12Ciphers);
  EXPECT_EQ(tls.ciphersuites, kDefaultTls13Ciphersuites);
  EXPECT_EQ(tls.ticket_key_rotation, 3600U);
}

TEST(ConfigTls, CipherErrorsNameTheEntry) {
  const auto result = loadConfigText(
      "tls: {ciphers: \"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265\"}\n");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("\"ECDHE-RSA-AES128-GCM-SHA265\""), std::string::npos)
      << result.error().message;
  const auto suites = loadConfigText("tls: {ciphersuites: TLS_AES_128_GCM}\n");
  ASSERT_FALSE(suites);
  EXPECT_NE(suites.error().message.find("\"TLS_AES_128_GCM\""), std::string::npos)
      << suites.error().message;
}

TEST(ConfigDefaults, EmbeddedDefaultYamlLoadsToTheDefaults) {
  expectSameConfig(loadOk(kDefaultConfigYaml), expectedDefaults());
}

// ---- The full example ----

constexpr std::string_view kFullExample = R"yaml(
realm: turnpike.test        # comment
software: turnpike
listeners:
  - {transport: udp, address: 127.0.0.1, port: 3478}
  - {transport: tcp, address: 127.0.0.1, port: 3478}
  - {transport: tls, address: 127.0.0.1, port: 5349}
tls: {certificate: cert.pem, private_key: key.pem}
relay:
  addresses: [127.0.0.1]
  external_addresses: []
  port_range: [49152, 65535]
allocation: {default_lifetime: 600, max_lifetime: 3600}
auth:
  secrets: [s3cret]
  users: {alice: wonderland}
peers:
  allow: [127.0.0.0/8, "::1/128"]
  deny: []
limits: {allocations_total: 0, allocations_per_user: 0}
http: {address: 127.0.0.1, port: 9641}
log: {level: info, format: text}
threads: 0
)yaml";

TEST(ConfigFull, ExampleParsesToExpectedValues) {
  ServerConfig expected = expectedDefaults();
  expected.realm = "turnpike.test";
  expected.listeners = {{Transport::kUdp, ip("127.0.0.1"), 3478},
                        {Transport::kTcp, ip("127.0.0.1"), 3478},
                        {Transport::kTls, ip("127.0.0.1"), 5349}};
  expected.tls = {"cert.pem", "key.pem"};
  expected.relay.addresses = {ip("127.0.0.1")};
  expected.auth.secrets = {"s3cret"};
  expected.auth.users = {{"alice", "wonderland"}};
  expected.peers.allow = {{ip("127.0.0.0"), 8}, {ip("::1"), 128}};
  expectSameConfig(loadOk(kFullExample), expected);
}

TEST(ConfigFull, NonDefaultValues) {
  const ServerConfig config = loadOk(R"yaml(
software: ""
relay:
  addresses: [192.0.2.1, "2001:db8::1"]
  external_addresses: [198.51.100.1, "2001:db8::2"]
  port_range: [40000, 40000]
allocation: {default_lifetime: 1, max_lifetime: 86400}
auth: {secrets: [a, b], users: {bob: "12345", carol: x}}
limits: {allocations_total: 4294967295, allocations_per_user: 10}
http: {address: "::1", port: 0}
log: {level: debug, format: json}
drain: {timeout: 0, alternate_servers: ["192.0.2.9:3478", "[2001:db8::9]:443"]}
threads: 256
fast_path: ebpf
)yaml");
  EXPECT_EQ(config.fast_path, FastPath::kEbpf);
  EXPECT_EQ(config.drain.timeout, 0U);
  EXPECT_EQ(config.drain.alternate_servers,
            (std::vector<protocol::Endpoint>{{ip("192.0.2.9"), 3478}, {ip("2001:db8::9"), 443}}));
  EXPECT_EQ(config.software, "");
  EXPECT_EQ(config.relay.external_addresses,
            (std::vector<IpAddress>{ip("198.51.100.1"), ip("2001:db8::2")}));
  EXPECT_EQ(config.relay.port_min, 40000);
  EXPECT_EQ(config.relay.port_max, 40000);
  EXPECT_EQ(config.allocation.default_lifetime, 1U);
  EXPECT_EQ(config.allocation.max_lifetime, 86400U);
  EXPECT_EQ(config.auth.secrets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(config.auth.users.at("bob"), "12345");
  EXPECT_EQ(config.limits.allocations_total, 4294967295U);
  EXPECT_EQ(config.limits.allocations_per_user, 10U);
  EXPECT_EQ(config.http.address, ip("::1"));
  EXPECT_EQ(config.http.port, 0);
  EXPECT_EQ(config.log.level, LogLevel::kDebug);
  EXPECT_EQ(config.log.format, LogFormat::kJson);
  EXPECT_EQ(config.threads, 256U);
}

// ---- Credential API ----

TEST(ConfigCluster, AlternatesDomainThresholdsAndNonceSecret) {
  const ServerConfig config = loadOk(R"yaml(
auth: {secrets: [s], nonce_secret: "a-fleet-wide-nonce-secret"}
cluster:
  alternate_servers: ["192.0.2.9:3478", "[2001:db8::9]:5349"]
  alternate_domain: turn.example.com
  redirect_above: {allocations: 4294967295, relayed_bps: 1099511627776}
)yaml");
  EXPECT_EQ(config.cluster.alternate_servers,
            (std::vector<protocol::Endpoint>{{ip("192.0.2.9"), 3478}, {ip("2001:db8::9"), 5349}}));
  EXPECT_EQ(config.cluster.alternate_domain, "turn.example.com");
  EXPECT_EQ(config.cluster.redirect_above_allocations, 4294967295U);
  EXPECT_EQ(config.cluster.redirect_above_relayed_bps, 1099511627776U);
  EXPECT_EQ(config.auth.nonce_secret, "a-fleet-wide-nonce-secret");
  // Unset: no secret (a random key), no redirect; drain's own list is untouched.
  const ServerConfig defaults = loadOk("drain: {alternate_servers: [\"192.0.2.1:3478\"]}\n");
  EXPECT_FALSE(defaults.auth.nonce_secret.has_value());
  EXPECT_EQ(defaults.cluster, ClusterConfig{});
  EXPECT_EQ(defaults.drain.alternate_servers.size(), 1U);
}

TEST(ConfigCluster, ErrorsNameTheKey) {
  const std::pair<std::string, std::string_view> cases[] = {
      {"cluster: {redirect_above: {allocations: 10}}\n", "cluster.redirect_above"},
      {"cluster: {redirect_above: {relayed_bps: 1000}}\n", "cluster.redirect_above"},
      {"cluster: {alternate_servers: [\"192.0.2.1:3478\"], redirect_above: {allocations: -1}}\n",
       "cluster.redirect_above.allocations"},
      {"cluster: {alternate_servers: [\"192.0.2.1:3478\"],"
       " redirect_above: {relayed_bps: 1099511627777}}\n",
       "cluster.redirect_above.relayed_bps"},
      {"cluster: {redirect_above: {alocations: 1}}\n", "cluster.redirect_above.alocations"},
      {"cluster: {alternate_servers: [turn.example.com:3478]}\n", "cluster.alternate_servers[0]"},
      {"cluster: {alternate_domain: turn.example.com}\n", "cluster.alternate_domain"},
      {"cluster: {alternate_servers: [\"192.0.2.1:3478\"], alternate_domain: \"a b\"}\n",
       "cluster.alternate_domain"},
      {"cluster: {alternate_servers: [\"192.0.2.1:3478\"], alternate_domain: .example}\n",
       "cluster.alternate_domain"},
      {"cluster: {alternate_servers: [\"192.0.2.1:3478\"], alternate_domain: " +
           std::string(256, 'a') + "}\n",
       "cluster.alternate_domain"},
      {"cluster: {alternate_sever: []}\n", "cluster.alternate_sever"},
      {"auth: {nonce_secret: short}\n", "auth.nonce_secret"},
      {"auth: {nonce_secret: \"\"}\n", "auth.nonce_secret"},
      {"auth: {nonce_secret: [a]}\n", "auth.nonce_secret"},
  };
  for (const auto& [yaml, key] : cases) {
    const auto result = loadConfigText(yaml);
    ASSERT_FALSE(result.has_value()) << yaml;
    EXPECT_EQ(result.error().key, key) << yaml << ": " << result.error().message;
  }
}

TEST(ConfigApi, KeysMaxTtlRateLimitAndPublicUris) {
  const ServerConfig config = loadOk(R"yaml(
auth: {secrets: [s3cret]}
http:
  api_keys: [0123456789abcdef, "k!#$%&'()*+,-./:;<=>?@[]^_`{|}~"]
  api_max_ttl: 31536000
  api_rate_limit: {per_second: 0, burst: 1}
public_uris:
  - "turn:turn.example.com:3478?transport=udp"
  - "turns:[2001:db8::1]:5349?transport=tcp"
  - stun:turn.example.com
)yaml");
  EXPECT_EQ(config.http.api_keys,
            (std::vector<std::string>{"0123456789abcdef", "k!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}));
  EXPECT_EQ(config.http.api_max_ttl, 31536000U);
  EXPECT_EQ(config.http.api_rate_limit.per_second, 0U);
  EXPECT_EQ(config.http.api_rate_limit.burst, 1U);
  EXPECT_EQ(config.public_uris,
            (std::vector<std::string>{"turn:turn.example.com:3478?transport=udp",
                                      "turns:[2001:db8::1]:5349?transport=tcp",
                                      "stun:turn.example.com"}));
}

TEST(ConfigApi, ErrorMessagesSayWhatIsWrong) {
  const auto short_key = loadConfigText("auth: {secrets: [s]}\nhttp: {api_keys: [short]}\n");
  ASSERT_FALSE(short_key.has_value());
  EXPECT_EQ(toString(short_key.error()),
            "config: http.api_keys[0]: must be at least 16 characters, got 5");
  const auto no_secret = loadConfigText("http: {api_keys: [0123456789abcdef]}\n");
  ASSERT_FALSE(no_secret.has_value());
  EXPECT_EQ(toString(no_secret.error()), "config: http.api_keys: needs auth.secrets to mint with");
  const auto bad_uri = loadConfigText("public_uris: [\"http://example.com\"]\n");
  ASSERT_FALSE(bad_uri.has_value());
  EXPECT_EQ(toString(bad_uri.error()),
            "config: public_uris[0]: must start with stun:, turn: or turns:, got "
            "\"http://example.com\"");
}

// ---- Listeners ----

TEST(ConfigListeners, Ipv6AddressesQuotedAndPlain) {
  const ServerConfig config = loadOk(R"yaml(
listeners:
  - {transport: udp, address: "::1"}
  - transport: tcp
    address: ::1
    port: 3479
  - transport: tcp
    address: "::"
  - {transport: udp, address: "2001:db8::10", port: 3479}
)yaml");
  ASSERT_EQ(config.listeners.size(), 4U);
  EXPECT_EQ(config.listeners[0].address, ip("::1"));
  EXPECT_TRUE(config.listeners[0].address.isV6());
  EXPECT_EQ(config.listeners[1].address, ip("::1"));
  EXPECT_EQ(config.listeners[2].address, ip("::"));
  EXPECT_EQ(config.listeners[3].address, ip("2001:db8::10"));
  EXPECT_EQ(config.listeners[3].port, 3479);
}

TEST(ConfigListeners, DefaultAddressAndPortPerTransport) {
  const ServerConfig config = loadOk(R"yaml(
listeners: [{transport: udp}, {transport: tls}, {port: 4000, transport: tcp}]
tls: {certificate: c.pem, private_key: k.pem}
)yaml");
  ASSERT_EQ(config.listeners.size(), 3U);
  EXPECT_EQ(config.listeners[0].address, ip("0.0.0.0"));
  EXPECT_EQ(config.listeners[0].port, 3478);
  EXPECT_EQ(config.listeners[1].port, 5349);
  EXPECT_EQ(config.listeners[2].port, 4000);
}

TEST(ConfigListeners, AutoSharesOnePortBetweenTcpAndTls) {
  const ServerConfig config = loadOk(R"yaml(
listeners: [{transport: auto}, {transport: auto, address: 127.0.0.1, port: 8443},
            {transport: udp, port: 443}]
tls: {certificate: c.pem, private_key: k.pem}
)yaml");
  ASSERT_EQ(config.listeners.size(), 3U);
  EXPECT_EQ(config.listeners[0].transport, Transport::kAuto);
  EXPECT_EQ(config.listeners[0].port, 443);  // the port firewalls leave open
  EXPECT_EQ(config.listeners[1].port, 8443);
  EXPECT_EQ(toString(Transport::kAuto), "auto");
}

TEST(ConfigListeners, DtlsDefaultsTo5349BesideTcpAndTls) {
  // RFC 7350 section 4.6: turns over DTLS uses 5349, as over TLS; UDP and TCP ports are apart.
  const ServerConfig config = loadOk(R"yaml(
listeners: [{transport: dtls}, {transport: tls}, {transport: dtls, address: 127.0.0.1, port: 6000}]
tls: {certificate: c.pem, private_key: k.pem}
limits: {dtls_half_open: 5}
)yaml");
  ASSERT_EQ(config.listeners.size(), 3U);
  EXPECT_EQ(config.listeners[0].transport, Transport::kDtls);
  EXPECT_EQ(config.listeners[0].port, 5349);
  EXPECT_EQ(config.listeners[1].port, 5349);
  EXPECT_EQ(config.listeners[2].port, 6000);
  EXPECT_EQ(toString(Transport::kDtls), "dtls");
  EXPECT_EQ(config.limits.dtls_half_open, 5U);
  EXPECT_EQ(loadOk("realm: x\n").limits.dtls_half_open, 1000U);
}

TEST(ConfigListeners, ProxyProtocolPerStreamListener) {
  const ServerConfig config = loadOk(R"yaml(
listeners: [{transport: udp}, {transport: tcp, proxy_protocol: true},
            {transport: auto, proxy_protocol: false}, {transport: tls, proxy_protocol: true}]
tls: {certificate: c.pem, private_key: k.pem}
)yaml");
  ASSERT_EQ(config.listeners.size(), 4U);
  EXPECT_FALSE(config.listeners[0].proxy_protocol);
  EXPECT_TRUE(config.listeners[1].proxy_protocol);
  EXPECT_FALSE(config.listeners[2].proxy_protocol);
  EXPECT_TRUE(config.listeners[3].proxy_protocol);
}

TEST(ConfigListeners, SameEndpointOnDifferentTransportsIsNotADuplicate) {
  const ServerConfig config = loadOk(
      "listeners: [{transport: udp, port: 3478}, {transport: tcp, port: 3478},"
      " {transport: udp, address: '::', port: 3478}]");
  EXPECT_EQ(config.listeners.size(), 3U);
}

// ---- Peers ----

TEST(ConfigPeers, CidrsAreParsedAndHostBitsMasked) {
  const ServerConfig config = loadOk(R"yaml(
peers:
  allow: [10.1.2.3/8, 192.0.2.1, "2001:db8::1", "2001:db8:1:2:3::ff/36", 0.0.0.0/0, 172.16.5.4/20]
  deny: ["::/0"]
)yaml");
  const std::vector<Cidr> allow = {{ip("10.0.0.0"), 8},      {ip("192.0.2.1"), 32},
                                   {ip("2001:db8::1"), 128}, {ip("2001:db8::"), 36},
                                   {ip("0.0.0.0"), 0},       {ip("172.16.0.0"), 20}};
  expectSameCidrs(config.peers.allow, allow);
  expectSameCidrs(config.peers.deny, {{ip("::"), 0}});
}

// ---- Strings at the RFC 8489 limits ----

TEST(ConfigText, RealmAndSoftwareLengthLimits) {
  const std::string ascii127(127, 'r');
  std::string utf8_127;  // 127 characters, 254 bytes
  for (int i = 0; i < 127; ++i) {
    utf8_127 += "\xC3\xA9";
  }
  EXPECT_EQ(loadOk("realm: " + ascii127).realm, ascii127);
  EXPECT_EQ(loadOk("realm: " + utf8_127).realm, utf8_127);
  EXPECT_EQ(loadOk("software: " + utf8_127).software, utf8_127);

  const auto too_long = loadConfigText("realm: " + utf8_127 + "\xC3\xA9");
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().key, "realm");
}

// ---- Errors, table-driven ----

using ErrorCase = ConfigErrorCase;

TEST_P(ConfigErrorTest, ReportsTheKeyPath) {
  const ErrorCase& error_case = GetParam();
  const auto result = loadConfigText(error_case.yaml);
  ASSERT_FALSE(result.has_value()) << error_case.yaml;
  EXPECT_EQ(result.error().key, error_case.key) << toString(result.error());
  EXPECT_FALSE(result.error().message.empty());
  EXPECT_NE(result.error().message.find(error_case.says), std::string::npos)
      << toString(result.error());
}

const std::string kTlsListener = "listeners: [{transport: tls}]\n";

INSTANTIATE_TEST_SUITE_P(
    Config, ConfigErrorTest,
    testing::Values(
        // Document shape and YAML syntax.
        ErrorCase{"RootIsList", "- a\n- b\n", "(root)"},
        ErrorCase{"FastPathUnknown", "fast_path: xdp\n", "fast_path"},
        ErrorCase{"RootIsScalar", "just text\n", "(root)"},
        ErrorCase{"SyntaxError", "listeners: [{transport: udp\n", "(yaml)"},
        ErrorCase{"BadIndentation", "log:\n  level: info\n format: text\n", "(yaml)"},
        ErrorCase{"TwoDocuments", "realm: a\n---\nrealm: b\n", "(yaml)"},
        ErrorCase{"UnknownRootKey", "realmm: x\n", "realmm"},
        ErrorCase{"UnknownNestedKey", "log: {levle: info}\n", "log.levle"},
        ErrorCase{"UnknownListenerKey", "listeners: [{transport: udp, prot: 1}]\n",
                  "listeners[0].prot"},
        ErrorCase{"UnknownRelayKey", "relay: {adresses: []}\n", "relay.adresses"},
        ErrorCase{"DuplicateKey", "realm: a\nrealm: b\n", "realm"},
        ErrorCase{"NonScalarKey", "? [a]\n: b\n", "(root)"},
        ErrorCase{"NullValue", "realm:\n", "realm"}, ErrorCase{"NullSection", "log:\n", "log"},
        ErrorCase{"SectionIsList", "relay: [1, 2]\n", "relay"},
        // realm and software.
        ErrorCase{"EmptyRealm", "realm: \"\"\n", "realm"},
        ErrorCase{"RealmTooLong", "realm: " + std::string(128, 'r') + "\n", "realm"},
        ErrorCase{"RealmIsList", "realm: [a]\n", "realm"},
        ErrorCase{"SoftwareTooLong", "software: " + std::string(128, 's') + "\n", "software"},
        // Listeners.
        ErrorCase{"ListenersEmpty", "listeners: []\n", "listeners"},
        ErrorCase{"ListenersIsMap", "listeners: {transport: udp}\n", "listeners"},
        ErrorCase{"ListenerIsScalar", "listeners: [udp]\n", "listeners[0]"},
        ErrorCase{"TransportMissing", "listeners: [{port: 3478}]\n", "listeners[0].transport"},
        ErrorCase{"TransportUnknown", "listeners: [{transport: sctp}]\n", "listeners[0].transport"},
        ErrorCase{"PortNotNumber", "listeners: [{transport: udp}, {transport: tcp, port: abc}]\n",
                  "listeners[1].port"},
        ErrorCase{"PortZero", "listeners: [{transport: udp, port: 0}]\n", "listeners[0].port"},
        ErrorCase{"PortTooBig", "listeners: [{transport: udp, port: 65536}]\n",
                  "listeners[0].port"},
        ErrorCase{"PortNegative", "listeners: [{transport: udp, port: -1}]\n", "listeners[0].port"},
        ErrorCase{"PortFloat", "listeners: [{transport: udp, port: 3478.5}]\n",
                  "listeners[0].port"},
        ErrorCase{"PortQuoted", "listeners: [{transport: udp, port: \"3478\"}]\n",
                  "listeners[0].port"},
        ErrorCase{"PortHex", "listeners: [{transport: udp, port: 0xD96}]\n", "listeners[0].port"},
        ErrorCase{"PortIsMap", "listeners: [{transport: udp, port: {a: 1}}]\n",
                  "listeners[0].port"},
        ErrorCase{"AddressHostname", "listeners: [{transport: udp, address: localhost}]\n",
                  "listeners[0].address"},
        ErrorCase{"AddressBracketed", "listeners: [{transport: udp, address: \"[::1]\"}]\n",
                  "listeners[0].address"},
        ErrorCase{"DuplicateListener",
                  "listeners: [{transport: udp, address: 127.0.0.1},"
                  " {transport: tcp}, {transport: udp, address: 127.0.0.1, port: 3478}]\n",
                  "listeners[2]"},
        ErrorCase{"ProxyProtocolOnUdp", "listeners: [{transport: udp, proxy_protocol: true}]\n",
                  "listeners[0].proxy_protocol"},
        ErrorCase{"ProxyProtocolOnDtls",
                  "listeners: [{transport: dtls, proxy_protocol: true}]\n"
                  "tls: {certificate: c.pem, private_key: k.pem}\n",
                  "listeners[0].proxy_protocol"},
        ErrorCase{"UdpAndDtlsOnOnePort",
                  "listeners: [{transport: udp, port: 5349}, {transport: dtls}]\n"
                  "tls: {certificate: c.pem, private_key: k.pem}\n",
                  "listeners[1]"},
        ErrorCase{"ProxyProtocolNotABoolean",
                  "listeners: [{transport: tcp, proxy_protocol: yes please}]\n",
                  "listeners[0].proxy_protocol"},
        ErrorCase{"TcpAndTlsOnOnePort",
                  "listeners: [{transport: tcp, port: 443}, {transport: tls, port: 443}]\n"
                  "tls: {certificate: c.pem, private_key: k.pem}\n",
                  "listeners[1]"},
        ErrorCase{"TcpAndAutoOnOnePort",
                  "listeners: [{transport: auto}, {transport: tcp, port: 443}]\n"
                  "tls: {certificate: c.pem, private_key: k.pem}\n",
                  "listeners[1]"},
        // TLS.
        ErrorCase{"TlsListenerWithoutTls", kTlsListener, "tls.certificate"},
        ErrorCase{"AutoListenerWithoutTls", "listeners: [{transport: auto}]\n", "tls.certificate"},
        ErrorCase{"DtlsListenerWithoutTls", "listeners: [{transport: dtls}]\n", "tls.certificate"},
        ErrorCase{"DtlsListenerWithoutKey",
                  "listeners: [{transport: dtls}]\ntls: {certificate: c.pem}\n", "tls.private_key"},
        ErrorCase{"DtlsHalfOpenZero", "limits: {dtls_half_open: 0}\n", "limits.dtls_half_open"},
        ErrorCase{"DtlsHalfOpenNotNumber", "limits: {dtls_half_open: many}\n",
                  "limits.dtls_half_open"},
        ErrorCase{"AutoListenerWithoutKey",
                  "listeners: [{transport: auto}]\ntls: {certificate: c.pem}\n", "tls.private_key"},
        ErrorCase{"TlsListenerWithoutKey", kTlsListener + "tls: {certificate: c.pem}\n",
                  "tls.private_key"},
        ErrorCase{"TlsEmptyCertificate",
                  kTlsListener + "tls: {certificate: \"\", private_key: k.pem}\n",
                  "tls.certificate"},
        ErrorCase{"TlsUnknownKey", "tls: {cert: c.pem}\n", "tls.cert"},
        ErrorCase{"TlsCiphersEmpty", "tls: {ciphers: \"\"}\n", "tls.ciphers"},
        ErrorCase{"TlsCiphersUnknown", "tls: {ciphers: NO-SUCH-CIPHER}\n", "tls.ciphers"},
        ErrorCase{"TlsCiphersOneTypo",
                  "tls: {ciphers: \"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265\"}\n",
                  "tls.ciphers"},
        ErrorCase{"TlsCiphersOnlyTls13Names", "tls: {ciphers: TLS_AES_128_GCM_SHA256}\n",
                  "tls.ciphers"},
        ErrorCase{"TlsCiphersIsList", "tls: {ciphers: [a, b]}\n", "tls.ciphers"},
        ErrorCase{"TlsCiphersuitesEmpty", "tls: {ciphersuites: \"\"}\n", "tls.ciphersuites"},
        ErrorCase{"TlsCiphersuitesUnknown",
                  "tls: {ciphersuites: \"TLS_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA255\"}\n",
                  "tls.ciphersuites"},
        ErrorCase{"TlsCiphersuitesTls12Name", "tls: {ciphersuites: ECDHE-RSA-AES128-GCM-SHA256}\n",
                  "tls.ciphersuites"},
        ErrorCase{"TlsCiphersuitesEmptyEntry",
                  "tls: {ciphersuites: \"TLS_AES_128_GCM_SHA256::TLS_AES_256_GCM_SHA384\"}\n",
                  "tls.ciphersuites"},
        ErrorCase{"TlsTicketRotationZero", "tls: {ticket_key_rotation: 0}\n",
                  "tls.ticket_key_rotation"},
        ErrorCase{"TlsTicketRotationTooLong", "tls: {ticket_key_rotation: 86401}\n",
                  "tls.ticket_key_rotation"},
        // Relay.
        ErrorCase{"RelayBadAddress", "relay: {addresses: [127.0.0.1, nope]}\n",
                  "relay.addresses[1]"},
        ErrorCase{"RelayAddressesIsScalar", "relay: {addresses: 127.0.0.1}\n", "relay.addresses"},
        ErrorCase{"ExternalLengthMismatch",
                  "relay: {addresses: [10.0.0.1, 10.0.0.2], external_addresses: [1.2.3.4]}\n",
                  "relay.external_addresses"},
        ErrorCase{"ExternalWithoutAddresses", "relay: {external_addresses: [1.2.3.4]}\n",
                  "relay.external_addresses"},
        ErrorCase{"ExternalFamilyMismatch",
                  "relay: {addresses: [10.0.0.1, 10.0.0.2],"
                  " external_addresses: [1.2.3.4, \"2001:db8::1\"]}\n",
                  "relay.external_addresses[1]"},
        ErrorCase{"PortRangeReversed", "relay: {port_range: [60000, 50000]}\n", "relay.port_range"},
        ErrorCase{"PortRangeBelow1024", "relay: {port_range: [1023, 50000]}\n",
                  "relay.port_range[0]"},
        ErrorCase{"PortRangeAbove65535", "relay: {port_range: [50000, 65536]}\n",
                  "relay.port_range[1]"},
        ErrorCase{"PortRangeThreeItems", "relay: {port_range: [1024, 2000, 3000]}\n",
                  "relay.port_range"},
        ErrorCase{"PortRangeScalar", "relay: {port_range: 50000}\n", "relay.port_range"},
        // Allocation.
        ErrorCase{"DefaultAboveMax", "allocation: {default_lifetime: 4000, max_lifetime: 3600}\n",
                  "allocation.default_lifetime"},
        ErrorCase{"DefaultLifetimeZero", "allocation: {default_lifetime: 0}\n",
                  "allocation.default_lifetime"},
        ErrorCase{"MaxLifetimeTooBig", "allocation: {max_lifetime: 86401}\n",
                  "allocation.max_lifetime"},
        // Auth.
        ErrorCase{"EmptySecret", "auth: {secrets: [a, \"\"]}\n", "auth.secrets[1]"},
        ErrorCase{"SecretsIsMap", "auth: {secrets: {a: b}}\n", "auth.secrets"},
        ErrorCase{"SecretIsList", "auth: {secrets: [[a]]}\n", "auth.secrets[0]"},
        ErrorCase{"EmptyPassword", "auth: {users: {alice: \"\"}}\n", "auth.users.alice"},
        ErrorCase{"NullPassword", "auth: {users: {alice: }}\n", "auth.users.alice"},
        ErrorCase{"PasswordIsList", "auth: {users: {alice: [a]}}\n", "auth.users.alice"},
        ErrorCase{"UserWithColon", "auth: {users: {\"al:ice\": pw}}\n", "auth.users.al:ice"},
        ErrorCase{"EmptyUserName", "auth: {users: {\"\": pw}}\n", "auth.users"},
        ErrorCase{"UsersIsList", "auth: {users: [alice]}\n", "auth.users"},
        ErrorCase{"DuplicateUser", "auth:\n  users:\n    bob: a\n    bob: b\n", "auth.users.bob"},
        // Peers.
        ErrorCase{"CidrPrefixTooLongV4", "peers: {allow: [10.0.0.0/33]}\n", "peers.allow[0]"},
        ErrorCase{"CidrPrefixTooLongV6", "peers: {deny: [\"::1/129\"]}\n", "peers.deny[0]"},
        ErrorCase{"CidrPrefixNotNumber", "peers: {allow: [1.2.3.4/8, 10.0.0.0/x]}\n",
                  "peers.allow[1]"},
        ErrorCase{"CidrEmptyPrefix", "peers: {allow: [10.0.0.0/]}\n", "peers.allow[0]"},
        ErrorCase{"CidrHostname", "peers: {allow: [example.com/8]}\n", "peers.allow[0]"},
        // Limits, http, log, threads.
        ErrorCase{"LimitNegative", "limits: {allocations_total: -1}\n", "limits.allocations_total"},
        ErrorCase{"LimitTooBig", "limits: {allocations_per_user: 4294967296}\n",
                  "limits.allocations_per_user"},
        ErrorCase{"HttpPortTooBig", "http: {port: 65536}\n", "http.port"},
        ErrorCase{"HttpBadAddress", "http: {address: 1.2.3}\n", "http.address"},
        // The credential API.
        ErrorCase{"ApiKeyTooShort",
                  "auth: {secrets: [s]}\nhttp: {api_keys: [0123456789abcdef, 0123456789abcde]}\n",
                  "http.api_keys[1]"},
        ErrorCase{"ApiKeyWithSpace",
                  "auth: {secrets: [s]}\nhttp: {api_keys: [\"0123456789 abcdef\"]}\n",
                  "http.api_keys[0]"},
        ErrorCase{"ApiKeyNonAscii",
                  "auth: {secrets: [s]}\nhttp: {api_keys: [\"0123456789abcdef\xC3\xA9\"]}\n",
                  "http.api_keys[0]"},
        ErrorCase{"ApiKeyIsList", "auth: {secrets: [s]}\nhttp: {api_keys: [[a]]}\n",
                  "http.api_keys[0]"},
        ErrorCase{"ApiKeysIsScalar", "auth: {secrets: [s]}\nhttp: {api_keys: 0123456789abcdef}\n",
                  "http.api_keys"},
        ErrorCase{"ApiKeysWithoutSecrets", "http: {api_keys: [0123456789abcdef]}\n",
                  "http.api_keys"},
        ErrorCase{"ApiMaxTtlZero", "http: {api_max_ttl: 0}\n", "http.api_max_ttl"},
        ErrorCase{"ApiMaxTtlTooBig", "http: {api_max_ttl: 31536001}\n", "http.api_max_ttl"},
        ErrorCase{"ApiRateNegative", "http: {api_rate_limit: {per_second: -1}}\n",
                  "http.api_rate_limit.per_second"},
        ErrorCase{"ApiRateTooBig", "http: {api_rate_limit: {per_second: 1000001}}\n",
                  "http.api_rate_limit.per_second"},
        ErrorCase{"ApiBurstZero", "http: {api_rate_limit: {burst: 0}}\n",
                  "http.api_rate_limit.burst"},
        ErrorCase{"ApiRateUnknownKey", "http: {api_rate_limit: {rate: 1}}\n",
                  "http.api_rate_limit.rate"},
        ErrorCase{"ApiRateIsScalar", "http: {api_rate_limit: 5}\n", "http.api_rate_limit"},
        ErrorCase{"SelftestNotBool", "http: {selftest: yes}\n", "http.selftest"},
        ErrorCase{"SelftestIsMap", "http: {selftest: {enabled: true}}\n", "http.selftest"},
        ErrorCase{"PublicUriHttp", "public_uris: [\"turn:a:3478\", \"http://a\"]\n",
                  "public_uris[1]"},
        ErrorCase{"PublicUriUppercaseScheme", "public_uris: [\"TURN:a:3478\"]\n", "public_uris[0]"},
        ErrorCase{"PublicUriStuns", "public_uris: [\"stuns:a:5349\"]\n", "public_uris[0]"},
        ErrorCase{"PublicUriNoHost", "public_uris: [\"turn:\"]\n", "public_uris[0]"},
        ErrorCase{"PublicUriSpace", "public_uris: [\"turn:a b\"]\n", "public_uris[0]"},
        ErrorCase{"PublicUriTooLong", "public_uris: [\"turn:" + std::string(1020, 'a') + "\"]\n",
                  "public_uris[0]"},
        ErrorCase{"PublicUrisIsScalar", "public_uris: \"turn:a\"\n", "public_uris"},
        ErrorCase{"LogLevelUnknown", "log: {level: verbose}\n", "log.level"},
        ErrorCase{"LogLevelUppercase", "log: {level: INFO}\n", "log.level"},
        ErrorCase{"LogFormatUnknown", "log: {format: xml}\n", "log.format"},
        ErrorCase{"ThreadsTooMany", "threads: 257\n", "threads"},
        ErrorCase{"MobilityNotBool", "threads: 1\nmobility: yes\n", "mobility"},
        ErrorCase{"TcpAllocationsNotBool", "threads: 1\ntcp_allocations: 1\n", "tcp_allocations"},
        ErrorCase{"TcpConnectionsZero", "limits: {tcp_connections_per_allocation: 0}\n",
                  "limits.tcp_connections_per_allocation"},
        ErrorCase{"TcpConnectionsTooMany", "limits: {tcp_connections_per_allocation: 4097}\n",
                  "limits.tcp_connections_per_allocation"},
        ErrorCase{"ThreadsNotNumber", "threads: many\n", "threads"},
        ErrorCase{"ThreadsHuge", "threads: 99999999999999999999999\n", "threads"},
        ErrorCase{"DrainTimeoutNegative", "drain: {timeout: -1}\n", "drain.timeout"},
        ErrorCase{"DrainTimeoutTooLong", "drain: {timeout: 86401}\n", "drain.timeout"},
        ErrorCase{"AlternateWithoutPort", "drain: {alternate_servers: [192.0.2.1]}\n",
                  "drain.alternate_servers[0]"},
        ErrorCase{"AlternatePortZero", "drain: {alternate_servers: [\"192.0.2.1:0\"]}\n",
                  "drain.alternate_servers[0]"},
        ErrorCase{"AlternateIpv6Unbracketed",
                  "drain: {alternate_servers: [\"2001:db8::1:3478\"]}\n",
                  "drain.alternate_servers[0]"},
        ErrorCase{"AlternateHostName",
                  "drain: {alternate_servers: [\"192.0.2.1:3478\", \"turn.example:3478\"]}\n",
                  "drain.alternate_servers[1]"}),
    configErrorName);

TEST(ConfigErrors, MessageNamesTheBadValue) {
  const auto result = loadConfigText("listeners: [{transport: udp}, {transport: tcp, port: abc}]");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().key, "listeners[1].port");
  EXPECT_NE(result.error().message.find("must be an integer between 1 and 65535, got \"abc\""),
            std::string::npos)
      << result.error().message;
}

TEST(ConfigErrors, UnknownKeyMessageListsTheValidKeys) {
  const auto result = loadConfigText("log: {levle: info}");
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find("level, format"), std::string::npos)
      << result.error().message;
}

TEST(ConfigErrors, SyntaxErrorIncludesLineAndColumn) {
  const auto result = loadConfigText("realm: a\nlisteners: [{transport: udp\n");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().key, "(yaml)");
  EXPECT_NE(result.error().message.find("line"), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find("column"), std::string::npos) << result.error().message;
}

TEST(ConfigErrors, HostileInputsNeverThrow) {
  const std::vector<std::string> inputs = {
      std::string(5000, '['),
      std::string(5000, '{'),
      "a: &x [*x]\n",
      "\t- tab\n",
      std::string("realm: a\0b\n", 11),
      "\xFF\xFE\x00\x01",
      "!!binary 3q2+7w==\n",
      "<<: {realm: x}\n",
  };
  for (const std::string& input : inputs) {
    EXPECT_NO_THROW({
      const auto result = loadConfigText(input);
      static_cast<void>(result);
    });
  }
}

// ---- validate() on structs built in code ----

TEST(ConfigValidate, DefaultsValidate) { EXPECT_TRUE(validate(expectedDefaults()).has_value()); }

TEST(ConfigValidate, ChecksStructsBuiltInCode) {
  struct Case {
    const char* name;
    void (*mutate)(ServerConfig&);
    std::string key;
  };
  const Case cases[] = {
      {"NoListeners", [](ServerConfig& c) { c.listeners.clear(); }, "listeners"},
      {"ListenerPortZero", [](ServerConfig& c) { c.listeners[1].port = 0; }, "listeners[1].port"},
      {"TooManyThreads", [](ServerConfig& c) { c.threads = 1000; }, "threads"},
      {"RelayPortMinLow", [](ServerConfig& c) { c.relay.port_min = 80; }, "relay.port_range"},
      {"CidrPrefix",
       [](ServerConfig& c) {
         c.peers.deny = {{IpAddress(), 40}};
       },
       "peers.deny[0]"},
      {"MaxLifetimeZero", [](ServerConfig& c) { c.allocation.max_lifetime = 0; },
       "allocation.max_lifetime"},
      {"LongUser", [](ServerConfig& c) { c.auth.users[std::string(510, 'u')] = "p"; },
       "auth.users." + std::string(510, 'u')},
      {"ApiMaxTtlZero", [](ServerConfig& c) { c.http.api_max_ttl = 0; }, "http.api_max_ttl"},
      {"ApiBurstZero", [](ServerConfig& c) { c.http.api_rate_limit.burst = 0; },
       "http.api_rate_limit.burst"},
      {"ApiKeyWithoutSecret", [](ServerConfig& c) { c.http.api_keys = {"0123456789abcdef"}; },
       "http.api_keys"},
      {"PublicUriScheme",
       [](ServerConfig& c) {
         c.public_uris = {"turn:a", "udp:a"};
       },
       "public_uris[1]"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.name);
    ServerConfig config = expectedDefaults();
    test_case.mutate(config);
    const auto result = validate(config);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().key, test_case.key);
    EXPECT_FALSE(result.error().message.empty());
  }
}

// ---- Files ----

class ConfigFileTest : public testing::Test {
 protected:
  std::filesystem::path path_ = std::filesystem::path(testing::TempDir()) /
                                ("turnpike_config_test_" + std::to_string(::getpid()) + ".yaml");
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  void write(std::string_view text) {
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }
};

TEST_F(ConfigFileTest, LoadsAFile) {
  write(kFullExample);
  const auto config = loadConfigFile(path_.string());
  ASSERT_TRUE(config.has_value()) << toString(config.error());
  EXPECT_EQ(config->realm, "turnpike.test");
  EXPECT_EQ(config->listeners.size(), 3U);
}

TEST_F(ConfigFileTest, ErrorsInAFileCarryTheKey) {
  write("listeners:\n  - transport: udp\n    port: 99999\n");
  const auto config = loadConfigFile(path_.string());
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().key, "listeners[0].port");
  EXPECT_NE(config.error().message.find("line 3"), std::string::npos) << config.error().message;
}

TEST_F(ConfigFileTest, MissingFile) {
  const std::string missing = path_.string() + ".does-not-exist";
  const auto config = loadConfigFile(missing);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().key, "(file)");
  EXPECT_EQ(config.error().message, "cannot read " + missing + ": No such file or directory");
}

TEST_F(ConfigFileTest, DirectoryIsNotReadable) {
  const auto config = loadConfigFile(testing::TempDir());
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().key, "(file)");
  EXPECT_NE(config.error().message.find("cannot read"), std::string::npos);
}

// ---- toString ----

TEST(ConfigToString, Error) {
  EXPECT_EQ(toString(ConfigError{"listeners[1].port", "bad"}), "config: listeners[1].port: bad");
  EXPECT_EQ(toString(ConfigError{"", "bad"}), "config: bad");
}

TEST(ConfigToString, Transport) {
  EXPECT_EQ(toString(Transport::kUdp), "udp");
  EXPECT_EQ(toString(Transport::kTcp), "tcp");
  EXPECT_EQ(toString(Transport::kTls), "tls");
}

TEST(ConfigHttpSelftest, OffByDefaultOnWhenTrue) {
  EXPECT_FALSE(loadOk("").http.selftest);
  EXPECT_FALSE(loadOk("http: {selftest: false}\n").http.selftest);
  EXPECT_TRUE(loadOk("http: {selftest: true}\n").http.selftest);
}

TEST(ConfigTcpAllocations, OffByDefaultOnWithAnyNumberOfThreads) {
  EXPECT_FALSE(loadOk("").tcp_allocations);
  EXPECT_EQ(loadOk("").limits.tcp_connections_per_allocation, 32U);
  const ServerConfig config =
      loadOk("threads: 1\ntcp_allocations: true\nlimits: {tcp_connections_per_allocation: 5}\n");
  EXPECT_TRUE(config.tcp_allocations);
  EXPECT_EQ(config.limits.tcp_connections_per_allocation, 5U);
  EXPECT_TRUE(loadOk("tcp_allocations: true\n").tcp_allocations);  // threads: 0, one per core
  EXPECT_TRUE(loadOk("threads: 4\ntcp_allocations: true\n").tcp_allocations);
}

TEST(ConfigMobility, OffByDefaultOnWithAnyNumberOfThreads) {
  EXPECT_FALSE(loadOk("").mobility);
  EXPECT_TRUE(loadOk("threads: 1\nmobility: true\n").mobility);
  EXPECT_TRUE(loadOk("mobility: true\n").mobility);  // threads: 0, one per core
  EXPECT_TRUE(loadOk("threads: 2\nmobility: true\n").mobility);
}

}  // namespace
}  // namespace turnpike::server

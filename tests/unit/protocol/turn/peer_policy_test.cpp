// AddressPrefix and the relay's peer policy (RFC 8656 sections 10.2, 12.2, 21; CVE-2020-26262).
#include "protocol/turn/peer_policy.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace turnpike::protocol {
// GoogleTest printers (found by ADL): failures show text, not bytes.
inline void PrintTo(const AddressPrefix& prefix, std::ostream* os) { *os << prefix.toString(); }
inline void PrintTo(PeerPolicy::Verdict verdict, std::ostream* os) { *os << toString(verdict); }

namespace {

IpAddress ip(std::string_view text) {
  const std::optional<IpAddress> address = IpAddress::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress());
}

AddressPrefix prefix(std::string_view text) {
  const std::optional<AddressPrefix> parsed = AddressPrefix::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(AddressPrefix());
}

// "1.2.3.4:5" or "[::1]:5".
Endpoint endpoint(std::string_view text) {
  const bool bracketed = text.starts_with('[');
  const std::size_t colon = bracketed ? text.find("]:") + 1 : text.rfind(':');
  const std::string_view host = bracketed ? text.substr(1, colon - 2) : text.substr(0, colon);
  const std::string_view digits = text.substr(colon + 1);
  std::uint16_t port = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  EXPECT_TRUE(ec == std::errc{} && ptr == digits.data() + digits.size()) << text;
  return {ip(host), port};
}

std::vector<AddressPrefix> prefixes(std::initializer_list<std::string_view> texts) {
  std::vector<AddressPrefix> out;
  for (const std::string_view text : texts) {
    out.push_back(prefix(text));
  }
  return out;
}

// ---- AddressPrefix ----

TEST(AddressPrefixTest, ParsesAndMasksHostBits) {
  struct Case {
    std::string_view text;
    std::string_view address;
    std::uint8_t length;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.0.0.0", 8},
      {"10.1.2.3/8", "10.0.0.0", 8},
      {"172.16.5.4/20", "172.16.0.0", 20},
      {"255.255.255.255/31", "255.255.255.254", 31},
      {"192.0.2.1", "192.0.2.1", 32},
      {"192.0.2.1/32", "192.0.2.1", 32},
      {"1.2.3.4/0", "0.0.0.0", 0},
      {"::1", "::1", 128},
      {"::1/128", "::1", 128},
      {"::1/127", "::", 127},
      {"2001:db8:1:2:3::ff/36", "2001:db8::", 36},
      {"ffff::/1", "8000::", 1},
      {"fe80::1/10", "fe80::", 10},
      {"::/0", "::", 0},
      {"::ffff:10.1.2.3/104", "::ffff:10.0.0.0", 104},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.text);
    const std::optional<AddressPrefix> parsed = AddressPrefix::parse(test_case.text);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->address, ip(test_case.address));
    EXPECT_EQ(parsed->length, test_case.length);
    // toString() is canonical and parses back to the same prefix.
    EXPECT_EQ(AddressPrefix::parse(parsed->toString()), parsed);
  }
}

TEST(AddressPrefixTest, RejectsBadText) {
  for (const std::string_view text : {"",
                                      "/",
                                      "/8",
                                      "10.0.0.0/",
                                      "10.0.0.0/33",
                                      "10.0.0.0/256",
                                      "10.0.0.0/99999999999",
                                      "::1/129",
                                      "::/200",
                                      "10.0.0.0/x",
                                      "10.0.0.0/8x",
                                      "10.0.0.0/-1",
                                      "10.0.0.0/+8",
                                      "10.0.0.0/8/8",
                                      "10.0.0.0//8",
                                      " 10.0.0.0/8",
                                      "10.0.0.0/8 ",
                                      "10.0.0.0/ 8",
                                      "10.0.0/8",
                                      "256.0.0.0/8",
                                      "example.com/8",
                                      "[::1]/128",
                                      "fe80::1%eth0/64",
                                      "1.2.3.4:80",
                                      "::1::2/64"}) {
    EXPECT_FALSE(AddressPrefix::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(AddressPrefixTest, ToString) {
  EXPECT_EQ(prefix("10.0.0.0/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(prefix("192.0.2.7").toString(), "192.0.2.7/32");
  EXPECT_EQ(prefix("::1").toString(), "::1/128");
  EXPECT_EQ(prefix("2001:DB8::/32").toString(), "2001:db8::/32");
  EXPECT_EQ(prefix("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(prefix("::/0").toString(), "::/0");
  EXPECT_EQ(AddressPrefix().toString(), "0.0.0.0/0");
}

TEST(AddressPrefixTest, Contains) {
  struct Case {
    std::string_view prefix;
    std::string_view address;
    bool contained;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.0.0.0", true},
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "9.255.255.255", false},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"172.16.0.0/12", "172.31.255.255", true},
      {"172.16.0.0/12", "172.32.0.0", false},
      {"172.16.0.0/12", "172.15.255.255", false},
      {"100.64.0.0/10", "100.127.255.255", true},
      {"100.64.0.0/10", "100.128.0.0", false},
      {"192.0.2.0/31", "192.0.2.1", true},
      {"192.0.2.0/31", "192.0.2.2", false},
      {"192.0.2.7/32", "192.0.2.7", true},
      {"192.0.2.7/32", "192.0.2.6", false},
      {"0.0.0.0/0", "255.255.255.255", true},
      {"::1/128", "::1", true},
      {"::1/128", "::2", false},
      {"fe80::/10", "febf:ffff::1", true},
      {"fe80::/10", "fec0::", false},
      {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"2001:db8::/32", "2001:db9::", false},
      {"::/0", "2606:4700::1111", true},
      // Never across families, not even for the whole space or an IPv4-mapped address.
      {"0.0.0.0/0", "::", false},
      {"::/0", "0.0.0.0", false},
      {"10.0.0.0/8", "::ffff:10.0.0.1", false},
      {"::ffff:10.0.0.0/104", "10.0.0.1", false},
      {"::ffff:10.0.0.0/104", "::ffff:10.0.0.1", true},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(testing::Message() << test_case.prefix << " contains " << test_case.address);
    EXPECT_EQ(prefix(test_case.prefix).contains(ip(test_case.address)), test_case.contained);
  }
}

TEST(AddressPrefixTest, ContainsToleratesPrefixesBuiltInCode) {
  // Host bits left set: only the first `length` bits count.
  const AddressPrefix unmasked{ip("10.1.2.3"), 8};
  EXPECT_TRUE(unmasked.contains(ip("10.9.9.9")));
  EXPECT_FALSE(unmasked.contains(ip("11.1.2.3")));
  // A length past the family's size compares the whole address.
  const AddressPrefix too_long{ip("1.2.3.4"), 40};
  EXPECT_TRUE(too_long.contains(ip("1.2.3.4")));
  EXPECT_FALSE(too_long.contains(ip("1.2.3.5")));
}

TEST(AddressPrefixTest, Equality) {
  EXPECT_EQ(prefix("10.1.2.3/8"), prefix("10.0.0.0/8"));
  EXPECT_NE(prefix("10.0.0.0/8"), prefix("10.0.0.0/9"));
  EXPECT_NE(prefix("0.0.0.0/0"), prefix("::/0"));
}

// ---- PeerPolicy ----

using Verdict = PeerPolicy::Verdict;

struct VerdictCase {
  std::string_view peer;
  Verdict expected;
};

void expectVerdicts(const PeerPolicy& policy, std::initializer_list<VerdictCase> cases) {
  for (const VerdictCase& test_case : cases) {
    SCOPED_TRACE(test_case.peer);
    const Endpoint peer = endpoint(test_case.peer);
    EXPECT_EQ(policy.check(peer), test_case.expected);
    EXPECT_EQ(policy.isAllowed(peer), test_case.expected == Verdict::kAllowed);
  }
}

// Listeners on 1.2.3.4:3478 and [2606:4700:10::1]:3478; relay sockets on every port of 5.6.7.8.
PeerPolicy defaultPolicy() {
  return PeerPolicy(
      {}, {},
      {endpoint("1.2.3.4:3478"), endpoint("[2606:4700:10::1]:3478"), endpoint("5.6.7.8:0")});
}

TEST(PeerPolicyTest, DefaultPolicyDeniesSpecialPurposeAndOwnAddresses) {
  expectVerdicts(defaultPolicy(),
                 {
                     // CVE-2020-26262: the unspecified address reaches loopback.
                     {"0.0.0.0:3478", Verdict::kDeniedBuiltIn},
                     {"[::]:3478", Verdict::kDeniedBuiltIn},
                     {"127.0.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"127.0.0.2:3478", Verdict::kDeniedBuiltIn},
                     {"127.255.255.254:3478", Verdict::kDeniedBuiltIn},
                     {"[::1]:3478", Verdict::kDeniedBuiltIn},
                     // IPv4-mapped, IPv4-compatible, NAT64, 6to4: loopback and private in disguise.
                     {"[::ffff:127.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"[::ffff:10.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"[::ffff:0.0.0.0]:3478", Verdict::kDeniedBuiltIn},
                     {"[::127.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"[::8.8.8.8]:3478", Verdict::kDeniedBuiltIn},
                     {"[::ffff:0:127.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"[64:ff9b::a00:1]:3478", Verdict::kDeniedBuiltIn},
                     {"[64:ff9b::808:808]:3478", Verdict::kDeniedBuiltIn},
                     {"[64:ff9b:1::a00:1]:3478", Verdict::kDeniedBuiltIn},
                     {"[2002:7f00:1::]:3478", Verdict::kDeniedBuiltIn},
                     {"[2002:808:808::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:3478", Verdict::kDeniedBuiltIn},
                     // Link local, unique local, multicast, discard, documentation.
                     {"[fe80::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[fec0::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[fc00::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[fd00:ec2::254]:80", Verdict::kDeniedBuiltIn},
                     {"[ff02::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[100::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[2001:db8::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[3fff::1]:3478", Verdict::kDeniedBuiltIn},
                     // IPv4 special purpose and cloud metadata.
                     {"169.254.169.254:80", Verdict::kDeniedBuiltIn},
                     {"100.64.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"100.100.100.200:80", Verdict::kDeniedBuiltIn},
                     {"168.63.129.16:80", Verdict::kDeniedBuiltIn},
                     {"192.168.1.1:3478", Verdict::kDeniedBuiltIn},
                     {"172.16.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"10.0.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"192.0.0.10:3478", Verdict::kDeniedBuiltIn},
                     {"192.0.2.1:3478", Verdict::kDeniedBuiltIn},
                     {"192.88.99.1:3478", Verdict::kDeniedBuiltIn},
                     {"198.18.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"198.51.100.1:3478", Verdict::kDeniedBuiltIn},
                     {"203.0.113.1:3478", Verdict::kDeniedBuiltIn},
                     {"224.0.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"239.255.255.250:1900", Verdict::kDeniedBuiltIn},
                     {"240.0.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"255.255.255.255:3478", Verdict::kDeniedBuiltIn},
                     // The server itself: a listener, every port of a relay address, any form.
                     {"1.2.3.4:3478", Verdict::kDeniedOwnAddress},
                     {"[::ffff:1.2.3.4]:3478", Verdict::kDeniedOwnAddress},
                     {"[2606:4700:10::1]:3478", Verdict::kDeniedOwnAddress},
                     {"5.6.7.8:49152", Verdict::kDeniedOwnAddress},
                     {"5.6.7.8:65535", Verdict::kDeniedOwnAddress},
                     {"[::ffff:5.6.7.8]:50000", Verdict::kDeniedOwnAddress},
                 });
}

// Issue 6: every bypass form, through both entry points. CreatePermission asks checkAddress()
// (a permission is for an address, RFC 8656 section 10.2); ChannelBind and sends ask check().
TEST(PeerPolicyTest, DefaultPolicyDeniesEveryBypassFormForPermissionsAndChannels) {
  // No allow, no deny. Listeners on 1.2.3.4:3478 and [2606:4700:10::1]:3478, and every port of
  // 5.6.7.8 own (the server itself lists no relay address: see makePeerPolicy).
  const PeerPolicy policy = defaultPolicy();
  for (const std::string_view address :
       {"0.0.0.0",         "127.0.0.1",   "127.0.0.2",     "127.255.255.254", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "::",          "::1",           "::127.0.0.1",     "64:ff9b::a00:1",
        "2002:7f00:1::",   "fe80::1",     "fc00::1",       "ff02::1",         "169.254.169.254",
        "100.64.0.1",      "192.168.1.1", "172.16.0.1",    "10.0.0.1",        "224.0.0.1",
        "255.255.255.255", "5.6.7.8",     "::ffff:5.6.7.8"}) {
    SCOPED_TRACE(address);
    EXPECT_NE(policy.checkAddress(ip(address)), Verdict::kAllowed);
    for (const std::uint16_t port : {1, 53, 3478, 5349, 49152, 65535}) {
      EXPECT_NE(policy.check({ip(address), port}), Verdict::kAllowed) << port;
    }
  }
  // A listener endpoint, in either form: denied for channels and sends. Its address alone stays
  // permittable (the port is checked when data is sent), unless every port is own.
  for (const std::string_view listener :
       {"1.2.3.4:3478", "[::ffff:1.2.3.4]:3478", "[2606:4700:10::1]:3478"}) {
    SCOPED_TRACE(listener);
    EXPECT_EQ(policy.check(endpoint(listener)), Verdict::kDeniedOwnAddress);
    EXPECT_EQ(policy.checkAddress(endpoint(listener).address), Verdict::kAllowed);
  }
}

TEST(PeerPolicyTest, DefaultPolicyAllowsPublicAddresses) {
  expectVerdicts(defaultPolicy(), {
                                      {"8.8.8.8:3478", Verdict::kAllowed},
                                      {"1.1.1.1:53", Verdict::kAllowed},
                                      {"[::ffff:8.8.8.8]:3478", Verdict::kAllowed},
                                      {"[2606:4700::1111]:3478", Verdict::kAllowed},
                                      {"[2001:4860:4860::8888]:443", Verdict::kAllowed},
                                      // Other ports of a listener address are somebody else.
                                      {"1.2.3.4:3479", Verdict::kAllowed},
                                      {"[2606:4700:10::1]:5349", Verdict::kAllowed},
                                      {"1.2.3.5:3478", Verdict::kAllowed},
                                  });
}

TEST(PeerPolicyTest, BuiltInRangesEndExactlyAtTheirBoundaries) {
  expectVerdicts(PeerPolicy({}, {}, {}),
                 {
                     {"0.255.255.255:1", Verdict::kDeniedBuiltIn},
                     {"1.0.0.0:1", Verdict::kAllowed},
                     {"9.255.255.255:1", Verdict::kAllowed},
                     {"10.255.255.255:1", Verdict::kDeniedBuiltIn},
                     {"11.0.0.0:1", Verdict::kAllowed},
                     {"100.63.255.255:1", Verdict::kAllowed},
                     {"100.127.255.255:1", Verdict::kDeniedBuiltIn},
                     {"100.128.0.0:1", Verdict::kAllowed},
                     {"126.255.255.255:1", Verdict::kAllowed},
                     {"128.0.0.0:1", Verdict::kAllowed},
                     {"169.253.255.255:1", Verdict::kAllowed},
                     {"169.255.0.0:1", Verdict::kAllowed},
                     {"172.15.255.255:1", Verdict::kAllowed},
                     {"172.31.255.255:1", Verdict::kDeniedBuiltIn},
                     {"172.32.0.0:1", Verdict::kAllowed},
                     {"192.0.1.0:1", Verdict::kAllowed},
                     {"192.0.3.0:1", Verdict::kAllowed},
                     {"192.88.98.255:1", Verdict::kAllowed},
                     {"192.88.100.0:1", Verdict::kAllowed},
                     {"192.167.255.255:1", Verdict::kAllowed},
                     {"192.169.0.0:1", Verdict::kAllowed},
                     {"198.17.255.255:1", Verdict::kAllowed},
                     {"198.19.255.255:1", Verdict::kDeniedBuiltIn},
                     {"198.20.0.0:1", Verdict::kAllowed},
                     {"198.51.99.255:1", Verdict::kAllowed},
                     {"198.51.101.0:1", Verdict::kAllowed},
                     {"203.0.112.255:1", Verdict::kAllowed},
                     {"203.0.114.0:1", Verdict::kAllowed},
                     {"223.255.255.255:1", Verdict::kAllowed},
                     {"168.63.129.17:1", Verdict::kAllowed},
                     {"[::1:0:0:0]:1", Verdict::kAllowed},
                     {"[64:ff9b::1:0:0]:1", Verdict::kAllowed},
                     {"[100::1:0:0:0:1]:1", Verdict::kAllowed},
                     {"[2001:0:ffff:ffff:ffff:ffff:ffff:ffff]:1", Verdict::kDeniedBuiltIn},
                     {"[2001:1::]:1", Verdict::kAllowed},
                     {"[2001:2:0:ffff::1]:1", Verdict::kDeniedBuiltIn},
                     {"[2001:3::1]:1", Verdict::kAllowed},
                     {"[2001:10::1]:1", Verdict::kDeniedBuiltIn},
                     {"[2001:2f:ffff::1]:1", Verdict::kDeniedBuiltIn},
                     {"[2001:30::1]:1", Verdict::kAllowed},
                     {"[2001:db7:ffff::1]:1", Verdict::kAllowed},
                     {"[2001:db9::1]:1", Verdict::kAllowed},
                     {"[2002:ffff:ffff::1]:1", Verdict::kDeniedBuiltIn},
                     {"[2003::1]:1", Verdict::kAllowed},
                     {"[fbff::1]:1", Verdict::kAllowed},
                     {"[fdff:ffff::1]:1", Verdict::kDeniedBuiltIn},
                     {"[feff::1]:1", Verdict::kDeniedBuiltIn},
                     {"[ff00::1]:1", Verdict::kDeniedBuiltIn},
                 });
}

TEST(PeerPolicyTest, AllowCarvesExceptionsOutOfTheBuiltInList) {
  expectVerdicts(PeerPolicy(prefixes({"127.0.0.0/8"}), {}, {}),
                 {
                     {"127.0.0.1:3478", Verdict::kAllowed},
                     {"127.1.2.3:5000", Verdict::kAllowed},
                     {"[::ffff:127.0.0.1]:3478", Verdict::kAllowed},
                     // Only what was allowed.
                     {"10.0.0.1:3478", Verdict::kDeniedBuiltIn},
                     {"0.0.0.0:3478", Verdict::kDeniedBuiltIn},
                     {"[::1]:3478", Verdict::kDeniedBuiltIn},
                     {"[::127.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"[2002:7f00:1::]:3478", Verdict::kDeniedBuiltIn},
                     {"8.8.8.8:3478", Verdict::kAllowed},
                 });
}

TEST(PeerPolicyTest, AllowInMappedFormMeansTheIpv4Prefix) {
  expectVerdicts(PeerPolicy(prefixes({"::ffff:127.0.0.0/104"}), {}, {}),
                 {
                     {"127.0.0.1:3478", Verdict::kAllowed},
                     {"[::ffff:127.0.0.1]:3478", Verdict::kAllowed},
                     {"10.0.0.1:3478", Verdict::kDeniedBuiltIn},
                 });
}

TEST(PeerPolicyTest, AllowOfAllIpv6DoesNotReopenMappedIpv4) {
  // ::/0 opens IPv6 loopback (the operator asked for it) but not IPv4 behind ::ffff:0:0/96.
  expectVerdicts(PeerPolicy(prefixes({"::/0"}), {}, {}),
                 {
                     {"[::1]:3478", Verdict::kAllowed},
                     {"[::ffff:127.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"[::ffff:10.0.0.1]:3478", Verdict::kDeniedBuiltIn},
                     {"127.0.0.1:3478", Verdict::kDeniedBuiltIn},
                 });
}

TEST(PeerPolicyTest, DenyCoversBothFormsAndBeatsAllow) {
  expectVerdicts(PeerPolicy({}, prefixes({"8.8.0.0/16"}), {}),
                 {
                     {"8.8.8.8:3478", Verdict::kDeniedConfig},
                     {"[::ffff:8.8.8.8]:3478", Verdict::kDeniedConfig},
                     {"8.9.0.0:3478", Verdict::kAllowed},
                     {"8.7.255.255:3478", Verdict::kAllowed},
                 });
  expectVerdicts(PeerPolicy(prefixes({"8.8.0.0/16", "127.0.0.0/8"}),
                            prefixes({"8.8.8.0/24", "127.0.0.53"}), {}),
                 {
                     {"8.8.8.8:3478", Verdict::kDeniedConfig},
                     {"8.8.9.9:3478", Verdict::kAllowed},
                     {"127.0.0.53:53", Verdict::kDeniedConfig},
                     {"127.0.0.1:53", Verdict::kAllowed},
                 });
  // deny ::/0 also catches IPv4 written as IPv6; plain IPv4 is another family.
  expectVerdicts(PeerPolicy({}, prefixes({"::/0"}), {}),
                 {
                     {"[2606:4700::1111]:3478", Verdict::kDeniedConfig},
                     {"[::ffff:8.8.8.8]:3478", Verdict::kDeniedConfig},
                     {"8.8.8.8:3478", Verdict::kAllowed},
                 });
  // A mapped deny prefix means the IPv4 prefix.
  expectVerdicts(PeerPolicy({}, prefixes({"::ffff:8.8.8.0/120"}), {}),
                 {
                     {"8.8.8.8:3478", Verdict::kDeniedConfig},
                     {"[::ffff:8.8.8.8]:3478", Verdict::kDeniedConfig},
                     {"8.8.4.4:3478", Verdict::kAllowed},
                 });
}

TEST(PeerPolicyTest, OwnEndpointIsDeniedEvenWhenAllowed) {
  // The integration-test setup: server and peers on loopback, loopback allowed.
  const PeerPolicy policy(prefixes({"127.0.0.0/8", "1.2.3.0/24"}), {},
                          {endpoint("127.0.0.1:3478"), endpoint("127.0.0.1:5349"),
                           endpoint("1.2.3.4:0"), endpoint("[::ffff:9.9.9.9]:0")});
  expectVerdicts(policy, {
                             {"127.0.0.1:3478", Verdict::kDeniedOwnAddress},
                             {"127.0.0.1:5349", Verdict::kDeniedOwnAddress},
                             {"[::ffff:127.0.0.1]:3478", Verdict::kDeniedOwnAddress},
                             {"127.0.0.1:40000", Verdict::kAllowed},
                             {"127.0.0.2:3478", Verdict::kAllowed},
                             {"1.2.3.4:40000", Verdict::kDeniedOwnAddress},
                             {"1.2.3.5:40000", Verdict::kAllowed},
                             // Own endpoints given in mapped form are their IPv4 address.
                             {"9.9.9.9:53", Verdict::kDeniedOwnAddress},
                             {"[::ffff:9.9.9.9]:53", Verdict::kDeniedOwnAddress},
                         });
}

TEST(PeerPolicyTest, PortZeroIsDenied) {
  const PeerPolicy policy(prefixes({"8.8.0.0/16", "::/0"}), {}, {});
  expectVerdicts(policy, {
                             {"8.8.8.8:0", Verdict::kDeniedBuiltIn},
                             {"[2606:4700::1111]:0", Verdict::kDeniedBuiltIn},
                             {"[::ffff:8.8.8.8]:0", Verdict::kDeniedBuiltIn},
                             {"8.8.8.8:1", Verdict::kAllowed},
                         });
  EXPECT_EQ(defaultPolicy().check(endpoint("93.184.216.34:0")), Verdict::kDeniedBuiltIn);
}

TEST(PeerPolicyTest, VerdictNames) {
  EXPECT_EQ(toString(Verdict::kAllowed), "allowed");
  EXPECT_NE(toString(Verdict::kDeniedBuiltIn), toString(Verdict::kDeniedConfig));
  EXPECT_NE(toString(Verdict::kDeniedConfig), toString(Verdict::kDeniedOwnAddress));
  EXPECT_NE(toString(Verdict::kDeniedOwnAddress), toString(Verdict::kDeniedBuiltIn));
}

// The server's own host (9.9.9.10 and 2606:4700:10::10, relay ports 49152-65535): peers there
// are reachable on relay ports only (two clients of this server), not on its other services.
TEST(PeerPolicyTest, OwnHostIsReachableOnRelayPortsOnly) {
  const PeerPolicy::OwnHost host{
      {*IpAddress::parse("9.9.9.10"), *IpAddress::parse("2606:4700:10::10")}, 49152, 65535};
  const PeerPolicy policy({}, {}, {endpoint("9.9.9.10:3478")}, host);
  expectVerdicts(policy, {
                             {"9.9.9.10:22", Verdict::kDeniedOwnAddress},
                             {"9.9.9.10:5432", Verdict::kDeniedOwnAddress},
                             {"9.9.9.10:49151", Verdict::kDeniedOwnAddress},
                             {"[::ffff:9.9.9.10]:22", Verdict::kDeniedOwnAddress},
                             {"[2606:4700:10::10]:443", Verdict::kDeniedOwnAddress},
                             {"9.9.9.10:49152", Verdict::kAllowed},
                             {"9.9.9.10:65535", Verdict::kAllowed},
                             {"[2606:4700:10::10]:50000", Verdict::kAllowed},
                             {"9.9.9.11:22", Verdict::kAllowed},
                         });
  // Permissions are per address: the host itself may be permitted (relay-to-relay).
  EXPECT_TRUE(policy.isAddressAllowed(*IpAddress::parse("9.9.9.10")));
  // An operator's allow covering the host re-opens its other ports.
  const PeerPolicy allowed({prefix("9.9.9.0/24")}, {}, {}, host);
  EXPECT_TRUE(allowed.isAllowed(endpoint("9.9.9.10:22")));
}

}  // namespace
}  // namespace turnpike::protocol

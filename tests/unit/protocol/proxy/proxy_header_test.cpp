// PROXY protocol headers (HAProxy proxy-protocol.txt). v2 (section 2.2): the spec's layouts for
// IPv4 and IPv6, LOCAL, UNSPEC and UNIX, TLVs skipped, partial input, and every rejection. v1
// (section 2.1): TCP4, TCP6, UNKNOWN, the 107-byte bound, partial input, malformed lines.
#include "protocol/proxy/proxy_header.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::protocol {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (const int value : values) {
    out.push_back(static_cast<std::byte>(value));
  }
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const Bytes kSignature =
    bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});

// signature, ver/cmd, fam/proto, length, then `rest`.
Bytes header(int version_command, int family_protocol, const Bytes& rest,
             std::optional<std::uint16_t> length = std::nullopt) {
  const std::uint16_t n = length.value_or(static_cast<std::uint16_t>(rest.size()));
  return concat(concat(kSignature, bytes({version_command, family_protocol, n >> 8, n & 0xFF})),
                rest);
}

// 192.0.2.1:56324 -> 198.51.100.2:443, as the spec lays IPv4 out.
const Bytes kInetAddresses = bytes({192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB});

Endpoint endpoint(std::string_view address, std::uint16_t port) {
  return Endpoint{*IpAddress::parse(address), port};
}

TEST(ProxyHeaderTest, ProxyTcp4) {
  const Bytes data = concat(header(0x21, 0x11, kInetAddresses), bytes({0x00, 0x01, 0x03}));
  const auto parsed = parseProxyHeader(data);
  ASSERT_TRUE(parsed.has_value());
  ASSERT_TRUE(parsed->has_value());
  const ProxyHeader& h = **parsed;
  EXPECT_EQ(h.size, 28U);  // the STUN bytes after it are not the header's
  EXPECT_FALSE(h.local);
  EXPECT_EQ(h.source, endpoint("192.0.2.1", 56324));
  EXPECT_EQ(h.destination, endpoint("198.51.100.2", 443));
}

TEST(ProxyHeaderTest, ProxyTcp6WithTlvsSkipped) {
  Bytes addresses(36);
  addresses[0] = std::byte{0x20};
  addresses[1] = std::byte{0x01};
  addresses[2] = std::byte{0x0D};
  addresses[3] = std::byte{0xB8};
  addresses[15] = std::byte{0x07};       // 2001:db8::7
  addresses[16 + 15] = std::byte{0x01};  // ::1
  addresses[32] = std::byte{0x30};
  addresses[33] = std::byte{0x39};  // 12345
  addresses[34] = std::byte{0x0D};
  addresses[35] = std::byte{0x96};  // 3478
  // PP2_TYPE_ALPN "h2" and a PP2_TYPE_NOOP of 5 bytes: skipped, whatever they say.
  const Bytes tlvs = bytes({0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x05, 0, 0, 0, 0, 0});
  const Bytes data = header(0x21, 0x21, concat(addresses, tlvs));
  const auto parsed = parseProxyHeader(data);
  ASSERT_TRUE(parsed.has_value() && parsed->has_value());
  EXPECT_EQ((*parsed)->size, data.size());
  EXPECT_EQ((*parsed)->source, endpoint("2001:db8::7", 12345));
  EXPECT_EQ((*parsed)->destination, endpoint("::1", 3478));
}

TEST(ProxyHeaderTest, LocalUnspecAndUnixKeepTheConnectionsAddresses) {
  struct Case {
    const char* name;
    Bytes data;
    bool local;
  };
  const std::vector<Case> cases{
      {"LOCAL, no addresses (a health check)", header(0x20, 0x00, {}), true},
      // A LOCAL header's address block is ignored, even a short one.
      {"LOCAL with INET and 4 bytes", header(0x20, 0x11, bytes({1, 2, 3, 4})), true},
      {"LOCAL with INET addresses", header(0x20, 0x11, kInetAddresses), true},
      {"PROXY UNSPEC", header(0x21, 0x00, {}), false},
      {"PROXY UNIX stream", header(0x21, 0x31, Bytes(216)), false},
  };
  for (const Case& c : cases) {
    const auto parsed = parseProxyHeader(c.data);
    ASSERT_TRUE(parsed.has_value() && parsed->has_value()) << c.name;
    EXPECT_EQ((*parsed)->size, c.data.size()) << c.name;
    EXPECT_EQ((*parsed)->local, c.local) << c.name;
    EXPECT_FALSE((*parsed)->source.has_value()) << c.name;
    EXPECT_FALSE((*parsed)->destination.has_value()) << c.name;
  }
}

TEST(ProxyHeaderTest, EveryPrefixOfAValidHeaderWantsMore) {
  const Bytes data = header(0x21, 0x11, kInetAddresses);
  for (std::size_t n = 0; n < data.size(); ++n) {
    const auto parsed = parseProxyHeader(ConstBytes(data).first(n));
    ASSERT_TRUE(parsed.has_value()) << n << " bytes: " << toString(parsed.error());
    EXPECT_FALSE(parsed->has_value()) << n << " bytes";
  }
  EXPECT_TRUE(parseProxyHeader(data)->has_value());
}

TEST(ProxyHeaderTest, Rejections) {
  struct Case {
    const char* name;
    Bytes data;
    ProxyHeaderError expected;
  };
  const Bytes stun = bytes({0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42});
  const Bytes v1 = bytes({'P', 'R', 'O', 'X', 'Y', ' ', 'T', 'C', 'P', '4', '\n'});
  const std::vector<Case> cases{
      {"STUN straight away", stun, ProxyHeaderError::kSignature},
      {"TLS ClientHello", bytes({0x16, 0x03, 0x01}), ProxyHeaderError::kSignature},
      {"PROXY v1 text ended by a LF alone", v1, ProxyHeaderError::kV1Syntax},
      {"the signature's last byte wrong",
       concat(Bytes(kSignature.begin(), kSignature.end() - 1), bytes({0x0B})),
       ProxyHeaderError::kSignature},
      {"one wrong byte", bytes({0x0D, 0x0A, 0x0D, 0x0B}), ProxyHeaderError::kSignature},
      {"version 1", header(0x11, 0x11, kInetAddresses), ProxyHeaderError::kVersion},
      {"version 3", header(0x31, 0x11, kInetAddresses), ProxyHeaderError::kVersion},
      {"command 2", header(0x22, 0x11, kInetAddresses), ProxyHeaderError::kCommand},
      {"command 15", header(0x2F, 0x11, kInetAddresses), ProxyHeaderError::kCommand},
      {"family 4", header(0x21, 0x41, kInetAddresses), ProxyHeaderError::kFamily},
      {"protocol 3", header(0x21, 0x13, kInetAddresses), ProxyHeaderError::kFamily},
      {"INET in 11 bytes", header(0x21, 0x11, Bytes(11)), ProxyHeaderError::kLength},
      {"INET6 in 12 bytes", header(0x21, 0x21, Bytes(12)), ProxyHeaderError::kLength},
      {"UNIX in 36 bytes", header(0x21, 0x31, Bytes(36)), ProxyHeaderError::kLength},
      // Refused from the fixed part alone: no waiting for 64 KiB that will never be read.
      {"length 65535", header(0x21, 0x11, {}, 65535), ProxyHeaderError::kTooLong},
      {"just over the limit", header(0x21, 0x11, {}, kProxyHeaderMaxSize - 15),
       ProxyHeaderError::kTooLong},
  };
  for (const Case& c : cases) {
    const auto parsed = parseProxyHeader(c.data);
    ASSERT_FALSE(parsed.has_value()) << c.name;
    EXPECT_EQ(parsed.error(), c.expected) << c.name << ": " << toString(parsed.error());
  }
  // At the limit exactly: accepted.
  const Bytes longest = header(0x21, 0x11, Bytes(kProxyHeaderMaxSize - 16));
  ASSERT_TRUE(parseProxyHeader(longest).has_value());
  EXPECT_EQ((*parseProxyHeader(longest))->size, kProxyHeaderMaxSize);
  // A caller's tighter limit.
  EXPECT_EQ(parseProxyHeader(header(0x21, 0x11, kInetAddresses), 27).error(),
            ProxyHeaderError::kTooLong);
}

TEST(ProxyHeaderTest, WriteThenParse) {
  std::array<std::byte, 64> buffer{};
  for (const auto& [source, destination] :
       {std::pair{endpoint("203.0.113.7", 40000), endpoint("127.0.0.1", 3478)},
        std::pair{endpoint("2001:db8::1", 1), endpoint("::1", 65535)}}) {
    const auto n = writeProxyHeader(buffer, source, destination);
    ASSERT_TRUE(n.has_value());
    const auto parsed = parseProxyHeader(ConstBytes(buffer).first(*n));
    ASSERT_TRUE(parsed.has_value() && parsed->has_value());
    EXPECT_EQ((*parsed)->size, *n);
    EXPECT_EQ((*parsed)->source, source);
    EXPECT_EQ((*parsed)->destination, destination);
  }
  const auto local = writeProxyHeader(buffer, std::nullopt, std::nullopt);
  ASSERT_EQ(local, 16U);
  EXPECT_TRUE((*parseProxyHeader(ConstBytes(buffer).first(16)))->local);
  // Mixed families, or too small a buffer: nothing written.
  EXPECT_FALSE(writeProxyHeader(buffer, endpoint("192.0.2.1", 1), endpoint("::1", 2)));
  std::array<std::byte, 27> small{};
  EXPECT_FALSE(writeProxyHeader(small, endpoint("192.0.2.1", 1), endpoint("192.0.2.2", 2)));
}

// ---- Version 1 (section 2.1): one text line ----

Bytes text(std::string_view line) {
  Bytes out;
  for (const char c : line) {
    out.push_back(static_cast<std::byte>(c));
  }
  return out;
}

std::expected<std::optional<ProxyHeader>, ProxyHeaderError> parseText(std::string_view line) {
  return parseProxyHeader(text(line));
}

TEST(ProxyHeaderV1Test, Tcp4AndTcp6NameTheClientAndTheDataAfterIsNotTheHeaders) {
  const auto v4 = parseText("PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n\x00\x01");
  ASSERT_TRUE(v4.has_value() && v4->has_value());
  EXPECT_EQ((*v4)->size, 44U);
  EXPECT_EQ((*v4)->version, 1);
  EXPECT_FALSE((*v4)->local);
  EXPECT_EQ((*v4)->source, endpoint("203.0.113.7", 40000));
  EXPECT_EQ((*v4)->destination, endpoint("192.0.2.1", 443));

  const auto v6 = parseText("PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n");
  ASSERT_TRUE(v6.has_value() && v6->has_value());
  EXPECT_EQ((*v6)->source, endpoint("2001:db8::7", 65535));
  EXPECT_EQ((*v6)->destination, endpoint("2001:db8::1", 0));
}

TEST(ProxyHeaderV1Test, UnknownKeepsTheConnectionsAddresses) {
  for (const std::string_view line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ::1 1 2\r\n"}) {
    const auto parsed = parseText(line);
    ASSERT_TRUE(parsed.has_value() && parsed->has_value()) << line;
    EXPECT_TRUE((*parsed)->local);
    EXPECT_FALSE((*parsed)->source.has_value());
    EXPECT_EQ((*parsed)->size, line.size());
  }
}

TEST(ProxyHeaderV1Test, EveryPrefixOfAValidLineAsksForMore) {
  const std::string line = "PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n";
  for (std::size_t n = 0; n < line.size(); ++n) {
    const auto parsed = parseText(std::string_view(line).substr(0, n));
    ASSERT_TRUE(parsed.has_value()) << n;
    EXPECT_FALSE(parsed->has_value()) << n;
  }
}

TEST(ProxyHeaderV1Test, TheLongestLineIsAcceptedAndOneByteMoreIsTooLong) {
  // Section 2.1's worst case, 107 bytes: UNKNOWN with two full IPv6 addresses and ports.
  const std::string addresses =
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535";
  const std::string longest = "PROXY UNKNOWN " + addresses + "\r\n";
  ASSERT_EQ(longest.size(), kProxyHeaderV1MaxSize);
  const auto parsed = parseText(longest);
  ASSERT_TRUE(parsed.has_value() && parsed->has_value());
  EXPECT_EQ((*parsed)->size, kProxyHeaderV1MaxSize);
  const auto tcp6 = parseText("PROXY TCP6 " + addresses + "\r\n");
  ASSERT_TRUE(tcp6.has_value() && tcp6->has_value());
  EXPECT_EQ((*tcp6)->source, endpoint("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535));
  // No LF within 107 bytes: refused without waiting for more.
  const std::string endless = "PROXY UNKNOWN " + std::string(93, 'x');
  ASSERT_EQ(endless.size(), kProxyHeaderV1MaxSize);
  EXPECT_EQ(parseText(endless).error(), ProxyHeaderError::kTooLong);
  const auto shorter = parseText(std::string_view(endless).substr(0, 106));  // may still end
  ASSERT_TRUE(shorter.has_value());
  EXPECT_FALSE(shorter->has_value());
}

TEST(ProxyHeaderV1Test, MalformedLinesAreRefused) {
  const std::initializer_list<std::pair<std::string_view, ProxyHeaderError>> cases{
      {"PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\n", ProxyHeaderError::kV1Syntax},  // no CR
      {"PROXY TCP4 203.0.113.7 192.0.2.1 40000\r443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 2001:db8::7 192.0.2.1 40000 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP6 203.0.113.7 192.0.2.1 40000 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 203.0.113.7 192.0.2.1 -1 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 203.0.113.7 192.0.2.1 40000 443 5\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 203.0.113.7  192.0.2.1 40000 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 203.0.113.7 192.0.2.1 40000\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY UDP4 203.0.113.7 192.0.2.1 40000 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 host.test 192.0.2.1 40000 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY \r\n", ProxyHeaderError::kV1Syntax},
      {"PROXY TCP4 203.0.113.7\t192.0.2.1 40000 443\r\n", ProxyHeaderError::kV1Syntax},
      {"PROXYTCP4", ProxyHeaderError::kSignature},
      {"PRO\r\n", ProxyHeaderError::kSignature},
      {"proxy TCP4", ProxyHeaderError::kSignature},
  };
  for (const auto& [line, error] : cases) {
    const auto parsed = parseText(line);
    ASSERT_FALSE(parsed.has_value()) << line;
    EXPECT_EQ(parsed.error(), error) << line;
  }
}

TEST(ProxyHeaderV1Test, TheWriterRoundTrips) {
  const Endpoint client = endpoint("2001:db8::7", 40000);
  const Endpoint server = endpoint("2001:db8::1", 443);
  const std::string line = writeProxyHeaderV1(client, server);
  EXPECT_EQ(line, "PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n");
  const auto parsed = parseText(line);
  ASSERT_TRUE(parsed.has_value() && parsed->has_value());
  EXPECT_EQ((*parsed)->source, client);
  EXPECT_EQ((*parsed)->destination, server);
  EXPECT_EQ(writeProxyHeaderV1(std::nullopt, std::nullopt), "PROXY UNKNOWN\r\n");
}

// ---- The header turnpike sends to a tls_passthrough backend ----

TEST(ProxyHeaderForTest, NamesTheClientInTheVersionAsked) {
  const Endpoint client = endpoint("203.0.113.7", 40000);
  const Endpoint server = endpoint("192.0.2.1", 443);
  EXPECT_TRUE(proxyHeaderFor(ProxyVersion::kNone, client, server).empty());
  const Bytes v1 = proxyHeaderFor(ProxyVersion::kV1, client, server);
  EXPECT_EQ(v1, text("PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n"));
  const Bytes v2 = proxyHeaderFor(ProxyVersion::kV2, client, server);
  const auto parsed = parseProxyHeader(v2);
  ASSERT_TRUE(parsed.has_value() && parsed->has_value());
  EXPECT_EQ((*parsed)->version, 2);
  EXPECT_EQ((*parsed)->size, v2.size());
  EXPECT_EQ((*parsed)->source, client);
  EXPECT_EQ((*parsed)->destination, server);
}

TEST(ProxyHeaderForTest, MixedFamiliesKeepTheConnectionsAddresses) {
  const Endpoint client = endpoint("203.0.113.7", 40000);
  const Endpoint server = endpoint("2001:db8::1", 443);
  EXPECT_EQ(proxyHeaderFor(ProxyVersion::kV1, client, server), text("PROXY UNKNOWN\r\n"));
  const auto parsed = parseProxyHeader(proxyHeaderFor(ProxyVersion::kV2, client, server));
  ASSERT_TRUE(parsed.has_value() && parsed->has_value());
  EXPECT_TRUE((*parsed)->local);
  EXPECT_FALSE((*parsed)->source.has_value());
}

}  // namespace
}  // namespace turnpike::protocol

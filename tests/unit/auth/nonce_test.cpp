// Stateless nonces. The fixed vector was computed independently with the openssl command line:
//   key = 00 01 .. 1f, client 192.0.2.1, now 1700000000, lifetime 600 -> expiry 1700000600
//   printf '\x65\x53\xf3\x58\xc0\x00\x02\x01' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f -binary | head -c 9
//   then base64url (no padding) of expiry (4 bytes, big-endian) || those 9 bytes.
#include "auth/nonce.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "auth/base64.hpp"
#include "protocol/stun/endpoint.hpp"
#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::auth {
namespace {

using protocol::IpAddress;

constexpr std::int64_t kNow = 1700000000;
constexpr std::int64_t kLifetime = 600;

NonceCodec::Key testKey() {
  NonceCodec::Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<std::byte>(i);
  }
  return key;
}

const IpAddress kClient = IpAddress::v4({192, 0, 2, 1});
const IpAddress kOtherClient = IpAddress::v4({192, 0, 2, 2});
const IpAddress kClientV6 = *IpAddress::parse("2001:db8::1");

class NonceTest : public ::testing::Test {
 protected:
  NonceCodec codec_{testKey(), kLifetime};
};

TEST_F(NonceTest, MatchesIndependentlyComputedVector) {
  EXPECT_EQ(codec_.mint(kClient, kNow), "obMatJos2AAABZVPzWPkL1NnwiQYztw");
  EXPECT_EQ(codec_.mint(kClientV6, kNow), "obMatJos2AAABZVPzWDiDbMSjOqW1_w");
}

// auth.nonce_secret: nodes that share the secret accept each other's nonces; others do not.
TEST(NonceSecretTest, NodesWithTheSameSecretAcceptEachOthersNonces) {
  const NonceCodec node_a{NonceCodec::keyFromSecret("a-fleet-wide-nonce-secret"), kLifetime};
  const NonceCodec node_b{NonceCodec::keyFromSecret("a-fleet-wide-nonce-secret"), kLifetime};
  const NonceCodec other{NonceCodec::keyFromSecret("another-fleets-secret"), kLifetime};
  const std::string nonce = node_a.mint(kClient, kNow);
  EXPECT_EQ(node_b.verify(nonce, kClient, kNow + 1), NonceVerdict::kValid);
  EXPECT_EQ(node_b.verify(nonce, kOtherClient, kNow + 1), NonceVerdict::kInvalid);
  EXPECT_EQ(node_b.verify(nonce, kClient, kNow + kLifetime + 1), NonceVerdict::kStale);
  EXPECT_EQ(other.verify(nonce, kClient, kNow + 1), NonceVerdict::kInvalid);
  // The key is derived, not the secret's bytes (HMAC-SHA256 under a fixed label).
  const std::string_view secret = "0123456789abcdef0123456789abcdef";
  const NonceCodec::Key key = NonceCodec::keyFromSecret(secret);
  EXPECT_FALSE(std::equal(secret.begin(), secret.end(), key.begin(),
                          [](char c, std::byte b) { return static_cast<std::byte>(c) == b; }));
  EXPECT_EQ(key, NonceCodec::keyFromSecret(secret));
  EXPECT_NE(key, NonceCodec::keyFromSecret("0123456789abcdef0123456789abcdeF"));
  // Nodes of different releases must derive the same key. Computed independently:
  //   printf '0123456789abcdef0123456789abcdef' |
  //     openssl dgst -sha256 -mac HMAC -macopt key:"turnpike nonce key v1"
  EXPECT_EQ(test::toHex(key), "4748141dbe81f16076f76ea7174853f2ad3d740654c9c029e724cd30d0ea3789");
}

TEST_F(NonceTest, MintThenVerifyIsValid) {
  const std::string nonce = codec_.mint(kClient, kNow);
  EXPECT_EQ(codec_.verify(nonce, kClient, kNow), NonceVerdict::kValid);
  EXPECT_EQ(codec_.verify(nonce, kClient, kNow + 1), NonceVerdict::kValid);
  const std::string v6 = codec_.mint(kClientV6, kNow);
  EXPECT_EQ(codec_.verify(v6, kClientV6, kNow), NonceVerdict::kValid);
}

TEST_F(NonceTest, ValidThroughLifetimeThenStale) {
  const std::string nonce = codec_.mint(kClient, kNow);
  EXPECT_EQ(codec_.verify(nonce, kClient, kNow + kLifetime), NonceVerdict::kValid);
  EXPECT_EQ(codec_.verify(nonce, kClient, kNow + kLifetime + 1), NonceVerdict::kStale);
  EXPECT_EQ(codec_.verify(nonce, kClient, kNow + 100 * kLifetime), NonceVerdict::kStale);
}

TEST_F(NonceTest, AnotherClientAddressIsInvalid) {
  const std::string nonce = codec_.mint(kClient, kNow);
  EXPECT_EQ(codec_.verify(nonce, kOtherClient, kNow), NonceVerdict::kInvalid);
  EXPECT_EQ(codec_.verify(nonce, kClientV6, kNow), NonceVerdict::kInvalid);
  // The IPv4-mapped IPv6 form of the same address is a different client address.
  EXPECT_EQ(codec_.verify(nonce, *IpAddress::parse("::ffff:192.0.2.1"), kNow),
            NonceVerdict::kInvalid);
  // Even a stale nonce for another client is invalid, not stale: the MAC is checked first.
  EXPECT_EQ(codec_.verify(nonce, kOtherClient, kNow + 10 * kLifetime), NonceVerdict::kInvalid);
}

TEST_F(NonceTest, AnotherKeyIsInvalid) {
  NonceCodec::Key other_key = testKey();
  other_key[0] = std::byte{0xFF};
  const NonceCodec other(other_key, kLifetime);
  EXPECT_EQ(other.verify(codec_.mint(kClient, kNow), kClient, kNow), NonceVerdict::kInvalid);
}

TEST_F(NonceTest, AnyAlteredCharacterIsInvalid) {
  const std::string nonce = codec_.mint(kClient, kNow);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=";
  for (std::size_t i = 0; i < nonce.size(); ++i) {
    for (const char c : kAlphabet) {
      if (c == nonce[i]) {
        continue;
      }
      std::string altered = nonce;
      altered[i] = c;
      ASSERT_EQ(codec_.verify(altered, kClient, kNow), NonceVerdict::kInvalid)
          << "position " << i << " changed to '" << c << "': " << altered;
    }
  }
}

TEST_F(NonceTest, ForgedExpiryIsInvalid) {
  // Re-encode the payload with a later expiry but the original MAC.
  const std::string nonce = codec_.mint(kClient, kNow);
  auto payload = base64UrlDecode(std::string_view(nonce).substr(13));
  ASSERT_TRUE(payload);
  ASSERT_EQ(payload->size(), 13U);
  (*payload)[3] = static_cast<std::byte>(std::to_integer<unsigned>((*payload)[3]) + 1U);
  const std::string forged = std::string("obMatJos2AAAB") + base64UrlEncode(*payload);
  EXPECT_EQ(codec_.verify(forged, kClient, kNow), NonceVerdict::kInvalid);
}

TEST_F(NonceTest, GarbageIsInvalid) {
  const std::string nonce = codec_.mint(kClient, kNow);
  const std::string huge(1 << 20, 'A');
  for (const std::string_view bad :
       {std::string_view(), std::string_view("obMatJos2"), std::string_view("obMatJos2AAAB"),
        std::string_view(nonce).substr(0, nonce.size() - 1), std::string_view(huge),
        std::string_view("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),  // 31 characters
        std::string_view("obMatJos2AAAB!!!!!!!!!!!!!!!!!!")}) {
    SCOPED_TRACE(bad.substr(0, 48));
    EXPECT_EQ(codec_.verify(bad, kClient, kNow), NonceVerdict::kInvalid);
  }
  EXPECT_EQ(codec_.verify(nonce + "A", kClient, kNow), NonceVerdict::kInvalid);
  EXPECT_EQ(codec_.verify(nonce + nonce, kClient, kNow), NonceVerdict::kInvalid);
  // Another security feature set in front of an otherwise authentic payload.
  std::string other_features = nonce;
  other_features.replace(9, 4, "AAAD");
  EXPECT_EQ(codec_.verify(other_features, kClient, kNow), NonceVerdict::kInvalid);
}

TEST_F(NonceTest, FormatCookieFeaturesAndLength) {
  for (const IpAddress& client : {kClient, kClientV6}) {
    for (const std::int64_t now : {std::int64_t{0}, kNow, std::int64_t{4102444800}}) {
      const std::string nonce = codec_.mint(client, now);
      EXPECT_TRUE(nonce.starts_with("obMatJos2"));
      EXPECT_TRUE(nonce.starts_with(kNonceCookie));
      EXPECT_TRUE(nonceHasPasswordAlgorithms(nonce));
      EXPECT_EQ(nonceSecurityFeatures(nonce), kSecurityFeaturePasswordAlgorithms);
      EXPECT_EQ(nonce.size(), NonceCodec::kNonceLength);
      EXPECT_LE(nonce.size(), 48U);
      // Only characters that need no quoting in a STUN NONCE (qdtext).
      EXPECT_EQ(nonce.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789-_"),
                std::string::npos);
    }
  }
}

TEST(NonceFeaturesTest, BitOrderFollowsErratum6290) {
  // RFC 8489 section 18.1 with verified erratum 6290: bit 0 is the least significant bit.
  EXPECT_EQ(std::string(kNonceCookie) +
                base64Encode(std::array<std::byte, 3>{std::byte{0}, std::byte{0}, std::byte{1}}),
            "obMatJos2AAAB");
  EXPECT_EQ(kSecurityFeaturePasswordAlgorithms, 0x000001U);
  EXPECT_EQ(kSecurityFeatureUsernameAnonymity, 0x000002U);
  // RFC 8489 Appendix B.1's nonce (USERHASH, so "Username anonymity"): features 0x000002.
  EXPECT_EQ(nonceSecurityFeatures("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"), 0x000002U);
  EXPECT_FALSE(nonceHasPasswordAlgorithms("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"));
  EXPECT_TRUE(nonceHasPasswordAlgorithms("obMatJos2AAADanything"));
  EXPECT_EQ(nonceSecurityFeatures("obMatJos2////"), 0xFFFFFFU);
}

TEST(NonceFeaturesTest, NoCookieOrBadFeatureField) {
  for (const std::string_view nonce :
       {"", "obMatJos", "obMatJos2", "obMatJos2AAA", "xbMatJos2AAAB", "OBMATJOS2AAAB",
        "obMatJos2AA==", "obMatJos2A===", "obMatJos2AA!B", "f//499k954d6OL34oL9FSTvy64sA"}) {
    SCOPED_TRACE(nonce);
    EXPECT_FALSE(nonceSecurityFeatures(nonce));
    EXPECT_FALSE(nonceHasPasswordAlgorithms(nonce));
  }
}

TEST(NonceCodecTest, RandomKeysDiffer) {
  const auto a = NonceCodec::randomKey();
  const auto b = NonceCodec::randomKey();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), 32U);
}

TEST(NonceCodecTest, EmptyKeyStillWorks) {
  const NonceCodec codec(std::span<const std::byte>{}, kLifetime);
  const std::string nonce = codec.mint(kClient, kNow);
  EXPECT_EQ(codec.verify(nonce, kClient, kNow), NonceVerdict::kValid);
  EXPECT_EQ(NonceCodec(testKey(), kLifetime).verify(nonce, kClient, kNow), NonceVerdict::kInvalid);
}

// Expiries are 32-bit unix seconds: a nonce minted near the end of that range is valid until
// it; beyond it (after 2106) and before 1970 times are clamped, without overflow.
TEST(NonceCodecTest, ExtremeTimesDoNotOverflow) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kLast = std::numeric_limits<std::uint32_t>::max();
  const NonceCodec codec(testKey(), kLifetime);
  const std::string late = codec.mint(kClient, kLast - kLifetime);
  EXPECT_EQ(codec.verify(late, kClient, kLast), NonceVerdict::kValid);
  EXPECT_EQ(codec.verify(late, kClient, kLast + 1), NonceVerdict::kStale);
  const std::string beyond = codec.mint(kClient, kMax - 1);
  EXPECT_EQ(codec.verify(beyond, kClient, kLast), NonceVerdict::kValid);
  EXPECT_EQ(codec.verify(beyond, kClient, kMax), NonceVerdict::kStale);
  const std::string old = codec.mint(kClient, -1000);
  EXPECT_EQ(codec.verify(old, kClient, -1000), NonceVerdict::kValid);
  EXPECT_EQ(codec.verify(old, kClient, 1), NonceVerdict::kStale);
}

TEST(NonceCodecTest, VerdictNames) {
  EXPECT_EQ(toString(NonceVerdict::kValid), "valid");
  EXPECT_EQ(toString(NonceVerdict::kStale), "stale");
  EXPECT_EQ(toString(NonceVerdict::kInvalid), "invalid");
}

}  // namespace
}  // namespace turnpike::auth

// Long-term credential keys, USERHASH and constant-time comparison. Expected digests were
// computed independently with the openssl command line, e.g.
//   printf 'user:realm:pass' | openssl md5
//   printf 'user:realm:pass' | openssl sha256
//   printf 'user:realm' | openssl sha256
#include "auth/long_term_key.hpp"

#include <gtest/gtest.h>

#include <string_view>

#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::auth {
namespace {

using test::fromHex;
using test::toHex;

// RFC 5769 section 2.4: U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 in UTF-8, realm "example.org",
// password "TheMatrIX" (after SASLprep).
constexpr std::string_view kRfcUsername =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

TEST(LongTermKeyTest, Md5) {
  EXPECT_EQ(toHex(longTermKeyMd5("user", "realm", "pass")), "8493fbc53ba582fb4c044c456bdc40eb");
  // The key that verifies the RFC 5769 section 2.4 MESSAGE-INTEGRITY (see rfc5769_test.cpp).
  EXPECT_EQ(toHex(longTermKeyMd5(kRfcUsername, "example.org", "TheMatrIX")),
            "e8ca7ad59d5eb0518e312911d2dab2a9");
  EXPECT_EQ(toHex(longTermKeyMd5("", "", "")), "4501c091b0366d76ea3218b6cfdd8097");  // MD5("::")
  // Each part matters, and the separators are not ambiguous with the parts' own colons.
  EXPECT_NE(longTermKeyMd5("user", "realm", "pass"), longTermKeyMd5("user", "realm", "pasS"));
  EXPECT_NE(longTermKeyMd5("user", "realm", "pass"), longTermKeyMd5("realm", "user", "pass"));
}

TEST(LongTermKeyTest, Sha256) {
  EXPECT_EQ(toHex(longTermKeySha256("user", "realm", "pass")),
            "07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b");
  EXPECT_NE(longTermKeySha256("user", "realm", "pass"), longTermKeySha256("user", "realm", ""));
}

TEST(LongTermKeyTest, Userhash) {
  EXPECT_EQ(toHex(userhash("user", "realm")),
            "6a3029116b47aa98bcaa325399733dc1a23cd57e26b81bef3ff6531ce624e2da");
  // RFC 8489 appendix B.1 uses the RFC 5769 user and realm; its USERHASH value.
  EXPECT_EQ(toHex(userhash(kRfcUsername, "example.org")),
            "4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704");
}

TEST(ConstantTimeEqualTest, ComparesLengthAndBytes) {
  const auto abc = fromHex("616263");
  const auto abd = fromHex("616264");
  const auto ab = fromHex("6162");
  const auto empty = fromHex("");
  EXPECT_TRUE(constantTimeEqual(abc, fromHex("616263")));
  EXPECT_FALSE(constantTimeEqual(abc, abd));
  EXPECT_FALSE(constantTimeEqual(abc, ab));  // a prefix is not equal
  EXPECT_FALSE(constantTimeEqual(ab, abc));
  EXPECT_TRUE(constantTimeEqual(empty, empty));
  EXPECT_TRUE(constantTimeEqual({}, {}));
  EXPECT_FALSE(constantTimeEqual(empty, abc));
  EXPECT_FALSE(constantTimeEqual(abc, empty));
  const Md5Key key = longTermKeyMd5("user", "realm", "pass");
  EXPECT_TRUE(constantTimeEqual(key, fromHex("8493fbc53ba582fb4c044c456bdc40eb")));
  Md5Key other = key;
  other.back() ^= std::byte{0x01};
  EXPECT_FALSE(constantTimeEqual(key, other));
}

}  // namespace
}  // namespace turnpike::auth

// TURN REST API credentials. The expected passwords were computed independently with
//   printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 's3cret' -binary | base64
// (and the same with the other usernames and secrets shown).
#include "auth/rest_credentials.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace turnpike::auth {
namespace {

constexpr std::string_view kAlicePassword = "TtElzSjT0GdnTQ9xdcRNxx96yQs=";        // s3cret
constexpr std::string_view kAliceSecondPassword = "9en4Rrx8TA8gKu00re05J2dqumk=";  // second
constexpr std::string_view kBobPassword = "hh5nfI3KpobvjZcuf5nGuIxPzLM=";          // 1700086400:bob
constexpr std::string_view kNoUserPassword = "sg7MKhKhZEHaCulkWEgYfwirZE4=";       // 1700086400

TEST(RestPasswordTest, MatchesOpensslCommandLine) {
  EXPECT_EQ(restPassword("s3cret", "1700000000:alice"), kAlicePassword);
  EXPECT_EQ(restPassword("second", "1700000000:alice"), kAliceSecondPassword);
  EXPECT_EQ(restPassword("s3cret", "1700086400:bob"), kBobPassword);
  EXPECT_EQ(restPassword("s3cret", "1700086400"), kNoUserPassword);
}

TEST(RestPasswordTest, EmptySecretIsStillAnHmac) {
  // printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac '' -binary | base64
  EXPECT_EQ(restPassword("", "1700000000:alice"), "rqBBD+hnu5lsggfwzdJtEMIA/sc=");
}

TEST(MintRestCredentialTest, UsernameIsExpiryColonUser) {
  const RestCredential credential = mintRestCredential("s3cret", "bob", 86400, 1700000000);
  EXPECT_EQ(credential.username, "1700086400:bob");
  EXPECT_EQ(credential.password, kBobPassword);
  EXPECT_EQ(credential.expires_at, 1700086400);
}

TEST(MintRestCredentialTest, EmptyUserGivesBareExpiry) {
  const RestCredential credential = mintRestCredential("s3cret", "", 86400, 1700000000);
  EXPECT_EQ(credential.username, "1700086400");
  EXPECT_EQ(credential.password, kNoUserPassword);
}

TEST(MintRestCredentialTest, ExpirySaturatesInsteadOfOverflowing) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const RestCredential credential = mintRestCredential("s3cret", "u", 10, kMax - 5);
  EXPECT_EQ(credential.expires_at, kMax);
  EXPECT_EQ(credential.username, std::to_string(kMax) + ":u");
}

TEST(ParseRestUsernameTest, ExpiryAndUser) {
  const auto parsed = parseRestUsername("1700000000:alice");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->expiry, 1700000000);
  EXPECT_EQ(parsed->user, "alice");
}

TEST(ParseRestUsernameTest, UserMayContainColons) {
  const auto parsed = parseRestUsername("42:a:b:c");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->expiry, 42);
  EXPECT_EQ(parsed->user, "a:b:c");
}

TEST(ParseRestUsernameTest, DigitsOnlyIsExpiryWithEmptyUser) {
  const auto parsed = parseRestUsername("1700000000");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->expiry, 1700000000);
  EXPECT_EQ(parsed->user, "");
  const auto trailing_colon = parseRestUsername("5:");
  ASSERT_TRUE(trailing_colon);
  EXPECT_EQ(trailing_colon->expiry, 5);
  EXPECT_EQ(trailing_colon->user, "");
}

TEST(ParseRestUsernameTest, Int64Limits) {
  const auto max = parseRestUsername("9223372036854775807:u");
  ASSERT_TRUE(max);
  EXPECT_EQ(max->expiry, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(parseRestUsername("0009:u")->expiry, 9);
  EXPECT_EQ(parseRestUsername("9223372036854775808:u").error(), RestError::kNotRest);
  EXPECT_EQ(parseRestUsername("99999999999999999999999").error(), RestError::kNotRest);
}

TEST(ParseRestUsernameTest, AnythingElseIsNotRest) {
  for (const std::string_view name :
       {"", "alice", "alice:1700000000", ":alice", ":", "-1:alice", "+1:alice", " 1:alice",
        "1 :alice", "1a:alice", "12ab", "0x10:alice", "1.5:alice", "\xd9\xa1:alice"}) {
    SCOPED_TRACE(name);
    const auto parsed = parseRestUsername(name);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), RestError::kNotRest);
  }
  EXPECT_EQ(toString(RestError::kNotRest), "not a REST username");
}

}  // namespace
}  // namespace turnpike::auth

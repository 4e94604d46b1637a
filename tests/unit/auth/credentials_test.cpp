// CredentialStore: the lookup rule of auth/credentials.hpp, one test per branch.
#include "auth/credentials.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auth/rest_credentials.hpp"

namespace turnpike::auth {
namespace {

constexpr std::int64_t kNow = 1700000000;

const std::map<std::string, std::string> kUsers{{"alice", "wonderland"}, {"1700000000", "digits"}};

TEST(CredentialStoreTest, MintThenLookupRoundTrip) {
  const CredentialStore store({}, {"s3cret"});
  const RestCredential minted = mintRestCredential("s3cret", "bob", 3600, kNow);
  const auto found = store.lookup(minted.username, kNow);
  ASSERT_TRUE(found) << toString(found.error());
  EXPECT_EQ(found->user, "bob");
  EXPECT_EQ(found->passwords, std::vector<std::string>{minted.password});
  EXPECT_EQ(found->expires_at, kNow + 3600);
}

TEST(CredentialStoreTest, RestPasswordMatchesIndependentVector) {
  // printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 's3cret' -binary | base64
  const CredentialStore store({}, {"s3cret"});
  const auto found = store.lookup("1700000000:alice", kNow);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->passwords, std::vector<std::string>{"TtElzSjT0GdnTQ9xdcRNxx96yQs="});
}

TEST(CredentialStoreTest, ValidUntilTheExpirySecondThenExpired) {
  const CredentialStore store({}, {"s3cret"});
  const RestCredential minted = mintRestCredential("s3cret", "bob", 60, kNow);
  EXPECT_TRUE(store.lookup(minted.username, kNow + 60));
  const auto expired = store.lookup(minted.username, kNow + 61);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error(), CredentialError::kExpired);
}

TEST(CredentialStoreTest, SecretRotationOffersOnePasswordPerSecretInOrder) {
  const CredentialStore store({}, {"new-secret", "old-secret"});
  const RestCredential minted = mintRestCredential("old-secret", "carol", 3600, kNow);
  const auto found = store.lookup(minted.username, kNow);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->passwords.size(), 2U);
  EXPECT_EQ(found->passwords[0], restPassword("new-secret", minted.username));
  EXPECT_EQ(found->passwords[1], minted.password);
  EXPECT_NE(std::ranges::find(found->passwords, minted.password), found->passwords.end());
}

TEST(CredentialStoreTest, BareExpiryIsRestWithEmptyUser) {
  const CredentialStore store({}, {"s3cret"});
  const RestCredential minted = mintRestCredential("s3cret", "", 3600, kNow);
  const auto found = store.lookup(minted.username, kNow);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "");
  EXPECT_EQ(found->passwords, std::vector<std::string>{minted.password});
}

TEST(CredentialStoreTest, StaticUser) {
  const CredentialStore store(kUsers, {"s3cret"});
  const auto found = store.lookup("alice", kNow);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_EQ(found->passwords, std::vector<std::string>{"wonderland"});
  EXPECT_FALSE(found->expires_at);
}

TEST(CredentialStoreTest, StaticUserWithRestLookingNameWithoutSecrets) {
  const CredentialStore store(kUsers, {});
  const auto found = store.lookup("1700000000", kNow + 1000);  // would be expired as REST
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "1700000000");
  EXPECT_EQ(found->passwords, std::vector<std::string>{"digits"});
  EXPECT_FALSE(found->expires_at);
}

TEST(CredentialStoreTest, RestWinsOverStaticWhenSecretsAreConfigured) {
  const CredentialStore store(kUsers, {"s3cret"});
  const auto found = store.lookup("1700000000", kNow);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->passwords, std::vector<std::string>{restPassword("s3cret", "1700000000")});
  EXPECT_EQ(store.lookup("1700000000", kNow + 1).error(), CredentialError::kExpired);
}

TEST(CredentialStoreTest, RestNameWithoutSecretsAndNoStaticUserIsUnknown) {
  const CredentialStore store(kUsers, {});
  EXPECT_EQ(store.lookup("1700003600:bob", kNow).error(), CredentialError::kUnknownUser);
}

TEST(CredentialStoreTest, UnknownUser) {
  const CredentialStore store(kUsers, {"s3cret"});
  EXPECT_EQ(store.lookup("mallory", kNow).error(), CredentialError::kUnknownUser);
  EXPECT_EQ(store.lookup("Alice", kNow).error(), CredentialError::kUnknownUser);
  EXPECT_EQ(store.lookup("bob:1700003600", kNow).error(), CredentialError::kUnknownUser);
  EXPECT_EQ(CredentialStore({}, {}).lookup("alice", kNow).error(), CredentialError::kUnknownUser);
}

TEST(CredentialStoreTest, MalformedUsernames) {
  const CredentialStore store(kUsers, {"s3cret"});
  EXPECT_EQ(store.lookup("", kNow).error(), CredentialError::kMalformed);
  const std::string too_long = "1800000000:" + std::string(502, 'x');  // 513 bytes
  EXPECT_EQ(store.lookup(too_long, kNow).error(), CredentialError::kMalformed);
  EXPECT_TRUE(store.lookup(too_long.substr(0, 512), kNow));
}

TEST(CredentialStoreTest, ErrorNames) {
  EXPECT_EQ(toString(CredentialError::kUnknownUser), "unknown user");
  EXPECT_EQ(toString(CredentialError::kExpired), "credential expired");
  EXPECT_EQ(toString(CredentialError::kMalformed), "malformed username");
}

}  // namespace
}  // namespace turnpike::auth

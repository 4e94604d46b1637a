// Long-term authentication of TURN requests (RFC 8489 section 9.2.4, RFC 8656 section 5), and
// Binding requests, which the core answers without authentication.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreAuthTest : public CoreFixture {};

constexpr std::array<std::byte, 8> kOfferedAlgorithms{
    std::byte{0x00}, std::byte{0x02}, std::byte{0x00}, std::byte{0x00},
    std::byte{0x00}, std::byte{0x01}, std::byte{0x00}, std::byte{0x00}};

// The challenge: 401 with REALM, a fresh NONCE and PASSWORD-ALGORITHMS, and no integrity.
void expectChallenge(const Bytes& response, std::uint16_t code) {
  EXPECT_EQ(errorCodeOf(response), code);
  EXPECT_EQ(textOf(response, attr::kRealm), kRealm);
  EXPECT_TRUE(textOf(response, attr::kNonce).starts_with("nonce-"));
  const auto message = Message::parse(response);
  ASSERT_TRUE(message);
  EXPECT_EQ(test::toHex(test::valueOf(*message, attr::kPasswordAlgorithms)),
            test::toHex(kOfferedAlgorithms));
  EXPECT_FALSE(message->has(attr::kMessageIntegrity));
  EXPECT_FALSE(message->has(attr::kMessageIntegritySha256));
  EXPECT_FALSE(message->has(attr::kUsername));
}

TEST_F(CoreAuthTest, RequestWithoutIntegrityIsChallengedWith401) {
  const Bytes response = allocate(client, {}, noAuth());
  expectChallenge(response, error::kUnauthenticated);
  EXPECT_EQ(allocationOf(client), nullptr);
  EXPECT_TRUE(relays.opened.empty());
  EXPECT_EQ(authFailures(AuthFailure::kNoCredentials), 1U);
  EXPECT_EQ(requests(RequestMethod::kAllocate, 401), 1U);
}

TEST_F(CoreAuthTest, IntegrityWithoutUsernameRealmOrNonceIs400) {
  struct Case {
    const char* name;
    Auth auth;
  };
  const Case cases[] = {
      {"no USERNAME", without(&Auth::with_username)},
      {"no REALM", without(&Auth::with_realm)},
      {"no NONCE", without(&Auth::with_nonce)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes response = allocate(client, {}, c.auth);
    EXPECT_EQ(errorCodeOf(response), error::kBadRequest);
    // RFC 8489 section 9.2.4: no REALM or NONCE, and no integrity (the key is unknown).
    EXPECT_FALSE(hasAttribute(response, attr::kRealm));
    EXPECT_FALSE(hasAttribute(response, attr::kNonce));
    EXPECT_FALSE(hasAttribute(response, attr::kMessageIntegrity));
  }
  EXPECT_EQ(authFailures(AuthFailure::kBadRequest), 3U);
  EXPECT_EQ(allocationOf(client), nullptr);
}

TEST_F(CoreAuthTest, StaleNonceIs438WithAFreshNonce) {
  nonces.stale.insert("nonce-old");
  Auth auth;
  auth.nonce = "nonce-old";
  const Bytes response = allocate(client, {}, auth);
  expectChallenge(response, error::kStaleNonce);
  EXPECT_NE(textOf(response, attr::kNonce), "nonce-old");
  EXPECT_EQ(authFailures(AuthFailure::kStaleNonce), 1U);

  // The retry with the new nonce succeeds.
  auth.nonce = textOf(response, attr::kNonce);
  EXPECT_EQ(errorCodeOf(allocate(client, {}, auth)), 0);
}

TEST_F(CoreAuthTest, RejectedCredentialsAre401AndCountedPerReason) {
  credentials.add("1699999999:carol", {"rest-password"}, kUnixStart - 1, "carol");
  struct Case {
    const char* name;
    Auth auth;
    AuthFailure failure;
  };
  const Case cases[] = {
      {"unknown user", as("mallory", "whatever"), AuthFailure::kUnknownUser},
      {"wrong password", as("alice", "not-alice-password"), AuthFailure::kBadIntegrity},
      {"expired REST credential", as("1699999999:carol", "rest-password"), AuthFailure::kExpired},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::uint64_t before = authFailures(c.failure);
    expectChallenge(allocate(client, {}, c.auth), error::kUnauthenticated);
    EXPECT_EQ(authFailures(c.failure), before + 1);
  }
  EXPECT_EQ(allocationOf(client), nullptr);
  EXPECT_EQ(quota.total, 0U);
}

TEST_F(CoreAuthTest, AuthFailureCountersSeparateTheReasons) {
  nonces.stale.insert("nonce-old");
  Auth stale;
  stale.nonce = "nonce-old";
  allocate(client, {}, noAuth());                    // no credentials
  allocate(client, {}, without(&Auth::with_realm));  // bad request
  allocate(client, {}, stale);                       // stale nonce
  allocate(client, {}, as("mallory", "x"));          // unknown user
  allocate(client, {}, as("alice", "wrong"));        // bad integrity
  allocateOk(client);
  refresh(client, 600, {}, as("bob", "bob-password"));  // wrong credentials (441)
  const std::array<std::uint64_t, kAuthFailureCount> expected{1, 1, 1, 1, 0, 1, 1};
  for (std::size_t i = 0; i < kAuthFailureCount; ++i) {
    EXPECT_EQ(core->stats().auth_failures[i].get(), expected[i])
        << toString(static_cast<AuthFailure>(i));
  }
}

TEST_F(CoreAuthTest, SuccessCarriesIntegrityUnderTheSameKey) {
  const Bytes response = allocate(client);
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "other")), IntegrityResult::kMismatch);
  EXPECT_FALSE(hasAttribute(response, attr::kMessageIntegritySha256));
  EXPECT_FALSE(hasAttribute(response, attr::kFingerprint));
  // A FINGERPRINT in the request is answered with one.
  Auth with_fingerprint;
  with_fingerprint.fingerprint = true;
  const Bytes refreshed = refresh(client, 600, {}, with_fingerprint);
  ASSERT_EQ(errorCodeOf(refreshed), 0);
  const auto message = Message::parse(refreshed);
  ASSERT_TRUE(message);
  EXPECT_EQ(verifyFingerprint(*message), IntegrityResult::kOk);
}

TEST_F(CoreAuthTest, Sha256IntegrityIsAnsweredWithSha256) {
  const Bytes response = allocate(client, {}, sha256Auth());
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_FALSE(hasAttribute(response, attr::kMessageIntegrity));
  EXPECT_EQ(integrityOf(response, sha256Key("alice", "alice-password"), true),
            IntegrityResult::kOk);
  // Later requests on the allocation use the cached SHA-256 key.
  const Bytes refreshed = refresh(client, 600, {}, sha256Auth());
  ASSERT_EQ(errorCodeOf(refreshed), 0);
  EXPECT_EQ(integrityOf(refreshed, sha256Key("alice", "alice-password"), true),
            IntegrityResult::kOk);
}

TEST_F(CoreAuthTest, PasswordAlgorithmSha256SelectsTheSha256Key) {
  struct Case {
    const char* name;
    std::uint16_t algorithm;
    std::uint16_t signing_key;
    std::uint16_t code;
  };
  const Case cases[] = {
      {"SHA-256 chosen, SHA-256 key", kSha256, kSha256, 0},
      {"SHA-256 chosen, MD5 key", kSha256, kMd5, error::kUnauthenticated},
      {"MD5 chosen, MD5 key", kMd5, kMd5, 0},
      {"MD5 chosen, SHA-256 key", kMd5, kSha256, error::kUnauthenticated},
  };
  std::uint16_t port = 40100;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Auth auth = sha256Auth();
    auth.algorithm = c.algorithm;
    auth.key_algorithm = c.signing_key;
    EXPECT_EQ(errorCodeOf(allocate(udpClient(port++), {}, auth)), c.code);
  }
}

TEST_F(CoreAuthTest, PasswordAlgorithmsNotAsOfferedIs400) {
  struct Case {
    const char* name;
    std::optional<std::vector<std::uint16_t>> algorithms;
    std::optional<std::uint16_t> algorithm;
  };
  const Case cases[] = {
      {"list differs from the offer", std::vector<std::uint16_t>{kMd5}, kMd5},
      {"list in another order", std::vector<std::uint16_t>{kMd5, kSha256}, kSha256},
      {"algorithm without list", std::nullopt, kSha256},
      {"list without algorithm", std::vector<std::uint16_t>{kSha256, kMd5}, std::nullopt},
      {"algorithm not in the list", std::vector<std::uint16_t>{kSha256, kMd5}, 0x0003},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Auth auth;
    auth.algorithms = c.algorithms;
    auth.algorithm = c.algorithm;
    auth.key_algorithm = kMd5;
    const Bytes response = allocate(client, {}, auth);
    EXPECT_EQ(errorCodeOf(response), error::kBadRequest);
    EXPECT_FALSE(hasAttribute(response, attr::kMessageIntegrity));
  }
  EXPECT_EQ(authFailures(AuthFailure::kBadRequest), std::size(cases));
  EXPECT_EQ(allocationOf(client), nullptr);
}

TEST_F(CoreAuthTest, RotatedCredentialAcceptsEachOfItsPasswords) {
  // REST credentials give one password per shared secret; the second may be the right one.
  credentials.add("1700003600:dave", {"from-old-secret", "from-new-secret"}, kUnixStart + 3600,
                  "dave");
  struct Case {
    const char* password;
    std::uint16_t port;
  };
  for (const Case& c : {Case{"from-new-secret", 40200}, Case{"from-old-secret", 40201}}) {
    const char* password = c.password;
    SCOPED_TRACE(password);
    const ClientSource source = udpClient(c.port);
    const Bytes response = allocate(source, {}, as("1700003600:dave", password));
    ASSERT_EQ(errorCodeOf(response), 0);
    EXPECT_EQ(integrityOf(response, md5Key("1700003600:dave", password)), IntegrityResult::kOk);
    EXPECT_EQ(allocationOf(source)->user, "dave");
  }
  EXPECT_EQ(quota.per_user["dave"], 2U);
}

TEST_F(CoreAuthTest, OtherUsernameOnTheAllocationIs441) {
  allocateOk(client);
  const Bytes response = refresh(client, 600, {}, as("bob", "bob-password"));
  EXPECT_EQ(errorCodeOf(response), error::kWrongCredentials);
  EXPECT_EQ(authFailures(AuthFailure::kWrongCredentials), 1U);
  EXPECT_EQ(requests(RequestMethod::kRefresh, 441), 1U);
  // The allocation is untouched and still answers its owner.
  EXPECT_EQ(allocationOf(client)->username, "alice");
  EXPECT_EQ(errorCodeOf(refresh(client, 600)), 0);
}

TEST_F(CoreAuthTest, UnknownComprehensionRequiredAttributeIs420AfterAuthentication) {
  const auto with_unknown = [](MessageBuilder& b) {
    b.addU32(0x0031, 1);  // comprehension-required, unknown
    b.addU32(0x7FFE, 2);  // comprehension-required, unknown
    b.addU32(0x8031, 3);  // comprehension-optional: ignored
  };
  // Unauthenticated: the challenge comes first (RFC 8489 section 6.3.1 checks after auth).
  EXPECT_EQ(errorCodeOf(allocate(client, with_unknown, noAuth())), error::kUnauthenticated);

  const Bytes response = allocate(client, with_unknown);
  ASSERT_EQ(errorCodeOf(response), error::kUnknownAttribute);
  const auto message = Message::parse(response);
  ASSERT_TRUE(message);
  std::array<std::uint16_t, 4> listed{};
  const auto count =
      decodeUnknownAttributes(test::valueOf(*message, attr::kUnknownAttributes), listed);
  ASSERT_TRUE(count);
  EXPECT_EQ(std::vector(listed.begin(), listed.begin() + static_cast<std::ptrdiff_t>(*count)),
            (std::vector<std::uint16_t>{0x0031, 0x7FFE}));
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_EQ(allocationOf(client), nullptr);
  EXPECT_TRUE(relays.opened.empty());
  // Only comprehension-optional unknowns: accepted.
  EXPECT_EQ(errorCodeOf(allocate(client, [](MessageBuilder& b) { b.addU32(0x8031, 3); })), 0);
}

TEST_F(CoreAuthTest, BindingRequestIsAnsweredWithoutAuthentication) {
  const Bytes response = exchange(client, test::build([](MessageBuilder&) {}));
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(xorAddressesOf(response, attr::kXorMappedAddress),
            std::vector<Endpoint>{client.client});
  EXPECT_EQ(
      core->stats().stun_outcomes[static_cast<std::size_t>(StunOutcome::kBindingSuccess)].get(),
      1U);
  EXPECT_EQ(core->allocationCount(), 0U);
}

TEST_F(CoreAuthTest, RequestWithWrongFingerprintIsDropped) {
  Auth auth;
  auth.fingerprint = true;
  Bytes bytes = request(
      Method::kAllocate, [](MessageBuilder& b) { b.addRequestedTransport(17); }, auth);
  bytes.back() ^= std::byte{1};
  EXPECT_TRUE(send(client, bytes).entries().empty());
  EXPECT_EQ(allocationOf(client), nullptr);
}

// Fixed bug, kept as a regression test (the core once): compares the username with the allocation's
// before the method is looked at, so an Allocate from another user on a 5-tuple in use gets 441.
// RFC 8656 section 7.2 step 2 answers a 5-tuple in use with 437, and section 7.4 says a client
// should never see 441 for Allocate.
TEST_F(CoreAuthTest, AllocateFromOtherUserOnUsedFiveTupleIs437) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(allocate(client, {}, as("bob", "bob-password"))),
            error::kAllocationMismatch);
}

// Fixed bug, kept as a regression test (the core once): answers 441 before verifying
// MESSAGE-INTEGRITY. RFC 8656 section 5 gives 441 only to a request that "passes authentication";
// one with a wrong key must get 401 (RFC 8489 section 9.2.4), which also stops an unauthenticated
// sender from probing 5-tuples for usernames.
TEST_F(CoreAuthTest, OtherUsernameWithBadIntegrityIs401) {
  allocateOk(client);
  EXPECT_EQ(errorCodeOf(refresh(client, 600, {}, as("bob", "not-bobs-password"))),
            error::kUnauthenticated);
}

// Fixed bug, kept as a regression test (the core once): checks the nonce right after the attribute
// presence check. RFC 8489 section 9.2.4 performs its checks "in the order specified":
// PASSWORD-ALGORITHMS (400), USERNAME (401) and MESSAGE-INTEGRITY (401) come before the stale-nonce
// check (438).
TEST_F(CoreAuthTest, StaleNonceIsCheckedAfterCredentials) {
  nonces.stale.insert("nonce-old");
  struct Case {
    const char* name;
    Auth auth;
    std::uint16_t code;
  };
  Case cases[] = {
      {"wrong password", as("alice", "wrong"), error::kUnauthenticated},
      {"unknown user", as("mallory", "x"), error::kUnauthenticated},
      {"algorithm without list", Auth{}, error::kBadRequest},
  };
  cases[2].auth.algorithm = kMd5;
  for (Case& c : cases) {
    SCOPED_TRACE(c.name);
    c.auth.nonce = "nonce-old";
    EXPECT_EQ(errorCodeOf(allocate(client, {}, c.auth)), c.code);
  }
}

// Fixed bug, kept as a regression test (the core once): answers with the integrity attribute the
// request used. RFC 8489 section 9.2.4 (last paragraph): every response MUST carry
// MESSAGE-INTEGRITY-SHA256 unless the request had neither PASSWORD-ALGORITHMS nor
// PASSWORD-ALGORITHM. Here the client chose SHA-256 but signed with MESSAGE-INTEGRITY, and gets
// MESSAGE-INTEGRITY back.
TEST_F(CoreAuthTest, ChosenPasswordAlgorithmIsAnsweredWithSha256Integrity) {
  Auth auth = sha256Auth();
  auth.mac = Auth::Mac::kSha1;
  const Bytes response = allocate(client, {}, auth);
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(integrityOf(response, sha256Key("alice", "alice-password"), true),
            IntegrityResult::kOk);
}

// The long-term key is kept per username (issue 7: one MD5-key lookup per credential): a
// client's next allocation with the same credential costs no lookup, no REST HMAC, no MD5.
TEST_F(CoreAuthTest, AnotherAllocationWithTheSameCredentialReusesItsKey) {
  allocateOk(client);
  const std::size_t lookups = credentials.lookups;
  const ClientSource second = udpClient(40300);
  const Bytes response = allocate(second, {}, Auth{});
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_EQ(allocationOf(second)->user, "alice");
  EXPECT_EQ(credentials.lookups, lookups) << "the key came from the cache";
  // A wrong password is still refused (the cached key does not verify it, nor does a lookup).
  const Bytes wrong = allocate(udpClient(40301), {}, as("alice", "not-her-password"));
  EXPECT_EQ(errorCodeOf(wrong), error::kUnauthenticated);
  EXPECT_EQ(authFailures(AuthFailure::kBadIntegrity), 1U);
}

TEST_F(CoreAuthTest, AKeptKeyExpiresWithItsRestCredential) {
  credentials.add("1700000010:erin", {"erin-password"}, kUnixStart + 10, "erin");
  ASSERT_EQ(errorCodeOf(allocate(client, {}, as("1700000010:erin", "erin-password"))), 0);
  at(11);
  const Bytes late = allocate(udpClient(40302), {}, as("1700000010:erin", "erin-password"));
  EXPECT_EQ(errorCodeOf(late), error::kUnauthenticated);
  EXPECT_EQ(authFailures(AuthFailure::kExpired), 1U);
}

TEST_F(CoreAuthTest, ChangedCredentialsAreLookedUpAgain) {
  allocateOk(client);
  credentials.add("alice", {"new-password"});  // a reload: a new generation of credentials
  const Bytes old_password = allocate(udpClient(40303), {}, Auth{});
  EXPECT_EQ(errorCodeOf(old_password), error::kUnauthenticated);
  EXPECT_EQ(errorCodeOf(allocate(udpClient(40304), {}, as("alice", "new-password"))), 0);
  credentials.remove("alice");
  const Bytes removed = allocate(udpClient(40305), {}, as("alice", "new-password"));
  EXPECT_EQ(errorCodeOf(removed), error::kUnauthenticated);
  EXPECT_EQ(authFailures(AuthFailure::kUnknownUser), 1U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

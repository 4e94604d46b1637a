// Session tickets under rotating keys (server/tls/ticket_keys.hpp) and the configurable cipher
// lists: TicketKeys alone with a fake clock, then real resumptions against a TlsContext whose
// ticket clock the test moves (never a sleep).
#include "server/tls/ticket_keys.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/tls/tls_context.hpp"
#include "tests/unit/server/tls_test_support.hpp"

namespace turnpike::server::tls {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::steady_clock::time_point;
using Name = std::array<unsigned char, TicketKeys::kNameSize>;

constexpr std::chrono::seconds kRotation = 3600s;

// A clock that only the test moves.
struct FakeClock {
  Time now = Time{} + 1000h;
  [[nodiscard]] TicketClock function() {
    return [this] { return now; };
  }
};

// ---- TicketKeys ----

class TicketKeysTest : public ::testing::Test {
 protected:
  TicketKeys::Match match(const Name& name) {
    TicketKeys::Key key;
    return keys.find(name, key);
  }
  Name currentName() {
    const auto key = keys.encryptionKey();
    EXPECT_TRUE(key.has_value());
    return key ? key->name : Name{};
  }

  FakeClock clock;
  TicketKeys keys{clock.function(), kRotation};
};

TEST_F(TicketKeysTest, CurrentForOnePeriodThenPreviousForOneMoreThenForgotten) {
  const Name first = currentName();
  EXPECT_EQ(keys.generation(), 1U);
  clock.now += kRotation - 1s;
  EXPECT_EQ(currentName(), first);
  EXPECT_EQ(match(first), TicketKeys::Match::kCurrent);

  clock.now += 1s;  // the next period
  const Name second = currentName();
  EXPECT_NE(second, first);
  EXPECT_EQ(match(second), TicketKeys::Match::kCurrent);
  EXPECT_EQ(match(first), TicketKeys::Match::kPrevious);

  clock.now += kRotation;  // and the one after
  const Name third = currentName();
  EXPECT_EQ(match(third), TicketKeys::Match::kCurrent);
  EXPECT_EQ(match(second), TicketKeys::Match::kPrevious);
  EXPECT_EQ(match(first), TicketKeys::Match::kNone);
  EXPECT_EQ(keys.generation(), 3U);
}

TEST_F(TicketKeysTest, PeriodsStartAtBoundariesWhateverTheFirstUseAfterThem) {
  const Name first = currentName();
  // First use after the boundary comes late, at 1.9 periods: the new key's period still began
  // at 1 period, so the first key is forgotten at 2 periods, not at 2.9.
  clock.now += kRotation * 19 / 10;
  const Name second = currentName();
  EXPECT_EQ(match(first), TicketKeys::Match::kPrevious);
  clock.now += kRotation / 10;
  EXPECT_EQ(match(first), TicketKeys::Match::kNone);  // rotated by the lookup itself
  EXPECT_EQ(match(second), TicketKeys::Match::kPrevious);
}

TEST_F(TicketKeysTest, AGapOfTwoPeriodsForgetsBothKeys) {
  const Name first = currentName();
  clock.now += 2 * kRotation;
  EXPECT_EQ(match(first), TicketKeys::Match::kNone);
  const Name second = currentName();
  EXPECT_NE(second, first);
  EXPECT_EQ(match(second), TicketKeys::Match::kCurrent);
}

TEST_F(TicketKeysTest, UnknownNameMatchesNothing) {
  static_cast<void>(currentName());
  EXPECT_EQ(match(Name{}), TicketKeys::Match::kNone);
}

TEST_F(TicketKeysTest, ShorterRotationAppliesAtOnce) {
  const Name first = currentName();
  keys.setRotation(60s);
  clock.now += 60s;
  EXPECT_NE(currentName(), first);
  EXPECT_EQ(match(first), TicketKeys::Match::kPrevious);
  EXPECT_EQ(keys.rotation(), 60s);
}

// ---- Resumption through a TlsContext ----

// One connection's outcome.
struct Connection {
  bool reused = false;
  std::string ticket;  // the client's ticket after the connection (empty: none)
  std::string cipher;
  int version = 0;
  std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> session{nullptr, SSL_SESSION_free};
};

std::string ticketOf(const SSL_SESSION* session) {
  const unsigned char* ticket = nullptr;
  std::size_t length = 0;
  SSL_SESSION_get0_ticket(session, &ticket, &length);
  return ticket == nullptr ? std::string() : std::string(ticket, ticket + length);
}

class TlsTicketTest : public TlsFilesTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(files_->error.empty()) << files_->error;
    auto loaded = TlsContext::load(config(), clock_.function());
    ASSERT_TRUE(loaded) << loaded.error();
    context_ = std::move(*loaded);
  }
  void TearDown() override { ERR_clear_error(); }

  static TlsConfig config() {
    TlsConfig tls;
    tls.certificate = files_->files.certificate.string();
    tls.private_key = files_->files.private_key.string();
    tls.ticket_key_rotation = static_cast<std::uint32_t>(kRotation.count());
    return tls;
  }

  // A client context that trusts the test certificate, at most `version`.
  static ClientContext clientContext(int version) {
    ClientContext context(SSL_CTX_new(TLS_client_method()));
    EXPECT_EQ(
        SSL_CTX_load_verify_locations(context.get(), files_->files.certificate.c_str(), nullptr),
        1);
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_max_proto_version(context.get(), version);
    return context;
  }

  // A full connection from a new client, offering `resume` if given; closed with close_notify so
  // that its session stays resumable.
  Connection connect(int version, const SSL_SESSION* resume = nullptr) {
    Connection result;
    const ClientContext client_context = clientContext(version);
    TlsSession server(context_->acquire().get());
    Client client(client_context.get());
    if (resume != nullptr) {
      EXPECT_EQ(SSL_set_session(client.ssl(), const_cast<SSL_SESSION*>(resume)), 1);
    }
    Bytes plaintext;
    const auto pumped = pump(client, server, plaintext);
    EXPECT_TRUE(pumped.has_value());
    EXPECT_TRUE(client.done());
    if (!client.done()) {
      return result;
    }
    // TLS 1.3 tickets come after the handshake: read them, and let the server see the reads.
    static_cast<void>(client.read());
    (void)SSL_shutdown(client.ssl());
    result.reused = SSL_session_reused(client.ssl()) == 1;
    result.cipher = SSL_get_cipher_name(client.ssl());
    result.version = SSL_version(client.ssl());
    result.session.reset(SSL_get1_session(client.ssl()));
    result.ticket = result.session ? ticketOf(result.session.get()) : "";
    return result;
  }

  FakeClock clock_;
  std::shared_ptr<TlsContext> context_;
};

class TlsTicketVersionTest : public TlsTicketTest, public ::testing::WithParamInterface<int> {};

TEST_P(TlsTicketVersionTest, ResumesWithTheCurrentKey) {
  const Connection first = connect(GetParam());
  ASSERT_FALSE(first.reused);
  ASSERT_FALSE(first.ticket.empty()) << "no session ticket";
  clock_.now += kRotation - 1s;
  const Connection second = connect(GetParam(), first.session.get());
  EXPECT_TRUE(second.reused);
  EXPECT_EQ(second.version, GetParam());
  // OpenSSL sends no NewSessionTicket after a resumption it does not ask to renew (TLS 1.2 and
  // 1.3 alike), so the client keeps the ticket it had.
  EXPECT_EQ(second.ticket, first.ticket) << "a ticket under the current key is not renewed";
}

TEST_P(TlsTicketVersionTest, ResumesWithThePreviousKeyAndGetsANewTicket) {
  const Connection first = connect(GetParam());
  ASSERT_FALSE(first.ticket.empty());
  clock_.now += kRotation;
  const Connection second = connect(GetParam(), first.session.get());
  EXPECT_TRUE(second.reused);
  EXPECT_FALSE(second.ticket.empty());
  EXPECT_NE(second.ticket, first.ticket) << "no new ticket under the new key";
  // The new ticket is under the current key: it outlives the next rotation.
  clock_.now += kRotation;
  EXPECT_TRUE(connect(GetParam(), second.session.get()).reused);
}

TEST_P(TlsTicketVersionTest, FullHandshakeAfterTwoRotations) {
  const Connection first = connect(GetParam());
  ASSERT_FALSE(first.ticket.empty());
  clock_.now += kRotation;
  static_cast<void>(connect(GetParam()));  // someone else's connection rotates the keys
  clock_.now += kRotation;
  const Connection second = connect(GetParam(), first.session.get());
  EXPECT_FALSE(second.reused);
  EXPECT_FALSE(second.ticket.empty()) << "a full handshake issues a fresh ticket";
  EXPECT_EQ(context_->ticketKeys().generation(), 3U);
}

TEST_P(TlsTicketVersionTest, ResumesAcrossAReload) {
  const Connection first = connect(GetParam());
  ASSERT_FALSE(first.ticket.empty());
  ASSERT_TRUE(context_->reload(config()));  // SIGHUP: a new SSL_CTX, the same ticket keys
  EXPECT_TRUE(connect(GetParam(), first.session.get()).reused);
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsTicketVersionTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13";
                         });

TEST_F(TlsTicketTest, TicketLifetimeHintIsTwoRotationPeriods) {
  const Connection first = connect(TLS1_3_VERSION);
  ASSERT_TRUE(first.session);
  EXPECT_EQ(SSL_SESSION_get_ticket_lifetime_hint(first.session.get()), 2 * kRotation.count());
}

TEST_F(TlsTicketTest, ReloadAppliesANewRotationPeriod) {
  TlsConfig next = config();
  next.ticket_key_rotation = 60;
  ASSERT_TRUE(context_->reload(next));
  EXPECT_EQ(context_->ticketKeys().rotation(), 60s);
  const Connection first = connect(TLS1_3_VERSION);
  ASSERT_TRUE(first.session);
  EXPECT_EQ(SSL_SESSION_get_ticket_lifetime_hint(first.session.get()), 120U);
  clock_.now += 120s;
  EXPECT_FALSE(connect(TLS1_3_VERSION, first.session.get()).reused);
}

TEST_F(TlsTicketTest, FailedReloadKeepsTheRotationPeriod) {
  TlsConfig next = config();
  next.ticket_key_rotation = 60;
  next.certificate = (files_->dir / "missing.pem").string();
  ASSERT_FALSE(context_->reload(next));
  EXPECT_EQ(context_->ticketKeys().rotation(), kRotation);
}

// ---- Cipher settings ----

TEST_F(TlsTicketTest, ConfiguredCiphersAreTheOnlyOnesNegotiated) {
  TlsConfig restricted = config();
  restricted.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
  restricted.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
  ASSERT_TRUE(context_->reload(restricted));
  EXPECT_EQ(connect(TLS1_2_VERSION).cipher, "ECDHE-ECDSA-CHACHA20-POLY1305");
  EXPECT_EQ(connect(TLS1_3_VERSION).cipher, "TLS_CHACHA20_POLY1305_SHA256");
}

TEST_F(TlsTicketTest, LoadNamesTheCipherKeyOpenSslRefuses) {
  TlsConfig bad = config();
  bad.ciphers = "NO-SUCH-CIPHER";
  auto loaded = TlsContext::load(bad);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().rfind("tls.ciphers: ", 0), 0U) << loaded.error();

  bad = config();
  bad.ciphersuites = "TLS_NO_SUCH_SUITE:also-wrong";
  loaded = TlsContext::load(bad);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().rfind("tls.ciphersuites: ", 0), 0U) << loaded.error();
}

}  // namespace
}  // namespace turnpike::server::tls

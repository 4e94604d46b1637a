// The real turnpike server's tls listener (RFC 8489 section 6.2.2, RFC 8656 section 3.1): STUN
// Binding over TLS, framing across TLS records, refused TLS 1.1, the handshake timeout, garbage
// instead of a ClientHello, and clean shutdown with TLS connections open. The client is OpenSSL
// on a blocking socket whose reads and writes time out (SO_RCVTIMEO / SO_SNDTIMEO).
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/integrity.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/tls_client_support.hpp"
#include "tests/support/test_certificate.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::ConstBytes;
using protocol::Endpoint;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::messageType;
using protocol::Method;
using protocol::TransactionId;
namespace attr = protocol::attr;

constexpr std::uint16_t kBindingSuccess =
    messageType(Method::kBinding, MessageClass::kSuccessResponse);
// The server's handshake timeout (TcpConnection::kDefaultHandshakeTimeout) and the bound used
// here: it must close the connection after about 10 s, and not much earlier.
constexpr Millis kHandshakeTimeout = 10'000ms;
constexpr Millis kHandshakeTimeoutBound = 12'500ms;

std::optional<Endpoint> xorMappedAddress(const protocol::Message& message) {
  const auto value = attributeValue(message, attr::kXorMappedAddress);
  if (!value) {
    ADD_FAILURE() << "no XOR-MAPPED-ADDRESS";
    return std::nullopt;
  }
  auto endpoint = protocol::decodeXorAddress(*value, message.transactionId());
  return endpoint ? std::optional<Endpoint>(*endpoint) : std::nullopt;
}

void expectBindingSuccess(const std::optional<Bytes>& reply, const TransactionId& id,
                          const Endpoint& expected) {
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingSuccess);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(xorMappedAddress(*message), expected);
}

// The same check as a predicate, for "still works" probes.
bool isBindingSuccessFor(const std::optional<Bytes>& reply, const TransactionId& id,
                         const Endpoint& expected) {
  if (!reply) {
    return false;
  }
  const auto message = protocol::Message::parse(*reply);
  return message && message->type() == kBindingSuccess && message->transactionId() == id &&
         xorMappedAddress(*message) == expected;
}

class TlsTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.tls = true;
    return options;
  }

  void SetUp() override {
    ServerFixture::SetUp();
    if (!HasFatalFailure() && !IsSkipped()) {
      context_ = clientContext(tlsCertificate());
    }
  }
  void TearDown() override {
    ServerFixture::TearDown();
    ERR_clear_error();
  }

  // A connected, handshaken client (check with ASSERT_TRUE(client->handshake()) style helpers).
  [[nodiscard]] std::unique_ptr<TlsClient> connect() const {
    auto client = std::make_unique<TlsClient>(tlsServer(), context_.get());
    EXPECT_TRUE(client->handshake()) << client->error();
    return client;
  }

  // A Binding request over a new TLS connection; true when the right success response comes.
  [[nodiscard]] bool tlsBindingWorks() const {
    auto client = connect();
    const TransactionId id = randomTransactionId();
    if (!client->write(buildMessage(id))) {
      return false;
    }
    return isBindingSuccessFor(client->readStun(), id, client->localEndpoint());
  }

  ClientContext context_;
};

// ---- Binding over TLS ----

TEST_F(TlsTest, BindingGetsTheClientAddressInXorMappedAddress) {
  auto client = connect();
  EXPECT_EQ(SSL_version(client->ssl()), TLS1_3_VERSION);
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(client->write(buildMessage(id, [](MessageBuilder& b) { b.addFingerprint(); })));
  const auto reply = client->readStun();
  expectBindingSuccess(reply, id, client->localEndpoint());
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(protocol::verifyFingerprint(*message), protocol::IntegrityResult::kOk);
  EXPECT_NE(serverLog().find("listening on tls " + tlsServer().toString()), std::string::npos)
      << serverLog();
  // Plain listeners are unaffected.
  EXPECT_TRUE(udpBindingWorks());
  EXPECT_TRUE(tcpBindingWorks());
}

TEST_F(TlsTest, Tls12ClientGetsAnAnswerToo) {
  SSL_CTX_set_max_proto_version(context_.get(), TLS1_2_VERSION);
  auto client = connect();
  EXPECT_EQ(SSL_version(client->ssl()), TLS1_2_VERSION);
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(client->write(buildMessage(id)));
  expectBindingSuccess(client->readStun(), id, client->localEndpoint());
}

TEST_F(TlsTest, ThreeRequestsInOneRecordGetThreeResponsesInOrder) {
  auto client = connect();
  const std::array<TransactionId, 3> ids{randomTransactionId(), randomTransactionId(),
                                         randomTransactionId()};
  // One SSL_write of less than 16 KB is one TLS record.
  ASSERT_TRUE(client->write(
      concat({buildMessage(ids[0]),
              buildMessage(ids[1], [](MessageBuilder& b) { b.addText(attr::kSoftware, "second"); }),
              buildMessage(ids[2])})));
  for (const TransactionId& id : ids) {
    expectBindingSuccess(client->readStun(), id, client->localEndpoint());
  }
}

TEST_F(TlsTest, RequestSplitAcrossRecordsGetsOneResponse) {
  auto client = connect();
  const TransactionId id = randomTransactionId();
  const Bytes request = buildMessage(id, [](MessageBuilder& b) { b.addFingerprint(); });
  const ConstBytes bytes = request;
  // Three records, the header itself split; pauses so that they arrive in separate reads.
  ASSERT_TRUE(client->write(bytes.first(7)));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(client->write(bytes.subspan(7, 10)));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(client->write(bytes.subspan(17)));
  expectBindingSuccess(client->readStun(), id, client->localEndpoint());
}

TEST_F(TlsTest, RequestWrittenOneByteARecordGetsOneResponse) {
  auto client = connect();
  const TransactionId id = randomTransactionId();
  const Bytes request = buildMessage(id);
  for (std::size_t i = 0; i < request.size(); ++i) {
    ASSERT_TRUE(client->write(ConstBytes(request).subspan(i, 1)));
  }
  expectBindingSuccess(client->readStun(), id, client->localEndpoint());
}

TEST_F(TlsTest, TwoHundredPipelinedRequestsSpanningSeveralReadsAllGetAnswers) {
  auto client = connect();
  std::vector<TransactionId> ids;
  std::vector<Bytes> requests;
  for (int i = 0; i < 200; ++i) {
    ids.push_back(randomTransactionId());
    requests.push_back(buildMessage(ids.back(), [](MessageBuilder& b) { b.addFingerprint(); }));
  }
  const Bytes stream = concat(requests);
  ASSERT_GT(stream.size(), 4096U);  // more than one read of the server's ciphertext buffer
  ASSERT_TRUE(client->write(stream));
  for (const TransactionId& id : ids) {
    expectBindingSuccess(client->readStun(), id, client->localEndpoint());
    if (HasFailure()) {
      break;
    }
  }
}

// ---- Refused and misbehaving clients ----

TEST_F(TlsTest, Tls11ClientIsRefused) {
  const ClientContext old = clientContext(tlsCertificate());
  // Security level 0 lets this OpenSSL offer TLS 1.1 at all (else it fails before sending).
  SSL_CTX_set_security_level(old.get(), 0);
  ASSERT_EQ(SSL_CTX_set_cipher_list(old.get(), "DEFAULT:@SECLEVEL=0"), 1);
  SSL_CTX_set_min_proto_version(old.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old.get(), TLS1_1_VERSION);
  TlsClient client(tlsServer(), old.get());
  ASSERT_FALSE(client.handshake());
  // The server's protocol_version alert, not a local failure.
  EXPECT_EQ(client.reason(), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) << client.error();
  EXPECT_TRUE(waitForPeerClose(client.fd(), kReplyTimeout)) << "the connection stayed open";
  EXPECT_NE(serverLog().find("unsupported protocol"), std::string::npos) << serverLog();
  EXPECT_TRUE(tlsBindingWorks());
}

struct GarbageCase {
  const char* name;
  Bytes bytes;
};

TEST_F(TlsTest, GarbageInsteadOfAClientHelloClosesOnlyThatConnection) {
  auto bystander = connect();
  const auto bystander_works = [&] {
    const TransactionId id = randomTransactionId();
    if (!bystander->write(buildMessage(id))) {
      return false;
    }
    return isBindingSuccessFor(bystander->readStun(), id, bystander->localEndpoint());
  };
  ASSERT_TRUE(bystander_works());

  const std::string http = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  Bytes http_bytes(http.size());
  std::memcpy(http_bytes.data(), http.data(), http.size());
  const std::vector<GarbageCase> cases{
      {"0xFF bytes", Bytes(64, std::byte{0xFF})},
      {"an HTTP request", http_bytes},
      {"plain STUN on the TLS port", buildMessage(randomTransactionId())},
  };
  for (const GarbageCase& garbage : cases) {
    SCOPED_TRACE(garbage.name);
    const UniqueFd victim = tcpConnect(tlsServer());
    ASSERT_TRUE(victim.valid());
    ASSERT_TRUE(sendAll(victim.get(), garbage.bytes));
    EXPECT_TRUE(waitForPeerClose(victim.get(), kReplyTimeout)) << "the connection stayed open";
    EXPECT_TRUE(bystander_works()) << "the other connection was affected";
  }
  EXPECT_TRUE(tlsBindingWorks());
  EXPECT_TRUE(tcpBindingWorks());
  EXPECT_NE(serverLog().find("closed: tls_handshake_error"), std::string::npos) << serverLog();
}

TEST_F(TlsTest, HandshakeThatNeverFinishesIsClosedAfterTheTimeout) {
  // Established before the silent ones: the timer must not touch it.
  auto established = connect();
  const auto start = Clock::now();
  const UniqueFd silent = tcpConnect(tlsServer());
  ASSERT_TRUE(silent.valid());
  // A record header promising a ClientHello that never comes.
  const UniqueFd stalled = tcpConnect(tlsServer());
  ASSERT_TRUE(stalled.valid());
  const Bytes header{std::byte{0x16}, std::byte{0x03}, std::byte{0x01}, std::byte{0x02},
                     std::byte{0x00}};
  ASSERT_TRUE(sendAll(stalled.get(), header));

  EXPECT_TRUE(tcpStaysQuiet(silent.get(), kHandshakeTimeout - 1500ms)) << "closed too early";
  const auto left =
      kHandshakeTimeoutBound - std::chrono::duration_cast<Millis>(Clock::now() - start);
  EXPECT_TRUE(waitForPeerClose(silent.get(), left));
  EXPECT_TRUE(waitForPeerClose(stalled.get(), 1000ms));
  const auto elapsed = std::chrono::duration_cast<Millis>(Clock::now() - start);
  EXPECT_LT(elapsed, kHandshakeTimeoutBound);
  EXPECT_NE(serverLog().find("closed: tls_handshake_timeout"), std::string::npos) << serverLog();

  // The established connection (older than the timeout by now) still works.
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(established->write(buildMessage(id)));
  expectBindingSuccess(established->readStun(), id, established->localEndpoint());
}

// ---- Start-up ----

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string tlsConfig(std::uint16_t port, const std::string& certificate,
                      const std::string& private_key) {
  return "listeners:\n  - {transport: tls, address: 127.0.0.1, port: " + std::to_string(port) +
         "}\ntls: {certificate: \"" + certificate + "\", private_key: \"" + private_key +
         "\"}\nhttp: {port: 0}\nthreads: 1\n";
}

TEST(TlsStartupTest, CheckConfigAcceptsATlsListener) {
  const TempDir dir;
  const auto path = dir.write("tls.yaml", tlsConfig(5349, "/nonexistent/cert.pem", "/k.pem"));
  const ProcessResult result = runTurnpike({"--check-config", path.string()});
  EXPECT_TRUE(result.exited && result.exit_code == 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "OK")) << result.out << result.err;
}

TEST(TlsStartupTest, UnloadableCertificateOrKeyStopsStartUpNamingTheFile) {
  const TempDir dir;
  CertificateFiles files;
  ASSERT_EQ(writeSelfSignedCertificate(dir.path(), "server", files), "");
  const std::string other_key = (dir.path() / "other.key.pem").string();
  ASSERT_EQ(writePrivateKey(other_key), "");
  const std::string missing = (dir.path() / "missing.pem").string();
  const auto port = pickFreePort(loopback(false).address);
  ASSERT_TRUE(port);
  struct Case {
    const char* name;
    std::string certificate;
    std::string private_key;
    std::string expected;
  };
  const std::vector<Case> cases{
      {"missing certificate", missing, files.private_key.string(),
       "tls.certificate: cannot read " + missing},
      {"missing key", files.certificate.string(), missing,
       "tls.private_key: cannot read " + missing},
      {"key of another certificate", files.certificate.string(), other_key,
       "tls.private_key: " + other_key + " does not match the certificate"},
  };
  for (const Case& bad : cases) {
    SCOPED_TRACE(bad.name);
    const auto path = dir.write("bad.yaml", tlsConfig(*port, bad.certificate, bad.private_key));
    const ProcessResult result = runTurnpike({"--config", path.string()});
    ASSERT_TRUE(result.exited) << result.err;
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_TRUE(contains(result.err, bad.expected)) << result.err;
  }
}

// ---- Shutdown ----

TEST_F(TlsTest, SigtermWithOpenTlsConnectionsStopsCleanlyAndClosesThem) {
  auto idle = connect();
  auto mid_frame = connect();
  const Bytes request = buildMessage(randomTransactionId());
  ASSERT_TRUE(mid_frame->write(ConstBytes(request).first(10)));
  auto answered = connect();
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(answered->write(buildMessage(id)));
  expectBindingSuccess(answered->readStun(), id, answered->localEndpoint());
  const UniqueFd mid_handshake = tcpConnect(tlsServer());
  ASSERT_TRUE(mid_handshake.valid());
  ASSERT_TRUE(sendAll(mid_handshake.get(), Bytes{std::byte{0x16}, std::byte{0x03}}));

  stopServer(SIGTERM);  // checks exit code 0 and "stopped"

  // An established connection gets a close_notify, then EOF.
  std::array<std::byte, 16> buffer{};
  std::size_t read = 0;
  const int rc = SSL_read_ex(idle->ssl(), buffer.data(), buffer.size(), &read);
  EXPECT_NE(rc, 1);
  EXPECT_EQ(SSL_get_error(idle->ssl(), rc), SSL_ERROR_ZERO_RETURN) << sslErrors();
  for (const int fd : {mid_frame->fd(), answered->fd(), mid_handshake.get()}) {
    EXPECT_TRUE(waitForPeerClose(fd, kReplyTimeout));
  }
}

// ---- Reloading the certificate (SIGHUP) ----

TEST_F(TlsTest, SighupServesARenewedCertificateToNewConnectionsAndKeepsOldOnes) {
  auto before = connect();
  // Renew: a new key and certificate written over the configured files.
  CertificateFiles renewed;
  ASSERT_EQ(writeSelfSignedCertificate(tempDir(), "renewed", renewed), "");
  std::filesystem::copy_file(renewed.certificate, tlsCertificate(),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(renewed.private_key, tlsPrivateKey(),
                             std::filesystem::copy_options::overwrite_existing);
  const std::string line = reload();
  ASSERT_NE(line.find("reloaded "), std::string::npos) << line << "\n" << serverLog();
  EXPECT_NE(line.find("tls"), std::string::npos) << line;

  // The connection made before the reload keeps working.
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(before->write(buildMessage(id)));
  expectBindingSuccess(before->readStun(), id, before->localEndpoint());
  // New connections get the new certificate: a client trusting only the old one refuses it,
  // a client trusting the new one connects.
  TlsClient old_trust(tlsServer(), context_.get());
  EXPECT_FALSE(old_trust.handshake()) << "the old certificate is still served";
  const ClientContext renewed_trust = clientContext(renewed.certificate);
  TlsClient fresh(tlsServer(), renewed_trust.get());
  ASSERT_TRUE(fresh.handshake()) << fresh.error();
  const TransactionId fresh_id = randomTransactionId();
  ASSERT_TRUE(fresh.write(buildMessage(fresh_id)));
  expectBindingSuccess(fresh.readStun(), fresh_id, fresh.localEndpoint());
}

TEST_F(TlsTest, SighupWithAnUnreadableKeyKeepsTheRunningCertificate) {
  ASSERT_EQ(writePrivateKey(tlsPrivateKey()), "");  // a key that matches no certificate
  const std::string line = reload();
  EXPECT_NE(line.find("reload rejected"), std::string::npos) << line;
  EXPECT_NE(line.find("tls.private_key"), std::string::npos) << line;
  EXPECT_TRUE(tlsBindingWorks()) << "the old certificate is no longer served";
}

}  // namespace
}  // namespace turnpike::test

// TlsContext and TlsSession, with no sockets: a server TlsSession and an OpenSSL client on memory
// BIOs, with the test moving bytes between them (tls_test_support.hpp).
#include "server/tls/tls_session.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "server/tls/tls_context.hpp"
#include "tests/support/test_certificate.hpp"
#include "tests/unit/server/tls_test_support.hpp"

namespace turnpike::server::tls {
namespace {

class TlsSessionTest : public TlsFilesTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(files_->error.empty()) << files_->error;
    auto loaded = TlsContext::load(serverConfig());
    ASSERT_TRUE(loaded) << loaded.error();
    server_context_ = std::move(*loaded);
    client_context_ = newClientContext();
  }
  void TearDown() override { ERR_clear_error(); }

  static TlsConfig serverConfig() {
    return {files_->files.certificate.string(), files_->files.private_key.string()};
  }

  // A client that trusts exactly the test certificate and checks the name "localhost".
  static ClientContext newClientContext() {
    ClientContext context(SSL_CTX_new(TLS_client_method()));
    EXPECT_EQ(
        SSL_CTX_load_verify_locations(context.get(), files_->files.certificate.c_str(), nullptr),
        1);
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    return context;
  }

  // A server session with a finished handshake with `client`.
  void handshake(Client& client, TlsSession& server) {
    Bytes plaintext;
    ASSERT_TRUE(pump(client, server, plaintext));
    ASSERT_TRUE(client.done());
    ASSERT_TRUE(server.handshakeDone());
    ASSERT_EQ(SSL_get_verify_result(client.ssl()), X509_V_OK);
    ASSERT_TRUE(plaintext.empty());
  }

  std::shared_ptr<TlsContext> server_context_;
  ClientContext client_context_;
};

// ---- Handshake ----

TEST_F(TlsSessionTest, HandshakeCompletesWithTls13ByDefault) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  EXPECT_FALSE(server.handshakeDone());
  handshake(client, server);
  EXPECT_EQ(SSL_version(client.ssl()), TLS1_3_VERSION);
  EXPECT_TRUE(server.errorText().empty());
}

TEST_F(TlsSessionTest, Tls12ClientGetsAnEcdheAeadSuite) {
  SSL_CTX_set_max_proto_version(client_context_.get(), TLS1_2_VERSION);
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);
  EXPECT_EQ(SSL_version(client.ssl()), TLS1_2_VERSION);
  const std::string cipher = SSL_get_cipher_name(client.ssl());
  EXPECT_EQ(cipher.rfind("ECDHE-", 0), 0U) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20-POLY1305") != std::string::npos)
      << cipher;
}

TEST_F(TlsSessionTest, HandshakeDeliveredOneByteAtATimeCompletes) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  Bytes plaintext;
  ASSERT_TRUE(pump(client, server, plaintext, /*chunk=*/1));
  EXPECT_TRUE(client.done());
  EXPECT_TRUE(server.handshakeDone());
}

// README: dtls listeners refuse DTLS 1.0 (RFC 8996 section 6), after a reload too.
TEST_F(TlsSessionTest, DtlsContextIsDtls12OnlyAfterReloadToo) {
  auto loaded = TlsContext::load(serverConfig(), nullptr, Protocol::kDtls);
  ASSERT_TRUE(loaded) << loaded.error();
  const std::shared_ptr<TlsContext> dtls = std::move(*loaded);
  for (int round = 0; round < 2; ++round) {
    const TlsContext::Ref context = dtls->acquire();
    EXPECT_EQ(SSL_CTX_get_min_proto_version(context.get()), DTLS1_2_VERSION) << round;
    const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), SSL_free);
    ASSERT_NE(ssl, nullptr);
    EXPECT_EQ(SSL_is_dtls(ssl.get()), 1) << round;
    ASSERT_TRUE(dtls->reload(serverConfig()));
  }
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server_context_->acquire().get()), TLS1_2_VERSION);
}

TEST_F(TlsSessionTest, Tls11ClientIsRefusedWithAProtocolVersionAlert) {
  // Security level 0 lets this OpenSSL build offer TLS 1.1 at all; otherwise the client would
  // fail on its own and the server would prove nothing.
  SSL_CTX_set_security_level(client_context_.get(), 0);
  ASSERT_EQ(SSL_CTX_set_cipher_list(client_context_.get(), "DEFAULT:@SECLEVEL=0"), 1);
  SSL_CTX_set_min_proto_version(client_context_.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(client_context_.get(), TLS1_1_VERSION);
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  ASSERT_EQ(client.handshake(), SSL_ERROR_WANT_READ);
  const Bytes client_hello = client.takeOutput();
  ASSERT_FALSE(client_hello.empty()) << "the client did not offer TLS 1.1";

  Bytes plaintext;
  const auto received = serverReceive(server, client_hello, plaintext);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error(), TlsError::kProtocol);
  EXPECT_FALSE(server.errorText().empty());
  EXPECT_FALSE(server.handshakeDone());

  // The server's alert tells the client why.
  client.give(drainServer(server));
  EXPECT_EQ(client.handshake(), SSL_ERROR_SSL);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
      << ERR_reason_error_string(ERR_peek_error());

  // The error is sticky.
  std::array<std::byte, 16> space{};
  const auto read = server.readPlaintext(space);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), TlsError::kProtocol);
  EXPECT_FALSE(server.receive(client_hello));
}

// ---- ALPN (RFC 7443) ----

// Sets the client's ALPN offer from names; returns the protocol the server selected ("" when
// none) after a completed handshake.
void offerAlpn(Client& client, std::initializer_list<std::string_view> names) {
  std::string list;
  for (const std::string_view name : names) {
    list += static_cast<char>(name.size());
    list += name;
  }
  ASSERT_EQ(SSL_set_alpn_protos(client.ssl(),
                                reinterpret_cast<const unsigned char*>(  // NOLINT
                                    list.data()),
                                static_cast<unsigned>(list.size())),
            0);
}

std::string selectedAlpn(const Client& client) {
  const unsigned char* name = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(client.ssl(), &name, &length);
  return name == nullptr ? "" : std::string(reinterpret_cast<const char*>(name), length);  // NOLINT
}

TEST_F(TlsSessionTest, AlpnSelectsStunTurnOrStunNatDiscovery) {
  struct Case {
    std::initializer_list<std::string_view> offer;
    std::string expected;
  };
  for (const auto& [offer, expected] :
       {Case{{"stun.turn"}, "stun.turn"}, Case{{"stun.nat-discovery"}, "stun.nat-discovery"},
        Case{{"h2", "stun.nat-discovery", "http/1.1"}, "stun.nat-discovery"},
        Case{{"stun.nat-discovery", "stun.turn"}, "stun.turn"},  // ours first
        Case{{}, ""}}) {
    TlsSession server(server_context_->acquire().get());
    Client client(client_context_.get());
    if (offer.size() > 0) {
      offerAlpn(client, offer);
    }
    handshake(client, server);
    EXPECT_EQ(selectedAlpn(client), expected);
  }
}

TEST_F(TlsSessionTest, AlpnWithoutStunIsRefusedWithNoApplicationProtocol) {
  for (const bool tls12 : {false, true}) {
    SCOPED_TRACE(tls12 ? "TLS 1.2" : "TLS 1.3");
    if (tls12) {
      SSL_CTX_set_max_proto_version(client_context_.get(), TLS1_2_VERSION);
    }
    TlsSession server(server_context_->acquire().get());
    Client client(client_context_.get());
    offerAlpn(client, {"h2", "http/1.1", "stun.turnx"});
    Bytes plaintext;
    const auto result = pump(client, server, plaintext);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), TlsError::kProtocol);
    EXPECT_FALSE(server.handshakeDone());
    EXPECT_NE(server.errorText().find("no application protocol"), std::string::npos)
        << server.errorText();
    EXPECT_EQ(client.handshake(), SSL_ERROR_SSL);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
        << ERR_reason_error_string(ERR_peek_error());
    ERR_clear_error();
  }
}

TEST_F(TlsSessionTest, Tls12ClientOfferingOnlyCbcSuitesIsRefused) {
  SSL_CTX_set_max_proto_version(client_context_.get(), TLS1_2_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(client_context_.get(), "ECDHE-ECDSA-AES128-SHA"), 1);
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  Bytes plaintext;
  const auto pumped = pump(client, server, plaintext);
  ASSERT_FALSE(pumped);
  EXPECT_EQ(pumped.error(), TlsError::kProtocol);
  EXPECT_FALSE(client.done());
}

struct GarbageCase {
  const char* name;
  Bytes bytes;
};

TEST_F(TlsSessionTest, GarbageInsteadOfAClientHelloIsAnError) {
  Bytes stun_header(20);
  stun_header[1] = std::byte{0x01};  // a plain STUN Binding request header
  stun_header[4] = std::byte{0x21};
  stun_header[5] = std::byte{0x12};
  stun_header[6] = std::byte{0xA4};
  stun_header[7] = std::byte{0x42};
  const std::vector<GarbageCase> cases{
      {"0xFF bytes", Bytes(32, std::byte{0xFF})},
      {"HTTP request", bytesOf("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
      {"STUN over the TLS port", stun_header},
      {"handshake record with a nonsense body",
       {std::byte{0x16}, std::byte{0x03}, std::byte{0x01}, std::byte{0x00}, std::byte{0x04},
        std::byte{0x01}, std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF}}},
  };
  for (const GarbageCase& garbage : cases) {
    SCOPED_TRACE(garbage.name);
    TlsSession server(server_context_->acquire().get());
    Bytes plaintext;
    const auto received = serverReceive(server, garbage.bytes, plaintext);
    ASSERT_FALSE(received);
    EXPECT_EQ(received.error(), TlsError::kProtocol);
    EXPECT_FALSE(server.errorText().empty());
    EXPECT_TRUE(plaintext.empty());
  }
}

TEST_F(TlsSessionTest, PartialClientHelloWaitsForMore) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  (void)client.handshake();
  const Bytes hello = client.takeOutput();
  ASSERT_GT(hello.size(), 10U);
  ASSERT_TRUE(server.receive(ConstBytes(hello).first(10)));
  EXPECT_EQ(server.pendingCiphertext(), 0U);
  EXPECT_FALSE(server.handshakeDone());
  ASSERT_TRUE(server.receive(ConstBytes(hello).subspan(10)));
  EXPECT_GT(server.pendingCiphertext(), 0U) << "no ServerHello";
}

// ---- Application data ----

TEST_F(TlsSessionTest, PlaintextRoundTripsBothWays) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);

  client.write(bytesOf("ping"));
  Bytes at_server;
  ASSERT_TRUE(serverReceive(server, client.takeOutput(), at_server));
  EXPECT_EQ(at_server, bytesOf("ping"));

  ASSERT_TRUE(server.writePlaintext(bytesOf("pong")));
  client.give(drainServer(server));
  EXPECT_EQ(client.read(), bytesOf("pong"));
}

TEST_F(TlsSessionTest, HundredKilobytesRoundTripBothWays) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);
  const Bytes data = pattern(100 * 1024);

  client.write(data);
  Bytes at_server;
  ASSERT_TRUE(serverReceive(server, client.takeOutput(), at_server));
  EXPECT_EQ(at_server, data);

  ASSERT_TRUE(server.writePlaintext(data));
  EXPECT_GT(server.pendingCiphertext(), data.size());  // several records, each with overhead
  client.give(drainServer(server));
  EXPECT_EQ(server.pendingCiphertext(), 0U);
  EXPECT_EQ(client.read(), data);
}

TEST_F(TlsSessionTest, ManyWritesReadAsOneStream) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);
  Bytes expected;
  for (int i = 0; i < 20; ++i) {
    const Bytes piece = pattern(static_cast<std::size_t>(37 * i + 1));
    ASSERT_TRUE(server.writePlaintext(piece));
    expected.insert(expected.end(), piece.begin(), piece.end());
  }
  client.give(drainServer(server));
  EXPECT_EQ(client.read(), expected);
}

TEST_F(TlsSessionTest, CorruptRecordAfterTheHandshakeIsAnError) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);
  client.write(bytesOf("hello"));
  Bytes record = client.takeOutput();
  record.back() ^= std::byte{0x01};  // breaks the AEAD tag
  // receive() buffers it; decryption fails on the read.
  ASSERT_TRUE(server.receive(record));
  std::array<std::byte, 64> space{};
  const auto read = server.readPlaintext(space);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), TlsError::kProtocol);
  EXPECT_GT(server.pendingCiphertext(), 0U) << "no bad_record_mac alert";
  EXPECT_FALSE(server.writePlaintext(bytesOf("x")));
}

TEST_F(TlsSessionTest, WriteBeforeTheHandshakeIsRefused) {
  TlsSession server(server_context_->acquire().get());
  EXPECT_FALSE(server.writePlaintext(bytesOf("early")));
  EXPECT_EQ(server.pendingCiphertext(), 0U);
}

// ---- Closing ----

TEST_F(TlsSessionTest, ClientCloseNotifyReadsAsClosed) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);
  ASSERT_EQ(SSL_shutdown(client.ssl()), 0);
  ASSERT_TRUE(server.receive(client.takeOutput()));
  std::array<std::byte, 64> space{};
  const auto read = server.readPlaintext(space);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), TlsError::kClosed);
}

TEST_F(TlsSessionTest, ServerCloseNotifyReachesTheClient) {
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  handshake(client, server);
  server.sendCloseNotify();
  client.give(drainServer(server));
  int last_error = 0;
  EXPECT_TRUE(client.read(&last_error).empty());
  EXPECT_EQ(last_error, SSL_ERROR_ZERO_RETURN);
}

TEST_F(TlsSessionTest, CloseNotifyBeforeTheHandshakeSendsNothing) {
  TlsSession server(server_context_->acquire().get());
  server.sendCloseNotify();
  EXPECT_EQ(server.pendingCiphertext(), 0U);
}

// ---- Resumption (session tickets are on) ----

TEST_F(TlsSessionTest, SecondConnectionResumesWithATicket) {
  SSL_SESSION* session = nullptr;
  {
    TlsSession server(server_context_->acquire().get());
    Client client(client_context_.get());
    handshake(client, server);
    (void)client.read();  // processes the NewSessionTicket messages
    session = SSL_get1_session(client.ssl());
    ASSERT_NE(session, nullptr);
    ASSERT_EQ(SSL_SESSION_is_resumable(session), 1);
    // A client freed without close_notify marks its session not resumable.
    (void)SSL_shutdown(client.ssl());
  }
  TlsSession server(server_context_->acquire().get());
  Client client(client_context_.get());
  ASSERT_EQ(SSL_set_session(client.ssl(), session), 1);
  SSL_SESSION_free(session);
  handshake(client, server);
  EXPECT_EQ(SSL_session_reused(client.ssl()), 1);
}

// ---- TlsContext ----

TEST_F(TlsSessionTest, ContextRefusesOldVersionsCompressionAndRenegotiation) {
  SSL_CTX* context = server_context_->acquire().get();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(context), TLS1_2_VERSION);
  const std::uint64_t options = SSL_CTX_get_options(context);
  EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0U);
  EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0U);
  EXPECT_NE(options & SSL_OP_CIPHER_SERVER_PREFERENCE, 0U);
  EXPECT_EQ(options & SSL_OP_NO_TICKET, 0U);
}

std::string loadError(const TlsConfig& config) {
  auto loaded = TlsContext::load(config);
  EXPECT_FALSE(loaded) << "loaded " << config.certificate << " / " << config.private_key;
  return loaded ? std::string() : loaded.error();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(TlsSessionTest, LoadNamesTheMissingCertificate) {
  const std::string missing = (files_->dir / "missing.pem").string();
  const std::string error = loadError({missing, serverConfig().private_key});
  EXPECT_TRUE(contains(error, "tls.certificate: cannot read " + missing + ": ")) << error;
  EXPECT_TRUE(contains(error, "No such file")) << error;
}

TEST_F(TlsSessionTest, LoadNamesTheMissingKey) {
  const std::string missing = (files_->dir / "missing.key").string();
  const std::string error = loadError({serverConfig().certificate, missing});
  EXPECT_TRUE(contains(error, "tls.private_key: cannot read " + missing + ": ")) << error;
  EXPECT_TRUE(contains(error, "No such file")) << error;
}

TEST_F(TlsSessionTest, LoadRejectsAKeyThatDoesNotMatch) {
  const std::string other = (files_->dir / "other.key.pem").string();
  const std::string error = loadError({serverConfig().certificate, other});
  EXPECT_TRUE(contains(error, "tls.private_key: " + other + " does not match")) << error;
  EXPECT_TRUE(contains(error, "mismatch")) << error;
}

TEST_F(TlsSessionTest, LoadRejectsFilesThatAreNotPem) {
  const std::filesystem::path junk = files_->dir / "junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  EXPECT_TRUE(contains(loadError({junk.string(), serverConfig().private_key}),
                       "tls.certificate: cannot read " + junk.string()));
  EXPECT_TRUE(contains(loadError({serverConfig().certificate, junk.string()}),
                       "tls.private_key: cannot read " + junk.string()));
  // The certificate and key the wrong way round.
  EXPECT_TRUE(contains(loadError({serverConfig().private_key, serverConfig().certificate}),
                       "tls.certificate"));
}

}  // namespace
}  // namespace turnpike::server::tls

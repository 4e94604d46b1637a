// Test support for TlsContext and TlsSession, with no sockets: a server TlsSession and an OpenSSL
// client on memory BIOs, with the test moving bytes between them. The certificate is generated
// per run.
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <array>
#include <cstring>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/tls/tls_session.hpp"
#include "tests/support/test_certificate.hpp"

namespace turnpike::server::tls {

using Bytes = std::vector<std::byte>;
using protocol::ConstBytes;

// How the test server's connection reads: at most this much ciphertext per "read".
inline constexpr std::size_t kReadChunk = 4096;

inline Bytes bytesOf(std::string_view text) {
  Bytes out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

inline Bytes pattern(std::size_t size) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::byte>((i * 7 + i / 251) & 0xFF);
  }
  return out;
}

// One directory with a certificate, its key and a key that matches nothing, for every test.
class Files {
 public:
  Files() {
    std::string pattern_path =
        (std::filesystem::temp_directory_path() / "turnpike-tls-XXXXXX").string();
    if (::mkdtemp(pattern_path.data()) != nullptr) {
      dir = pattern_path;
      error = test::writeSelfSignedCertificate(dir, "server", files);
      if (error.empty()) {
        error = test::writePrivateKey(dir / "other.key.pem");
      }
    } else {
      error = "mkdtemp failed";
    }
  }
  ~Files() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  Files(const Files&) = delete;
  Files& operator=(const Files&) = delete;

  std::filesystem::path dir;
  test::CertificateFiles files;
  std::string error;
};

// A test suite whose tests share one Files (made once per suite).
class TlsFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { files_ = new Files(); }
  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
  }
  static inline Files* files_ = nullptr;
};

struct ClientContextFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
using ClientContext = std::unique_ptr<SSL_CTX, ClientContextFree>;

// The peer of the session under test: an OpenSSL client on two memory BIOs.
class Client {
 public:
  explicit Client(SSL_CTX* context) : ssl_(SSL_new(context)) {
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl_, in, out);
    SSL_set_connect_state(ssl_);
    SSL_set1_host(ssl_, "localhost");
  }
  ~Client() { SSL_free(ssl_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] SSL* ssl() const { return ssl_; }
  // Advances the client's handshake; the SSL_get_error code (SSL_ERROR_NONE when done).
  int handshake() { return SSL_get_error(ssl_, SSL_do_handshake(ssl_)); }
  [[nodiscard]] bool done() const { return SSL_is_init_finished(ssl_) == 1; }

  Bytes takeOutput() {
    Bytes out(BIO_ctrl_pending(SSL_get_wbio(ssl_)));
    std::size_t read = 0;
    if (!out.empty()) {
      EXPECT_EQ(BIO_read_ex(SSL_get_wbio(ssl_), out.data(), out.size(), &read), 1);
    }
    return out;
  }
  void give(ConstBytes ciphertext) {
    std::size_t written = 0;
    ASSERT_EQ(BIO_write_ex(SSL_get_rbio(ssl_), ciphertext.data(), ciphertext.size(), &written), 1);
  }
  void write(ConstBytes plaintext) {
    std::size_t written = 0;
    ASSERT_EQ(SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written), 1);
    ASSERT_EQ(written, plaintext.size());
  }
  // Everything decryptable now; last_error is the SSL_get_error code that stopped reading.
  Bytes read(int* last_error = nullptr) {
    Bytes out;
    std::array<std::byte, 1500> buffer{};
    while (true) {
      std::size_t n = 0;
      const int rc = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
      if (rc != 1) {
        if (last_error != nullptr) {
          *last_error = SSL_get_error(ssl_, rc);
        }
        return out;
      }
      out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }

 private:
  SSL* ssl_;
};

// Drains the session's pending ciphertext the way the connection does: through a small buffer.
inline Bytes drainServer(TlsSession& server) {
  Bytes out;
  std::array<std::byte, kReadChunk> scratch{};
  while (server.pendingCiphertext() > 0) {
    const std::size_t n = server.takeCiphertext(scratch);
    if (n == 0) {
      ADD_FAILURE() << "pending ciphertext that cannot be taken";
      break;
    }
    out.insert(out.end(), scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

// Feeds ciphertext to the server in chunks and reads plaintext into `plaintext` through a small
// buffer, as server/uv/tcp.cpp does. Returns the first error.
inline std::expected<void, TlsError> serverReceive(TlsSession& server, ConstBytes ciphertext,
                                                   Bytes& plaintext,
                                                   std::size_t chunk = kReadChunk) {
  while (!ciphertext.empty()) {
    const std::size_t n = std::min(chunk, ciphertext.size());
    if (auto received = server.receive(ciphertext.first(n)); !received) {
      return received;
    }
    ciphertext = ciphertext.subspan(n);
    std::array<std::byte, 1000> space{};
    while (true) {
      const auto read = server.readPlaintext(space);
      if (!read) {
        return std::unexpected(read.error());
      }
      if (*read == 0) {
        break;
      }
      plaintext.insert(plaintext.end(), space.begin(),
                       space.begin() + static_cast<std::ptrdiff_t>(*read));
    }
  }
  return {};
}

// Moves bytes both ways until neither side has anything to send. Stops at the server's first
// error, after handing its alert (if any) to the client.
inline std::expected<void, TlsError> pump(Client& client, TlsSession& server,
                                          Bytes& server_plaintext, std::size_t chunk = kReadChunk) {
  for (int round = 0; round < 50; ++round) {
    if (!client.done()) {
      (void)client.handshake();
    }
    const Bytes to_server = client.takeOutput();
    const auto received = serverReceive(server, to_server, server_plaintext, chunk);
    const Bytes to_client = drainServer(server);
    client.give(to_client);
    if (!received) {
      return received;
    }
    if (to_server.empty() && to_client.empty()) {
      return {};
    }
  }
  ADD_FAILURE() << "the peers never went quiet";
  return {};
}

}  // namespace turnpike::server::tls

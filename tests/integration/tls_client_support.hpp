// Pieces the TLS client tests share: a client context that trusts only the test certificate,
// blocking sockets whose reads and writes time out, and a TLS client connection on one.
#pragma once

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/server_fixture.hpp"
#include "tests/integration/turn_client.hpp"

namespace turnpike::test {

struct ContextFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
using ClientContext = std::unique_ptr<SSL_CTX, ContextFree>;

// A client that trusts only `certificate` (clients check the name "localhost").
inline ClientContext clientContext(const std::filesystem::path& certificate) {
  ClientContext context(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(SSL_CTX_load_verify_locations(context.get(), certificate.c_str(), nullptr), 1);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  return context;
}

// Every read and write on fd bounded by `timeout`.
inline bool setTimeouts(int fd, Millis timeout) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timeval limit{static_cast<time_t>(seconds.count()),
                      static_cast<suseconds_t>((timeout - seconds).count() * 1000)};
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)) == 0 &&
         ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) == 0;
}

// Makes a connected socket blocking, with every read and write bounded by `timeout`.
inline bool makeBlockingWithTimeouts(int fd, Millis timeout) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 && setTimeouts(fd, timeout);
}

// Drains OpenSSL's error queue into one line.
inline std::string sslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, 256> line{};
    ERR_error_string_n(code, line.data(), line.size());
    text += std::string(line.data()) + "; ";
  }
  return text;
}

// One TLS connection to the server on a blocking socket whose reads and writes time out. `alpn`
// (one protocol name) is offered when not empty; `prefix` goes out in the clear before the
// ClientHello (a PROXY header).
class TlsClient {
 public:
  TlsClient(const protocol::Endpoint& server, SSL_CTX* context, const std::string& alpn = {},
            const Bytes& prefix = {})
      : fd_(tcpConnect(server)) {
    if (!fd_.valid() || !makeBlockingWithTimeouts(fd_.get(), kReplyTimeout)) {
      error_ = "tcp connect to " + server.toString() + " failed";
      return;
    }
    if (!prefix.empty() && !sendAll(fd_.get(), prefix)) {
      error_ = "sending the prefix failed";
      return;
    }
    ssl_ = SSL_new(context);
    SSL_set_fd(ssl_, fd_.get());
    SSL_set1_host(ssl_, "localhost");
    if (!alpn.empty()) {
      // The wire format: one length byte, then the name.
      std::string list(1, static_cast<char>(alpn.size()));
      list += alpn;
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(list.data()),  // NOLINT
                          static_cast<unsigned>(list.size()));
    }
  }
  ~TlsClient() { SSL_free(ssl_); }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Runs the handshake; false with error() set when it fails or times out.
  bool handshake() {
    if (ssl_ == nullptr) {
      return false;
    }
    ERR_clear_error();
    if (const int rc = SSL_connect(ssl_); rc != 1) {
      last_error_ = SSL_get_error(ssl_, rc);
      reason_ = ERR_GET_REASON(ERR_peek_error());
      error_ = "SSL_connect: error " + std::to_string(last_error_) + ": " + sslErrors();
      return false;
    }
    return true;
  }

  bool write(protocol::ConstBytes plaintext) {
    std::size_t written = 0;
    if (SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written) != 1) {
      error_ = "SSL_write: " + sslErrors();
      return false;
    }
    return written == plaintext.size();
  }

  // Exactly n bytes of plaintext, or nullopt (timeout, close, error).
  std::optional<Bytes> readExactly(std::size_t n) {
    Bytes out(n);
    std::size_t have = 0;
    while (have < n) {
      std::size_t got = 0;
      if (const int rc = SSL_read_ex(ssl_, out.data() + have, n - have, &got); rc != 1) {
        last_error_ = SSL_get_error(ssl_, rc);
        error_ = "SSL_read: error " + std::to_string(last_error_) + ": " + sslErrors();
        return std::nullopt;
      }
      have += got;
    }
    return out;
  }

  // One STUN message framed by its header length.
  std::optional<Bytes> readStun() {
    auto header = readExactly(protocol::kHeaderSize);
    if (!header) {
      return std::nullopt;
    }
    auto body = readExactly(protocol::load16(*header, 2));
    if (!body) {
      return std::nullopt;
    }
    header->insert(header->end(), body->begin(), body->end());
    return header;
  }

  // The protocol the server selected by ALPN ("" when none).
  [[nodiscard]] std::string alpn() const {
    const unsigned char* name = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(ssl_, &name, &length);
    return name == nullptr ? ""
                           : std::string(reinterpret_cast<const char*>(name), length);  // NOLINT
  }

  // Send and receive for TurnClient; each receive bounded by its own timeout.
  [[nodiscard]] StreamIo io() {
    return {[this](protocol::ConstBytes data) { return write(data); },
            [this](std::size_t n, Millis timeout) -> std::optional<Bytes> {
              setTimeouts(fd_.get(), std::max(timeout, Millis{1}));
              return readExactly(n);
            }};
  }

  [[nodiscard]] SSL* ssl() const { return ssl_; }
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] protocol::Endpoint localEndpoint() const { return localEndpointOf(fd_.get()); }
  [[nodiscard]] const std::string& error() const { return error_; }
  // SSL_get_error() and the OpenSSL reason code of the last failure.
  [[nodiscard]] int lastError() const { return last_error_; }
  [[nodiscard]] int reason() const { return reason_; }

 private:
  UniqueFd fd_;
  SSL* ssl_ = nullptr;
  std::string error_;
  int last_error_ = 0;
  int reason_ = 0;
};

}  // namespace turnpike::test

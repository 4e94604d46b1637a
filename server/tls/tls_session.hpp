// The server end of one TLS connection, with no I/O: ciphertext goes in through receive() and
// comes out through takeCiphertext(); plaintext goes the other way. OpenSSL works on two memory
// BIOs, so the caller (server/uv/tcp.cpp, or a test) owns the socket and all waiting.
//
//   session.receive(bytes_from_socket);            // drives the handshake
//   while (n = session.readPlaintext(space)) ...    // 0: needs more ciphertext
//   session.writePlaintext(reply);
//   while (session.pendingCiphertext() > 0) send(buffer.first(session.takeCiphertext(buffer)));
//
// After every receive(), readPlaintext() and writePlaintext() call the caller must drain the
// pending ciphertext: handshake records, session tickets and alerts are produced by all three.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <expected>
#include <string_view>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::server::tls {

enum class TlsError : std::uint8_t {
  kProtocol,  // handshake failure, bad record, refused version, or any other OpenSSL error
  kClosed,    // the peer sent close_notify
};

[[nodiscard]] std::string_view toString(TlsError error);

class TlsSession {
 public:
  // A server session; the SSL holds its own reference to the context. Not thread-safe: one
  // session belongs to one loop thread.
  explicit TlsSession(SSL_CTX* context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Takes a copy of ciphertext from the peer and advances the handshake as far as it can.
  // Errors are sticky: every later call returns the same error.
  [[nodiscard]] std::expected<void, TlsError> receive(protocol::ConstBytes ciphertext);

  // Decrypts into out; returns the number of bytes, 0 when more ciphertext is needed (or out is
  // empty). kClosed after the peer's close_notify.
  [[nodiscard]] std::expected<std::size_t, TlsError> readPlaintext(protocol::MutableBytes out);

  // Encrypts all of plaintext into the pending ciphertext. Only after handshakeDone(); still
  // after the peer's close_notify (kClosed closes only the peer's sending side, RFC 8446 section
  // 6.1), so a spliced connection can pass on a half close.
  [[nodiscard]] std::expected<void, TlsError> writePlaintext(protocol::ConstBytes plaintext);

  // Ciphertext waiting to be sent, and a copy-out that removes up to out.size() bytes of it.
  [[nodiscard]] std::size_t pendingCiphertext() const;
  [[nodiscard]] std::size_t takeCiphertext(protocol::MutableBytes out);

  // Queues a close_notify alert (drain it like any ciphertext). Does nothing unless the
  // handshake is done and the session has not failed (the peer's close_notify is no failure).
  void sendCloseNotify();

  // Hands the pending ciphertext to `sink` (a callable taking ConstBytes and returning whether
  // to go on) in pieces of at most scratch.size() bytes, copied through scratch.
  template <typename Sink>
  void drainCiphertext(protocol::MutableBytes scratch, Sink&& sink) {
    while (pendingCiphertext() > 0) {
      const std::size_t taken = takeCiphertext(scratch);
      if (taken == 0 || !sink(protocol::ConstBytes(scratch.first(taken)))) {
        return;
      }
    }
  }
  [[nodiscard]] bool handshakeDone() const;
  // Received bytes not yet returned by readPlaintext: decrypted ones, or ciphertext (perhaps not a
  // whole record). False means another readPlaintext would only say it needs more.
  [[nodiscard]] bool hasBufferedInput() const;
  // OpenSSL's reason for the last kProtocol error, for logs ("" when none).
  [[nodiscard]] std::string_view errorText() const { return error_text_.data(); }

 private:
  // Maps an SSL_* return value: ok for "wants more", otherwise a sticky error.
  std::expected<void, TlsError> check(int rc);
  std::expected<void, TlsError> fail(TlsError error, std::string_view fallback_text);
  // No error, or only the peer's close_notify.
  [[nodiscard]] bool writable() const;

  SSL* ssl_ = nullptr;
  BIO* read_bio_ = nullptr;   // ciphertext from the peer; owned by ssl_
  BIO* write_bio_ = nullptr;  // ciphertext to the peer; owned by ssl_
  std::expected<void, TlsError> state_;
  std::array<char, 160> error_text_{};
};

}  // namespace turnpike::server::tls

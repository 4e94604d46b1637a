#include "server/tls/tls_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace turnpike::server::tls {
namespace {

// SSL_get_error needs an empty error queue before each call; every failure below drains it
// (fail()), so it is nearly always empty already. ERR_clear_error clears all 16 slots even then,
// which cost 2-3% of a TLS client's relaying; a peek is a pointer compare.
void clearErrors() {
  if (ERR_peek_error() != 0) {
    ERR_clear_error();
  }
}

}  // namespace

std::string_view toString(TlsError error) {
  switch (error) {
    case TlsError::kProtocol:
      return "tls_protocol_error";
    case TlsError::kClosed:
      return "tls_closed";
  }
  return "unknown";
}

TlsSession::TlsSession(SSL_CTX* context) {
  ERR_clear_error();
  ssl_ = context == nullptr ? nullptr : SSL_new(context);
  read_bio_ = BIO_new(BIO_s_mem());
  write_bio_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || read_bio_ == nullptr || write_bio_ == nullptr) {
    BIO_free(read_bio_);
    BIO_free(write_bio_);
    read_bio_ = write_bio_ = nullptr;
    (void)fail(TlsError::kProtocol, "cannot create a TLS session");
    return;
  }
  // An empty read BIO means "wait for more", not end of file.
  BIO_set_mem_eof_return(read_bio_, -1);
  SSL_set_bio(ssl_, read_bio_, write_bio_);  // ssl_ owns both from here
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

std::expected<void, TlsError> TlsSession::fail(TlsError error, std::string_view fallback_text) {
  // The oldest queued error is the cause; later ones are consequences.
  const unsigned long code = ERR_get_error();
  if (code != 0) {
    ERR_error_string_n(code, error_text_.data(), error_text_.size());
  } else {
    const std::size_t n = std::min(fallback_text.size(), error_text_.size() - 1);
    std::memcpy(error_text_.data(), fallback_text.data(), n);
    error_text_.at(n) = '\0';
  }
  // The queue is per thread and shared by every session on it: leave nothing behind.
  ERR_clear_error();
  state_ = std::unexpected(error);
  return state_;
}

std::expected<void, TlsError> TlsSession::check(int rc) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_NONE:
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  // memory BIOs never fill, but it is not an error either
      return {};
    case SSL_ERROR_ZERO_RETURN:
      return fail(TlsError::kClosed, "close_notify received");
    case SSL_ERROR_SYSCALL:
      return fail(TlsError::kProtocol, "unexpected end of TLS stream");
    default:
      return fail(TlsError::kProtocol, "TLS error");
  }
}

std::expected<void, TlsError> TlsSession::receive(protocol::ConstBytes ciphertext) {
  if (!state_ || ciphertext.empty()) {
    return state_;
  }
  clearErrors();
  std::size_t written = 0;
  if (BIO_write_ex(read_bio_, ciphertext.data(), ciphertext.size(), &written) != 1 ||
      written != ciphertext.size()) {
    return fail(TlsError::kProtocol, "cannot buffer received ciphertext");
  }
  if (SSL_is_init_finished(ssl_) == 0) {
    // Consumes the client's flight and queues the server's in write_bio_.
    if (const int rc = SSL_do_handshake(ssl_); rc != 1) {
      return check(rc);
    }
  }
  return {};
}

std::expected<std::size_t, TlsError> TlsSession::readPlaintext(protocol::MutableBytes out) {
  if (!state_) {
    return std::unexpected(state_.error());
  }
  if (out.empty()) {
    return 0;
  }
  clearErrors();
  std::size_t read = 0;
  if (const int rc = SSL_read_ex(ssl_, out.data(), out.size(), &read); rc != 1) {
    if (auto checked = check(rc); !checked) {
      return std::unexpected(checked.error());
    }
    return 0;
  }
  return read;
}

bool TlsSession::writable() const { return state_ || state_.error() == TlsError::kClosed; }

std::expected<void, TlsError> TlsSession::writePlaintext(protocol::ConstBytes plaintext) {
  if (!writable()) {
    return state_;
  }
  if (plaintext.empty()) {
    return {};
  }
  if (SSL_is_init_finished(ssl_) == 0) {
    // A usage error, not a network one: leave the session usable.
    return std::unexpected(TlsError::kProtocol);
  }
  clearErrors();
  std::size_t written = 0;
  // Without SSL_MODE_ENABLE_PARTIAL_WRITE this writes everything or fails; a memory BIO does
  // not block and renegotiation is off, so it cannot be asked to retry.
  if (const int rc = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written);
      rc != 1 || written != plaintext.size()) {
    (void)check(rc);
    if (!state_ && state_.error() == TlsError::kProtocol) {
      return state_;
    }
    return fail(TlsError::kProtocol, "TLS write failed");
  }
  return {};
}

std::size_t TlsSession::pendingCiphertext() const {
  return write_bio_ == nullptr ? 0 : BIO_ctrl_pending(write_bio_);
}

std::size_t TlsSession::takeCiphertext(protocol::MutableBytes out) {
  std::size_t read = 0;
  if (write_bio_ == nullptr || out.empty() ||
      BIO_read_ex(write_bio_, out.data(), out.size(), &read) != 1) {
    return 0;
  }
  return read;
}

void TlsSession::sendCloseNotify() {
  if (!writable() || SSL_is_init_finished(ssl_) == 0) {
    return;
  }
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // 0: ours is queued and the peer's not yet seen, which is fine
  ERR_clear_error();
}

bool TlsSession::hasBufferedInput() const {
  return ssl_ != nullptr && (SSL_has_pending(ssl_) == 1 || BIO_ctrl_pending(read_bio_) > 0);
}

bool TlsSession::handshakeDone() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_); }

}  // namespace turnpike::server::tls

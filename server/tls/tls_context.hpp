// The server side SSL_CTX shared by every TLS listener of a Server (RFC 8656 section 3.1: TURN
// over TLS; RFC 8489 section 6.2.2: STUN over TLS). Loaded once at start-up; OpenSSL lets every
// worker thread create sessions from it concurrently.
#pragma once

#include <openssl/types.h>

#include <expected>
#include <memory>
#include <string>

#include "server/config/config.hpp"

namespace turnpike::server::tls {

class TlsContext {
 public:
  // Builds a server context: TLS 1.2 minimum, ECDHE + AEAD cipher suites for TLS 1.2 (OpenSSL's
  // default TLS 1.3 suites), server cipher preference, no compression, no renegotiation, session
  // tickets on. Loads the PEM certificate chain and private key and checks that they match.
  // Errors name the config key and file, and carry OpenSSL's reason, e.g.
  //   "tls.certificate: cannot read /etc/cert.pem: error:80000002:system library::No such file..."
  [[nodiscard]] static std::expected<std::shared_ptr<TlsContext>, std::string> load(
      const TlsConfig& config);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Valid for the lifetime of this object; each SSL made from it holds its own reference.
  [[nodiscard]] SSL_CTX* get() const { return context_; }

 private:
  explicit TlsContext(SSL_CTX* context) : context_(context) {}

  SSL_CTX* context_;
};

}  // namespace turnpike::server::tls

// The server side SSL_CTX shared by every TLS listener of a Server (RFC 8656 section 3.1: TURN
// over TLS; RFC 8489 section 6.2.2: STUN over TLS). Loaded at start-up and again on reload;
// every worker thread creates sessions from the current one.
#pragma once

#include <openssl/types.h>

#include <expected>
#include <memory>
#include <mutex>
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

  // Builds a new context from the files (SIGHUP: renewed certificates) and makes it current.
  // Connections already open keep the one they started with. On error nothing changes.
  [[nodiscard]] std::expected<void, std::string> reload(const TlsConfig& config);

  // A counted reference to the current context, for starting one session; any thread.
  struct RefDeleter {
    void operator()(SSL_CTX* context) const;
  };
  using Ref = std::unique_ptr<SSL_CTX, RefDeleter>;
  [[nodiscard]] Ref acquire() const;

 private:
  explicit TlsContext(SSL_CTX* context) : context_(context) {}

  mutable std::mutex mutex_;  // guards context_ (swapped by reload)
  SSL_CTX* context_;
};

}  // namespace turnpike::server::tls

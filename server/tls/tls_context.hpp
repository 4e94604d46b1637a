// The server side SSL_CTX shared by every TLS listener of a Server (RFC 8656 section 3.1: TURN
// over TLS; RFC 8489 section 6.2.2: STUN over TLS). Loaded at start-up and again on reload;
// every worker thread creates sessions from the current one.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "server/config/config.hpp"
#include "server/tls/ticket_keys.hpp"

namespace turnpike::server::tls {

// kTls: TLS over TCP (tls and auto listeners). kDtls: DTLS 1.2 over UDP (RFC 7350, dtls
// listeners): the same certificate, key, TLS 1.2 cipher list, ALPN and tickets, DTLS 1.0 refused,
// and stateless cookies (dtls_cookie.hpp).
enum class Protocol : std::uint8_t { kTls, kDtls };

class TlsContext {
 public:
  // Builds a server context: TLS 1.2 minimum, tls.ciphers for TLS 1.2 and tls.ciphersuites for
  // TLS 1.3 (by default ECDHE + AEAD, and OpenSSL's TLS 1.3 suites), server cipher preference,
  // no compression, no renegotiation, session tickets under rotating keys (ticket_keys.hpp).
  // Loads the PEM certificate chain and private key and checks that they match.
  // Errors name the config key and file, and carry OpenSSL's reason, e.g.
  //   "tls.certificate: cannot read /etc/cert.pem: error:80000002:system library::No such file..."
  // `clock` times the ticket key rotation: steady_clock unless given (tests pass a fake one).
  [[nodiscard]] static std::expected<std::shared_ptr<TlsContext>, std::string> load(
      const TlsConfig& config, TicketClock clock = nullptr, Protocol protocol = Protocol::kTls);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Builds a new context from the files (SIGHUP: renewed certificates) and the cipher settings,
  // and makes it current. Connections already open keep the one they started with. The ticket
  // keys carry over (a new ticket_key_rotation applies from now on), so clients resume across a
  // reload. On error nothing changes.
  [[nodiscard]] std::expected<void, std::string> reload(const TlsConfig& config);

  // A counted reference to the current context, for starting one session; any thread.
  struct RefDeleter {
    void operator()(SSL_CTX* context) const;
  };
  using Ref = std::unique_ptr<SSL_CTX, RefDeleter>;
  [[nodiscard]] Ref acquire() const;

  // The session ticket keys shared by every context this object has made.
  [[nodiscard]] const TicketKeys& ticketKeys() const { return *ticket_keys_; }

 private:
  TlsContext(SSL_CTX* context, std::shared_ptr<TicketKeys> ticket_keys, Protocol protocol)
      : ticket_keys_(std::move(ticket_keys)), protocol_(protocol), context_(context) {}

  // Each SSL_CTX holds a reference too (ex_data): a context may outlive this object.
  std::shared_ptr<TicketKeys> ticket_keys_;
  Protocol protocol_;
  mutable std::mutex mutex_;  // guards context_ (swapped by reload)
  SSL_CTX* context_;
};

}  // namespace turnpike::server::tls

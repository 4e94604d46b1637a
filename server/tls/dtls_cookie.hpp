// DTLS cookies (RFC 6347 section 4.2.1, used by RFC 7350 for STUN/TURN over DTLS): the
// HelloVerifyRequest cookie is an HMAC-SHA256 over the client's address and port, keyed by a
// secret, so a server creates no state for a ClientHello until the client proves it receives
// datagrams at its source address. Stateless: nothing is stored per cookie.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <span>

#include "protocol/stun/endpoint.hpp"

namespace turnpike::server::tls {

// The DTLS 1.2 cookie is at most 255 bytes; ours is a 32-byte HMAC-SHA256.
inline constexpr std::size_t kDtlsCookieSize = 32;
using DtlsCookie = std::array<unsigned char, kDtlsCookieSize>;
using DtlsCookieSecret = std::array<std::byte, 32>;

// HMAC-SHA256 under `secret` of the client's family, address bytes and port.
[[nodiscard]] DtlsCookie makeDtlsCookie(const DtlsCookieSecret& secret,
                                        const protocol::Endpoint& client);

// Whether `cookie` is the one makeDtlsCookie gives for `client` (constant-time compare).
[[nodiscard]] bool checkDtlsCookie(const DtlsCookieSecret& secret, const protocol::Endpoint& client,
                                   std::span<const unsigned char> cookie);

// The per-process secret: random, made once on first use (RAND_bytes), never written anywhere.
[[nodiscard]] const DtlsCookieSecret& processDtlsCookieSecret();

// Installs the cookie callbacks on a DTLS SSL_CTX (TlsContext does, for Protocol::kDtls). The
// callbacks read the client address from the SSL's ex_data slot (setDtlsCookieClient); an SSL
// without one gets no cookie and accepts none.
void installDtlsCookieCallbacks(SSL_CTX* context);
// Points `ssl` at the client whose ClientHello it handles next; `client` must outlive that use.
void setDtlsCookieClient(SSL* ssl, const protocol::Endpoint* client);

}  // namespace turnpike::server::tls

// DTLS cookies (RFC 6347 section 4.2.1, used by RFC 7350 for STUN/TURN over DTLS): the
// HelloVerifyRequest cookie is an HMAC-SHA256 over the client's address and port and the current
// minute, keyed by a secret, so a server creates no state for a ClientHello until the client proves
// it receives datagrams at its source address. Stateless: nothing is stored per cookie.
#pragma once

#include <openssl/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/stun/endpoint.hpp"

namespace turnpike::server::tls {

// The DTLS 1.2 cookie is at most 255 bytes; ours is a 32-byte HMAC-SHA256.
inline constexpr std::size_t kDtlsCookieSize = 32;
using DtlsCookie = std::array<unsigned char, kDtlsCookieSize>;
using DtlsCookieSecret = std::array<std::byte, 32>;

// Cookies are made for a time period (dtlsCookiePeriod) and accepted in it and the next: a
// client answers a HelloVerifyRequest within a round trip, and a cookie seen once is not good
// for the life of the process.
inline constexpr std::chrono::seconds kDtlsCookiePeriod{60};
[[nodiscard]] std::uint64_t dtlsCookiePeriod(std::chrono::steady_clock::time_point now);

// HMAC-SHA256 under `secret` of the period, the client's family, address bytes and port.
[[nodiscard]] DtlsCookie makeDtlsCookie(const DtlsCookieSecret& secret,
                                        const protocol::Endpoint& client, std::uint64_t period);

// Whether `cookie` is the one makeDtlsCookie gives for `client` in `period` or the one before
// (constant-time compares).
[[nodiscard]] bool checkDtlsCookie(const DtlsCookieSecret& secret, const protocol::Endpoint& client,
                                   std::span<const unsigned char> cookie, std::uint64_t period);

// The per-process secret: random, made once on first use (RAND_bytes), never written anywhere.
[[nodiscard]] const DtlsCookieSecret& processDtlsCookieSecret();

// Installs the cookie callbacks on a DTLS SSL_CTX (TlsContext does, for Protocol::kDtls). The
// callbacks read the client address from the SSL's ex_data slot (setDtlsCookieClient); an SSL
// without one gets no cookie and accepts none.
void installDtlsCookieCallbacks(SSL_CTX* context);
// Points `ssl` at the client whose ClientHello it handles next; `client` must outlive that use.
void setDtlsCookieClient(SSL* ssl, const protocol::Endpoint* client);

}  // namespace turnpike::server::tls

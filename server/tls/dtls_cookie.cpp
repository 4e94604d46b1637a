#include "server/tls/dtls_cookie.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "auth/hmac.hpp"
#include "protocol/stun/byte_io.hpp"

namespace turnpike::server::tls {
namespace {

int clientIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const protocol::Endpoint* cookieClient(SSL* ssl) {
  return static_cast<const protocol::Endpoint*>(SSL_get_ex_data(ssl, clientIndex()));
}

// OpenSSL's contract: 1 with the cookie in `cookie` (room for DTLS1_COOKIE_LENGTH bytes) and its
// length in `length`, 0 on failure.
int generateCookie(SSL* ssl, unsigned char* cookie, unsigned int* length) {
  const protocol::Endpoint* client = cookieClient(ssl);
  if (client == nullptr) {
    return 0;
  }
  const DtlsCookie made = makeDtlsCookie(processDtlsCookieSecret(), *client,
                                         dtlsCookiePeriod(std::chrono::steady_clock::now()));
  std::memcpy(cookie, made.data(), made.size());
  *length = static_cast<unsigned int>(made.size());
  return 1;
}

// 1 when the cookie is valid, 0 otherwise (OpenSSL answers with a new HelloVerifyRequest).
int verifyCookie(SSL* ssl, const unsigned char* cookie, unsigned int length) {
  const protocol::Endpoint* client = cookieClient(ssl);
  return client != nullptr &&
                 checkDtlsCookie(processDtlsCookieSecret(), *client, std::span(cookie, length),
                                 dtlsCookiePeriod(std::chrono::steady_clock::now()))
             ? 1
             : 0;
}

}  // namespace

std::uint64_t dtlsCookiePeriod(std::chrono::steady_clock::time_point now) {
  return static_cast<std::uint64_t>(now.time_since_epoch() / kDtlsCookiePeriod);
}

DtlsCookie makeDtlsCookie(const DtlsCookieSecret& secret, const protocol::Endpoint& client,
                          std::uint64_t period) {
  std::array<std::byte, 11> period_family_port{};
  protocol::store64(period_family_port, 0, period);
  protocol::store8(period_family_port, 8, static_cast<std::uint8_t>(client.address.family()));
  protocol::store16(period_family_port, 9, client.port);
  const auto address =
      std::as_bytes(std::span(client.address.bytes()).first(client.address.size()));
  const auth::HmacSha256 mac = auth::hmacSha256(secret, {period_family_port, address});
  DtlsCookie out{};
  std::ranges::transform(mac, out.begin(),
                         [](std::byte b) { return static_cast<unsigned char>(b); });
  return out;
}

bool checkDtlsCookie(const DtlsCookieSecret& secret, const protocol::Endpoint& client,
                     std::span<const unsigned char> cookie, std::uint64_t period) {
  if (cookie.size() != kDtlsCookieSize) {
    return false;
  }
  const auto matches = [&](std::uint64_t made_in) {
    const DtlsCookie expected = makeDtlsCookie(secret, client, made_in);
    return CRYPTO_memcmp(expected.data(), cookie.data(), expected.size()) == 0;
  };
  return matches(period) || (period > 0 && matches(period - 1));
}

const DtlsCookieSecret& processDtlsCookieSecret() {
  static const DtlsCookieSecret secret = [] {
    DtlsCookieSecret out{};
    if (RAND_bytes(protocol::asUchar(protocol::MutableBytes(out)), static_cast<int>(out.size())) !=
        1) {
      // No CSPRNG output: fall back to the OS's random device rather than a fixed key.
      std::random_device device;
      for (std::byte& b : out) {
        b = static_cast<std::byte>(device());
      }
    }
    return out;
  }();
  return secret;
}

void installDtlsCookieCallbacks(SSL_CTX* context) {
  SSL_CTX_set_cookie_generate_cb(context, generateCookie);
  SSL_CTX_set_cookie_verify_cb(context, verifyCookie);
}

void setDtlsCookieClient(SSL* ssl, const protocol::Endpoint* client) {
  SSL_set_ex_data(ssl, clientIndex(), const_cast<protocol::Endpoint*>(client));
}

}  // namespace turnpike::server::tls

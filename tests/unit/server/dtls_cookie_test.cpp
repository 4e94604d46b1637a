// DTLS cookies (server/tls/dtls_cookie.hpp): an HMAC over the client address and port under a
// secret, so a HelloVerifyRequest needs no per-client state.
#include "server/tls/dtls_cookie.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace turnpike::server::tls {
namespace {

using protocol::Endpoint;
using protocol::IpAddress;

DtlsCookieSecret secretOf(std::uint8_t fill) {
  DtlsCookieSecret secret{};
  secret.fill(std::byte{fill});
  return secret;
}

const Endpoint kClient{IpAddress::v4({192, 0, 2, 1}), 40000};

TEST(DtlsCookie, SameClientAndSecretSameCookie) {
  const DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient);
  EXPECT_EQ(cookie, makeDtlsCookie(secretOf(1), kClient));
  EXPECT_TRUE(checkDtlsCookie(secretOf(1), kClient, cookie));
}

TEST(DtlsCookie, BoundToAddressPortAndSecret) {
  const DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient);
  const std::vector<Endpoint> others{
      Endpoint{IpAddress::v4({192, 0, 2, 2}), 40000},
      Endpoint{IpAddress::v4({192, 0, 2, 1}), 40001},
      Endpoint{IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1}),
               40000}};
  for (const Endpoint& other : others) {
    EXPECT_NE(cookie, makeDtlsCookie(secretOf(1), other)) << other.toString();
    EXPECT_FALSE(checkDtlsCookie(secretOf(1), other, cookie)) << other.toString();
  }
  EXPECT_NE(cookie, makeDtlsCookie(secretOf(2), kClient));
  EXPECT_FALSE(checkDtlsCookie(secretOf(2), kClient, cookie));
}

TEST(DtlsCookie, RejectsAlteredTruncatedOrEmptyCookies) {
  DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient);
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, std::span(cookie).first(31)));
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, {}));
  cookie[17] ^= 0x01U;
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, cookie));
}

TEST(DtlsCookie, ProcessSecretIsRandomAndStable) {
  const DtlsCookieSecret& secret = processDtlsCookieSecret();
  EXPECT_EQ(&secret, &processDtlsCookieSecret());
  EXPECT_NE(secret, DtlsCookieSecret{});
}

}  // namespace
}  // namespace turnpike::server::tls

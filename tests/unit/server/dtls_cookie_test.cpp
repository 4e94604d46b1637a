// DTLS cookies (server/tls/dtls_cookie.hpp): an HMAC over the client address and port and the
// time period under a secret, so a HelloVerifyRequest needs no per-client state.
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
constexpr std::uint64_t kPeriod = 1000;

TEST(DtlsCookie, SameClientAndSecretSameCookie) {
  const DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient, kPeriod);
  EXPECT_EQ(cookie, makeDtlsCookie(secretOf(1), kClient, kPeriod));
  EXPECT_TRUE(checkDtlsCookie(secretOf(1), kClient, cookie, kPeriod));
}

TEST(DtlsCookie, BoundToAddressPortAndSecret) {
  const DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient, kPeriod);
  const std::vector<Endpoint> others{
      Endpoint{IpAddress::v4({192, 0, 2, 2}), 40000},
      Endpoint{IpAddress::v4({192, 0, 2, 1}), 40001},
      Endpoint{IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1}),
               40000}};
  for (const Endpoint& other : others) {
    EXPECT_NE(cookie, makeDtlsCookie(secretOf(1), other, kPeriod)) << other.toString();
    EXPECT_FALSE(checkDtlsCookie(secretOf(1), other, cookie, kPeriod)) << other.toString();
  }
  EXPECT_NE(cookie, makeDtlsCookie(secretOf(2), kClient, kPeriod));
  EXPECT_FALSE(checkDtlsCookie(secretOf(2), kClient, cookie, kPeriod));
}

TEST(DtlsCookie, RejectsAlteredTruncatedOrEmptyCookies) {
  DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient, kPeriod);
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, std::span(cookie).first(31), kPeriod));
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, {}, kPeriod));
  cookie[17] ^= 0x01U;
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, cookie, kPeriod));
}

TEST(DtlsCookie, GoodInItsPeriodAndTheNextOnly) {
  const DtlsCookie cookie = makeDtlsCookie(secretOf(1), kClient, kPeriod);
  EXPECT_NE(cookie, makeDtlsCookie(secretOf(1), kClient, kPeriod + 1));
  EXPECT_TRUE(checkDtlsCookie(secretOf(1), kClient, cookie, kPeriod + 1));
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, cookie, kPeriod + 2));
  EXPECT_FALSE(checkDtlsCookie(secretOf(1), kClient, cookie, kPeriod - 1));
  EXPECT_EQ(dtlsCookiePeriod(std::chrono::steady_clock::time_point{kDtlsCookiePeriod * 3}), 3U);
}

TEST(DtlsCookie, ProcessSecretIsRandomAndStable) {
  const DtlsCookieSecret& secret = processDtlsCookieSecret();
  EXPECT_EQ(&secret, &processDtlsCookieSecret());
  EXPECT_NE(secret, DtlsCookieSecret{});
}

}  // namespace
}  // namespace turnpike::server::tls

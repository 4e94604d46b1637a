// The credential API's per-client token bucket, driven by an explicit clock: the burst, the
// refill rate, Retry-After, client keys (IPv4, IPv4-mapped, IPv6 /64), the bounded table and
// its least-recently-seen eviction.
#include "server/http/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace turnpike::server {
namespace {

using namespace std::chrono_literals;
using protocol::IpAddress;

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value_or(IpAddress()); }

const protocol::MonotonicTime kStart{std::chrono::hours(1)};

// How many of `n` requests at `now` are allowed.
int allowedOf(RateLimiter& limiter, const IpAddress& client, int n, protocol::MonotonicTime now) {
  int allowed = 0;
  for (int i = 0; i < n; ++i) {
    allowed += limiter.take(client, now).allowed ? 1 : 0;
  }
  return allowed;
}

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  RateLimiter limiter(5, 20);
  const IpAddress client = ip("192.0.2.1");
  EXPECT_EQ(allowedOf(limiter, client, 25, kStart), 20);
  // One token comes back every 200 ms.
  EXPECT_FALSE(limiter.take(client, kStart + 199ms).allowed);
  EXPECT_TRUE(limiter.take(client, kStart + 200ms).allowed);
  EXPECT_FALSE(limiter.take(client, kStart + 200ms).allowed);
  // After 4 s the bucket is full again, and never holds more than the burst.
  EXPECT_EQ(allowedOf(limiter, client, 25, kStart + 10s), 20);
}

TEST(RateLimiterTest, RetryAfterIsWholeSecondsUntilTheNextToken) {
  RateLimiter slow(1, 2);  // one token a second
  const IpAddress client = ip("192.0.2.1");
  EXPECT_EQ(allowedOf(slow, client, 2, kStart), 2);
  RateLimiter::Verdict verdict = slow.take(client, kStart);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.retry_after, 1U);
  verdict = slow.take(client, kStart + 300ms);
  EXPECT_EQ(verdict.retry_after, 1U);  // 700 ms, rounded up

  RateLimiter rare(1, 1);
  // Refused requests do not push the next token further away.
  EXPECT_TRUE(rare.take(client, kStart).allowed);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(rare.take(client, kStart + 100ms).retry_after, 1U);
  }
  EXPECT_TRUE(rare.take(client, kStart + 1s).allowed);

  RateLimiter fast(1000, 1);
  EXPECT_TRUE(fast.take(client, kStart).allowed);
  verdict = fast.take(client, kStart);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.retry_after, 1U);  // never 0
}

TEST(RateLimiterTest, ZeroPerSecondIsOff) {
  RateLimiter off(0, 1);
  EXPECT_EQ(allowedOf(off, ip("192.0.2.1"), 1000, kStart), 1000);
  EXPECT_EQ(off.clients(), 0U);
}

TEST(RateLimiterTest, AClockThatGoesBackRefillsNothing) {
  RateLimiter limiter(1, 1);
  const IpAddress client = ip("192.0.2.1");
  EXPECT_TRUE(limiter.take(client, kStart).allowed);
  EXPECT_FALSE(limiter.take(client, kStart - 10s).allowed);
  EXPECT_TRUE(limiter.take(client, kStart + 1s).allowed);
}

TEST(RateLimiterTest, ClientsHaveTheirOwnBuckets) {
  RateLimiter limiter(1, 2);
  EXPECT_EQ(allowedOf(limiter, ip("192.0.2.1"), 5, kStart), 2);
  EXPECT_EQ(allowedOf(limiter, ip("192.0.2.2"), 5, kStart), 2);
  EXPECT_EQ(allowedOf(limiter, ip("2001:db8::1"), 5, kStart), 2);
  EXPECT_EQ(allowedOf(limiter, ip("2001:db8:0:1::1"), 5, kStart), 2);
  EXPECT_EQ(limiter.clients(), 4U);
}

TEST(RateLimiterTest, ClientKeys) {
  EXPECT_EQ(protocol::limitKey(ip("192.0.2.1")), ip("192.0.2.1"));
  EXPECT_EQ(protocol::limitKey(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
  EXPECT_EQ(protocol::limitKey(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
  EXPECT_EQ(protocol::limitKey(ip("::1")), ip("::"));
}

TEST(RateLimiterTest, OneIpv6SlashSixtyFourSharesABucketAndMappedIpv4IsIpv4) {
  RateLimiter limiter(1, 2);
  EXPECT_TRUE(limiter.take(ip("2001:db8::1"), kStart).allowed);
  EXPECT_TRUE(limiter.take(ip("2001:db8::ffff:2"), kStart).allowed);
  EXPECT_FALSE(limiter.take(ip("2001:db8::3"), kStart).allowed);
  EXPECT_TRUE(limiter.take(ip("192.0.2.9"), kStart).allowed);
  EXPECT_TRUE(limiter.take(ip("::ffff:192.0.2.9"), kStart).allowed);
  EXPECT_FALSE(limiter.take(ip("192.0.2.9"), kStart).allowed);
}

TEST(RateLimiterTest, TheTableIsBoundedAndDropsTheLeastRecentlySeen) {
  RateLimiter limiter(1, 1, /*max_clients=*/3);
  const IpAddress a = ip("192.0.2.1");
  const IpAddress b = ip("192.0.2.2");
  const IpAddress c = ip("192.0.2.3");
  const IpAddress d = ip("192.0.2.4");
  EXPECT_TRUE(limiter.take(a, kStart).allowed);
  EXPECT_TRUE(limiter.take(b, kStart).allowed);
  EXPECT_TRUE(limiter.take(c, kStart).allowed);
  EXPECT_FALSE(limiter.take(a, kStart).allowed);  // a is now the most recently seen
  EXPECT_TRUE(limiter.take(d, kStart).allowed);   // evicts b, the least recently seen
  EXPECT_EQ(limiter.clients(), 3U);
  EXPECT_FALSE(limiter.take(a, kStart).allowed);  // a kept its (empty) bucket
  EXPECT_FALSE(limiter.take(c, kStart).allowed);
  EXPECT_FALSE(limiter.take(d, kStart).allowed);
  EXPECT_TRUE(limiter.take(b, kStart).allowed);  // b starts over with a full bucket
  EXPECT_EQ(limiter.clients(), 3U);
}

TEST(RateLimiterTest, TenThousandClientsByDefault) {
  RateLimiter limiter(1, 1);
  for (std::uint32_t i = 0; i < 10050; ++i) {
    const IpAddress client =
        IpAddress::v4({10, static_cast<std::uint8_t>(i >> 16U), static_cast<std::uint8_t>(i >> 8U),
                       static_cast<std::uint8_t>(i)});
    ASSERT_TRUE(limiter.take(client, kStart).allowed) << i;
  }
  EXPECT_EQ(limiter.clients(), RateLimiter::kDefaultMaxClients);
}

}  // namespace
}  // namespace turnpike::server

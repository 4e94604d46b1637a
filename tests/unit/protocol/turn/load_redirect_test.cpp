// cluster.redirect_above: thresholds, hysteresis and the relayed rate (protocol/turn/
// load_redirect.hpp), with explicit time.
#include "protocol/turn/load_redirect.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace turnpike::protocol {
namespace {

using std::chrono::milliseconds;

struct Case {
  const char* name;
  bool redirecting;  // before
  RedirectThresholds thresholds;
  std::uint64_t allocations;
  std::uint64_t bps;
  bool expected;  // after
};

TEST(LoadRedirectTest, ThresholdsAndHysteresis) {
  const Case cases[] = {
      {"off: nothing redirects", false, {0, 0}, 1'000'000, 1'000'000, false},
      {"off: a redirecting node stops", true, {0, 0}, 1'000'000, 1'000'000, false},
      {"below the allocations threshold", false, {10, 0}, 9, 0, false},
      {"at the allocations threshold", false, {10, 0}, 10, 0, true},
      {"above the allocations threshold", false, {10, 0}, 11, 0, true},
      {"at the rate threshold", false, {0, 1000}, 0, 1000, true},
      {"below the rate threshold", false, {0, 1000}, 0, 999, false},
      {"either load starts it", false, {10, 1000}, 2, 5000, true},
      {"redirecting: 90% keeps it (10 -> 9)", true, {10, 0}, 9, 0, true},
      {"redirecting: under 90% stops it", true, {10, 0}, 8, 0, false},
      {"redirecting: rate at 90% keeps it", true, {0, 1000}, 0, 900, true},
      {"redirecting: rate under 90% stops it", true, {0, 1000}, 0, 899, false},
      {"redirecting: one load still high keeps it", true, {10, 1000}, 0, 950, true},
      {"redirecting: both low stops it", true, {10, 1000}, 8, 899, false},
      {"threshold 1: stops only at 0", true, {1, 0}, 0, 0, false},
      {"threshold 1: 1 allocation keeps it", true, {1, 0}, 1, 0, true},
      {"threshold 1: starts at 1", false, {1, 0}, 1, 0, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(nextRedirecting(c.redirecting, c.thresholds, c.allocations, c.bps), c.expected)
        << c.name;
  }
}

TEST(LoadRedirectTest, DoesNotFlapAtTheEdge) {
  LoadRedirect redirect({100, 0});
  EXPECT_FALSE(redirect.update(99));
  EXPECT_TRUE(redirect.update(100));
  // Allocations come and go around the threshold: it keeps redirecting...
  for (const std::uint64_t held : {99, 95, 92, 90, 97, 100, 90}) {
    EXPECT_TRUE(redirect.update(held)) << held;
  }
  // ... until the load is under 90, and then takes allocations until 100 again.
  EXPECT_FALSE(redirect.update(89));
  EXPECT_FALSE(redirect.redirecting());
  for (const std::uint64_t held : {90, 95, 99}) {
    EXPECT_FALSE(redirect.update(held)) << held;
  }
  EXPECT_TRUE(redirect.update(100));
  // A reload that turns the threshold off stops it at the next look.
  redirect.setThresholds({});
  EXPECT_FALSE(redirect.enabled());
  EXPECT_FALSE(redirect.update(1000));
}

TEST(LoadRedirectTest, RateIsTheLastWindowsBytes) {
  const MonotonicTime start = MonotonicTime{} + std::chrono::hours(1);
  LoadRedirect redirect({0, 8'000'000});     // 1 MB/s
  redirect.sampleRelayed(5'000'000, start);  // counters before the first sample do not count
  EXPECT_EQ(redirect.relayedBps(), 0U);
  redirect.sampleRelayed(5'500'000, start + milliseconds(250));  // not a whole window yet
  EXPECT_EQ(redirect.relayedBps(), 0U);
  redirect.sampleRelayed(6'000'000, start + milliseconds(1000));  // 1 MB in 1 s
  EXPECT_EQ(redirect.relayedBps(), 8'000'000U);
  EXPECT_TRUE(redirect.update(0));
  // 0.5 MB in the next 1.25 s: 3.2 Mbit/s, under 90%: the node takes allocations again.
  redirect.sampleRelayed(6'500'000, start + milliseconds(2250));
  EXPECT_EQ(redirect.relayedBps(), 3'200'000U);
  EXPECT_FALSE(redirect.update(0));
  // Nothing relayed for a window: 0.
  redirect.sampleRelayed(6'500'000, start + milliseconds(3250));
  EXPECT_EQ(redirect.relayedBps(), 0U);
}

TEST(LoadRedirectTest, CountersThatGoBackRestartTheWindow) {
  const MonotonicTime start = MonotonicTime{} + std::chrono::hours(1);
  LoadRedirect redirect({0, 1000});
  redirect.sampleRelayed(1000, start);
  redirect.sampleRelayed(10, start + milliseconds(1000));  // fewer bytes: a new window
  EXPECT_EQ(redirect.relayedBps(), 0U);
  redirect.sampleRelayed(1010, start + milliseconds(3000));  // 1000 bytes in 2 s
  EXPECT_EQ(redirect.relayedBps(), 4000U);
}

}  // namespace
}  // namespace turnpike::protocol

// The shared relay port pool: every port handed out once, in a shuffled order, a returned port
// last, even ports and pairs for EVEN-PORT, and safe use from several threads.
#include "protocol/turn/port_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace turnpike::protocol {
namespace {

class CountingRandom final : public RandomSource {
 public:
  std::uint64_t next() override {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_ >> 11U;
  }

 private:
  std::uint64_t state_ = 7;
};

const IpAddress kFirst = IpAddress::v4({192, 0, 2, 1});
const IpAddress kSecond = IpAddress::v4({192, 0, 2, 2});

TEST(PortPoolTest, EveryPortOnceInAShuffledOrderThenNothing) {
  CountingRandom random;
  PortPool pool({kFirst}, 50000, 50999, random);
  std::vector<std::uint16_t> order;
  while (const auto port = pool.take(0)) {
    order.push_back(*port);
  }
  ASSERT_EQ(order.size(), 1000U);
  EXPECT_EQ(std::set<std::uint16_t>(order.begin(), order.end()).size(), 1000U);
  EXPECT_EQ(*std::ranges::min_element(order), 50000);
  EXPECT_EQ(*std::ranges::max_element(order), 50999);
  EXPECT_FALSE(std::ranges::is_sorted(order)) << "shuffled, not in port order";
  EXPECT_EQ(pool.freeCount(0), 0U);
  EXPECT_FALSE(pool.take(0).has_value());
  EXPECT_FALSE(pool.take(1).has_value()) << "no such address";
}

TEST(PortPoolTest, AReturnedPortIsReusedLastAndOnlyOnce) {
  CountingRandom random;
  PortPool pool({kFirst}, 50000, 50009, random);
  const std::uint16_t first = *pool.take(0);
  pool.give(Endpoint{kFirst, first});
  pool.give(Endpoint{kFirst, first});   // a second release must not queue it twice
  pool.give(Endpoint{kSecond, first});  // not an address of the pool: ignored
  pool.give(0, 60000);                  // outside the range: ignored
  std::vector<std::uint16_t> rest;
  while (const auto port = pool.take(0)) {
    rest.push_back(*port);
  }
  ASSERT_EQ(rest.size(), 10U);
  EXPECT_EQ(rest.back(), first) << "the returned port comes after every other free one";
  EXPECT_EQ(std::ranges::count(rest, first), 1);
}

TEST(PortPoolTest, AddressesHaveTheirOwnPorts) {
  CountingRandom random;
  PortPool pool({kFirst, kSecond}, 50000, 50001, random);
  EXPECT_TRUE(pool.take(0).has_value());
  EXPECT_TRUE(pool.take(0).has_value());
  EXPECT_FALSE(pool.take(0).has_value());
  EXPECT_EQ(pool.freeCount(1), 2U);
  EXPECT_TRUE(pool.take(1).has_value());
}

TEST(PortPoolTest, EvenPortsAndPairsForEvenPort) {
  CountingRandom random;
  PortPool pool({kFirst}, 50000, 50005, random);  // pairs: 50000/1, 50002/3, 50004/5
  const auto pair = pool.takeEven(0, true);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(*pair % 2, 0);
  EXPECT_EQ(pool.freeCount(0), 4U) << "N and N + 1 are both taken";
  // Break the other two pairs by taking one odd port of each... through take() until only even
  // ports are left free.
  std::vector<std::uint16_t> taken;
  while (pool.freeCount(0) > 0) {
    taken.push_back(*pool.take(0));
  }
  for (const std::uint16_t port : taken) {
    if (port % 2 == 1) {
      pool.give(0, port);  // the odd ones come back: no even port is free now
    }
  }
  EXPECT_FALSE(pool.takeEven(0, false).has_value());
  EXPECT_FALSE(pool.takeEven(0, true).has_value());
  pool.give(0, static_cast<std::uint16_t>(*pair + 1));
  pool.give(0, *pair);
  EXPECT_EQ(pool.takeEven(0, true), pair) << "the only free pair";
  // take() skips what takeEven took out of the queue's order.
  std::vector<std::uint16_t> rest;
  while (const auto port = pool.take(0)) {
    rest.push_back(*port);
  }
  EXPECT_EQ(std::ranges::count(rest, *pair), 0);
  EXPECT_EQ(std::ranges::count(rest, *pair + 1), 0);
}

TEST(PortPoolTest, ThreadsNeverGetTheSamePort) {
  CountingRandom random;
  PortPool pool({kFirst}, 40000, 47999, random);
  constexpr int kThreads = 4;
  std::vector<std::vector<std::uint16_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&pool, &mine = got[static_cast<std::size_t>(t)]] {
      for (int i = 0; i < 4000; ++i) {
        const auto port = pool.take(0);
        if (!port) {
          return;
        }
        mine.push_back(*port);
        if (i % 3 == 0) {
          pool.give(0, mine.back());  // churn: some go back at once
          mine.pop_back();
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  std::set<std::uint16_t> all;
  std::size_t count = 0;
  for (const auto& mine : got) {
    all.insert(mine.begin(), mine.end());
    count += mine.size();
  }
  EXPECT_EQ(all.size(), count) << "a port held by two threads at once";
  EXPECT_EQ(pool.freeCount(0), 8000U - count);
}

}  // namespace
}  // namespace turnpike::protocol

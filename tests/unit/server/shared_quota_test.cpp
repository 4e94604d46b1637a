// SharedQuota (limits.allocations_total, allocations_per_user, allocations_per_client_ip across
// workers): acquire and release, and RFC 8016's move of one allocation to another client address.
#include <gtest/gtest.h>

#include "server/turn_support.hpp"

namespace turnpike::server {
namespace {

using protocol::IpAddress;
using protocol::QuotaVerdict;

const IpAddress kHome = IpAddress::v4({198, 51, 100, 1});
const IpAddress kMobile = IpAddress::v4({203, 0, 113, 9});

LimitsConfig limits(std::uint32_t per_user, std::uint32_t per_ip) {
  LimitsConfig out;
  out.allocations_per_user = per_user;
  out.allocations_per_client_ip = per_ip;
  return out;
}

TEST(SharedQuotaTest, AMoveChangesOnlyTheAddressCount) {
  SharedQuota quota(limits(1, 1));
  ASSERT_EQ(quota.acquire("alice", kHome), QuotaVerdict::kOk);
  // At allocations_per_user (1): the move is not a second allocation.
  EXPECT_EQ(quota.move("alice", kHome, kMobile), QuotaVerdict::kOk);
  // The old address is free again, the new one is full.
  EXPECT_EQ(quota.acquire("bob", kMobile), QuotaVerdict::kClientIpLimit);
  EXPECT_EQ(quota.acquire("bob", kHome), QuotaVerdict::kOk);
  // alice still holds her one allocation.
  EXPECT_EQ(quota.acquire("alice", IpAddress::v4({192, 0, 2, 7})), QuotaVerdict::kUserLimit);
}

TEST(SharedQuotaTest, AMoveToAFullAddressMovesNothing) {
  SharedQuota quota(limits(0, 1));
  ASSERT_EQ(quota.acquire("alice", kHome), QuotaVerdict::kOk);
  ASSERT_EQ(quota.acquire("bob", kMobile), QuotaVerdict::kOk);
  EXPECT_EQ(quota.move("alice", kHome, kMobile), QuotaVerdict::kClientIpLimit);
  // alice's allocation still counts at home.
  EXPECT_EQ(quota.acquire("carol", kHome), QuotaVerdict::kClientIpLimit);
  quota.release("alice", kHome);
  EXPECT_EQ(quota.acquire("carol", kHome), QuotaVerdict::kOk);
}

}  // namespace
}  // namespace turnpike::server

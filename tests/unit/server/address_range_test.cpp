// Address ranges: parsing coturn's IP / IP-IP forms, the minimal CIDR cover of a range, and
// range subtraction (server/address_range.hpp).
#include "server/address_range.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace turnpike::server {

// Readable gtest failure output.
void PrintTo(const AddressRange& range, std::ostream* os) {
  *os << range.first.toString() << "-" << range.last.toString();
}

namespace {

using protocol::AddressPrefix;
using protocol::IpAddress;

IpAddress ip(std::string_view text) {
  const auto address = IpAddress::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress());
}

AddressRange range(std::string_view first, std::string_view last) { return {ip(first), ip(last)}; }

std::vector<std::string> prefixes(std::string_view first, std::string_view last) {
  std::vector<std::string> texts;
  for (const AddressPrefix& prefix : toPrefixes(range(first, last))) {
    texts.push_back(prefix.toString());
  }
  return texts;
}

TEST(AddressRangeTest, ParsesOneAddressARangeAndAPrefix) {
  EXPECT_EQ(parseAddressRange("10.0.0.1"), range("10.0.0.1", "10.0.0.1"));
  EXPECT_EQ(parseAddressRange("83.166.64.0-83.166.95.255"), range("83.166.64.0", "83.166.95.255"));
  EXPECT_EQ(parseAddressRange("2001:db8::-2001:db8::ff"), range("2001:db8::", "2001:db8::ff"));
  EXPECT_EQ(parseAddressRange("10.1.2.3/8"), range("10.0.0.0", "10.255.255.255"));
  EXPECT_EQ(parseAddressRange("::1"), range("::1", "::1"));
}

TEST(AddressRangeTest, RejectsBadRangesSayingWhy) {
  const struct {
    std::string_view text;
    std::string_view reason;
  } cases[] = {
      {"10.0.0.9-10.0.0.1", "10.0.0.1 comes before 10.0.0.9"},
      {"10.0.0.1-::1", "mixes IPv4 and IPv6"},
      {"turn.example.com", "\"turn.example.com\" is not an IP address"},
      {"10.0.0.1-", "\"\" is not an IP address"},
      {"10.0.0.1-10.0.0.300", "\"10.0.0.300\" is not an IP address"},
      {"10.0.0.0/33", "is not an address/prefix"},
      {"", "is not an IP address"},
  };
  for (const auto& c : cases) {
    const auto parsed = parseAddressRange(c.text);
    ASSERT_FALSE(parsed.has_value()) << c.text;
    EXPECT_NE(parsed.error().find(c.reason), std::string::npos) << c.text << ": " << parsed.error();
  }
}

TEST(AddressRangeTest, PrefixToRange) {
  EXPECT_EQ(toRange(*AddressPrefix::parse("192.168.0.0/16")),
            range("192.168.0.0", "192.168.255.255"));
  EXPECT_EQ(toRange(*AddressPrefix::parse("0.0.0.0/0")), range("0.0.0.0", "255.255.255.255"));
  EXPECT_EQ(toRange(*AddressPrefix::parse("::/0")),
            range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(toRange(*AddressPrefix::parse("fe80::/10")),
            range("fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

TEST(AddressRangeTest, MinimalPrefixesForEdgeCases) {
  using V = std::vector<std::string>;
  // A single address.
  EXPECT_EQ(prefixes("10.0.0.7", "10.0.0.7"), V{"10.0.0.7/32"});
  EXPECT_EQ(prefixes("2001:db8::1", "2001:db8::1"), V{"2001:db8::1/128"});
  // Everything: /0, without overflowing at the top of the address space.
  EXPECT_EQ(prefixes("0.0.0.0", "255.255.255.255"), V{"0.0.0.0/0"});
  EXPECT_EQ(prefixes("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), V{"::/0"});
  // The very top.
  EXPECT_EQ(prefixes("255.255.255.255", "255.255.255.255"), V{"255.255.255.255/32"});
  EXPECT_EQ(prefixes("255.255.255.254", "255.255.255.255"), V{"255.255.255.254/31"});
  EXPECT_EQ(prefixes("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            V{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"});
  // Aligned blocks: coturn's sample range is exactly one /19.
  EXPECT_EQ(prefixes("83.166.64.0", "83.166.95.255"), V{"83.166.64.0/19"});
  EXPECT_EQ(prefixes("2001:db8::", "2001:db8::ffff"), V{"2001:db8::/112"});
  // Non-aligned ends.
  EXPECT_EQ(prefixes("10.0.0.1", "10.0.0.6"),
            (V{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}));
  EXPECT_EQ(prefixes("10.0.0.0", "10.0.1.0"), (V{"10.0.0.0/24", "10.0.1.0/32"}));
  EXPECT_EQ(prefixes("10.0.0.255", "10.0.1.0"), (V{"10.0.0.255/32", "10.0.1.0/32"}));
  EXPECT_EQ(prefixes("192.168.1.10", "192.168.1.20"),
            (V{"192.168.1.10/31", "192.168.1.12/30", "192.168.1.16/30", "192.168.1.20/32"}));
  EXPECT_EQ(prefixes("2001:db8::1", "2001:db8::2"), (V{"2001:db8::1/128", "2001:db8::2/128"}));
  // All but the first address: one prefix per bit.
  const V all_but_zero = prefixes("0.0.0.1", "255.255.255.255");
  ASSERT_EQ(all_but_zero.size(), 32U);
  EXPECT_EQ(all_but_zero.front(), "0.0.0.1/32");
  EXPECT_EQ(all_but_zero.back(), "128.0.0.0/1");
  const V v6_all_but_zero = prefixes("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  ASSERT_EQ(v6_all_but_zero.size(), 128U);
  EXPECT_EQ(v6_all_but_zero.back(), "8000::/1");
}

// For random ranges: the prefixes are in order, touch each other, cover exactly the range, and
// none could be replaced by its parent (which is what makes the greedy cover minimal).
TEST(AddressRangeTest, PrefixesCoverExactlyAndAreMaximal) {
  std::mt19937 random(12345);  // fixed seed: reproducible
  const auto number = [](const IpAddress& a) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      n = (n << 8U) | a.bytes().at(i);
    }
    return n;
  };
  for (int i = 0; i < 2000; ++i) {
    std::uint32_t a = random();
    std::uint32_t b = random() >> (random() % 32);  // short and long ranges
    if (i % 2 == 0) {
      b = a + (random() % 1000);
    }
    if (b < a) {
      std::swap(a, b);
    }
    const auto to_ip = [](std::uint32_t n) {
      return IpAddress::v4({static_cast<std::uint8_t>(n >> 24U),
                            static_cast<std::uint8_t>(n >> 16U), static_cast<std::uint8_t>(n >> 8U),
                            static_cast<std::uint8_t>(n)});
    };
    const AddressRange r{to_ip(a), to_ip(b)};
    const std::vector<AddressPrefix> cover = toPrefixes(r);
    std::uint64_t next = a;
    for (const AddressPrefix& prefix : cover) {
      const AddressRange block = toRange(prefix);
      ASSERT_EQ(number(block.first), next) << prefix.toString();
      ASSERT_EQ(block.first, prefix.address);
      if (prefix.length > 0) {
        const AddressRange parent =
            toRange(AddressPrefix{prefix.address, static_cast<std::uint8_t>(prefix.length - 1)});
        EXPECT_FALSE(parent.first == prefix.address && number(parent.last) <= b)
            << prefix.toString() << " could be " << prefix.length - 1 << " bits in "
            << r.first.toString() << "-" << r.last.toString();
      }
      next = number(block.last) + 1;
    }
    EXPECT_EQ(next, std::uint64_t{b} + 1);
    EXPECT_LE(cover.size(), 62U);  // at most 2 * 31 for IPv4
  }
}

TEST(AddressRangeTest, SubtractCutsHolesAndIgnoresTheOtherFamily) {
  const AddressRange whole = range("10.0.0.0", "10.0.0.255");
  using R = std::vector<AddressRange>;
  EXPECT_EQ(subtract(whole, R{}), R{whole});
  EXPECT_EQ(subtract(whole, R{range("10.0.0.5", "10.0.0.5")}),
            (R{range("10.0.0.0", "10.0.0.4"), range("10.0.0.6", "10.0.0.255")}));
  EXPECT_EQ(subtract(whole, R{range("10.0.0.0", "10.0.0.9")}), R{range("10.0.0.10", "10.0.0.255")});
  EXPECT_EQ(subtract(whole, R{range("10.0.0.250", "10.0.1.9")}),
            R{range("10.0.0.0", "10.0.0.249")});
  EXPECT_EQ(subtract(whole, R{range("9.0.0.0", "11.0.0.0")}), R{});
  EXPECT_EQ(subtract(whole, R{range("::", "::ffff")}), R{whole});
  EXPECT_EQ(subtract(whole, R{range("10.0.1.0", "10.0.1.255")}), R{whole});
  EXPECT_EQ(subtract(whole, (R{range("10.0.0.1", "10.0.0.1"), range("10.0.0.3", "10.0.0.254")})),
            (R{range("10.0.0.0", "10.0.0.0"), range("10.0.0.2", "10.0.0.2"),
               range("10.0.0.255", "10.0.0.255")}));
  const AddressRange all6 = range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(subtract(all6, R{range("::1", "::1")}),
            (R{range("::", "::"), range("::2", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}));
}

}  // namespace
}  // namespace turnpike::server

#include "server/address_range.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace turnpike::server {
namespace {

using protocol::AddressPrefix;
using protocol::IpAddress;

// An address as an unsigned number (IPv4 in the low 32 bits), so ranges can be walked.
__extension__ using Number = unsigned __int128;

unsigned bitsOf(const IpAddress& address) { return address.isV4() ? 32U : 128U; }

Number toNumber(const IpAddress& address) {
  Number number = 0;
  for (std::size_t i = 0; i < address.size(); ++i) {
    number = (number << 8U) | address.bytes().at(i);
  }
  return number;
}

IpAddress fromNumber(Number number, bool v4) {
  if (v4) {
    std::array<std::uint8_t, 4> bytes{};
    for (std::size_t i = bytes.size(); i-- > 0; number >>= 8U) {
      bytes.at(i) = static_cast<std::uint8_t>(number & 0xFFU);
    }
    return IpAddress::v4(bytes);
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = bytes.size(); i-- > 0; number >>= 8U) {
    bytes.at(i) = static_cast<std::uint8_t>(number & 0xFFU);
  }
  return IpAddress::v6(bytes);
}

// 2^bits - 1: the host mask of a block of 2^bits addresses (bits may be 128).
Number lowMask(unsigned bits) { return bits >= 128 ? ~Number{0} : (Number{1} << bits) - 1; }

// Trailing zero bits of n, at most `limit` (n == 0 has `limit`).
unsigned trailingZeros(Number n, unsigned limit) {
  unsigned count = 0;
  while (count < limit && ((n >> count) & 1U) == 0) {
    ++count;
  }
  return count;
}

// "text" with quotes. (Appends: g++ 12 warns falsely, -Wrestrict, on "\"" + std::string.)
std::string quoted(std::string_view text) {
  return std::string().append("\"").append(text).append("\"");
}

}  // namespace

std::expected<AddressRange, std::string> parseAddressRange(std::string_view text) {
  const auto not_an_address = [](std::string_view part) {
    return std::unexpected(quoted(part) + " is not an IP address");
  };
  if (text.find('/') != std::string_view::npos) {
    const auto prefix = AddressPrefix::parse(text);
    if (!prefix) {
      return std::unexpected(quoted(text) + " is not an address/prefix");
    }
    return toRange(*prefix);
  }
  const std::size_t dash = text.find('-');
  const std::string_view first_text = text.substr(0, dash);
  const auto first = IpAddress::parse(first_text);
  if (!first) {
    return not_an_address(first_text);
  }
  if (dash == std::string_view::npos) {
    return AddressRange{*first, *first};
  }
  const std::string_view last_text = text.substr(dash + 1);
  const auto last = IpAddress::parse(last_text);
  if (!last) {
    return not_an_address(last_text);
  }
  if (first->family() != last->family()) {
    return std::unexpected("the range mixes IPv4 and IPv6");
  }
  if (toNumber(*last) < toNumber(*first)) {
    return std::unexpected(last->toString() + " comes before " + first->toString());
  }
  return AddressRange{*first, *last};
}

AddressRange toRange(const AddressPrefix& prefix) {
  const unsigned bits = bitsOf(prefix.address);
  const unsigned host_bits = bits - std::min<unsigned>(prefix.length, bits);
  const Number first = toNumber(prefix.address) & ~lowMask(host_bits);
  return {fromNumber(first, prefix.address.isV4()),
          fromNumber(first | lowMask(host_bits), prefix.address.isV4())};
}

std::vector<AddressPrefix> toPrefixes(const AddressRange& range) {
  const bool v4 = range.first.isV4();
  const unsigned bits = bitsOf(range.first);
  Number next = toNumber(range.first);
  const Number last = toNumber(range.last);
  std::vector<AddressPrefix> prefixes;
  // Greedy: at each step take the largest aligned block that starts at `next` and ends at or
  // before `last`. This yields the minimal cover.
  for (;;) {
    unsigned host_bits = trailingZeros(next, bits);
    while (host_bits > 0 && lowMask(host_bits) > last - next) {
      --host_bits;
    }
    prefixes.push_back({fromNumber(next, v4), static_cast<std::uint8_t>(bits - host_bits)});
    const Number block_last = next + lowMask(host_bits);
    if (block_last >= last) {
      break;
    }
    next = block_last + 1;
  }
  return prefixes;
}

std::vector<AddressRange> subtract(const AddressRange& range, std::span<const AddressRange> holes) {
  const bool v4 = range.first.isV4();
  struct Span {
    Number first;
    Number last;
  };
  std::vector<Span> left{{toNumber(range.first), toNumber(range.last)}};
  for (const AddressRange& hole : holes) {
    if (hole.first.family() != range.first.family()) {
      continue;
    }
    const Number hole_first = toNumber(hole.first);
    const Number hole_last = toNumber(hole.last);
    std::vector<Span> next;
    for (const Span& span : left) {
      if (hole_last < span.first || hole_first > span.last) {
        next.push_back(span);
        continue;
      }
      if (hole_first > span.first) {
        next.push_back({span.first, hole_first - 1});
      }
      if (hole_last < span.last) {
        next.push_back({hole_last + 1, span.last});
      }
    }
    left = std::move(next);
  }
  std::vector<AddressRange> result;
  result.reserve(left.size());
  for (const Span& span : left) {
    result.push_back({fromNumber(span.first, v4), fromNumber(span.last, v4)});
  }
  return result;
}

}  // namespace turnpike::server

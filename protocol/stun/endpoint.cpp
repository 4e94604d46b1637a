#include "protocol/stun/endpoint.hpp"

#include <arpa/inet.h>  // inet_pton/inet_ntop: text conversion only, no I/O

#include <algorithm>
#include <charconv>
#include <span>
#include <system_error>

namespace turnpike::protocol {

IpAddress IpAddress::v4(std::array<std::uint8_t, 4> bytes) {
  IpAddress address;
  address.family_ = AddressFamily::kIpv4;
  std::copy(bytes.begin(), bytes.end(), address.bytes_.begin());
  return address;
}

IpAddress IpAddress::v6(std::array<std::uint8_t, 16> bytes) {
  IpAddress address;
  address.family_ = AddressFamily::kIpv6;
  address.bytes_ = bytes;
  return address;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text form is 45 characters.
  constexpr std::size_t kMaxText = 64;
  if (text.empty() || text.size() >= kMaxText) {
    return std::nullopt;
  }
  std::array<char, kMaxText> buffer{};
  std::copy(text.begin(), text.end(), buffer.begin());
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, buffer.data(), bytes.data()) == 1) {
    return v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  }
  if (inet_pton(AF_INET6, buffer.data(), bytes.data()) == 1) {
    return v6(bytes);
  }
  return std::nullopt;
}

std::string IpAddress::toString() const {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  const int af = isV4() ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), buffer.data(), buffer.size()) == nullptr) {
    return "?";
  }
  return buffer.data();
}

std::string Endpoint::toString() const {
  // Appends rather than "[" + ...: g++ 12 warns falsely (-Wrestrict) on that form.
  std::string text;
  if (address.isV6()) {
    text.append("[").append(address.toString()).append("]");
  } else {
    text.append(address.toString());
  }
  return text.append(":").append(std::to_string(port));
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) {
    host = host.substr(1, host.size() - 2);
  }
  const std::optional<IpAddress> address = IpAddress::parse(host);
  const std::string_view digits = text.substr(colon + 1);
  std::uint32_t port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (!address || (address->isV6() && !bracketed) || digits.empty() || ec != std::errc() ||
      end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return Endpoint{*address, static_cast<std::uint16_t>(port)};
}

namespace {

std::uint8_t maxPrefixLength(const IpAddress& address) { return address.isV4() ? 32 : 128; }

// Keeps the first `length` bits of each address byte and zeroes the rest.
std::uint8_t maskedByte(std::uint8_t byte, std::size_t index, std::size_t length) {
  const std::size_t first_bit = index * 8;
  if (first_bit >= length) {
    return 0;
  }
  if (first_bit + 8 > length) {
    const auto keep = static_cast<unsigned>(length - first_bit);
    return static_cast<std::uint8_t>(byte & (0xFFU << (8 - keep)));
  }
  return byte;
}

}  // namespace

std::optional<AddressPrefix> AddressPrefix::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::optional<IpAddress> address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    return std::nullopt;
  }
  std::uint8_t length = maxPrefixLength(*address);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, length);
    if (digits.empty() || ec != std::errc{} || ptr != end || length > maxPrefixLength(*address)) {
      return std::nullopt;
    }
  }
  std::array<std::uint8_t, 16> bytes = address->bytes();
  for (std::size_t i = 0; i < address->size(); ++i) {
    bytes.at(i) = maskedByte(bytes.at(i), i, length);
  }
  if (address->isV4()) {
    return AddressPrefix{IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]}), length};
  }
  return AddressPrefix{IpAddress::v6(bytes), length};
}

bool AddressPrefix::contains(const IpAddress& ip) const {
  if (ip.family() != address.family()) {
    return false;
  }
  // A length past the family's size (only possible for a prefix built in code) means all bits.
  const std::size_t bits = std::min<std::size_t>(length, maxPrefixLength(address));
  for (std::size_t i = 0; i * 8 < bits; ++i) {
    if (maskedByte(ip.bytes().at(i), i, bits) != maskedByte(address.bytes().at(i), i, bits)) {
      return false;
    }
  }
  return true;
}

std::string AddressPrefix::toString() const {
  return address.toString().append("/").append(std::to_string(length));
}

bool isWildcard(const IpAddress& address) {
  return std::ranges::all_of(std::span(address.bytes()).first(address.size()),
                             [](std::uint8_t b) { return b == 0; });
}

IpAddress limitKey(const IpAddress& client) {
  const auto& b = client.bytes();
  if (client.isV4()) {
    return client;
  }
  // ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2): an IPv4 client on a dual-stack socket.
  constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), b.begin())) {
    return IpAddress::v4({b[12], b[13], b[14], b[15]});
  }
  std::array<std::uint8_t, 16> prefix{};
  std::copy_n(b.begin(), 8, prefix.begin());
  return IpAddress::v6(prefix);
}

}  // namespace turnpike::protocol

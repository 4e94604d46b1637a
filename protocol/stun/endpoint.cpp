#include "protocol/stun/endpoint.hpp"

#include <arpa/inet.h>  // inet_pton/inet_ntop: text conversion only, no I/O

#include <algorithm>

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

}  // namespace turnpike::protocol

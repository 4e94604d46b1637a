// IP addresses and transport endpoints as plain values: no sockets, no sockaddr.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnpike::protocol {

// STUN's address family codes (RFC 8489 section 14.1).
enum class AddressFamily : std::uint8_t { kIpv4 = 0x01, kIpv6 = 0x02 };

// An IPv4 or IPv6 address in network byte order. IPv4 uses the first 4 bytes.
class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(std::array<std::uint8_t, 4> bytes);
  static IpAddress v6(std::array<std::uint8_t, 16> bytes);
  // Parses dotted-quad IPv4 or RFC 4291 text IPv6 (no zone, no brackets).
  static std::optional<IpAddress> parse(std::string_view text);

  [[nodiscard]] AddressFamily family() const { return family_; }
  [[nodiscard]] bool isV4() const { return family_ == AddressFamily::kIpv4; }
  [[nodiscard]] bool isV6() const { return family_ == AddressFamily::kIpv6; }
  // 4 bytes for IPv4, 16 for IPv6.
  [[nodiscard]] std::size_t size() const { return isV4() ? 4 : 16; }
  [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  [[nodiscard]] std::string toString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  AddressFamily family_ = AddressFamily::kIpv4;
  std::array<std::uint8_t, 16> bytes_{};
};

// 0.0.0.0 or :: (a socket on every interface).
[[nodiscard]] bool isWildcard(const IpAddress& address);

// An address and a port: one side of a 5-tuple.
// The address a client is counted under by per-address limits: IPv4 as is, IPv4-mapped IPv6
// as its IPv4 address, other IPv6 addresses as their /64 (what one subscriber usually gets).
[[nodiscard]] IpAddress limitKey(const IpAddress& client);

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  // "1.2.3.4:5" or "[::1]:5".
  [[nodiscard]] std::string toString() const;
  // What toString writes: "ADDRESS:PORT" with IPv6 in brackets (IPv4 may have them too), port 1
  // to 65535; nullopt otherwise.
  [[nodiscard]] static std::optional<Endpoint> parse(std::string_view text);
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

// An address prefix (CIDR block) such as 10.0.0.0/8 or ::1/128 (RFC 4632 section 3.1, RFC 4291
// section 2.3). parse() always yields zero host bits.
struct AddressPrefix {
  IpAddress address;
  std::uint8_t length = 0;  // at most 32 for IPv4, 128 for IPv6

  // "10.0.0.0/8", "::1/128", or a bare address (the full length). Host bits are masked off, so
  // "10.1.2.3/8" gives 10.0.0.0/8. No spaces, no zone, no brackets; nullopt on anything else.
  [[nodiscard]] static std::optional<AddressPrefix> parse(std::string_view text);

  // True if the first `length` bits of ip equal the prefix's. Never true across families: an
  // IPv4-mapped IPv6 address is not inside an IPv4 prefix (map it first if that is what you mean).
  [[nodiscard]] bool contains(const IpAddress& ip) const;
  // Always "address/length", e.g. "10.0.0.0/8" or "::1/128".
  [[nodiscard]] std::string toString() const;

  friend bool operator==(const AddressPrefix&, const AddressPrefix&) = default;
};

}  // namespace turnpike::protocol

// Big-endian loads and stores over byte spans. The only place that touches raw bytes as integers
// (style.md section 5): callers check bounds first; these functions assume them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace turnpike::protocol {

using ConstBytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

inline std::uint8_t load8(ConstBytes bytes, std::size_t offset) {
  return std::to_integer<std::uint8_t>(bytes[offset]);
}

inline std::uint16_t load16(ConstBytes bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((load8(bytes, offset) << 8U) | load8(bytes, offset + 1));
}

// TLS's uint24 (handshake message lengths, RFC 8446 section 4).
inline std::uint32_t load24(ConstBytes bytes, std::size_t offset) {
  return (static_cast<std::uint32_t>(load8(bytes, offset)) << 16U) | load16(bytes, offset + 1);
}

inline std::uint32_t load32(ConstBytes bytes, std::size_t offset) {
  return (static_cast<std::uint32_t>(load16(bytes, offset)) << 16U) | load16(bytes, offset + 2);
}

inline std::uint64_t load64(ConstBytes bytes, std::size_t offset) {
  return (static_cast<std::uint64_t>(load32(bytes, offset)) << 32U) | load32(bytes, offset + 4);
}

// N bytes from offset, e.g. an IPv4 or IPv6 address.
template <std::size_t N>
std::array<std::uint8_t, N> loadArray(ConstBytes bytes, std::size_t offset) {
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    out[i] = load8(bytes, offset + i);
  }
  return out;
}

inline void store8(MutableBytes bytes, std::size_t offset, std::uint8_t value) {
  bytes[offset] = static_cast<std::byte>(value);
}

inline void store16(MutableBytes bytes, std::size_t offset, std::uint16_t value) {
  store8(bytes, offset, static_cast<std::uint8_t>(value >> 8U));
  store8(bytes, offset + 1, static_cast<std::uint8_t>(value));
}

inline void store32(MutableBytes bytes, std::size_t offset, std::uint32_t value) {
  store16(bytes, offset, static_cast<std::uint16_t>(value >> 16U));
  store16(bytes, offset + 2, static_cast<std::uint16_t>(value));
}

inline void store64(MutableBytes bytes, std::size_t offset, std::uint64_t value) {
  store32(bytes, offset, static_cast<std::uint32_t>(value >> 32U));
  store32(bytes, offset + 4, static_cast<std::uint32_t>(value));
}

// Views a byte span as characters (for text attributes) and back.
inline std::string_view asText(ConstBytes bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};  // NOLINT
}

inline ConstBytes asBytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};  // NOLINT
}

// Views raw memory from C APIs (sockets, OpenSSL) as bytes.
inline ConstBytes asBytes(const void* data, std::size_t size) {
  return {static_cast<const std::byte*>(data), size};
}

inline const unsigned char* asUchar(ConstBytes bytes) {
  return reinterpret_cast<const unsigned char*>(bytes.data());  // NOLINT
}

inline unsigned char* asUchar(MutableBytes bytes) {
  return reinterpret_cast<unsigned char*>(bytes.data());  // NOLINT
}

}  // namespace turnpike::protocol

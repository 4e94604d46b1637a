// Base64 (RFC 4648 section 4) and base64url (RFC 4648 section 5) codecs.
//
// Decoding is strict: no whitespace, no characters outside the alphabet, padding only where
// RFC 4648 section 3.2 puts it, and the unused bits of the last character must be zero
// (section 3.5), so that every byte string has exactly one accepted encoding.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::auth {

// Characters needed to encode `size` bytes: with padding, and without (base64url here).
[[nodiscard]] constexpr std::size_t base64EncodedSize(std::size_t size) {
  return (size + 2) / 3 * 4;
}
[[nodiscard]] constexpr std::size_t base64UrlEncodedSize(std::size_t size) {
  return size / 3 * 4 + (size % 3 == 0 ? 0 : size % 3 + 1);
}

// Standard alphabet ("+/"), '=' padding to a multiple of 4 characters.
[[nodiscard]] std::string base64Encode(std::span<const std::byte> data);
[[nodiscard]] std::string base64Encode(std::string_view data);

// Strict standard decoding: the length must be a multiple of 4 (padding required).
[[nodiscard]] std::optional<std::vector<std::byte>> base64Decode(std::string_view text);
// Decodes into `out` without allocating; returns the decoded size, or nullopt if the text is
// invalid or `out` is too small.
[[nodiscard]] std::optional<std::size_t> base64Decode(std::string_view text,
                                                      std::span<std::byte> out);

// URL- and filename-safe alphabet ("-_"), no padding.
[[nodiscard]] std::string base64UrlEncode(std::span<const std::byte> data);

// Strict base64url decoding: '=' is rejected, as is a length of 4n+1.
[[nodiscard]] std::optional<std::vector<std::byte>> base64UrlDecode(std::string_view text);
[[nodiscard]] std::optional<std::size_t> base64UrlDecode(std::string_view text,
                                                         std::span<std::byte> out);

}  // namespace turnpike::auth

// Long-term credential keys (RFC 8489 section 9.2.2) and constant-time comparison.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace turnpike::auth {

using Md5Key = std::array<std::byte, 16>;
using Sha256Key = std::array<std::byte, 32>;

// key = MD5(username ":" realm ":" password). The RFC applies OpaqueString (PRECIS) to realm and
// password first; turnpike uses the strings as given, which is identical for ASCII.
[[nodiscard]] Md5Key longTermKeyMd5(std::string_view username, std::string_view realm,
                                    std::string_view password);

// key = SHA-256(username ":" realm ":" password), for PASSWORD-ALGORITHM SHA-256.
[[nodiscard]] Sha256Key longTermKeySha256(std::string_view username, std::string_view realm,
                                          std::string_view password);

// USERHASH = SHA-256(username ":" realm) (RFC 8489 section 14.4).
[[nodiscard]] Sha256Key userhash(std::string_view username, std::string_view realm);

// Equal length and equal bytes, in time that depends only on the length.
[[nodiscard]] bool constantTimeEqual(std::span<const std::byte> a, std::span<const std::byte> b);

}  // namespace turnpike::auth

// Stateless NONCE values (RFC 8489 section 9.2): the server stores nothing per client; a nonce
// carries its own expiry and a MAC binding it to the client's IP address.
//
//   nonce = "obMatJos2"                          nonce cookie (RFC 8489 section 9.2)
//           base64(security feature set, 24 bits) 4 characters; "AAAB": password algorithms
//           base64url(expiry || mac)             18 characters, no padding
//   expiry = unix seconds, uint32 big-endian (4 bytes, so until 2106); valid while now <= expiry
//   mac    = HMAC-SHA256(key, expiry || client address bytes)[0..9)
//            (4 address bytes for IPv4, 16 for IPv6; the port is not included)
//
// 31 characters in all: short, because every 401 challenge carries one and a challenge must
// not amplify its request much (issue 6: at most 3.5 times). A 72-bit MAC leaves a forger one
// chance in 2^72 per guess, and each guess costs a round trip to the server. Time is always
// passed in (style.md section 3).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/endpoint.hpp"

namespace turnpike::auth {

// RFC 8489 section 9.2: a nonce beginning with this cookie advertises the server's STUN
// security features in the next 4 characters.
inline constexpr std::string_view kNonceCookie = "obMatJos2";

// STUN Security Features (RFC 8489 section 18.1). Bit numbering per verified erratum 6290:
// bit 0 is the least significant (rightmost) bit of the 24-bit set, not the leftmost.
inline constexpr std::uint32_t kSecurityFeaturePasswordAlgorithms = 1U << 0U;  // bit 0
inline constexpr std::uint32_t kSecurityFeatureUsernameAnonymity = 1U << 1U;   // bit 1

enum class NonceVerdict : std::uint8_t {
  kValid,
  kStale,    // authentic but expired: answer 438 (Stale Nonce) with a fresh one
  kInvalid,  // forged, garbage, from another codec key or for another client address
};

[[nodiscard]] std::string_view toString(NonceVerdict verdict);

// Mints and verifies nonces with one key. Immutable after construction, so one codec may be
// shared by all worker threads.
class NonceCodec {
 public:
  using Key = std::array<std::byte, 32>;
  // Length of every nonce this codec mints.
  static constexpr std::size_t kNonceLength = 31;

  // `key` should be at least 16 random bytes (see randomKey()); several servers sharing a key
  // accept each other's nonces. `lifetime_seconds` (> 0) is how long a nonce stays valid.
  NonceCodec(std::span<const std::byte> key, std::int64_t lifetime_seconds);

  // 32 bytes from RAND_bytes, for when no key is configured; nullopt if the CSPRNG fails.
  [[nodiscard]] static std::optional<Key> randomKey();
  // The key for a configured secret (auth.nonce_secret), the same on every node:
  // HMAC-SHA256(key = "turnpike nonce key v1", secret). The secret itself never keys a MAC.
  [[nodiscard]] static Key keyFromSecret(std::string_view secret);

  // A nonce for `client`, valid until now_unix + lifetime.
  [[nodiscard]] std::string mint(const protocol::IpAddress& client, std::int64_t now_unix) const;

  // Checks the cookie, the encoding and the MAC (compared in constant time), then the expiry.
  // Allocates nothing; rejects any input whose length is not kNonceLength before decoding it.
  [[nodiscard]] NonceVerdict verify(std::string_view nonce, const protocol::IpAddress& client,
                                    std::int64_t now_unix) const;

  [[nodiscard]] std::int64_t lifetimeSeconds() const { return lifetime_seconds_; }

 private:
  using Mac = std::array<std::byte, 9>;
  [[nodiscard]] Mac mac(std::span<const std::byte, 4> expiry,
                        const protocol::IpAddress& client) const;

  std::vector<std::byte> key_;
  std::int64_t lifetime_seconds_;
};

// The 24-bit security feature set of a nonce that starts with the nonce cookie (any server's
// nonce, not only ours); nullopt without the cookie or with a malformed feature field.
[[nodiscard]] std::optional<std::uint32_t> nonceSecurityFeatures(std::string_view nonce);

// True if the nonce has the cookie and its "Password algorithms" bit is set, i.e. the server
// offers PASSWORD-ALGORITHMS (and so MESSAGE-INTEGRITY-SHA256) per RFC 8489 section 9.2.
[[nodiscard]] bool nonceHasPasswordAlgorithms(std::string_view nonce);

}  // namespace turnpike::auth

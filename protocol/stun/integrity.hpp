// MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489 sections
// 14.5-14.7). Verification never modifies the input: the length field is patched in a copy of the
// header that is fed to the MAC first.
#pragma once

#include <array>
#include <cstdint>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/message.hpp"

namespace turnpike::protocol {

// FINGERPRINT = CRC-32 (ISO 3309, as in zlib) XOR 0x5354554e.
inline constexpr std::uint32_t kFingerprintXor = 0x5354554E;

[[nodiscard]] std::uint32_t crc32(ConstBytes data, std::uint32_t crc = 0);

// The MAC of message bytes [0, end) where the header's length field is replaced by
// patched_length. Writes mac_size bytes (20 for SHA-1, up to 32 for SHA-256) to out.
enum class MacAlgorithm : std::uint8_t { kHmacSha1, kHmacSha256 };
void computeMac(MacAlgorithm algorithm, ConstBytes key, ConstBytes message, std::size_t end,
                std::uint16_t patched_length, MutableBytes out);

// CRC of message bytes [0, end) with the length field patched, XORed with kFingerprintXor.
[[nodiscard]] std::uint32_t computeFingerprint(ConstBytes message, std::size_t end,
                                               std::uint16_t patched_length);

enum class IntegrityResult : std::uint8_t { kOk, kMissing, kMismatch };

// Verifies MESSAGE-INTEGRITY with the key (the long-term key, or the short-term password).
[[nodiscard]] IntegrityResult verifyMessageIntegrity(const Message& message, ConstBytes key);
// Verifies MESSAGE-INTEGRITY-SHA256 (truncated to the attribute's length).
[[nodiscard]] IntegrityResult verifyMessageIntegritySha256(const Message& message, ConstBytes key);
// Verifies FINGERPRINT.
[[nodiscard]] IntegrityResult verifyFingerprint(const Message& message);

}  // namespace turnpike::protocol

#include "auth/nonce.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <limits>

#include "auth/base64.hpp"
#include "auth/hmac.hpp"

namespace turnpike::auth {
namespace {

constexpr std::size_t kExpirySize = 4;
constexpr std::size_t kMacSize = 9;
constexpr std::size_t kPayloadSize = kExpirySize + kMacSize;

// The cookie and the feature set we advertise: base64 of 0x000001 (password algorithms).
constexpr std::string_view kPrefix = "obMatJos2AAAB";
static_assert(kPrefix.starts_with(kNonceCookie));
static_assert(kPrefix.size() + base64UrlEncodedSize(kPayloadSize) == NonceCodec::kNonceLength);

// OpenSSL takes unsigned char; going through void* avoids a reinterpret_cast.
unsigned char* asUchar(void* data) { return static_cast<unsigned char*>(data); }

// Expiries outside uint32 are clamped: before 1970 is already stale, after 2106 never is.
std::array<std::byte, kExpirySize> storeExpiry(std::int64_t expiry) {
  const auto value = static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(expiry, 0, std::numeric_limits<std::uint32_t>::max()));
  std::array<std::byte, kExpirySize> bytes{};
  for (std::size_t i = 0; i < kExpirySize; ++i) {
    bytes[i] = static_cast<std::byte>(value >> (8U * (kExpirySize - 1 - i)));
  }
  return bytes;
}

std::int64_t loadExpiry(std::span<const std::byte, kExpirySize> bytes) {
  std::uint32_t value = 0;
  for (const std::byte b : bytes) {
    value = value << 8U | std::to_integer<std::uint32_t>(b);
  }
  return value;
}

}  // namespace

std::string_view toString(NonceVerdict verdict) {
  switch (verdict) {
    case NonceVerdict::kValid:
      return "valid";
    case NonceVerdict::kStale:
      return "stale";
    case NonceVerdict::kInvalid:
      return "invalid";
  }
  return "unknown";
}

NonceCodec::NonceCodec(std::span<const std::byte> key, std::int64_t lifetime_seconds)
    : key_(key.begin(), key.end()), lifetime_seconds_(lifetime_seconds) {}

std::optional<NonceCodec::Key> NonceCodec::randomKey() {
  Key key{};
  if (RAND_bytes(asUchar(key.data()), static_cast<int>(key.size())) != 1) {
    return std::nullopt;
  }
  return key;
}

NonceCodec::Key NonceCodec::keyFromSecret(std::string_view secret) {
  static constexpr std::string_view kLabel = "turnpike nonce key v1";
  return hmacSha256(std::as_bytes(std::span(kLabel)), {std::as_bytes(std::span(secret))});
}

NonceCodec::Mac NonceCodec::mac(std::span<const std::byte, kExpirySize> expiry,
                                const protocol::IpAddress& client) const {
  const HmacSha256 full =
      hmacSha256(key_, {expiry, std::as_bytes(std::span(client.bytes()).first(client.size()))});
  Mac truncated{};
  std::copy_n(full.begin(), truncated.size(), truncated.begin());
  return truncated;
}

std::string NonceCodec::mint(const protocol::IpAddress& client, std::int64_t now_unix) const {
  std::int64_t expiry = 0;
  if (__builtin_add_overflow(now_unix, lifetime_seconds_, &expiry)) {
    expiry = lifetime_seconds_ > 0 ? std::numeric_limits<std::int64_t>::max()
                                   : std::numeric_limits<std::int64_t>::min();
  }
  std::array<std::byte, kPayloadSize> payload{};
  const auto expiry_bytes = storeExpiry(expiry);
  std::copy(expiry_bytes.begin(), expiry_bytes.end(), payload.begin());
  const Mac tag = mac(expiry_bytes, client);
  std::copy(tag.begin(), tag.end(), payload.begin() + kExpirySize);
  std::string nonce(kPrefix);
  nonce += base64UrlEncode(payload);
  return nonce;
}

NonceVerdict NonceCodec::verify(std::string_view nonce, const protocol::IpAddress& client,
                                std::int64_t now_unix) const {
  if (nonce.size() != kNonceLength || !nonce.starts_with(kPrefix)) {
    return NonceVerdict::kInvalid;
  }
  // Strict decoding gives every payload a single encoding, so no character can be changed
  // without changing the decoded bytes.
  std::array<std::byte, kPayloadSize> payload{};
  const auto size = base64UrlDecode(nonce.substr(kPrefix.size()), payload);
  if (!size || *size != kPayloadSize) {
    return NonceVerdict::kInvalid;
  }
  const auto expiry_bytes = std::span(payload).first<kExpirySize>();
  const Mac expected = mac(expiry_bytes, client);
  if (CRYPTO_memcmp(expected.data(), payload.data() + kExpirySize, kMacSize) != 0) {
    return NonceVerdict::kInvalid;
  }
  return now_unix <= loadExpiry(expiry_bytes) ? NonceVerdict::kValid : NonceVerdict::kStale;
}

std::optional<std::uint32_t> nonceSecurityFeatures(std::string_view nonce) {
  constexpr std::size_t kFeatureChars = 4;
  if (!nonce.starts_with(kNonceCookie) || nonce.size() < kNonceCookie.size() + kFeatureChars) {
    return std::nullopt;
  }
  std::array<std::byte, 3> bits{};
  const auto size = base64Decode(nonce.substr(kNonceCookie.size(), kFeatureChars), bits);
  if (!size || *size != bits.size()) {
    return std::nullopt;
  }
  return std::to_integer<std::uint32_t>(bits[0]) << 16U |
         std::to_integer<std::uint32_t>(bits[1]) << 8U | std::to_integer<std::uint32_t>(bits[2]);
}

bool nonceHasPasswordAlgorithms(std::string_view nonce) {
  const auto features = nonceSecurityFeatures(nonce);
  return features && (*features & kSecurityFeaturePasswordAlgorithms) != 0;
}

}  // namespace turnpike::auth

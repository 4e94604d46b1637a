#include "protocol/stun/integrity.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "protocol/stun/attributes.hpp"

namespace turnpike::protocol {
namespace {

constexpr std::array<std::uint32_t, 256> makeCrcTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1U) : c >> 1U;
    }
    table[i] = c;
  }
  return table;
}
constexpr auto kCrcTable = makeCrcTable();

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// One HMAC context per thread and digest, fetched once: EVP_MAC_fetch and EVP_MAC_CTX_new are
// too slow for per-request use. Re-keying with EVP_MAC_init reuses the context.
EVP_MAC_CTX* macContext(MacAlgorithm algorithm) {
  auto make = [](const char* digest) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    MacCtxPtr ctx(EVP_MAC_CTX_new(mac));
    EVP_MAC_free(mac);
    std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC_CTX_set_params(ctx.get(), params.data());
    return ctx;
  };
  thread_local const MacCtxPtr sha1 = make("SHA1");
  thread_local const MacCtxPtr sha256 = make("SHA256");
  return algorithm == MacAlgorithm::kHmacSha1 ? sha1.get() : sha256.get();
}

// Keys the context, unless it already holds this key: a request and its response use the same
// key, and EVP_MAC_init with a null key restarts from the digest states the key left (no
// re-hashing of the padded key). At most 64 bytes are remembered per context; longer keys
// (never a STUN long-term key, which is 16 or 32 bytes) are always re-keyed.
void initMac(EVP_MAC_CTX* ctx, MacAlgorithm algorithm, ConstBytes key) {
  struct LastKey {
    std::array<std::byte, 64> bytes{};
    std::size_t size = 0;
    bool valid = false;
  };
  thread_local std::array<LastKey, 2> last_keys{};
  LastKey& last = last_keys[algorithm == MacAlgorithm::kHmacSha1 ? 0 : 1];
  if (last.valid && last.size == key.size() &&
      std::ranges::equal(key, std::span(last.bytes).first(last.size))) {
    EVP_MAC_init(ctx, nullptr, 0, nullptr);
    return;
  }
  // An empty key is valid HMAC input, but OpenSSL wants a non-null pointer.
  static constexpr std::byte kEmpty{};
  const unsigned char* key_data = key.empty() ? asUchar(ConstBytes(&kEmpty, 1)) : asUchar(key);
  last.valid =
      EVP_MAC_init(ctx, key_data, key.size(), nullptr) == 1 && key.size() <= last.bytes.size();
  if (last.valid) {
    std::ranges::copy(key, last.bytes.begin());
    last.size = key.size();
  }
}

std::array<std::byte, kHeaderSize> patchedHeader(ConstBytes message, std::uint16_t length) {
  std::array<std::byte, kHeaderSize> header{};
  std::copy_n(message.begin(), kHeaderSize, header.begin());
  store16(header, 2, length);
  return header;
}

// Offset of the attribute header (type/length) of a recorded attribute.
std::size_t attributeStart(const RawAttribute& attribute) {
  return attribute.offset - kAttributeHeaderSize;
}

// The length field a sender had when it appended this attribute: everything up to its end.
std::uint16_t lengthThrough(const RawAttribute& attribute) {
  return static_cast<std::uint16_t>(attribute.offset + attribute.length - kHeaderSize);
}

}  // namespace

std::uint32_t crc32(ConstBytes data, std::uint32_t crc) {
  crc = ~crc;
  for (const std::byte b : data) {
    crc = kCrcTable[(crc ^ std::to_integer<std::uint32_t>(b)) & 0xFFU] ^ (crc >> 8U);
  }
  return ~crc;
}

void computeMac(MacAlgorithm algorithm, ConstBytes key, ConstBytes message, std::size_t end,
                std::uint16_t patched_length, MutableBytes out) {
  EVP_MAC_CTX* ctx = macContext(algorithm);
  const auto header = patchedHeader(message, patched_length);
  const ConstBytes body = message.subspan(kHeaderSize, end - kHeaderSize);
  std::array<std::byte, 32> mac{};
  std::size_t mac_length = 0;
  initMac(ctx, algorithm, key);
  EVP_MAC_update(ctx, asUchar(ConstBytes(header)), header.size());
  EVP_MAC_update(ctx, asUchar(body), body.size());
  EVP_MAC_final(ctx, asUchar(MutableBytes(mac)), &mac_length, mac.size());
  std::copy_n(mac.begin(), std::min(out.size(), mac_length), out.begin());
}

std::uint32_t computeFingerprint(ConstBytes message, std::size_t end,
                                 std::uint16_t patched_length) {
  const auto header = patchedHeader(message, patched_length);
  const std::uint32_t crc = crc32(message.subspan(kHeaderSize, end - kHeaderSize), crc32(header));
  return crc ^ kFingerprintXor;
}

namespace {

IntegrityResult verifyMac(const Message& message, ConstBytes key, std::uint16_t type,
                          MacAlgorithm algorithm) {
  const RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) {
    return IntegrityResult::kMissing;
  }
  std::array<std::byte, 32> expected{};
  const MutableBytes mac = std::span(expected).first(attribute->length);
  computeMac(algorithm, key, message.bytes(), attributeStart(*attribute), lengthThrough(*attribute),
             mac);
  const ConstBytes received = message.value(*attribute);
  return CRYPTO_memcmp(mac.data(), received.data(), mac.size()) == 0 ? IntegrityResult::kOk
                                                                     : IntegrityResult::kMismatch;
}

}  // namespace

IntegrityResult verifyMessageIntegrity(const Message& message, ConstBytes key) {
  return verifyMac(message, key, attr::kMessageIntegrity, MacAlgorithm::kHmacSha1);
}

IntegrityResult verifyMessageIntegritySha256(const Message& message, ConstBytes key) {
  return verifyMac(message, key, attr::kMessageIntegritySha256, MacAlgorithm::kHmacSha256);
}

IntegrityResult verifyFingerprint(const Message& message) {
  const RawAttribute* attribute = message.find(attr::kFingerprint);
  if (attribute == nullptr) {
    return IntegrityResult::kMissing;
  }
  const std::uint32_t expected =
      computeFingerprint(message.bytes(), attributeStart(*attribute), lengthThrough(*attribute));
  return load32(message.value(*attribute), 0) == expected ? IntegrityResult::kOk
                                                          : IntegrityResult::kMismatch;
}

}  // namespace turnpike::protocol

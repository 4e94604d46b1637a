#include "auth/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>

namespace turnpike::auth {
namespace {

// OpenSSL takes unsigned char; going through void* avoids a reinterpret_cast.
const unsigned char* asUchar(const void* data) { return static_cast<const unsigned char*>(data); }
unsigned char* asUchar(void* data) { return static_cast<unsigned char*>(data); }

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

MacCtxPtr makeContext(const char* digest) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  MacCtxPtr made(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);
  std::array<OSSL_PARAM, 2> params{
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  EVP_MAC_CTX_set_params(made.get(), params.data());
  return made;
}

// Keys `ctx` with `key` and returns the MAC of `parts` (N: the digest's size).
template <std::size_t N>
std::array<std::byte, N> compute(EVP_MAC_CTX* ctx, std::span<const std::byte> key,
                                 std::initializer_list<std::span<const std::byte>> parts) {
  // An empty key is valid HMAC input, but OpenSSL wants a non-null pointer.
  static constexpr unsigned char kEmpty = 0;
  EVP_MAC_init(ctx, key.empty() ? &kEmpty : asUchar(key.data()), key.size(), nullptr);
  for (const std::span<const std::byte> part : parts) {
    EVP_MAC_update(ctx, asUchar(part.data()), part.size());
  }
  std::array<std::byte, N> mac{};
  std::size_t length = 0;
  EVP_MAC_final(ctx, asUchar(mac.data()), &length, mac.size());
  return mac;
}

}  // namespace

HmacSha256 hmacSha256(std::span<const std::byte> key,
                      std::initializer_list<std::span<const std::byte>> parts) {
  thread_local const MacCtxPtr ctx = makeContext("SHA256");
  return compute<32>(ctx.get(), key, parts);
}

HmacSha1 hmacSha1(std::span<const std::byte> key, std::span<const std::byte> message) {
  thread_local const MacCtxPtr ctx = makeContext("SHA1");
  return compute<20>(ctx.get(), key, {message});
}

}  // namespace turnpike::auth

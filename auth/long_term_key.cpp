#include "auth/long_term_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <initializer_list>

namespace turnpike::auth {
namespace {

// Digest of the parts joined with ':'.
template <std::size_t N>
std::array<std::byte, N> digestJoined(const EVP_MD* md,
                                      std::initializer_list<std::string_view> parts) {
  std::array<std::byte, N> out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, md, nullptr);
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) {
      EVP_DigestUpdate(ctx, ":", 1);
    }
    first = false;
    EVP_DigestUpdate(ctx, part.data(), part.size());
  }
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &length);  // NOLINT
  EVP_MD_CTX_free(ctx);
  return out;
}

}  // namespace

Md5Key longTermKeyMd5(std::string_view username, std::string_view realm,
                      std::string_view password) {
  return digestJoined<16>(EVP_md5(), {username, realm, password});
}

Sha256Key longTermKeySha256(std::string_view username, std::string_view realm,
                            std::string_view password) {
  return digestJoined<32>(EVP_sha256(), {username, realm, password});
}

Sha256Key userhash(std::string_view username, std::string_view realm) {
  return digestJoined<32>(EVP_sha256(), {username, realm});
}

bool constantTimeEqual(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace turnpike::auth

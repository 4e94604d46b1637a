#include "auth/rest_credentials.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>

#include "auth/base64.hpp"

namespace turnpike::auth {
namespace {

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// One HMAC-SHA1 context per thread, fetched once (EVP_MAC_fetch is too slow per request).
EVP_MAC_CTX* hmacSha1Context() {
  thread_local const MacCtxPtr ctx = [] {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    MacCtxPtr made(EVP_MAC_CTX_new(mac));
    EVP_MAC_free(mac);
    std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA1"), 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC_CTX_set_params(made.get(), params.data());
    return made;
  }();
  return ctx.get();
}

// OpenSSL takes unsigned char; going through void* avoids a reinterpret_cast.
const unsigned char* asUchar(const void* data) { return static_cast<const unsigned char*>(data); }
unsigned char* asUchar(void* data) { return static_cast<unsigned char*>(data); }

std::array<std::byte, 20> hmacSha1(std::string_view key, std::string_view message) {
  std::array<std::byte, 20> mac{};
  EVP_MAC_CTX* ctx = hmacSha1Context();
  // An empty key is valid HMAC input, but OpenSSL wants a non-null pointer.
  static constexpr unsigned char kEmpty = 0;
  EVP_MAC_init(ctx, key.empty() ? &kEmpty : asUchar(key.data()), key.size(), nullptr);
  EVP_MAC_update(ctx, asUchar(message.data()), message.size());
  std::size_t length = 0;
  EVP_MAC_final(ctx, asUchar(mac.data()), &length, mac.size());
  return mac;
}

}  // namespace

std::string restPassword(std::string_view secret, std::string_view username) {
  return base64Encode(hmacSha1(secret, username));
}

RestCredential mintRestCredential(std::string_view secret, std::string_view user,
                                  std::int64_t ttl_seconds, std::int64_t now_unix) {
  std::int64_t expires_at = 0;
  if (__builtin_add_overflow(now_unix, ttl_seconds, &expires_at)) {
    expires_at = ttl_seconds > 0 ? std::numeric_limits<std::int64_t>::max()
                                 : std::numeric_limits<std::int64_t>::min();
  }
  RestCredential credential;
  credential.expires_at = expires_at;
  credential.username = std::to_string(expires_at);
  if (!user.empty()) {
    credential.username.append(":").append(user);
  }
  credential.password = restPassword(secret, credential.username);
  return credential;
}

std::string_view toString(RestError error) {
  switch (error) {
    case RestError::kNotRest:
      return "not a REST username";
  }
  return "unknown";
}

std::expected<RestUsername, RestError> parseRestUsername(std::string_view username) {
  const std::size_t colon = username.find(':');
  const std::string_view digits = username.substr(0, colon);
  const bool all_digits =
      !digits.empty() && std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; });
  if (!all_digits) {
    return std::unexpected(RestError::kNotRest);
  }
  RestUsername parsed;
  const auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), parsed.expiry);
  if (ec != std::errc{} || end != digits.data() + digits.size()) {
    return std::unexpected(RestError::kNotRest);  // too large for int64
  }
  if (colon != std::string_view::npos) {
    parsed.user = username.substr(colon + 1);
  }
  return parsed;
}

}  // namespace turnpike::auth

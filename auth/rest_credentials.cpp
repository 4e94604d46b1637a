#include "auth/rest_credentials.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <limits>
#include <span>

#include "auth/base64.hpp"
#include "auth/hmac.hpp"

namespace turnpike::auth {

std::string restPassword(std::string_view secret, std::string_view username) {
  return base64Encode(
      hmacSha1(std::as_bytes(std::span(secret)), std::as_bytes(std::span(username))));
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

// The "TURN REST API" shared-secret scheme (draft-uberti-behave-turn-rest-00, as implemented by
// coturn's use-auth-secret): a web service that knows a secret shared with the TURN server hands
// out time-limited credentials, and the TURN server recomputes the password from the username.
//
//   username = "<expiry unix time>:<user>"   (or just "<expiry>" when there is no user)
//   password = base64(HMAC-SHA1(secret, username))
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace turnpike::auth {

// base64(HMAC-SHA1(key = secret, message = username)): 28 characters.
[[nodiscard]] std::string restPassword(std::string_view secret, std::string_view username);

struct RestCredential {
  std::string username;  // "<expires_at>:<user>" or "<expires_at>"
  std::string password;  // restPassword(secret, username)
  std::int64_t expires_at = 0;
};

// A credential valid until now_unix + ttl_seconds (saturated at the int64 maximum).
[[nodiscard]] RestCredential mintRestCredential(std::string_view secret, std::string_view user,
                                                std::int64_t ttl_seconds, std::int64_t now_unix);

// A username in REST form. `user` views into the parsed string.
struct RestUsername {
  std::int64_t expiry = 0;
  std::string_view user;
};

enum class RestError : std::uint8_t {
  kNotRest,  // not "<digits>[:<user>]" with digits fitting int64: perhaps a static user
};

[[nodiscard]] std::string_view toString(RestError error);

// The part before the first ':' must be a decimal unix time: ASCII digits only (no sign, no
// spaces) that fit int64. Everything after that ':' is the user, which may itself contain ':'.
// A username with no ':' that is all digits is an expiry with an empty user.
[[nodiscard]] std::expected<RestUsername, RestError> parseRestUsername(std::string_view username);

}  // namespace turnpike::auth

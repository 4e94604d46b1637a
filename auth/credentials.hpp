// Where the TURN core gets the passwords for a USERNAME: static long-term users and REST
// shared-secret credentials (auth/rest_credentials.hpp), behind one lookup.
//
// The rule, in order:
//   1. An empty USERNAME, or one of 513 bytes or more (RFC 8489 section 14.3), is kMalformed.
//   2. If at least one secret is configured and the username parses as REST
//      ("<expiry>[:<user>]", see parseRestUsername), it is a REST credential and nothing else:
//      expiry < now -> kExpired; otherwise one password per secret, restPassword(secret_i,
//      username), in configuration order, so that a credential minted with any secret of a
//      rotation is accepted (the caller tries each password's key). A static user with the same
//      name is not consulted.
//   3. Otherwise, a configured static user -> its one password (even if its name looks like a
//      REST username: with no secrets configured there is no REST interpretation).
//   4. Otherwise kUnknownUser.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::auth {

struct Credential {
  std::string user;                        // the static user name, or the user part of a REST name
  std::vector<std::string> passwords;      // static: one; REST: one per secret, in config order
  std::optional<std::int64_t> expires_at;  // REST only: the expiry from the username
};

enum class CredentialError : std::uint8_t {
  kUnknownUser,  // neither REST (with secrets configured) nor a static user
  kExpired,      // a REST username whose expiry is in the past
  kMalformed,    // empty or too long to be a STUN USERNAME
};

[[nodiscard]] std::string_view toString(CredentialError error);

// Immutable after construction: safe to share between threads.
class CredentialStore {
 public:
  // Longest USERNAME value: "less than 513 bytes" (RFC 8489 section 14.3).
  static constexpr std::size_t kMaxUsernameSize = 512;

  CredentialStore(std::map<std::string, std::string> users, std::vector<std::string> secrets);

  // Applies the rule above at wall-clock time now_unix.
  [[nodiscard]] std::expected<Credential, CredentialError> lookup(std::string_view username,
                                                                  std::int64_t now_unix) const;

  [[nodiscard]] bool hasSecrets() const { return !secrets_.empty(); }

 private:
  std::map<std::string, std::string, std::less<>> users_;
  std::vector<std::string> secrets_;
};

}  // namespace turnpike::auth

#include "auth/credentials.hpp"

#include <utility>

#include "auth/rest_credentials.hpp"

namespace turnpike::auth {

std::string_view toString(CredentialError error) {
  switch (error) {
    case CredentialError::kUnknownUser:
      return "unknown user";
    case CredentialError::kExpired:
      return "credential expired";
    case CredentialError::kMalformed:
      return "malformed username";
  }
  return "unknown";
}

CredentialStore::CredentialStore(std::map<std::string, std::string> users,
                                 std::vector<std::string> secrets)
    : users_(std::make_move_iterator(users.begin()), std::make_move_iterator(users.end())),
      secrets_(std::move(secrets)) {}

std::expected<Credential, CredentialError> CredentialStore::lookup(std::string_view username,
                                                                   std::int64_t now_unix) const {
  // Rule 1: not a possible USERNAME value.
  if (username.empty() || username.size() > kMaxUsernameSize) {
    return std::unexpected(CredentialError::kMalformed);
  }
  // Rule 2: REST, when secrets are configured.
  if (!secrets_.empty()) {
    if (const auto rest = parseRestUsername(username)) {
      if (rest->expiry < now_unix) {
        return std::unexpected(CredentialError::kExpired);
      }
      Credential credential{
          .user = std::string(rest->user), .passwords = {}, .expires_at = rest->expiry};
      credential.passwords.reserve(secrets_.size());
      for (const std::string& secret : secrets_) {
        credential.passwords.push_back(restPassword(secret, username));
      }
      return credential;
    }
  }
  // Rule 3: a static user.
  if (const auto it = users_.find(username); it != users_.end()) {
    return Credential{.user = it->first, .passwords = {it->second}, .expires_at = std::nullopt};
  }
  // Rule 4.
  return std::unexpected(CredentialError::kUnknownUser);
}

}  // namespace turnpike::auth

// What the config reader (config.cpp) and its checks (config_validate.cpp) share: the error
// helpers, key paths and limits. Internal to server/config; not installed for other code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "server/config/config.hpp"

namespace turnpike::server::config_detail {

using protocol::IpAddress;
using Status = std::expected<void, ConfigError>;
template <typename T>
using Result = std::expected<T, ConfigError>;

inline constexpr std::uint16_t kStunPort = 3478;     // RFC 8489 section 6
inline constexpr std::uint16_t kStunTlsPort = 5349;  // RFC 8489 section 6
inline constexpr std::int64_t kMaxPort = 65535;
inline constexpr std::int64_t kMinRelayPort = 1024;
inline constexpr std::int64_t kMaxLifetime = 86400;
inline constexpr std::int64_t kMaxUint32 = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::int64_t kMaxApiTtl = 31536000;  // 365 days, as `turnpike credentials --ttl`
inline constexpr std::int64_t kMaxApiRate = 1000000;
inline constexpr std::size_t kMinApiKeyChars = 16;
inline constexpr std::size_t kMaxUriBytes = 1024;
// REALM and SOFTWARE: fewer than 128 characters and at most 763 bytes (RFC 8489 14.9, 14.14).
inline constexpr std::size_t kMaxTextChars = 127;
inline constexpr std::size_t kMaxTextBytes = 763;
// USERNAME: at most 509 bytes (RFC 8489 14.3).
inline constexpr std::size_t kMaxUsernameBytes = 509;
inline constexpr std::size_t kMaxFileBytes = std::size_t{16} << 20U;
inline constexpr std::size_t kMaxQuotedValue = 40;

inline std::unexpected<ConfigError> fail(std::string key, std::string message) {
  return std::unexpected(ConfigError{std::move(key), std::move(message)});
}

// "a.b" from "a" and "b" ("b" from "" and "b"); "a[2]" from "a" and 2.
[[nodiscard]] std::string childPath(std::string_view path, std::string_view key);
[[nodiscard]] std::string indexPath(std::string_view path, std::size_t index);

}  // namespace turnpike::server::config_detail

// HMAC (RFC 2104) for auth: HMAC-SHA256 for the server's own tokens (stateless nonces, nonce.hpp;
// the nonce key derived from auth.nonce_secret; RFC 8016 mobility tickets), HMAC-SHA1 for TURN
// REST passwords (rest_credentials.hpp). One OpenSSL context per thread and digest, fetched once
// (EVP_MAC_fetch is too slow per request); nothing is allocated per call. (MESSAGE-INTEGRITY has
// its own contexts in protocol/stun/integrity.cpp, which also caches the last key's state.)
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>

namespace turnpike::auth {

using HmacSha1 = std::array<std::byte, 20>;
using HmacSha256 = std::array<std::byte, 32>;

// HMAC-SHA256 under `key` of the concatenation of `parts`. An empty key is valid.
[[nodiscard]] HmacSha256 hmacSha256(std::span<const std::byte> key,
                                    std::initializer_list<std::span<const std::byte>> parts);

// HMAC-SHA1 under `key` of `message`. An empty key is valid.
[[nodiscard]] HmacSha1 hmacSha1(std::span<const std::byte> key, std::span<const std::byte> message);

}  // namespace turnpike::auth

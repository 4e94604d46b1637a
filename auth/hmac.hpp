// HMAC-SHA256 (RFC 2104) for the server's own tokens: stateless nonces (nonce.hpp), the nonce key
// derived from auth.nonce_secret, and RFC 8016 mobility tickets. One OpenSSL context per thread,
// fetched once (EVP_MAC_fetch is too slow per request); nothing is allocated per call.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>

namespace turnpike::auth {

using HmacSha256 = std::array<std::byte, 32>;

// HMAC-SHA256 under `key` of the concatenation of `parts`. An empty key is valid.
[[nodiscard]] HmacSha256 hmacSha256(std::span<const std::byte> key,
                                    std::initializer_list<std::span<const std::byte>> parts);

}  // namespace turnpike::auth

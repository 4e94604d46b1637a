// The credential API (README "Credential API"): hands TURN REST credentials
// (auth/rest_credentials.hpp) to holders of an API key, over the HTTP endpoint.
//
//   POST /api/v1/credentials                  Authorization: Bearer KEY
//        {"user": "alice", "ttl": 3600}       (both optional; unknown members are ignored)
//     -> {"username", "password", "ttl", "expires_at", "uris", "iceServers"}
//   GET  /api/v1/turn?service=turn&username=alice&ttl=3600     Authorization: Bearer KEY
//     -> {"username", "password", "ttl", "uris"}   (draft-uberti-behave-turn-rest-00 section 2.2)
//
// Checks, in order: the client's request rate (429 with Retry-After; before the key, so that key
// guessing is limited too), the method (405 with Allow), the key (401), the parameters and the
// body size (400). Errors are {"error": "<code>", "message": "<text>"}. The credentials are
// stateless, minted with the first auth.secrets entry: every node sharing it accepts them.
//
// Everything here is pure: a request in, a response out, the time passed in. Only
// serveCredentialApi() (credential_api_http.cpp) touches libevent.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/stun/endpoint.hpp"
#include "protocol/turn/core.hpp"
#include "server/config/config.hpp"
#include "server/http/ice_uris.hpp"
#include "server/http/rate_limiter.hpp"

struct evhttp_request;

namespace turnpike::server {

enum class ApiEndpoint : std::uint8_t { kCredentials, kTurn };
inline constexpr std::size_t kApiEndpointCount = 2;
// "credentials" or "turn": the endpoint label of turnpike_api_requests_total.
[[nodiscard]] std::string_view toString(ApiEndpoint endpoint);
// The endpoint a path names (an exact match), or nullopt: not the API's.
[[nodiscard]] std::optional<ApiEndpoint> apiEndpointFor(std::string_view path);

// Every status the API answers with, in the order of ApiRequestCounts.
inline constexpr std::array<int, 5> kApiStatuses{200, 400, 401, 405, 429};

// Request bodies (and query strings) over this many bytes get 400.
inline constexpr std::size_t kApiMaxBodySize = 4096;
// User names: 1..256 bytes of UTF-8, no ':' (it ends the expiry) and no control characters.
inline constexpr std::size_t kApiMaxUserSize = 256;

struct ApiRequest {
  std::string_view method;  // "GET", "POST", ...
  std::string_view path;    // without the query
  std::string_view query;   // after '?', still percent-encoded; empty when there is none
  std::optional<std::string_view> authorization;  // the Authorization header, if any
  std::string_view body;
  protocol::IpAddress client;
};

struct ApiResponse {
  int status = 200;
  std::string_view reason = "OK";
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type among them
  std::string body;
};

// A 400 (or 401) reason: the machine code and the text for humans.
struct ApiError {
  std::string_view code;
  std::string message;
};

// What a client asked for, checked: ttl in 1..max_ttl; user empty when not given.
struct MintRequest {
  std::string user;
  std::int64_t ttl = 0;
};

// The POST body: a JSON object, or empty for all defaults. ttl defaults to
// min(86400, max_ttl).
[[nodiscard]] std::expected<MintRequest, ApiError> parseCredentialsBody(std::string_view body,
                                                                        std::uint32_t max_ttl);
// The GET query: service (must be "turn" if given), username, ttl; others are ignored.
[[nodiscard]] std::expected<MintRequest, ApiError> parseTurnQuery(std::string_view query,
                                                                  std::uint32_t max_ttl);
// nullopt when `user` may be the user part of a REST username, else why not.
[[nodiscard]] std::optional<ApiError> checkUser(std::string_view user);

// The token of "Bearer <token>" (RFC 6750 section 2.1; the scheme is case-insensitive), or
// nullopt for another scheme or a malformed header.
[[nodiscard]] std::optional<std::string_view> bearerToken(std::string_view authorization);

// The configured keys as SHA-256 digests. matches() hashes the presented key and compares it with
// every digest using CRYPTO_memcmp, so neither the keys' contents nor their lengths leak through
// timing, nor which key matched.
class ApiKeys {
 public:
  explicit ApiKeys(const std::vector<std::string>& keys);
  [[nodiscard]] bool matches(std::string_view presented) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  [[nodiscard]] static Digest sha256(std::string_view text);
  std::vector<Digest> digests_;
};

// turnpike_api_requests_total: [endpoint][index in kApiStatuses].
struct ApiRequestCounts {
  std::array<std::array<std::uint64_t, kApiStatuses.size()>, kApiEndpointCount> counts{};
};

class CredentialApi {
 public:
  // `relays` are the relay addresses in use (for the derived URIs). config.http.api_keys must
  // not be empty and config.auth.secrets must not be empty (validate() ensures both).
  CredentialApi(const ServerConfig& config, std::span<const protocol::RelayAddress> relays);
  CredentialApi(const CredentialApi&) = delete;
  CredentialApi& operator=(const CredentialApi&) = delete;

  // Answers a request for an API path (apiEndpointFor(request.path) is set). Not thread-safe:
  // call it from one thread (the HTTP thread). Logs one info line per minted credential.
  [[nodiscard]] ApiResponse handle(const ApiRequest& request, std::int64_t now_unix,
                                   protocol::MonotonicTime now);

  // SIGHUP: the new config's API keys, first secret and api_max_ttl apply to the next request
  // (the URIs and the rate limit stay). Safe from any thread. With no keys left every request
  // gets 401; turning the API on or off takes a restart.
  void reload(const ServerConfig& config);

  // Safe from any thread.
  [[nodiscard]] ApiRequestCounts requestCounts() const;
  [[nodiscard]] const IceUris& uris() const { return uris_; }

 private:
  [[nodiscard]] ApiResponse respond(ApiEndpoint endpoint, const ApiRequest& request,
                                    std::int64_t now_unix, protocol::MonotonicTime now);

  std::mutex mutex_;  // guards keys_, secret_ and max_ttl_ (handle() against reload())
  ApiKeys keys_;
  std::string secret_;
  std::uint32_t max_ttl_;
  RateLimiter limiter_;
  IceUris uris_;
  std::array<std::array<std::atomic<std::uint64_t>, kApiStatuses.size()>, kApiEndpointCount>
      counts_{};
};

// The API for this config, or null when http.api_keys (or auth.secrets) is empty: the API is
// off. Logs the URIs it hands out, and warns when there are none.
[[nodiscard]] std::unique_ptr<CredentialApi> makeCredentialApi(
    const ServerConfig& config, std::span<const protocol::RelayAddress> relays);

// The libevent side: copies the request in, calls api.handle() with the wall and monotonic
// clocks, and sends the response. Runs on the HTTP thread.
void serveCredentialApi(CredentialApi& api, evhttp_request* request);

}  // namespace turnpike::server

#include "server/http/credential_api.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>

#include "auth/rest_credentials.hpp"
#include "server/http/json.hpp"
#include "server/log.hpp"

namespace turnpike::server {
namespace {

constexpr std::int64_t kDefaultTtl = 86400;

std::unexpected<ApiError> invalid(std::string_view code, std::string message) {
  return std::unexpected(ApiError{code, std::move(message)});
}

std::string ttlRange(std::uint32_t max_ttl) {
  return "ttl must be a whole number of seconds from 1 to " + std::to_string(max_ttl);
}

std::expected<std::int64_t, ApiError> checkTtl(std::int64_t ttl, std::uint32_t max_ttl) {
  if (ttl < 1 || ttl > max_ttl) {
    return invalid("invalid_ttl", ttlRange(max_ttl));
  }
  return ttl;
}

std::int64_t defaultTtl(std::uint32_t max_ttl) {
  return std::min<std::int64_t>(kDefaultTtl, max_ttl);
}

// application/x-www-form-urlencoded (the query of a GET): '+' is a space, %XX one byte.
std::optional<std::string> formDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      unsigned value = 0;
      const char* first = text.data() + i + 1;
      if (text.size() - i < 3 || std::from_chars(first, first + 2, value, 16).ptr != first + 2) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(value));
      i += 2;
    }
  }
  return out;
}

struct QueryParameter {
  std::string_view name;
  std::optional<std::string>* value;
};

std::expected<void, ApiError> readQuery(std::string_view query,
                                        std::span<const QueryParameter> wanted) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    const auto name = formDecode(pair.substr(0, equals));
    const auto value = formDecode(equals == std::string_view::npos ? "" : pair.substr(equals + 1));
    if (!name || !value) {
      return invalid("invalid_query", "the query has a malformed %-escape");
    }
    const auto parameter = std::ranges::find(wanted, *name, &QueryParameter::name);
    if (parameter == wanted.end()) {
      continue;  // unknown parameters are ignored
    }
    if (parameter->value->has_value()) {
      return invalid("invalid_query", std::string(parameter->name) + " is given more than once");
    }
    *parameter->value = *value;
  }
  return {};
}

// Decimal digits only, as in the query's ttl=3600.
std::optional<std::int64_t> parseDecimal(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool digits =
      !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// ---- Responses ----

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 405:
      return "Method Not Allowed";
    case 429:
      return "Too Many Requests";
    default:
      return "Error";
  }
}

ApiResponse jsonResponse(int status, std::string body) {
  ApiResponse response;
  response.status = status;
  response.reason = reasonPhrase(status);
  response.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  response.body = std::move(body);
  response.body.push_back('\n');
  return response;
}

ApiResponse errorResponse(int status, std::string_view code, std::string_view message) {
  JsonWriter json;
  json.beginObject().field("error", code).field("message", message).endObject();
  return jsonResponse(status, json.text());
}

void writeUris(JsonWriter& json, const std::vector<std::string>& uris) {
  json.beginArray();
  for (const std::string& uri : uris) {
    json.string(uri);
  }
  json.endArray();
}

// RTCConfiguration.iceServers: a STUN entry and a TURN entry with the credential. An entry with
// no URLs would make RTCPeerConnection throw, so empty ones are left out.
void writeIceServers(JsonWriter& json, const IceUris& uris,
                     const auth::RestCredential& credential) {
  json.beginArray();
  if (!uris.stun.empty()) {
    json.beginObject().key("urls");
    writeUris(json, uris.stun);
    json.endObject();
  }
  if (!uris.turn.empty()) {
    json.beginObject().key("urls");
    writeUris(json, uris.turn);
    json.field("username", credential.username)
        .field("credential", credential.password)
        .endObject();
  }
  json.endArray();
}

std::string renderCredential(ApiEndpoint endpoint, const auth::RestCredential& credential,
                             std::int64_t ttl, const IceUris& uris) {
  JsonWriter json;
  json.beginObject()
      .field("username", credential.username)
      .field("password", credential.password)
      .field("ttl", ttl);
  if (endpoint == ApiEndpoint::kCredentials) {
    json.field("expires_at", credential.expires_at);
  }
  json.key("uris");
  writeUris(json, uris.turn);
  if (endpoint == ApiEndpoint::kCredentials) {
    json.key("iceServers");
    writeIceServers(json, uris, credential);
  }
  json.endObject();
  return json.text();
}

}  // namespace

std::string_view toString(ApiEndpoint endpoint) {
  return endpoint == ApiEndpoint::kCredentials ? "credentials" : "turn";
}

std::optional<ApiEndpoint> apiEndpointFor(std::string_view path) {
  if (path == "/api/v1/credentials") {
    return ApiEndpoint::kCredentials;
  }
  if (path == "/api/v1/turn") {
    return ApiEndpoint::kTurn;
  }
  return std::nullopt;
}

// ---- Parameters ----

std::optional<ApiError> checkUser(std::string_view user) {
  if (user.empty() || user.size() > kApiMaxUserSize) {
    return ApiError{"invalid_user", "user must be 1 to 256 bytes"};
  }
  std::size_t pos = 0;
  while (pos < user.size()) {
    const std::optional<char32_t> c = decodeUtf8(user, pos);
    if (!c) {
      return ApiError{"invalid_user", "user must be UTF-8"};
    }
    if (*c == ':') {
      return ApiError{"invalid_user", "user must not contain ':'"};
    }
    // C0, DEL and C1 controls.
    if (*c < 0x20 || (*c >= 0x7F && *c <= 0x9F)) {
      return ApiError{"invalid_user", "user must not contain control characters"};
    }
  }
  return std::nullopt;
}

std::expected<MintRequest, ApiError> parseCredentialsBody(std::string_view body,
                                                          std::uint32_t max_ttl) {
  MintRequest request{"", defaultTtl(max_ttl)};
  if (body.empty()) {
    return request;
  }
  const auto object = parseJsonObject(body, JsonLimits{.max_input = kApiMaxBodySize});
  if (!object) {
    return invalid("invalid_json",
                   "the body is not a flat JSON object: " + std::string(object.error().reason) +
                       " at byte " + std::to_string(object.error().offset));
  }
  if (const JsonValue* user = object->find("user")) {
    const auto* text = std::get_if<std::string>(user);
    if (text == nullptr) {
      return invalid("invalid_user", "user must be a string");
    }
    if (auto error = checkUser(*text)) {
      return std::unexpected(std::move(*error));
    }
    request.user = *text;
  }
  if (const JsonValue* ttl = object->find("ttl")) {
    const auto* number = std::get_if<std::int64_t>(ttl);
    if (number == nullptr) {
      return invalid("invalid_ttl", ttlRange(max_ttl));
    }
    const auto checked = checkTtl(*number, max_ttl);
    if (!checked) {
      return std::unexpected(checked.error());
    }
    request.ttl = *checked;
  }
  return request;
}

std::expected<MintRequest, ApiError> parseTurnQuery(std::string_view query, std::uint32_t max_ttl) {
  if (query.size() > kApiMaxBodySize) {
    return invalid("invalid_query", "the query is longer than 4096 bytes");
  }
  std::optional<std::string> service;
  std::optional<std::string> username;
  std::optional<std::string> ttl;
  const std::array<QueryParameter, 3> wanted{
      {{"service", &service}, {"username", &username}, {"ttl", &ttl}}};
  if (auto read = readQuery(query, wanted); !read) {
    return std::unexpected(read.error());
  }
  if (service && *service != "turn") {
    return invalid("invalid_service", "service must be turn");
  }
  MintRequest request{"", defaultTtl(max_ttl)};
  if (username) {
    if (auto error = checkUser(*username)) {
      return std::unexpected(std::move(*error));
    }
    request.user = *username;
  }
  if (ttl) {
    const std::optional<std::int64_t> seconds = parseDecimal(*ttl);
    const auto checked = checkTtl(seconds.value_or(0), max_ttl);
    if (!checked) {
      return std::unexpected(checked.error());
    }
    request.ttl = *checked;
  }
  return request;
}

std::optional<std::string_view> bearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  const bool is_bearer = authorization.size() > kScheme.size() &&
                         std::ranges::equal(authorization.substr(0, kScheme.size()), kScheme,
                                            [](char a, char b) { return (a | 0x20) == b; }) &&
                         authorization[kScheme.size()] == ' ';
  if (!is_bearer) {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!token.empty() && is_space(token.front())) {
    token.remove_prefix(1);
  }
  while (!token.empty() && is_space(token.back())) {
    token.remove_suffix(1);
  }
  if (token.empty() || std::ranges::any_of(token, is_space)) {
    return std::nullopt;
  }
  return token;
}

// ---- Keys ----

ApiKeys::ApiKeys(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    digests_.push_back(sha256(key));
  }
}

ApiKeys::Digest ApiKeys::sha256(std::string_view text) {
  Digest digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

bool ApiKeys::matches(std::string_view presented) const {
  const Digest digest = sha256(presented);
  bool matched = false;
  for (const Digest& key : digests_) {
    // Every key is compared, matched or not: the time does not depend on which one matches.
    matched |= CRYPTO_memcmp(digest.data(), key.data(), digest.size()) == 0;
  }
  return matched;
}

// ---- The API ----

CredentialApi::CredentialApi(const ServerConfig& config,
                             std::span<const protocol::RelayAddress> relays)
    : keys_(config.http.api_keys),
      secret_(config.auth.secrets.empty() ? std::string() : config.auth.secrets.front()),
      max_ttl_(config.http.api_max_ttl),
      limiter_(config.http.api_rate_limit.per_second, config.http.api_rate_limit.burst),
      uris_(iceUrisFor(config, relays)) {}

std::unique_ptr<CredentialApi> makeCredentialApi(const ServerConfig& config,
                                                 std::span<const protocol::RelayAddress> relays) {
  if (config.http.api_keys.empty() || config.auth.secrets.empty()) {
    return nullptr;  // validate() does not let keys without secrets through
  }
  auto api = std::make_unique<CredentialApi>(config, relays);
  std::string uris;
  for (const auto* list : {&api->uris().turn, &api->uris().stun}) {
    for (const std::string& uri : *list) {
      uris += " " + uri;
    }
  }
  if (api->uris().turn.empty()) {
    TP_LOG(kWarn, "credential api: no TURN URI to hand out; set public_uris");
  }
  TP_LOG(kInfo, "credential api on /api/v1/credentials and /api/v1/turn with ",
         config.http.api_keys.size(), " key(s); uris:", uris.empty() ? " none" : uris);
  return api;
}

ApiRequestCounts CredentialApi::requestCounts() const {
  ApiRequestCounts out;
  for (std::size_t e = 0; e < kApiEndpointCount; ++e) {
    for (std::size_t s = 0; s < kApiStatuses.size(); ++s) {
      out.counts[e][s] = counts_[e][s].load(std::memory_order_relaxed);
    }
  }
  return out;
}

void CredentialApi::reload(const ServerConfig& config) {
  ApiKeys keys(config.http.api_keys);
  const std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  if (!config.auth.secrets.empty()) {
    secret_ = config.auth.secrets.front();
  }
  max_ttl_ = config.http.api_max_ttl;
}

ApiResponse CredentialApi::handle(const ApiRequest& request, std::int64_t now_unix,
                                  protocol::MonotonicTime now) {
  const ApiEndpoint endpoint = apiEndpointFor(request.path).value_or(ApiEndpoint::kCredentials);
  ApiResponse response;
  {
    const std::lock_guard lock(mutex_);
    response = respond(endpoint, request, now_unix, now);
  }
  const auto* status = std::ranges::find(kApiStatuses, response.status);
  if (status != kApiStatuses.end()) {
    counts_[static_cast<std::size_t>(endpoint)]
           [static_cast<std::size_t>(status - kApiStatuses.begin())]
               .fetch_add(1, std::memory_order_relaxed);
  }
  return response;
}

ApiResponse CredentialApi::respond(ApiEndpoint endpoint, const ApiRequest& request,
                                   std::int64_t now_unix, protocol::MonotonicTime now) {
  // 1. The rate first, so that guessing keys is limited too.
  if (const RateLimiter::Verdict verdict = limiter_.take(request.client, now); !verdict.allowed) {
    ApiResponse response =
        errorResponse(429, "rate_limited", "too many requests from this address; retry later");
    response.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after));
    return response;
  }
  // 2. The method.
  const std::string_view allowed = endpoint == ApiEndpoint::kCredentials ? "POST" : "GET";
  if (request.method != allowed) {
    ApiResponse response =
        errorResponse(405, "method_not_allowed", "use " + std::string(allowed) + " on this path");
    response.headers.emplace_back("Allow", allowed);
    return response;
  }
  // 3. The key (RFC 6750 section 3: a 401 carries WWW-Authenticate).
  const std::optional<std::string_view> token =
      request.authorization ? bearerToken(*request.authorization) : std::nullopt;
  if (!token || !keys_.matches(*token)) {
    ApiResponse response = token ? errorResponse(401, "invalid_api_key", "the API key is not valid")
                                 : errorResponse(401, "missing_api_key",
                                                 "send the API key as Authorization: Bearer <key>");
    response.headers.emplace_back(
        "WWW-Authenticate",
        token ? R"(Bearer realm="turnpike", error="invalid_token")" : R"(Bearer realm="turnpike")");
    return response;
  }
  // 4. The parameters.
  if (request.body.size() > kApiMaxBodySize) {
    return errorResponse(400, "body_too_large", "the body is larger than 4096 bytes");
  }
  const auto mint = endpoint == ApiEndpoint::kCredentials
                        ? parseCredentialsBody(request.body, max_ttl_)
                        : parseTurnQuery(request.query, max_ttl_);
  if (!mint) {
    return errorResponse(400, mint.error().code, mint.error().message);
  }
  // 5. Mint.
  const auth::RestCredential credential =
      auth::mintRestCredential(secret_, mint->user, mint->ttl, now_unix);
  TP_LOG(kInfo, "api: minted a credential for user=", mint->user.empty() ? "-" : mint->user,
         " ttl=", mint->ttl, " client=", request.client.toString(), " (", toString(endpoint), ")");
  return jsonResponse(200, renderCredential(endpoint, credential, mint->ttl, uris_));
}

}  // namespace turnpike::server

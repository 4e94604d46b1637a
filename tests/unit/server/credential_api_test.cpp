// The credential API without HTTP: bearer parsing and the key check, user and ttl validation for
// both endpoints, the order of the checks (429, 405, 401, 400), response shapes and headers, the
// request counters, and that a minted credential is the one `turnpike credentials` and
// auth/rest_credentials compute.
#include "server/http/credential_api.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "auth/rest_credentials.hpp"
#include "server/credentials_command.hpp"
#include "server/http/json.hpp"

namespace turnpike::server {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kKey = "0123456789abcdef-key";
constexpr std::string_view kOtherKey = "fedcba9876543210-other";
constexpr std::string_view kSecret = "s3cret";
constexpr std::int64_t kNow = 1700000000;
const protocol::MonotonicTime kMono{std::chrono::hours(1)};

ServerConfig apiConfig() {
  ServerConfig config;
  config.listeners = {{Transport::kUdp, *protocol::IpAddress::parse("192.0.2.1"), 3478},
                      {Transport::kTcp, *protocol::IpAddress::parse("192.0.2.1"), 3478}};
  config.auth.secrets = {std::string(kSecret), "older-secret"};
  config.http.api_keys = {std::string(kKey), std::string(kOtherKey)};
  config.http.api_max_ttl = 7200;
  config.http.api_rate_limit = {0, 1};  // off unless a test sets it
  return config;
}

std::string bearer(std::string_view key) { return "Bearer " + std::string(key); }

ApiRequest post(std::string_view body, std::optional<std::string_view> authorization) {
  ApiRequest request;
  request.method = "POST";
  request.path = "/api/v1/credentials";
  request.body = body;
  request.authorization = authorization;
  request.client = protocol::IpAddress::v4({192, 0, 2, 50});
  return request;
}

ApiRequest get(std::string_view query, std::optional<std::string_view> authorization) {
  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/turn";
  request.query = query;
  request.authorization = authorization;
  request.client = protocol::IpAddress::v4({192, 0, 2, 50});
  return request;
}

std::string header(const ApiResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

JsonObject bodyOf(const ApiResponse& response) {
  // Only the flat error bodies go through the reader; success bodies are compared as text.
  auto parsed = parseJsonObject(response.body);
  EXPECT_TRUE(parsed.has_value()) << response.body;
  return parsed.value_or(JsonObject{});
}

std::string errorCode(const ApiResponse& response) {
  const JsonObject body = bodyOf(response);
  const JsonValue* code = body.find("error");
  return code != nullptr && std::holds_alternative<std::string>(*code)
             ? std::get<std::string>(*code)
             : "";
}

// ---- Bearer tokens and keys ----

TEST(ApiBearer, ParsesTheToken) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  EXPECT_EQ(bearerToken("bearer abc"), "abc");
  EXPECT_EQ(bearerToken("BEARER   abc  "), "abc");
  EXPECT_EQ(bearerToken("Bearer a.b-c_d~e+f/g=="), "a.b-c_d~e+f/g==");
  EXPECT_FALSE(bearerToken(""));
  EXPECT_FALSE(bearerToken("Bearer"));
  EXPECT_FALSE(bearerToken("Bearer "));
  EXPECT_FALSE(bearerToken("Bearerabc"));
  EXPECT_FALSE(bearerToken("Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
  EXPECT_FALSE(bearerToken("Token abc"));
  EXPECT_FALSE(bearerToken("Bearer a b"));
  EXPECT_FALSE(bearerToken("Bearer\tabc"));
}

TEST(ApiKeysTest, MatchesOnlyAConfiguredKeyExactly) {
  const ApiKeys keys({std::string(kKey), std::string(kOtherKey)});
  EXPECT_TRUE(keys.matches(kKey));
  EXPECT_TRUE(keys.matches(kOtherKey));
  EXPECT_FALSE(keys.matches(""));
  EXPECT_FALSE(keys.matches(kKey.substr(0, kKey.size() - 1)));
  EXPECT_FALSE(keys.matches(std::string(kKey) + "x"));
  EXPECT_FALSE(keys.matches("0123456789ABCDEF-key"));
  EXPECT_FALSE(ApiKeys({}).matches(kKey));
}

// ---- User and ttl ----

TEST(ApiParameters, UserRules) {
  EXPECT_FALSE(checkUser("alice"));
  EXPECT_FALSE(checkUser("al ice@example.com/x"));
  EXPECT_FALSE(checkUser("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(checkUser(std::string(256, 'u')));
  for (const std::string& bad :
       {std::string(), std::string(257, 'u'), std::string("a:b"), std::string("a\nb"),
        std::string("a\0b", 3), std::string("a\x7F"), std::string("a\xC2\x85"),
        std::string("a\xFF"), std::string("\xC3")}) {
    const auto error = checkUser(bad);
    ASSERT_TRUE(error) << bad;
    EXPECT_EQ(error->code, "invalid_user");
  }
}

TEST(ApiParameters, CredentialsBody) {
  auto request = parseCredentialsBody(R"({"user": "alice", "ttl": 3600})", 7200);
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->user, "alice");
  EXPECT_EQ(request->ttl, 3600);
  // Empty body and empty object: no user, the default ttl clipped to the maximum.
  EXPECT_EQ(parseCredentialsBody("", 7200)->ttl, 7200);
  EXPECT_EQ(parseCredentialsBody("{}", 86400 * 2)->ttl, 86400);
  EXPECT_EQ(parseCredentialsBody("{}", 7200)->user, "");
  // Unknown members are ignored (they must still be flat values).
  EXPECT_EQ(parseCredentialsBody(R"({"x": [1], "ttl": 1})", 7200).error().code, "invalid_json");
  EXPECT_EQ(parseCredentialsBody(R"({"x": null, "y": "z", "ttl": 1})", 7200)->ttl, 1);
  EXPECT_EQ(parseCredentialsBody(R"({"ttl": 7200})", 7200)->ttl, 7200);

  struct Bad {
    std::string body;
    std::string_view code;
  };
  for (const Bad& bad :
       {Bad{"{", "invalid_json"}, Bad{"[]", "invalid_json"}, Bad{"user=alice", "invalid_json"},
        Bad{R"({"ttl": 1.5})", "invalid_json"}, Bad{R"({"ttl": 0})", "invalid_ttl"},
        Bad{R"({"ttl": -1})", "invalid_ttl"}, Bad{R"({"ttl": 7201})", "invalid_ttl"},
        Bad{R"({"ttl": "60"})", "invalid_ttl"}, Bad{R"({"ttl": null})", "invalid_ttl"},
        Bad{R"({"user": 5})", "invalid_user"}, Bad{R"({"user": ""})", "invalid_user"},
        Bad{R"({"user": "a:b"})", "invalid_user"}, Bad{R"({"user": "a\u0000"})", "invalid_user"},
        Bad{"{\"user\": \"" + std::string(257, 'u') + "\"}", "invalid_user"},
        Bad{std::string(4097, ' '), "invalid_json"}}) {
    const auto result = parseCredentialsBody(bad.body, 7200);
    ASSERT_FALSE(result) << bad.body;
    EXPECT_EQ(result.error().code, bad.code) << bad.body;
    EXPECT_FALSE(result.error().message.empty());
  }
}

TEST(ApiParameters, TurnQuery) {
  auto request = parseTurnQuery("service=turn&username=alice&ttl=60", 7200);
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->user, "alice");
  EXPECT_EQ(request->ttl, 60);
  EXPECT_EQ(parseTurnQuery("", 7200)->ttl, 7200);
  EXPECT_EQ(parseTurnQuery("", 7200)->user, "");
  // Form decoding, and parameters this API does not use (the draft's key) are ignored.
  EXPECT_EQ(parseTurnQuery("username=b%C3%A9+x%2Fy&key=zzz&&x", 7200)->user, "b\xC3\xA9 x/y");

  struct Bad {
    std::string query;
    std::string_view code;
  };
  for (const Bad& bad :
       {Bad{"service=stun", "invalid_service"}, Bad{"service=", "invalid_service"},
        Bad{"ttl=0", "invalid_ttl"}, Bad{"ttl=7201", "invalid_ttl"}, Bad{"ttl=", "invalid_ttl"},
        Bad{"ttl=-5", "invalid_ttl"}, Bad{"ttl=%2B5", "invalid_ttl"}, Bad{"ttl=1e3", "invalid_ttl"},
        Bad{"ttl=99999999999999999999", "invalid_ttl"}, Bad{"username=", "invalid_user"},
        Bad{"username=a%3Ab", "invalid_user"}, Bad{"username=a%0Ab", "invalid_user"},
        Bad{"username=%FF", "invalid_user"}, Bad{"username=a%2", "invalid_query"},
        Bad{"username=a%zz", "invalid_query"}, Bad{"ttl=5&ttl=6", "invalid_query"},
        Bad{"username=a&username=a", "invalid_query"},
        Bad{"x=" + std::string(4095, 'a'), "invalid_query"}}) {
    const auto result = parseTurnQuery(bad.query, 7200);
    ASSERT_FALSE(result) << bad.query;
    EXPECT_EQ(result.error().code, bad.code) << bad.query;
  }
}

// ---- Whole requests ----

class CredentialApiTest : public testing::Test {
 protected:
  std::unique_ptr<CredentialApi> api_ = makeCredentialApi(apiConfig(), {});

  ApiResponse send(const ApiRequest& request, protocol::MonotonicTime now = kMono) {
    return api_->handle(request, kNow, now);
  }
  std::uint64_t count(ApiEndpoint endpoint, int status) const {
    const ApiRequestCounts counts = api_->requestCounts();
    const auto* it = std::ranges::find(kApiStatuses, status);
    return counts.counts[static_cast<std::size_t>(endpoint)]
                        [static_cast<std::size_t>(it - kApiStatuses.begin())];
  }
};

TEST_F(CredentialApiTest, OffWithoutKeys) {
  ServerConfig config = apiConfig();
  config.http.api_keys.clear();
  EXPECT_EQ(makeCredentialApi(config, {}), nullptr);
  EXPECT_EQ(apiEndpointFor("/api/v1/credentials"), ApiEndpoint::kCredentials);
  EXPECT_EQ(apiEndpointFor("/api/v1/turn"), ApiEndpoint::kTurn);
  for (const std::string_view path : {"/api/v1/credentials/", "/api/v1", "/api/v1/TURN", ""}) {
    EXPECT_FALSE(apiEndpointFor(path)) << path;
  }
}

TEST_F(CredentialApiTest, PostAnswersTheWholeShape) {
  const std::string auth = bearer(kKey);
  const ApiResponse response = send(post(R"({"user": "alice", "ttl": 3600})", auth));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.reason, "OK");
  EXPECT_EQ(header(response, "Content-Type"), "application/json");
  EXPECT_EQ(header(response, "Cache-Control"), "no-store");
  const std::string username = "1700003600:alice";
  const std::string password = auth::restPassword(kSecret, username);
  const std::string turn =
      R"(["turn:192.0.2.1:3478?transport=udp","turn:192.0.2.1:3478?transport=tcp"])";
  EXPECT_EQ(response.body, R"({"username":")" + username + R"(","password":")" + password +
                               R"(","ttl":3600,"expires_at":1700003600,"uris":)" + turn +
                               R"(,"iceServers":[{"urls":["stun:192.0.2.1:3478"]},{"urls":)" +
                               turn + R"(,"username":")" + username + R"(","credential":")" +
                               password + "\"}]}\n");
  EXPECT_EQ(count(ApiEndpoint::kCredentials, 200), 1U);
}

TEST_F(CredentialApiTest, GetAnswersTheDraftShape) {
  const std::string auth = bearer(kOtherKey);
  const ApiResponse response = send(get("service=turn&username=bob&ttl=60", auth));
  ASSERT_EQ(response.status, 200) << response.body;
  const std::string username = "1700000060:bob";
  EXPECT_EQ(response.body, R"({"username":")" + username + R"(","password":")" +
                               auth::restPassword(kSecret, username) +
                               R"(","ttl":60,"uris":["turn:192.0.2.1:3478?transport=udp",)"
                               R"("turn:192.0.2.1:3478?transport=tcp"]})"
                               "\n");
  EXPECT_EQ(header(response, "Cache-Control"), "no-store");
  EXPECT_EQ(count(ApiEndpoint::kTurn, 200), 1U);
}

TEST_F(CredentialApiTest, NoUserAndDefaultTtl) {
  const std::string auth = bearer(kKey);
  const ApiResponse response = send(post("", auth));
  ASSERT_EQ(response.status, 200);
  EXPECT_TRUE(response.body.starts_with(R"({"username":"1700007200","password":")"))
      << response.body;
}

TEST_F(CredentialApiTest, MintsWhatTheCommandLineMints) {
  const std::string auth = bearer(kKey);
  const ApiResponse response = send(post(R"({"user": "carol", "ttl": 600})", auth));
  ASSERT_EQ(response.status, 200);
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(
      runCredentialsCommand({"--secret", std::string(kSecret), "--user", "carol", "--ttl", "600"},
                            out, err, kNow),
      0)
      << err.str();
  const std::string expected =
      "username=1700000600:carol\npassword=" + auth::restPassword(kSecret, "1700000600:carol") +
      "\n";
  EXPECT_EQ(out.str(), expected);
  EXPECT_NE(response.body.find(R"("username":"1700000600:carol","password":")" +
                               auth::restPassword(kSecret, "1700000600:carol") + "\""),
            std::string::npos)
      << response.body;
}

TEST_F(CredentialApiTest, Unauthorized) {
  struct Case {
    std::optional<std::string> authorization;
    std::string_view code;
  };
  for (const Case& c : {Case{std::nullopt, "missing_api_key"}, Case{"", "missing_api_key"},
                        Case{"Basic " + std::string(kKey), "missing_api_key"},
                        Case{std::string(kKey), "missing_api_key"},
                        Case{"Bearer wrong-key-of-some-length", "invalid_api_key"},
                        Case{"Bearer " + std::string(kKey) + "x", "invalid_api_key"}}) {
    for (const bool use_post : {true, false}) {
      const std::optional<std::string_view> header_value =
          c.authorization ? std::optional<std::string_view>(*c.authorization) : std::nullopt;
      const ApiResponse response =
          send(use_post ? post(R"({"ttl": 0})", header_value) : get("ttl=0", header_value));
      EXPECT_EQ(response.status, 401) << c.authorization.value_or("(none)");
      EXPECT_EQ(response.reason, "Unauthorized");
      EXPECT_EQ(errorCode(response), c.code);
      EXPECT_TRUE(header(response, "WWW-Authenticate").starts_with("Bearer realm=\"turnpike\""));
      EXPECT_EQ(header(response, "Content-Type"), "application/json");
    }
  }
  EXPECT_EQ(count(ApiEndpoint::kCredentials, 401), 6U);
  EXPECT_EQ(count(ApiEndpoint::kTurn, 401), 6U);
}

TEST_F(CredentialApiTest, BadRequests) {
  const std::string auth = bearer(kKey);
  for (const auto& [body, code] : std::vector<std::pair<std::string, std::string_view>>{
           {"{", "invalid_json"},
           {R"({"ttl": 0})", "invalid_ttl"},
           {R"({"ttl": 7201})", "invalid_ttl"},
           {R"({"user": "a:b"})", "invalid_user"},
           {"{\"user\": \"" + std::string(5000, 'u') + "\"}", "body_too_large"}}) {
    const ApiResponse response = send(post(body, auth));
    EXPECT_EQ(response.status, 400) << body.substr(0, 40);
    EXPECT_EQ(errorCode(response), code);
    EXPECT_EQ(header(response, "Content-Type"), "application/json");
  }
  EXPECT_EQ(send(get("ttl=0", auth)).status, 400);
  EXPECT_EQ(count(ApiEndpoint::kCredentials, 400), 5U);
  EXPECT_EQ(count(ApiEndpoint::kTurn, 400), 1U);
}

TEST_F(CredentialApiTest, WrongMethodIs405WithAllowBeforeTheKey) {
  for (const std::string_view method : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    ApiRequest request = post("", std::nullopt);
    request.method = method;
    const ApiResponse response = send(request);
    EXPECT_EQ(response.status, 405) << method;
    EXPECT_EQ(header(response, "Allow"), "POST");
    EXPECT_EQ(errorCode(response), "method_not_allowed");
  }
  ApiRequest request = get("", std::nullopt);
  request.method = "POST";
  const ApiResponse response = send(request);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(header(response, "Allow"), "GET");
  EXPECT_EQ(count(ApiEndpoint::kCredentials, 405), 6U);
  EXPECT_EQ(count(ApiEndpoint::kTurn, 405), 1U);
}

TEST_F(CredentialApiTest, RateLimitComesFirstAndCarriesRetryAfter) {
  ServerConfig config = apiConfig();
  config.http.api_rate_limit = {1, 3};
  api_ = makeCredentialApi(config, {});
  const std::string auth = bearer(kKey);
  // The burst is spent by any request, even unauthorized ones: key guessing is limited too.
  EXPECT_EQ(send(post("", auth)).status, 200);
  EXPECT_EQ(send(post("", std::nullopt)).status, 401);
  EXPECT_EQ(send(get("", "Bearer guess-number-one")).status, 401);
  for (const ApiRequest& request : {post("", auth), get("", auth), post("", std::nullopt)}) {
    const ApiResponse limited = send(request);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.reason, "Too Many Requests");
    EXPECT_EQ(header(limited, "Retry-After"), "1");
    EXPECT_EQ(errorCode(limited), "rate_limited");
  }
  // Another client has its own bucket; this one gets a token back after a second.
  ApiRequest other = post("", auth);
  other.client = protocol::IpAddress::v4({198, 51, 100, 1});
  EXPECT_EQ(send(other).status, 200);
  EXPECT_EQ(send(post("", auth), kMono + 1s).status, 200);
  EXPECT_EQ(count(ApiEndpoint::kCredentials, 429), 2U);
  EXPECT_EQ(count(ApiEndpoint::kTurn, 429), 1U);
}

TEST_F(CredentialApiTest, PublicUrisAndNoTurnUris) {
  ServerConfig config = apiConfig();
  config.public_uris = {"stun:stun.example.com", "turns:turn.example.com:443?transport=tcp",
                        "turn:turn.example.com?transport=udp"};
  api_ = makeCredentialApi(config, {});
  const std::string auth = bearer(kKey);
  ApiResponse response = send(post("", auth));
  ASSERT_EQ(response.status, 200);
  EXPECT_NE(response.body.find(R"("uris":["turn:turn.example.com?transport=udp",)"
                               R"("turns:turn.example.com:443?transport=tcp"],)"
                               R"("iceServers":[{"urls":["stun:stun.example.com"]},)"
                               R"({"urls":["turn:turn.example.com?transport=udp",)"),
            std::string::npos)
      << response.body;

  // Nothing to hand out: empty lists, and no iceServers entry without URLs.
  config.public_uris.clear();
  config.listeners = {{Transport::kUdp, protocol::IpAddress(), 3478}};
  api_ = makeCredentialApi(config, {});
  response = send(post("", auth));
  ASSERT_EQ(response.status, 200);
  EXPECT_NE(response.body.find(R"("uris":[],"iceServers":[]})"), std::string::npos)
      << response.body;
}

}  // namespace
}  // namespace turnpike::server

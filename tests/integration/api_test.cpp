// The credential API against the real server over HTTP on 127.0.0.1: both endpoints' answers,
// every error (401, 400, 405, 413, 429), the API being off without keys, the request counters in
// /metrics, and credentials minted by the API authenticating real TURN Allocates.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "auth/rest_credentials.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/turn_client.hpp"

namespace turnpike::test {
namespace {

constexpr const char* kApiKey = "itest-api-key-0123456789";
constexpr const char* kSecret = "s3cret";
constexpr std::uint32_t kMaxTtl = 7200;
constexpr const char* kCredentials = "/api/v1/credentials";

std::string authorization(const std::string& key = kApiKey) {
  return "Authorization: Bearer " + key;
}

// The string value of "name" in a compact JSON text (the API's output has no spaces).
std::string jsonString(const std::string& json, const std::string& name) {
  const std::string start = "\"" + name + "\":\"";
  const std::size_t at = json.find(start);
  if (at == std::string::npos) {
    return "";
  }
  const std::size_t from = at + start.size();
  return json.substr(from, json.find('"', from) - from);
}

std::int64_t jsonInteger(const std::string& json, const std::string& name) {
  const std::string start = "\"" + name + "\":";
  const std::size_t at = json.find(start);
  return at == std::string::npos ? -1 : std::atoll(json.c_str() + at + start.size());
}

// The status of an answer, or -1 when there was none.
int statusOf(const std::optional<HttpResponse>& response) {
  return response ? response->status : -1;
}

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Credential API on, rate limit off (unless a fixture turns it on), REST secret, relay on
// 127.0.0.1 with loopback peers allowed (for the Allocate test).
class ApiTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.http = true;
    options.realm = "turnpike.test";
    options.relay_addresses = {"127.0.0.1"};
    options.relay_port_min = relay_port_min_;
    options.relay_port_max = static_cast<std::uint16_t>(relay_port_min_ + 999);
    options.secrets = {kSecret, "an-older-secret"};
    options.peers_allow = {"127.0.0.0/8"};
    options.api_keys = {"another-api-key-abcdefgh", kApiKey};
    options.api_max_ttl = kMaxTtl;
    options.api_per_second = 0;
    options.threads = 1;
    return options;
  }

  [[nodiscard]] std::optional<HttpResponse> request(std::string_view method,
                                                    std::string_view target,
                                                    const std::vector<std::string>& headers = {},
                                                    std::string_view body = {}) const {
    return httpExchange(httpServer(), httpRequest(method, target, headers, body));
  }
  [[nodiscard]] std::optional<HttpResponse> post(std::string_view body,
                                                 const std::vector<std::string>& headers = {
                                                     authorization()}) const {
    return request("POST", kCredentials, headers, body);
  }

  // The turn: URIs of this server's udp and tcp listeners.
  [[nodiscard]] std::string turnUris() const {
    const std::string where = server().toString();
    return R"(["turn:)" + where + R"(?transport=udp","turn:)" + where + R"(?transport=tcp")";
  }

 private:
  std::uint16_t relay_port_min_ =
      static_cast<std::uint16_t>(20000 + 1000 * (std::random_device{}() % 10));
};

// A 4xx answer in the API's JSON error shape with `code`.
testing::AssertionResult apiError(const std::optional<HttpResponse>& response, int status,
                                  const std::string& code) {
  if (!response) {
    return testing::AssertionFailure() << "no HTTP answer";
  }
  if (response->status != status || jsonString(response->body, "error") != code ||
      jsonString(response->body, "message").empty() ||
      response->header("content-type") != "application/json" ||
      response->header("cache-control") != "no-store") {
    return testing::AssertionFailure() << "expected " << status << " " << code << ", got "
                                       << response->status << " " << response->body;
  }
  return testing::AssertionSuccess();
}

// ---- 200 ----

class ApiTlsTest : public ApiTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ApiTest::options();
    options.tls = true;
    return options;
  }
};

TEST_F(ApiTlsTest, PostMintsACredentialWithUrisAndIceServers) {
  const std::int64_t before = unixNow();
  const auto response = post(R"({"user": "alice", "ttl": 3600, "unknown": "ignored"})");
  const std::int64_t after = unixNow();
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->header("content-type"), "application/json");
  EXPECT_EQ(response->header("cache-control"), "no-store");

  const std::int64_t expires_at = jsonInteger(response->body, "expires_at");
  EXPECT_GE(expires_at, before + 3600);
  EXPECT_LE(expires_at, after + 3600);
  const std::string username = std::to_string(expires_at) + ":alice";
  const std::string password = auth::restPassword(kSecret, username);
  const std::string uris = R"(["turn:)" + server().toString() + R"(?transport=udp","turn:)" +
                           server().toString() + R"(?transport=tcp","turns:)" +
                           tlsServer().toString() + R"(?transport=tcp"])";
  EXPECT_EQ(response->body, R"({"username":")" + username + R"(","password":")" + password +
                                R"(","ttl":3600,"expires_at":)" + std::to_string(expires_at) +
                                R"(,"uris":)" + uris + R"(,"iceServers":[{"urls":["stun:)" +
                                server().toString() + R"("]},{"urls":)" + uris +
                                R"(,"username":")" + username + R"(","credential":")" + password +
                                "\"}]}\n");
  EXPECT_NE(serverLog().find("api: minted a credential for user=alice ttl=3600 client=127.0.0.1"),
            std::string::npos)
      << serverLog();
  EXPECT_EQ(serverLog().find(password), std::string::npos) << "the password was logged";
  EXPECT_EQ(serverLog().find(kApiKey), std::string::npos) << "the API key was logged";
}

TEST_F(ApiTest, GetAnswersTheTurnRestDraftShape) {
  const auto response =
      request("GET", "/api/v1/turn?service=turn&username=bob&ttl=60", {authorization()});
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->header("content-type"), "application/json");
  EXPECT_EQ(response->header("cache-control"), "no-store");
  const std::string username = jsonString(response->body, "username");
  EXPECT_EQ(jsonInteger(response->body, "ttl"), 60);
  EXPECT_TRUE(username.ends_with(":bob")) << username;
  EXPECT_NEAR(static_cast<double>(std::atoll(username.c_str())),
              static_cast<double>(unixNow() + 60), 5.0);
  EXPECT_EQ(response->body, R"({"username":")" + username + R"(","password":")" +
                                auth::restPassword(kSecret, username) + R"(","ttl":60,"uris":)" +
                                turnUris() + "]}\n");
}

TEST_F(ApiTest, DefaultsWithoutABody) {
  const auto response = post("");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(jsonInteger(response->body, "ttl"), kMaxTtl);  // 86400 clipped to api_max_ttl
  const std::string username = jsonString(response->body, "username");
  EXPECT_EQ(username, std::to_string(jsonInteger(response->body, "expires_at")));  // no user
}

// ---- Errors ----

TEST_F(ApiTest, MissingWrongOrNonBearerKeysAre401) {
  for (const auto& headers :
       std::vector<std::vector<std::string>>{{},
                                             {"Authorization: Basic aXRlc3Q6aXRlc3Q="},
                                             {"Authorization: " + std::string(kApiKey)}}) {
    const auto response = post(R"({"user": "alice"})", headers);
    ASSERT_TRUE(apiError(response, 401, "missing_api_key"));
    EXPECT_EQ(response->header("www-authenticate"), R"(Bearer realm="turnpike")");
  }
  for (const std::string key :
       {"itest-api-key-012345678", "itest-api-key-0123456789x", "ITEST-API-KEY-0123456789"}) {
    const auto response = post(R"({"user": "alice"})", {authorization(key)});
    ASSERT_TRUE(apiError(response, 401, "invalid_api_key")) << key;
    EXPECT_EQ(response->header("www-authenticate"),
              R"(Bearer realm="turnpike", error="invalid_token")");
  }
  EXPECT_TRUE(
      apiError(request("GET", "/api/v1/turn?service=turn&username=a"), 401, "missing_api_key"));
  EXPECT_TRUE(
      apiError(request("GET", "/api/v1/turn?key=" + std::string(kApiKey)), 401, "missing_api_key"));
}

TEST_F(ApiTest, BadRequestsAre400WithAJsonError) {
  EXPECT_TRUE(apiError(post(R"({"user": "alice", "ttl": 3600)"), 400, "invalid_json"));
  EXPECT_TRUE(apiError(post("user=alice&ttl=3600"), 400, "invalid_json"));
  EXPECT_TRUE(apiError(post(R"({"ttl": 0})"), 400, "invalid_ttl"));
  EXPECT_TRUE(apiError(post(R"({"ttl": 7201})"), 400, "invalid_ttl"));
  EXPECT_TRUE(apiError(post(R"({"ttl": "60"})"), 400, "invalid_ttl"));
  EXPECT_TRUE(apiError(post(R"({"user": "a:b"})"), 400, "invalid_user"));
  EXPECT_TRUE(apiError(post(R"({"user": ""})"), 400, "invalid_user"));
  EXPECT_TRUE(apiError(post("{\"user\": \"" + std::string(257, 'u') + "\"}"), 400, "invalid_user"));
  EXPECT_TRUE(
      apiError(post("{\"user\": \"" + std::string(5000, 'u') + "\"}"), 400, "body_too_large"));
  EXPECT_TRUE(
      apiError(request("GET", "/api/v1/turn?ttl=0", {authorization()}), 400, "invalid_ttl"));
  EXPECT_TRUE(apiError(request("GET", "/api/v1/turn?service=stun", {authorization()}), 400,
                       "invalid_service"));
  EXPECT_TRUE(apiError(request("GET", "/api/v1/turn?username=a%3Ab", {authorization()}), 400,
                       "invalid_user"));
}

// Past 16 KiB libevent refuses the body itself, before the API sees it.
TEST_F(ApiTest, HugeBodiesGet413FromLibevent) {
  const auto response = post(std::string(20000, ' '));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(serverRunning());
  EXPECT_TRUE(udpBindingWorks());
}

TEST_F(ApiTest, WrongMethodsAre405WithAllow) {
  for (const std::string_view method : {"GET", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    const auto response = request(method, kCredentials, {authorization()});
    ASSERT_TRUE(apiError(response, 405, "method_not_allowed")) << method;
    EXPECT_EQ(response->header("allow"), "POST");
  }
  const auto response = request("POST", "/api/v1/turn", {authorization()}, "{}");
  ASSERT_TRUE(apiError(response, 405, "method_not_allowed"));
  EXPECT_EQ(response->header("allow"), "GET");
  // The other paths are as before the API.
  EXPECT_EQ(statusOf(request("POST", "/metrics", {}, "x")), 501);
  EXPECT_EQ(statusOf(request("GET", "/api/v1/credentials/")), 404);
  EXPECT_EQ(statusOf(request("GET", "/healthz")), 200);
}

TEST_F(ApiTest, MetricsCountRequestsByEndpointAndCode) {
  EXPECT_EQ(statusOf(post(R"({"ttl": 60})")), 200);
  EXPECT_EQ(statusOf(post(R"({"ttl": 60})")), 200);
  EXPECT_EQ(statusOf(post("{}", {})), 401);
  EXPECT_EQ(statusOf(request("GET", "/api/v1/turn?ttl=0", {authorization()})), 400);
  EXPECT_EQ(statusOf(request("DELETE", "/api/v1/turn")), 405);
  const auto metrics = request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  const auto value = [&](const std::string& endpoint, int code) {
    std::istringstream lines(metrics->body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.starts_with("turnpike_api_requests_total{") &&
          line.find("endpoint=\"" + endpoint + "\"") != std::string::npos &&
          line.find("code=\"" + std::to_string(code) + "\"") != std::string::npos) {
        return std::atof(line.substr(line.rfind(' ') + 1).c_str());
      }
    }
    return -1.0;
  };
  EXPECT_EQ(value("credentials", 200), 2);
  EXPECT_EQ(value("credentials", 401), 1);
  EXPECT_EQ(value("credentials", 429), 0);
  EXPECT_EQ(value("turn", 400), 1);
  EXPECT_EQ(value("turn", 405), 1);
  EXPECT_EQ(value("turn", 200), 0);
}

// ---- The rate limit ----

class ApiRateLimitTest : public ApiTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ApiTest::options();
    options.api_per_second = 1;
    options.api_burst = 2;
    return options;
  }
};

TEST_F(ApiRateLimitTest, TooManyRequestsGet429WithRetryAfter) {
  // Two at once are allowed, then one a second: ten quick ones must hit the limit. After the
  // first two, the requests carry no key: the limit applies before the key is checked, so they
  // get 429 rather than 401 once the bucket is empty.
  EXPECT_EQ(statusOf(post(R"({"ttl": 60})")), 200);
  std::optional<HttpResponse> limited;
  std::vector<int> statuses;
  for (int i = 0; i < 10 && !limited; ++i) {
    auto response = post(R"({"ttl": 60})", {});
    ASSERT_TRUE(response);
    statuses.push_back(response->status);
    if (response->status == 429) {
      limited = std::move(response);
    } else {
      EXPECT_EQ(response->status, 401);
    }
  }
  ASSERT_TRUE(limited) << "no 429 in " << statuses.size() << " requests";
  EXPECT_TRUE(apiError(limited, 429, "rate_limited"));
  EXPECT_GE(std::atoi(limited->header("retry-after").c_str()), 1);
}

// ---- Off without keys ----

class ApiOffTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.http = true;
    options.secrets = {kSecret};
    return options;
  }
};

TEST_F(ApiOffTest, ApiPathsAre404WithoutKeys) {
  const std::string request_text =
      httpRequest("POST", kCredentials, {authorization()}, R"({"user": "alice"})");
  const auto post = httpExchange(httpServer(), request_text);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);
  const auto get = httpExchange(httpServer(),
                                httpRequest("GET", "/api/v1/turn?service=turn", {authorization()}));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 404);
  const auto metrics = httpExchange(httpServer(), httpRequest("GET", "/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("turnpike_api_requests_total"), std::string::npos);
}

// ---- End to end: API credentials allocate ----

TEST_F(ApiTest, MintedCredentialsAuthenticateTurnAllocations) {
  const auto minted = post(R"({"user": "api-user", "ttl": 600})");
  ASSERT_TRUE(minted);
  ASSERT_EQ(minted->status, 200) << minted->body;
  const std::string username = jsonString(minted->body, "username");
  const std::string password = jsonString(minted->body, "password");
  ASSERT_TRUE(username.ends_with(":api-user")) << username;
  // What auth/rest_credentials (and so `turnpike credentials`) computes for this username.
  EXPECT_EQ(password, auth::restPassword(kSecret, username));

  TurnClient udp(server(), TurnTransport::kUdp, {username, password});
  ASSERT_TRUE(udp.connected());
  const auto allocated = udp.allocate();
  ASSERT_TRUE(allocated);
  EXPECT_TRUE(allocated->isSuccess()) << "Allocate error " << allocated->code;
  EXPECT_TRUE(udp.relayed());

  // The draft endpoint's credentials work the same way, over TCP.
  const auto drafted =
      request("GET", "/api/v1/turn?service=turn&username=tcp-user&ttl=60", {authorization()});
  ASSERT_TRUE(drafted);
  ASSERT_EQ(drafted->status, 200) << drafted->body;
  TurnClient tcp(server(), TurnTransport::kTcp,
                 {jsonString(drafted->body, "username"), jsonString(drafted->body, "password")});
  ASSERT_TRUE(tcp.connected());
  const auto tcp_allocated = tcp.allocate();
  ASSERT_TRUE(tcp_allocated);
  EXPECT_TRUE(tcp_allocated->isSuccess()) << "Allocate error " << tcp_allocated->code;

  // A wrong password for the same username is refused.
  TurnClient wrong(server(), TurnTransport::kUdp, {username, auth::restPassword("nope", username)});
  const auto refused = wrong.allocate();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, 401);
}

// SIGHUP rotates the secret and the API keys: the API mints with the new first secret at once
// (an API still minting with a removed secret would hand out credentials that fail).
TEST_F(ApiTest, ReloadRotatesTheMintingSecretAndTheKeys) {
  ServerOptions next = options();
  next.secrets = {"rotated-secret"};
  next.api_keys = {"rotated-api-key-0123456789"};
  rewriteConfig(next);
  const std::string line = reload();
  ASSERT_NE(line.find("reloaded "), std::string::npos) << line << "\n" << serverLog();
  EXPECT_NE(line.find("http.api_keys"), std::string::npos) << line;

  EXPECT_TRUE(apiError(post(R"({"user": "x"})"), 401, "invalid_api_key"))
      << "the old key still works";
  const auto minted = post(R"({"user": "after-reload", "ttl": 600})",
                           {authorization("rotated-api-key-0123456789")});
  ASSERT_TRUE(minted);
  ASSERT_EQ(minted->status, 200) << minted->body;
  const std::string username = jsonString(minted->body, "username");
  const std::string password = jsonString(minted->body, "password");
  EXPECT_EQ(password, auth::restPassword("rotated-secret", username));
  TurnClient udp(server(), TurnTransport::kUdp, {username, password});
  ASSERT_TRUE(udp.connected());
  const auto allocated = udp.allocate();
  ASSERT_TRUE(allocated);
  EXPECT_TRUE(allocated->isSuccess()) << "Allocate error " << allocated->code;
}

}  // namespace
}  // namespace turnpike::test

// GET /selftest against the real server: 404 unless http.selftest is true; when on, the page with
// its headers (HTML, no-store, nosniff, no-referrer, a Content-Security-Policy whose hashes match
// the inline script and style the server actually sent). The page's checks themselves run in
// Chromium: tests/e2e/browser/selftest_test.mjs.
#include <openssl/evp.h>

#include <array>
#include <string>

#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {
namespace {

// CSP's 'sha256-BASE64' of the text between the first `<tag>` and `</tag>` of `html`.
std::string hashSourceOf(const std::string& html, const std::string& tag) {
  const std::size_t open = html.find("<" + tag + ">");
  const std::size_t close = html.find("</" + tag + ">");
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return "(no " + tag + ")";
  }
  const std::size_t from = open + tag.size() + 2;
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(html.data() + from, close - from, digest.data(), &length, EVP_sha256(), nullptr);
  std::array<unsigned char, 48> base64{};
  const int written = EVP_EncodeBlock(base64.data(), digest.data(), static_cast<int>(length));
  return "'sha256-" + std::string(base64.begin(), base64.begin() + written) + "'";
}

class SelftestPageOffTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.http = true;
    options.threads = 1;
    return options;
  }
};

class SelftestPageTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.http = true;
    options.http_selftest = true;
    options.threads = 1;
    return options;
  }
};

TEST_F(SelftestPageOffTest, SelftestIs404ByDefault) {
  const auto page = httpExchange(httpServer(), httpRequest("GET", "/selftest"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 404);
  EXPECT_EQ(page->body.find("<html"), std::string::npos);
}

TEST_F(SelftestPageTest, ServesThePageWithAStrictPolicy) {
  const auto page = httpExchange(httpServer(), httpRequest("GET", "/selftest"));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_TRUE(page->body.starts_with("<!doctype html>"));
  EXPECT_NE(page->body.find("<title>turnpike self-test</title>"), std::string::npos);
  EXPECT_EQ(page->header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->header("cache-control"), "no-store");
  EXPECT_EQ(page->header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page->header("referrer-policy"), "no-referrer");
  EXPECT_EQ(page->header("x-frame-options"), "DENY");
  const std::string policy = page->header("content-security-policy");
  EXPECT_TRUE(policy.starts_with("default-src 'none'; ")) << policy;
  EXPECT_NE(policy.find("script-src " + hashSourceOf(page->body, "script") + ";"),
            std::string::npos)
      << policy;
  EXPECT_NE(policy.find("style-src " + hashSourceOf(page->body, "style") + ";"), std::string::npos)
      << policy;
  EXPECT_NE(policy.find("connect-src 'self'"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
}

TEST_F(SelftestPageTest, HeadHasTheHeadersAndOtherPathsStay404) {
  const auto head = httpExchange(httpServer(), httpRequest("HEAD", "/selftest"));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  // (libevent sends the body on HEAD too, on every path: left as it is.)
  EXPECT_EQ(head->header("content-type"), "text/html; charset=utf-8");
  EXPECT_FALSE(head->header("content-security-policy").empty());
  for (const char* path : {"/selftest/", "/selftest.html", "/Selftest"}) {
    const auto other = httpExchange(httpServer(), httpRequest("GET", path));
    ASSERT_TRUE(other) << path;
    EXPECT_EQ(other->status, 404) << path;
  }
  // Without keys the credential API the page calls is off: 404, which the page explains.
  const auto api = httpExchange(httpServer(), httpRequest("POST", "/api/v1/credentials"));
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 404);
}

}  // namespace
}  // namespace turnpike::test

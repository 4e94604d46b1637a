// The self-test page's Content-Security-Policy: the hashes of its inline script and style
// elements, and the embedded page itself (one of each, nothing loaded from elsewhere, no storage).
#include "server/http/selftest_page.hpp"

#include <gtest/gtest.h>

#include <string>

namespace turnpike::server {
namespace {

TEST(SelftestPageTest, InlineElementsAreTheTextBetweenBareTags) {
  const std::string html =
      "<head><style>a{}</style></head><body><script>'use strict';</script>"
      "<script type=\"x\">ignored</script><script>second</script><script>open";
  EXPECT_EQ(inlineElements(html, "style"), (std::vector<std::string_view>{"a{}"}));
  EXPECT_EQ(inlineElements(html, "script"),
            (std::vector<std::string_view>{"'use strict';", "second"}));
  EXPECT_TRUE(inlineElements("<p>no script</p>", "script").empty());
}

TEST(SelftestPageTest, PolicyNamesEachInlineElementBySha256) {
  // printf 'a{}' | openssl dgst -sha256 -binary | base64, and the same for the script.
  EXPECT_EQ(selftestContentSecurityPolicy("<style>a{}</style><script>'use strict';</script>"),
            "default-src 'none'; script-src 'sha256-jozHLmH/b2wMlFqXZ1bREnMsSZzWT8WyB7shP8hKHkA='; "
            "style-src 'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk='; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  EXPECT_EQ(selftestContentSecurityPolicy("<p>static</p>"),
            "default-src 'none'; script-src 'none'; style-src 'none'; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

TEST(SelftestPageTest, EmbeddedPageIsSelfContained) {
  const SelftestPage& page = selftestPage();
  const std::string_view html = page.html;
  ASSERT_TRUE(html.starts_with("<!doctype html>"));
  ASSERT_TRUE(html.ends_with("</html>\n"));
  // One script and one style, both in the policy (a second one would be blocked).
  ASSERT_EQ(inlineElements(html, "script").size(), 1U);
  ASSERT_EQ(inlineElements(html, "style").size(), 1U);
  EXPECT_EQ(page.content_security_policy, selftestContentSecurityPolicy(html));
  EXPECT_NE(page.content_security_policy.find("script-src 'sha256-"), std::string::npos);
  EXPECT_NE(page.content_security_policy.find("style-src 'sha256-"), std::string::npos);
  // Nothing from elsewhere, nothing kept, no handlers or styles the policy would block.
  for (const char* forbidden : {"http://", "https://", "//cdn", " src=", "<link", "@import", "url(",
                                "localStorage", "sessionStorage", "indexedDB", "document.cookie",
                                " onclick=", " onload=", " style=", "eval("}) {
    EXPECT_EQ(html.find(forbidden), std::string_view::npos) << forbidden;
  }
  // The key input has no name, so even a form submitted without the script sends no key.
  EXPECT_NE(html.find("<input id=\"key\" type=\"password\""), std::string_view::npos);
  EXPECT_EQ(html.find("name=\"key\""), std::string_view::npos);
}

}  // namespace
}  // namespace turnpike::server

// GET /selftest (http.selftest): the browser self-test page. The page is server/http/selftest.html,
// embedded at build time (embed_text.cmake writes selftest_page_html.cpp); its inline script and
// style are allowed by their SHA-256 hashes in a Content-Security-Policy computed once at start.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace turnpike::server {

// The embedded page, byte for byte (generated from selftest.html).
[[nodiscard]] std::string_view selftestPageHtml();

// The text of every `<tag>...</tag>` element of `html` written with no attributes (`<script>`,
// `<style>`), in order. An element left open has no text and is not returned.
[[nodiscard]] std::vector<std::string_view> inlineElements(std::string_view html,
                                                           std::string_view tag);

// default-src 'none', with script-src and style-src naming the 'sha256-...' hash of each inline
// <script> and <style> element of `html` (or 'none' when there is none), connect-src 'self' (the
// credential API), and no framing, base URI or form target.
[[nodiscard]] std::string selftestContentSecurityPolicy(std::string_view html);

struct SelftestPage {
  std::string_view html;
  std::string content_security_policy;
};

// The embedded page and its policy, computed on the first call (thread-safe).
[[nodiscard]] const SelftestPage& selftestPage();

}  // namespace turnpike::server

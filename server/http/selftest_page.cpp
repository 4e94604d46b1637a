#include "server/http/selftest_page.hpp"

#include <openssl/evp.h>

#include <array>

#include "auth/base64.hpp"

namespace turnpike::server {
namespace {

// 'sha256-BASE64' of `text`, as CSP Level 2 section 4.2.5 (hash-source) has it.
std::string hashSource(std::string_view text) {
  std::array<std::byte, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(),
             static_cast<unsigned char*>(static_cast<void*>(digest.data())), &length, EVP_sha256(),
             nullptr);
  return "'sha256-" + auth::base64Encode(std::span<const std::byte>(digest)) + "'";
}

std::string hashSources(std::string_view html, std::string_view tag) {
  std::string sources;
  for (const std::string_view text : inlineElements(html, tag)) {
    if (!sources.empty()) {
      sources += ' ';
    }
    sources += hashSource(text);
  }
  return sources.empty() ? "'none'" : sources;
}

}  // namespace

std::vector<std::string_view> inlineElements(std::string_view html, std::string_view tag) {
  // Appended piece by piece: "<" + std::string(tag) trips g++ 12's -Wrestrict false positive.
  std::string open = "<";
  open.append(tag).append(">");
  std::string close = "</";
  close.append(tag).append(">");
  std::vector<std::string_view> texts;
  for (std::size_t at = html.find(open); at != std::string_view::npos; at = html.find(open, at)) {
    const std::size_t from = at + open.size();
    const std::size_t to = html.find(close, from);
    if (to == std::string_view::npos) {
      break;
    }
    texts.push_back(html.substr(from, to - from));
    at = to + close.size();
  }
  return texts;
}

std::string selftestContentSecurityPolicy(std::string_view html) {
  return "default-src 'none'; script-src " + hashSources(html, "script") + "; style-src " +
         hashSources(html, "style") +
         "; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

const SelftestPage& selftestPage() {
  static const SelftestPage page{selftestPageHtml(),
                                 selftestContentSecurityPolicy(selftestPageHtml())};
  return page;
}

}  // namespace turnpike::server

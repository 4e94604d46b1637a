#include "server/config/tls_ciphers.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <vector>

namespace turnpike::server {
namespace {

struct ContextDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
using ScratchContext = std::unique_ptr<SSL_CTX, ContextDeleter>;

ScratchContext scratchContext() { return ScratchContext(SSL_CTX_new(TLS_server_method())); }

// `list` cut at any of `separators`, empty pieces kept.
std::vector<std::string> split(std::string_view list, std::string_view separators) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = list.find_first_of(separators, start);
    pieces.emplace_back(list.substr(start, end - start));
    if (end == std::string_view::npos) {
      return pieces;
    }
    start = end + 1;
  }
}

// How many TLS 1.3 suites (or, with tls13 false, older ones) the context would offer.
int countSuites(SSL_CTX* context, bool tls13) {
  const STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(context);
  int count = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const bool is13 =
        std::string_view(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(ciphers, i))) == "TLSv1.3";
    count += is13 == tls13 ? 1 : 0;
  }
  return count;
}

bool selectsTls12(const std::string& list) {
  const ScratchContext context = scratchContext();
  const bool ok = context && SSL_CTX_set_cipher_list(context.get(), list.c_str()) == 1 &&
                  countSuites(context.get(), false) > 0;
  ERR_clear_error();
  return ok;
}

}  // namespace

std::expected<void, std::string> checkTls12CipherList(std::string_view list) {
  if (list.empty()) {
    return std::unexpected("must name at least one TLS 1.2 cipher");
  }
  if (!selectsTls12(std::string(list))) {
    return std::unexpected("OpenSSL selects no TLS 1.2 cipher from \"" + std::string(list) + "\"");
  }
  // OpenSSL's separators are ':', ',', ' ' and ';'. Entries that start with an operator (!, -,
  // +, @) select nothing by themselves and are not checked alone.
  for (const std::string& entry : split(list, ":, ;")) {
    if (entry.empty() || entry.find_first_of("!-+@") == 0) {
      continue;
    }
    if (!selectsTls12(entry)) {
      return std::unexpected("\"" + entry + "\" is not a TLS 1.2 cipher or alias known to OpenSSL");
    }
  }
  return {};
}

std::expected<void, std::string> checkTls13Ciphersuites(std::string_view list) {
  if (list.empty()) {
    return std::unexpected("must name at least one TLS 1.3 cipher suite");
  }
  for (const std::string& name : split(list, ":")) {
    const ScratchContext context = scratchContext();
    const bool known = context && !name.empty() &&
                       SSL_CTX_set_ciphersuites(context.get(), name.c_str()) == 1 &&
                       countSuites(context.get(), true) == 1;
    ERR_clear_error();
    if (!known) {
      return std::unexpected("\"" + name +
                             "\" is not a TLS 1.3 cipher suite known to OpenSSL (e.g. "
                             "TLS_AES_128_GCM_SHA256)");
    }
  }
  return {};
}

}  // namespace turnpike::server

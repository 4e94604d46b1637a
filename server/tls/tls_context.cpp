#include "server/tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <array>
#include <utility>

namespace turnpike::server::tls {
namespace {

// TLS 1.2: forward secrecy (ECDHE) and AEAD only, in server preference order. TLS 1.3 keeps
// OpenSSL's default suites, which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The oldest error on this thread's OpenSSL queue as text (then clears the queue).
std::string openSslReason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return "unknown OpenSSL error";
  }
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

// An encrypted key must not make start-up wait for a passphrase on the terminal.
int noPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

struct ContextDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// A PEM private key, or nullptr with the reason on the OpenSSL error queue.
EVP_PKEY* readPrivateKey(const std::string& path) {
  BIO* file = BIO_new_file(path.c_str(), "r");
  if (file == nullptr) {
    return nullptr;
  }
  EVP_PKEY* key = PEM_read_bio_PrivateKey(file, nullptr, noPassphrase, nullptr);
  BIO_free(file);
  return key;
}

// A configured server SSL_CTX, or the reason it could not be built.
std::expected<SSL_CTX*, std::string> buildContext(const TlsConfig& config) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, ContextDeleter> context(SSL_CTX_new(TLS_server_method()));
  if (!context) {
    return std::unexpected("tls: cannot create an SSL context: " + openSslReason());
  }
  SSL_CTX* ctx = context.get();
  // TLS 1.0 and 1.1 are refused (RFC 8996).
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return std::unexpected("tls: cannot configure protocol versions and ciphers: " +
                           openSslReason());
  }
  // Session tickets stay on (no SSL_OP_NO_TICKET) so clients can resume.
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(ctx, noPassphrase);

  if (SSL_CTX_use_certificate_chain_file(ctx, config.certificate.c_str()) != 1) {
    return std::unexpected("tls.certificate: cannot read " + config.certificate + ": " +
                           openSslReason());
  }
  // The key is read here rather than with SSL_CTX_use_PrivateKey_file, which reports a key that
  // does not match the certificate as a failure to read it.
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(readPrivateKey(config.private_key));
  if (!key) {
    return std::unexpected("tls.private_key: cannot read " + config.private_key + ": " +
                           openSslReason());
  }
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return std::unexpected("tls.private_key: " + config.private_key +
                           " does not match the certificate in " + config.certificate + ": " +
                           openSslReason());
  }
  return context.release();
}

}  // namespace

std::expected<std::shared_ptr<TlsContext>, std::string> TlsContext::load(const TlsConfig& config) {
  auto context = buildContext(config);
  if (!context) {
    return std::unexpected(context.error());
  }
  return std::shared_ptr<TlsContext>(new TlsContext(*context));
}

std::expected<void, std::string> TlsContext::reload(const TlsConfig& config) {
  auto context = buildContext(config);
  if (!context) {
    return std::unexpected(context.error());
  }
  SSL_CTX* old = nullptr;
  {
    const std::lock_guard lock(mutex_);
    old = std::exchange(context_, *context);
  }
  SSL_CTX_free(old);  // sessions made from it hold their own references
  return {};
}

TlsContext::Ref TlsContext::acquire() const {
  const std::lock_guard lock(mutex_);
  SSL_CTX_up_ref(context_);
  return Ref(context_);
}

void TlsContext::RefDeleter::operator()(SSL_CTX* context) const { SSL_CTX_free(context); }

TlsContext::~TlsContext() { SSL_CTX_free(context_); }

}  // namespace turnpike::server::tls

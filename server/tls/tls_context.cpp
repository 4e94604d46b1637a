#include "server/tls/tls_context.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/tls/client_hello.hpp"
#include "server/config/tls_ciphers.hpp"
#include "server/tls/dtls_cookie.hpp"

namespace turnpike::server::tls {
namespace {

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

// ---- ALPN (RFC 7301, with the STUN and TURN identifiers of RFC 7443 section 3) ----

// protocol::kAlpnStunIds in ALPN's wire format (a length byte before each), in that order.
const std::string& alpnWire() {
  static const std::string wire = [] {
    std::string out;
    for (const std::string_view id : protocol::kAlpnStunIds) {
      out += static_cast<char>(id.size());
      out += id;
    }
    return out;
  }();
  return wire;
}

// Called only when the client offers ALPN: one of ours is selected, or the handshake fails with
// a no_application_protocol alert (RFC 7301 section 3.2). Without ALPN the handshake goes on.
int selectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
               const unsigned char* offered, unsigned offered_length, void* /*arg*/) {
  unsigned char* selected = nullptr;
  // Picks the first of ours that the client offers; `selected` points into alpnWire().
  const std::string& ours = alpnWire();
  if (SSL_select_next_proto(&selected, out_length, protocol::asUchar(protocol::asBytes(ours)),
                            static_cast<unsigned>(ours.size()), offered,
                            offered_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// ---- Session tickets (OpenSSL's SSL_CTX_set_tlsext_ticket_key_evp_cb) ----

// Every SSL_CTX holds a counted reference to its TicketKeys in this ex_data slot; OpenSSL frees
// it with the context.
void freeTicketKeys(void* /*parent*/, void* pointer, CRYPTO_EX_DATA* /*data*/, int /*index*/,
                    long /*argl*/, void* /*argp*/) {
  delete static_cast<std::shared_ptr<TicketKeys>*>(pointer);
}

int ticketKeysIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeTicketKeys);
  return index;
}

// HMAC-SHA256 under `hmac_key`, and AES-256-CBC under `aes_key` with `iv`, for one ticket.
bool initTicketCrypto(const TicketKeys::Key& key, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, bool encrypt) {
  std::array<char, 7> digest{"SHA256"};
  const std::array<OSSL_PARAM, 3> params{
      OSSL_PARAM_construct_octet_string(
          OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_key.data()), key.hmac_key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params.data()) != 1) {
    return false;
  }
  return encrypt
             ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) == 1
             : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) == 1;
}

// OpenSSL's contract: encrypting, 1 = ticket set up, 0 = no ticket this time (the handshake goes
// on), negative = fatal error; decrypting, 0 = unknown key (full handshake, new ticket),
// 1 = resume, 2 = resume and issue a new ticket (the key is the previous one), negative = fatal.
int ticketKeyCallback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int encrypt) {
  const auto* keys = static_cast<const std::shared_ptr<TicketKeys>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticketKeysIndex()));
  if (keys == nullptr || *keys == nullptr) {
    return -1;
  }
  TicketKeys::Key key;
  int result = -1;
  if (encrypt == 1) {
    std::optional<TicketKeys::Key> current = (*keys)->encryptionKey();
    if (!current || RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) {
      result = 0;  // no random bytes: no ticket rather than a failed handshake
    } else {
      key = *current;
      OPENSSL_cleanse(&*current, sizeof(*current));
      std::ranges::copy(key.name, key_name);
      result = initTicketCrypto(key, iv, cipher, mac, true) ? 1 : -1;
    }
  } else {
    std::array<unsigned char, TicketKeys::kNameSize> name{};
    std::copy_n(key_name, name.size(), name.begin());
    switch ((*keys)->find(name, key)) {
      case TicketKeys::Match::kNone:
        result = 0;
        break;
      case TicketKeys::Match::kCurrent:
        result = initTicketCrypto(key, iv, cipher, mac, false) ? 1 : -1;
        break;
      case TicketKeys::Match::kPrevious:
        result = initTicketCrypto(key, iv, cipher, mac, false) ? 2 : -1;
        break;
    }
  }
  OPENSSL_cleanse(&key, sizeof(key));
  return result;
}

// Session tickets from `keys`, valid as long as their key is: two rotation periods.
bool useTicketKeys(SSL_CTX* ctx, const std::shared_ptr<TicketKeys>& keys,
                   std::chrono::seconds rotation) {
  auto* reference = new std::shared_ptr<TicketKeys>(keys);
  if (SSL_CTX_set_ex_data(ctx, ticketKeysIndex(), reference) != 1) {
    delete reference;
    return false;
  }
  SSL_CTX_set_timeout(ctx, static_cast<long>(2 * rotation.count()));
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCallback) == 1;
}

// A configured server SSL_CTX, or the reason it could not be built.
std::expected<SSL_CTX*, std::string> buildContext(const TlsConfig& config,
                                                  const std::shared_ptr<TicketKeys>& keys,
                                                  Protocol protocol) {
  ERR_clear_error();
  const bool dtls = protocol == Protocol::kDtls;
  std::unique_ptr<SSL_CTX, ContextDeleter> context(
      SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method()));
  if (!context) {
    return std::unexpected("tls: cannot create an SSL context: " + openSslReason());
  }
  SSL_CTX* ctx = context.get();
  // TLS 1.0 and 1.1 are refused (RFC 8996), and so is DTLS 1.0 (RFC 8996 section 6: DTLS 1.2
  // only; OpenSSL 3.0 has no DTLS 1.3).
  if (SSL_CTX_set_min_proto_version(ctx, dtls ? DTLS1_2_VERSION : TLS1_2_VERSION) != 1) {
    return std::unexpected("tls: cannot configure protocol versions: " + openSslReason());
  }
  // The same checks as config validation: OpenSSL alone skips unknown names quietly.
  if (auto checked = checkTls12CipherList(config.ciphers); !checked) {
    return std::unexpected("tls.ciphers: " + checked.error());
  }
  if (auto checked = checkTls13Ciphersuites(config.ciphersuites); !checked) {
    return std::unexpected("tls.ciphersuites: " + checked.error());
  }
  if (SSL_CTX_set_cipher_list(ctx, config.ciphers.c_str()) != 1) {
    return std::unexpected("tls.ciphers: OpenSSL refuses \"" + config.ciphers +
                           "\": " + openSslReason());
  }
  if (SSL_CTX_set_ciphersuites(ctx, config.ciphersuites.c_str()) != 1) {
    return std::unexpected("tls.ciphersuites: OpenSSL refuses \"" + config.ciphersuites +
                           "\": " + openSslReason());
  }
  // Session tickets stay on (no SSL_OP_NO_TICKET) so clients can resume; no compression (CRIME)
  // and no renegotiation, secure or not (RFC 8446 has none; a TLS 1.2 client asking for one
  // gets a no_renegotiation alert).
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(ctx, noPassphrase);
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  if (dtls) {
    installDtlsCookieCallbacks(ctx);  // HelloVerifyRequest before any per-client state
    // One DTLS session per client address on a shared listener socket: the MTU is set per
    // session (server/uv/dtls_listener.cpp), never asked of the socket.
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
  }
  if (!useTicketKeys(ctx, keys, std::chrono::seconds{config.ticket_key_rotation})) {
    return std::unexpected("tls: cannot set up session tickets: " + openSslReason());
  }

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

std::expected<std::shared_ptr<TlsContext>, std::string> TlsContext::load(const TlsConfig& config,
                                                                         TicketClock clock,
                                                                         Protocol protocol) {
  if (!clock) {
    clock = [] { return std::chrono::steady_clock::now(); };
  }
  auto keys = std::make_shared<TicketKeys>(std::move(clock),
                                           std::chrono::seconds{config.ticket_key_rotation});
  auto context = buildContext(config, keys, protocol);
  if (!context) {
    return std::unexpected(context.error());
  }
  return std::shared_ptr<TlsContext>(new TlsContext(*context, std::move(keys), protocol));
}

std::expected<void, std::string> TlsContext::reload(const TlsConfig& config) {
  auto context = buildContext(config, ticket_keys_, protocol_);
  if (!context) {
    return std::unexpected(context.error());
  }
  ticket_keys_->setRotation(std::chrono::seconds{config.ticket_key_rotation});
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

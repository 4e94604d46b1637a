#include "tests/support/test_certificate.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cstdio>
#include <memory>

namespace turnpike::test {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct FileClose {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using File = std::unique_ptr<std::FILE, FileClose>;

std::string opensslError(const std::string& what) {
  std::array<char, 256> text{};
  ERR_error_string_n(ERR_get_error(), text.data(), text.size());
  ERR_clear_error();
  return what + ": " + text.data();
}

Key newKey() { return Key(EVP_EC_gen("P-256")); }

std::string writeKey(const Key& key, const std::filesystem::path& path) {
  const File file(std::fopen(path.c_str(), "wb"));
  if (!file) {
    return "cannot write " + path.string();
  }
  if (PEM_write_PrivateKey(file.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return opensslError("PEM_write_PrivateKey");
  }
  return {};
}

}  // namespace

std::string writePrivateKey(const std::filesystem::path& path) {
  const Key key = newKey();
  if (!key) {
    return opensslError("EVP_EC_gen");
  }
  return writeKey(key, path);
}

std::string writeSelfSignedCertificate(const std::filesystem::path& dir, const std::string& stem,
                                       CertificateFiles& out) {
  const Key key = newKey();
  const Cert cert(X509_new());
  if (!key || !cert) {
    return opensslError("EVP_EC_gen/X509_new");
  }
  constexpr long kOneDay = 24L * 3600L;
  X509_set_version(cert.get(), 2);  // v3
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kOneDay);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kOneDay);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* common_name = reinterpret_cast<const unsigned char*>("localhost");  // NOLINT
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, common_name, -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return opensslError("X509_sign");
  }
  out.certificate = dir / (stem + ".crt.pem");
  out.private_key = dir / (stem + ".key.pem");
  {
    const File file(std::fopen(out.certificate.c_str(), "wb"));
    if (!file || PEM_write_X509(file.get(), cert.get()) != 1) {
      return opensslError("cannot write " + out.certificate.string());
    }
  }
  return writeKey(key, out.private_key);
}

}  // namespace turnpike::test

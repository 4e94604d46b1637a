// Test-only: a self-signed certificate and key made at test time with the OpenSSL C API, so no
// key material is committed and no openssl binary is needed.
#pragma once

#include <filesystem>
#include <string>

namespace turnpike::test {

struct CertificateFiles {
  std::filesystem::path certificate;  // PEM, self-signed, CN "localhost"
  std::filesystem::path private_key;  // PEM, EC P-256
};

// Writes <stem>.crt.pem and <stem>.key.pem into dir. Returns an empty error string on success.
[[nodiscard]] std::string writeSelfSignedCertificate(const std::filesystem::path& dir,
                                                     const std::string& stem,
                                                     CertificateFiles& out);

// Writes a fresh EC P-256 private key (one that matches no certificate) to path.
[[nodiscard]] std::string writePrivateKey(const std::filesystem::path& path);

}  // namespace turnpike::test

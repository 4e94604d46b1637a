// Checks of tls.ciphers and tls.ciphersuites against this OpenSSL, so that --check-config and
// start-up reject a list OpenSSL would refuse or silently shorten.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace turnpike::server {

// A TLS 1.2 cipher list in OpenSSL syntax (names, aliases such as ECDHE+AESGCM, !, -, +, @...):
// OpenSSL must accept it and it must select at least one TLS 1.2 suite. An entry that is a plain
// name or alias and selects nothing on its own (a typo) is an error too, as OpenSSL would skip it
// quietly. The error says what is wrong, without the key.
[[nodiscard]] std::expected<void, std::string> checkTls12CipherList(std::string_view list);

// TLS 1.3 suite names separated by ':' (e.g. TLS_AES_128_GCM_SHA256): at least one, each one a
// TLS 1.3 suite this OpenSSL knows. OpenSSL itself skips unknown names quietly.
[[nodiscard]] std::expected<void, std::string> checkTls13Ciphersuites(std::string_view list);

}  // namespace turnpike::server

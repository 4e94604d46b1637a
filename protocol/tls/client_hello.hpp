// The TLS ClientHello, read from the first bytes of a connection before any handshake (RFC 8446
// sections 4.1.2 and 5.1, RFC 6066 section 3 server_name, RFC 7301 section 3.1 ALPN): enough to
// pick where the connection goes (TURN or a web backend) without decrypting anything. No I/O.
//
// The hello may be split over several handshake records (TLSPlaintext, content type 22); the
// parser joins their fragments, bounded by max_size bytes of records in total.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/proxy/proxy_header.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"

namespace turnpike::protocol {

// Bounds what a connection buffers before deciding (a ClientHello with post-quantum key shares
// is about 1.8 KB; 16 KiB is one full record).
inline constexpr std::size_t kClientHelloMaxSize = 16384;

enum class ClientHelloError : std::uint8_t {
  kNotHandshake,  // the first record is not a TLS handshake record, or the first message is not a
                  // ClientHello (e.g. plain TURN, HTTP, an alert)
  kMalformed,  // lengths that do not add up, duplicate extensions, a bad server_name or ALPN list
  kTooLong,    // the hello does not fit in max_size bytes of records
};

[[nodiscard]] std::string_view toString(ClientHelloError error);

struct ClientHello {
  std::size_t size = 0;     // bytes of records read up to the end of the hello's last record
  std::string server_name;  // host_name from server_name, lowercased; empty when not offered
  bool alpn_offered = false;
  std::vector<std::string> alpn;  // protocol names in the client's order
};

// Parses the start of a stream. A value holding nullopt means the bytes so far are a valid
// beginning and more are needed; an error is final.
[[nodiscard]] std::expected<std::optional<ClientHello>, ClientHelloError> parseClientHello(
    ConstBytes data, std::size_t max_size = kClientHelloMaxSize);

// A host name as server_name and the tls_passthrough sni routes compare it: 1..255 bytes of
// ASCII letters, digits, '-', '.' and '_' (seen in the wild), lowercased; nullopt otherwise.
[[nodiscard]] std::optional<std::string> normalizeHostName(std::string_view name);

// tls_passthrough on a tls or auto listener: where TLS connections that are not TURN go.
struct PassthroughRoutes {
  std::optional<Endpoint> default_backend;
  std::map<std::string, Endpoint, std::less<>> sni;  // keys from normalizeHostName
  // A PROXY header sent to the backend first, naming the client (proxy_protocol: v1 or v2).
  ProxyVersion send_proxy = ProxyVersion::kNone;
  [[nodiscard]] bool enabled() const { return default_backend.has_value() || !sni.empty(); }
  friend bool operator==(const PassthroughRoutes&, const PassthroughRoutes&) = default;
};

// The ALPN ids of STUN over TLS (RFC 7443 section 6), in the server's preference order: a hello
// offering either is TURN, and the TLS server (server/tls) selects one of them.
inline constexpr std::array<std::string_view, 2> kAlpnStunIds{"stun.turn", "stun.nat-discovery"};

// The backend a hello is spliced to, or nullopt for TURN. In this order:
//   1. ALPN offers stun.turn or stun.nat-discovery: TURN;
//   2. the server_name is a key of `sni`: that backend;
//   3. ALPN is offered (without stun.*): the default backend, or TURN when there is none;
//   4. otherwise (no ALPN, no or an unlisted server_name): TURN.
[[nodiscard]] std::optional<Endpoint> passthroughBackend(const ClientHello& hello,
                                                         const PassthroughRoutes& routes);

}  // namespace turnpike::protocol

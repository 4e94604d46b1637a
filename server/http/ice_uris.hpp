// The STUN and TURN URIs (RFC 7064, RFC 7065) that the credential API hands out to clients.
//
// From config public_uris when it is set: turn: and turns: URIs ordered UDP, then TCP, then TLS
// (stable within each), stun: URIs apart. Otherwise derived from the listeners, in the order
// udp, tcp, tls:
//
//   udp listener  -> turn:HOST:PORT?transport=udp
//   tcp listener  -> turn:HOST:PORT?transport=tcp
//   tls listener  -> turns:HOST:PORT?transport=tcp
//
// where HOST (IPv6 in brackets) is, first that applies: the relay.external_addresses of the
// listener's family; the listener's own address when it is not a wildcard; the relay addresses
// in use (configured or detected) of the listener's family, as advertised. A listener with no
// such address gives no URI. Duplicates are dropped. The first udp listener also gives
// stun:HOST:PORT for each of its hosts.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "protocol/turn/core.hpp"
#include "server/config/config.hpp"

namespace turnpike::server {

struct IceUris {
  std::vector<std::string> turn;  // turn: and turns:, UDP first, then TCP, then TLS
  std::vector<std::string> stun;  // stun:, for an iceServers entry without credentials
};

// public_uris sorted as above (the config has checked their schemes).
[[nodiscard]] IceUris classifyPublicUris(const std::vector<std::string>& uris);

// `relays` are the relay addresses in use (TurnShared::relays).
[[nodiscard]] IceUris deriveIceUris(const ServerConfig& config,
                                    std::span<const protocol::RelayAddress> relays);

// classifyPublicUris(config.public_uris) when it is set, else deriveIceUris().
[[nodiscard]] IceUris iceUrisFor(const ServerConfig& config,
                                 std::span<const protocol::RelayAddress> relays);

}  // namespace turnpike::server

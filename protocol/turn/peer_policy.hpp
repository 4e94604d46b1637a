// Which peers a relay may talk to. CreatePermission and ChannelBind ask before installing anything
// ("The server MAY impose restrictions on the IP address and port values allowed in the
// XOR-PEER-ADDRESS attribute", rejecting with 403 Forbidden: RFC 8656 sections 10.2 and 12.2).
//
// Without this check a client can use the relay to reach the server's own loopback, private
// networks and cloud metadata services (RFC 8656 section 21.2.2; coturn CVE-2020-26262, where
// 0.0.0.0 and [::] slipped past a 127.0.0.0/8 rule and reached loopback).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/stun/endpoint.hpp"

namespace turnpike::protocol {

// Immutable after construction; check() and isAllowed() allocate nothing, so they may run per
// packet. Safe to share between threads.
//
// Evaluation order for a peer:
//   1. an own endpoint (see the constructor)                 -> kDeniedOwnAddress
//   2. port 0                                                -> kDeniedBuiltIn
//   3. a `deny` prefix                                       -> kDeniedConfig
//   4. an `allow` prefix                                     -> kAllowed (exception to 5 and 6)
//   5. one of the server's own host addresses on a port outside the relay port range (its other
//      services: SSH, a database bound to the public address, ...) -> kDeniedOwnAddress
//   6. the built-in list of special-purpose addresses        -> kDeniedBuiltIn
//   7. anything else                                         -> kAllowed
// Step 5 needs a port, so it is part of check() only: permissions (per address) to the server's
// own host are allowed, so that two clients of this server can relay to each other's relayed
// addresses.
//
// An IPv4-mapped peer (::ffff:a.b.c.d) is the IPv4 peer a.b.c.d: every step sees the embedded
// IPv4 address. `deny` additionally sees the IPv6 form (so deny ::/0 denies ::ffff:8.8.8.8 too);
// `allow` does not (so allow ::/0 cannot re-open ::ffff:127.0.0.1). Mapped prefixes of length 96
// or more in `allow`, `deny` and own endpoints are turned into their IPv4 form the same way.
//
// IPv6 forms that a gateway turns into some IPv4 destination the policy cannot see are denied
// whole by the built-in list: IPv4-compatible ::/96, SIIT ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and
// 64:ff9b:1::/48, 6to4 2002::/16 and Teredo 2001::/32 (RFC 8656 section 21.4). `allow` can carve
// them out again.
// The server's own host for step 5 below: its addresses (listeners, interfaces, relay and
// external addresses) and the relay port range, the only ports peers may be reached on there.
struct PeerPolicyOwnHost {
  std::vector<IpAddress> addresses;
  std::uint16_t relay_port_min = 0;
  std::uint16_t relay_port_max = 65535;
};

class PeerPolicy {
 public:
  enum class Verdict : std::uint8_t { kAllowed, kDeniedBuiltIn, kDeniedConfig, kDeniedOwnAddress };

  // own_endpoints: the endpoints the relay must never send to, as peers would address them:
  // every listener (advertised external addresses too). Port 0 means every port of that address.
  // Relay addresses are the caller's choice: denying them also stops two clients of this server
  // from relaying to each other. A wildcard bind address (0.0.0.0, ::) matches only itself, so
  // callers expand wildcards into the host's interface addresses.
  using OwnHost = PeerPolicyOwnHost;
  PeerPolicy(std::vector<AddressPrefix> allow, std::vector<AddressPrefix> deny,
             std::vector<Endpoint> own_endpoints, OwnHost own_host = {});

  [[nodiscard]] bool isAllowed(const Endpoint& peer) const {
    return check(peer) == Verdict::kAllowed;
  }
  [[nodiscard]] Verdict check(const Endpoint& peer) const;
  // The address-only part (steps 3-6, and own endpoints that cover every port): permissions are
  // per IP address and ignore the port (RFC 8656 section 10.2); sends check the full endpoint.
  [[nodiscard]] Verdict checkAddress(const IpAddress& address) const;
  [[nodiscard]] bool isAddressAllowed(const IpAddress& address) const {
    return checkAddress(address) == Verdict::kAllowed;
  }

 private:
  std::vector<AddressPrefix> allow_;
  std::vector<AddressPrefix> deny_;
  std::vector<Endpoint> own_endpoints_;
  OwnHost own_host_;
};

[[nodiscard]] std::string_view toString(PeerPolicy::Verdict verdict);

}  // namespace turnpike::protocol

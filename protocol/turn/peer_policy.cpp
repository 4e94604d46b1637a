#include "protocol/turn/peer_policy.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <optional>
#include <string_view>
#include <utility>

namespace turnpike::protocol {
namespace {

// Special-purpose addresses a relay never reaches unless `allow` says so: the IANA registries
// of RFC 6890 (entries that are not globally reachable), multicast, and cloud metadata services.
constexpr auto kBuiltInDenied = std::to_array<std::string_view>({
    // ---- IPv4 ----
    "0.0.0.0/8",        // "this network"; 0.0.0.0 reaches the local host (CVE-2020-26262)
    "10.0.0.0/8",       // private (RFC 1918)
    "100.64.0.0/10",    // shared CGN space (RFC 6598); also Alibaba metadata 100.100.100.200
    "127.0.0.0/8",      // loopback (RFC 1122)
    "169.254.0.0/16",   // link local (RFC 3927); cloud metadata 169.254.169.254
    "172.16.0.0/12",    // private (RFC 1918)
    "192.0.0.0/24",     // IETF protocol assignments (RFC 6890)
    "192.0.2.0/24",     // TEST-NET-1 (RFC 5737)
    "192.88.99.0/24",   // 6to4 relay anycast (RFC 7526, deprecated)
    "192.168.0.0/16",   // private (RFC 1918)
    "198.18.0.0/15",    // benchmarking (RFC 2544)
    "198.51.100.0/24",  // TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",   // TEST-NET-3 (RFC 5737)
    "224.0.0.0/4",      // multicast (RFC 5771)
    "240.0.0.0/4",      // reserved (RFC 1112); includes broadcast 255.255.255.255 (RFC 919)
    // Cloud metadata outside the ranges above (AWS, GCP, Azure IMDS use 169.254.169.254).
    "168.63.129.16/32",  // Azure WireServer: public-looking, answered by the host platform
    // ---- IPv6 ----
    "::/96",            // unspecified ::, loopback ::1 (RFC 4291), IPv4-compatible ::a.b.c.d
    "::ffff:0:0:0/96",  // IPv4-translated (RFC 2765)
    "64:ff9b::/96",     // NAT64 well-known prefix (RFC 6052)
    "64:ff9b:1::/48",   // NAT64 local use (RFC 8215)
    "100::/64",         // discard only (RFC 6666)
    "2001::/32",        // Teredo (RFC 4380): a tunnel, RFC 8656 section 21.4
    "2001:2::/48",      // benchmarking (RFC 5180)
    "2001:10::/28",     // ORCHID (RFC 4843, deprecated)
    "2001:20::/28",     // ORCHIDv2 (RFC 7343)
    "2001:db8::/32",    // documentation (RFC 3849)
    "2002::/16",        // 6to4 (RFC 3056): a tunnel, RFC 8656 section 21.4
    "3fff::/20",        // documentation (RFC 9637)
    "5f00::/16",        // SRv6 SIDs (RFC 9602)
    "fc00::/7",         // unique local (RFC 4193); AWS metadata fd00:ec2::254
    "fe80::/10",        // link local (RFC 4291)
    "fec0::/10",        // site local (RFC 3879, deprecated)
    "ff00::/8",         // multicast (RFC 4291)
});
// ::ffff:0:0/96 (IPv4-mapped) is not listed: mapped peers are judged as IPv4 (see the header).

// Parsed once, on first use; PeerPolicy's constructor makes that first use, so check() never
// parses (and function-local static initialisation is thread-safe).
const std::array<AddressPrefix, kBuiltInDenied.size()>& builtInDenied() {
  static const auto prefixes = [] {
    std::array<AddressPrefix, kBuiltInDenied.size()> out{};
    std::ranges::transform(kBuiltInDenied, out.begin(), [](std::string_view text) {
      const std::optional<AddressPrefix> prefix = AddressPrefix::parse(text);
      assert(prefix && prefix->toString() == text);  // the table is written in canonical form
      return prefix.value_or(AddressPrefix{});       // a typo fails closed: 0.0.0.0/0
    });
    return out;
  }();
  return prefixes;
}

constexpr std::array<std::uint8_t, 12> kMappedHead = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
constexpr std::uint8_t kMappedPrefixLength = 96;

// ::ffff:a.b.c.d -> a.b.c.d (RFC 4291 section 2.5.5.2); any other address unchanged.
IpAddress unmapped(const IpAddress& address) {
  const auto& bytes = address.bytes();
  if (address.isV6() && std::equal(kMappedHead.begin(), kMappedHead.end(), bytes.begin())) {
    return IpAddress::v4({bytes[12], bytes[13], bytes[14], bytes[15]});
  }
  return address;
}

// ::ffff:10.0.0.0/104 -> 10.0.0.0/8. Shorter IPv6 prefixes also cover non-mapped addresses and
// stay IPv6.
AddressPrefix unmapped(const AddressPrefix& prefix) {
  if (prefix.length < kMappedPrefixLength || !unmapped(prefix.address).isV4()) {
    return prefix;
  }
  return {unmapped(prefix.address), static_cast<std::uint8_t>(prefix.length - kMappedPrefixLength)};
}

template <typename Prefixes>
bool anyContains(const Prefixes& prefixes, const IpAddress& address) {
  return std::ranges::any_of(prefixes,
                             [&](const AddressPrefix& prefix) { return prefix.contains(address); });
}

}  // namespace

PeerPolicy::PeerPolicy(std::vector<AddressPrefix> allow, std::vector<AddressPrefix> deny,
                       std::vector<Endpoint> own_endpoints, OwnHost own_host)
    : allow_(std::move(allow)),
      deny_(std::move(deny)),
      own_endpoints_(std::move(own_endpoints)),
      own_host_(std::move(own_host)) {
  for (IpAddress& address : own_host_.addresses) {
    address = unmapped(address);
  }
  static_cast<void>(builtInDenied());  // parse the table here, not in the first check()
  for (AddressPrefix& prefix : allow_) {
    prefix = unmapped(prefix);
  }
  for (AddressPrefix& prefix : deny_) {
    prefix = unmapped(prefix);
  }
  for (Endpoint& own : own_endpoints_) {
    own.address = unmapped(own.address);
  }
}

PeerPolicy::Verdict PeerPolicy::check(const Endpoint& peer) const {
  // An IPv4-mapped peer is the IPv4 peer it embeds: ::ffff:127.0.0.1 is loopback.
  const IpAddress address = unmapped(peer.address);

  // 1. Never relay to ourselves: a relay-to-listener or relay-to-relay loop (RFC 8656 section
  //    21.1.7, the TURN loop attack). Beats `allow`.
  const bool own = std::ranges::any_of(own_endpoints_, [&](const Endpoint& endpoint) {
    return endpoint.address == address && (endpoint.port == 0 || endpoint.port == peer.port);
  });
  if (own) {
    return Verdict::kDeniedOwnAddress;
  }
  // 2. Port 0 is no destination (RFC 6335 section 6: reserved).
  if (peer.port == 0) {
    return Verdict::kDeniedBuiltIn;
  }
  const Verdict verdict = checkAddress(peer.address);
  // 5. The server's own host, outside the relay ports, unless the operator allowed it.
  if (verdict == Verdict::kAllowed &&
      (peer.port < own_host_.relay_port_min || peer.port > own_host_.relay_port_max) &&
      std::ranges::find(own_host_.addresses, address) != own_host_.addresses.end() &&
      !anyContains(allow_, address)) {
    return Verdict::kDeniedOwnAddress;
  }
  return verdict;
}

PeerPolicy::Verdict PeerPolicy::checkAddress(const IpAddress& peer_address) const {
  const IpAddress address = unmapped(peer_address);
  const bool whole_address_own = std::ranges::any_of(own_endpoints_, [&](const Endpoint& endpoint) {
    return endpoint.port == 0 && endpoint.address == address;
  });
  if (whole_address_own) {
    return Verdict::kDeniedOwnAddress;
  }
  // 3. Operator denials win over everything but step 1; they see both forms of a mapped peer.
  if (anyContains(deny_, address) || anyContains(deny_, peer_address)) {
    return Verdict::kDeniedConfig;
  }
  // 4. Operator exceptions to the built-in list, e.g. allow 127.0.0.0/8 for local tests.
  if (anyContains(allow_, address)) {
    return Verdict::kAllowed;
  }
  // 5. Special-purpose addresses (RFC 8656 section 21.2.2, RFC 6890).
  if (anyContains(builtInDenied(), address)) {
    return Verdict::kDeniedBuiltIn;
  }
  return Verdict::kAllowed;
}

std::string_view toString(PeerPolicy::Verdict verdict) {
  switch (verdict) {
    case PeerPolicy::Verdict::kAllowed:
      return "allowed";
    case PeerPolicy::Verdict::kDeniedBuiltIn:
      return "denied: special-purpose address";
    case PeerPolicy::Verdict::kDeniedConfig:
      return "denied: configured deny list";
    case PeerPolicy::Verdict::kDeniedOwnAddress:
      return "denied: the server's own address";
  }
  return "?";
}

}  // namespace turnpike::protocol

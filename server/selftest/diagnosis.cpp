#include "server/selftest/diagnosis.hpp"

#include <span>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "server/selftest/text.hpp"

namespace turnpike::server::selftest {
namespace {

using protocol::AddressPrefix;
using protocol::Endpoint;
using protocol::IpAddress;
namespace error = protocol::error;

// ::ffff:a.b.c.d as a.b.c.d, so IPv4 prefixes apply to it.
IpAddress unmapped(const IpAddress& address) {
  const auto& b = address.bytes();
  const bool mapped =
      address.isV6() &&
      std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
      b[10] == 0xFF && b[11] == 0xFF;
  return mapped ? IpAddress::v4({b[12], b[13], b[14], b[15]}) : address;
}

bool inAny(const IpAddress& address, std::span<const std::string_view> prefixes) {
  const IpAddress ip = unmapped(address);
  return std::any_of(prefixes.begin(), prefixes.end(), [&ip](std::string_view text) {
    const auto prefix = AddressPrefix::parse(text);
    return prefix && prefix->contains(ip);
  });
}

constexpr std::array<std::string_view, 7> kPrivate = {
    "10.0.0.0/8",      // RFC 1918
    "172.16.0.0/12",   // RFC 1918
    "192.168.0.0/16",  // RFC 1918
    "100.64.0.0/10",   // RFC 6598 shared address space (carrier-grade NAT)
    "169.254.0.0/16",  // RFC 3927 link-local
    "fc00::/7",        // RFC 4193 unique local
    "fe80::/10",       // RFC 4291 link-local
};

constexpr std::array<std::string_view, 7> kNotRoutable = {
    "0.0.0.0/8", "127.0.0.0/8",   "224.0.0.0/4", "240.0.0.0/4",  // incl. 255.255.255.255
    "::/127",                                                    // :: and ::1
    "ff00::/8",  "::ffff:0:0/96",
};

std::string_view transportTitle(Transport transport) {
  switch (transport) {
    case Transport::kUdp:
      return "UDP";
    case Transport::kTcp:
      return "TCP";
    case Transport::kTls:
      return "TLS";
  }
  return "?";
}

std::string_view methodName(protocol::Method method) {
  switch (method) {
    case protocol::Method::kBinding:
      return "Binding";
    case protocol::Method::kAllocate:
      return "Allocate";
    case protocol::Method::kRefresh:
      return "Refresh";
    case protocol::Method::kCreatePermission:
      return "CreatePermission";
    case protocol::Method::kChannelBind:
      return "ChannelBind";
    default:
      return "the request";
  }
}

std::string peerText(const ErrorContext& context) {
  return context.peer ? context.peer->address.toString() : std::string("the peer");
}

// The meaning of the codes a TURN server answers with (RFC 8489 section 14.8, RFC 8656
// section 19), phrased for this server's config keys.
std::string meaning(const ErrorContext& c) {
  switch (c.code) {
    case error::kTryAlternate:
      return c.alternate_server
                 ? "the server redirects clients to " + c.alternate_server->toString() +
                       " (draining, or load redirection); test that server instead"
                 : std::string(
                       "the server redirects clients elsewhere (draining, or load "
                       "redirection)");
    case error::kBadRequest:
      return "the server found the request malformed";
    case error::kUnauthenticated:
      if (!c.authenticated) {
        return "the server asked for credentials again";
      }
      return c.auth == AuthMode::kSecret
                 ? "the server refused the credentials (401 Unauthorized): the secret does not "
                   "match auth.secrets, or the clock is off"
                 : "the server refused the credentials (401 Unauthorized): no such user in "
                   "auth.users, or a wrong password";
    case error::kForbidden:
      if (c.method == protocol::Method::kCreatePermission ||
          c.method == protocol::Method::kChannelBind) {
        return "the server may not relay to the peer " + peerText(c) +
               " (403 Forbidden): its peer policy denies that address (loopback and private "
               "peers need peers.allow)";
      }
      return "the server refused the allocation (403 Forbidden): it is draining, or this client "
             "or user is not allowed";
    case error::kAllocationMismatch:
      return "the server already holds an allocation for this client's 5-tuple (437 Allocation "
             "Mismatch): wait for it to expire and run again";
    case error::kStaleNonce:
      return "the server kept answering 438 Stale Nonce";
    case error::kAddressFamilyNotSupported:
      return "the server has no relay address of the requested family (440 Address Family not "
             "Supported): an IPv6 relay is asked for when the server is reached over IPv6";
    case error::kWrongCredentials:
      return "the server says the credentials differ from the allocation's (441 Wrong "
             "Credentials)";
    case error::kUnsupportedTransportProtocol:
      return "the server does not relay UDP (442 Unsupported Transport Protocol)";
    case error::kPeerAddressFamilyMismatch:
      return "the peer " + peerText(c) +
             " has another address family than the relay (443 Peer Address Family Mismatch)";
    case error::kAllocationQuotaReached:
      return "the server refused the allocation (486 Allocation Quota Reached): "
             "limits.allocations_per_user or a per-address limit is used up";
    case error::kInsufficientCapacity:
      return "the server refused the allocation (508 Insufficient Capacity): no relay port is "
             "free in relay.port_range, or limits.allocations_total is reached";
    case error::kServerError:
      return "the server failed internally (500 Server Error): see its log";
    default:
      return "the server answered with an error";
  }
}

}  // namespace

std::string_view toString(Transport transport) {
  switch (transport) {
    case Transport::kUdp:
      return "udp";
    case Transport::kTcp:
      return "tcp";
    case Transport::kTls:
      return "tls";
  }
  return "?";
}

bool isPrivateAddress(const IpAddress& address) { return inAny(address, kPrivate); }

bool isPublicAddress(const IpAddress& address) {
  const IpAddress ip = unmapped(address);
  return !isPrivateAddress(ip) && !inAny(ip, kNotRoutable);
}

std::optional<std::string> relayAddressWarning(const Endpoint& relayed, const Endpoint& server) {
  if (!isPrivateAddress(relayed.address) || !isPublicAddress(server.address)) {
    return std::nullopt;
  }
  return fill(
      "the relay address {} is private but the server was reached on the public {}: clients "
      "outside that network cannot send to it; set relay.external_addresses to the public "
      "address",
      relayed.toString(), server.address.toString());
}

std::string seconds(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  return ms % 1000 == 0 ? concat(ms / 1000, " s") : fixed1(static_cast<double>(ms) / 1000.0) + " s";
}

std::string udpTimeoutMessage(const Endpoint& server, std::chrono::milliseconds timeout) {
  return fill("no answer over UDP from {} within {}: UDP blocked or the server is not listening",
              server.toString(), seconds(timeout));
}

std::string streamTimeoutMessage(Transport transport, const Endpoint& server,
                                 std::chrono::milliseconds timeout) {
  return fill(
      "no answer over {} from {} within {}: the server accepted the connection "
      "but did not answer (a proxy or another service on that port?)",
      transportTitle(transport), server.toString(), seconds(timeout));
}

std::string socketErrorMessage(Transport transport, const Endpoint& server, int error_number,
                               bool connecting) {
  const std::string where = fill("{} port {}", transportTitle(transport), server.toString());
  switch (error_number) {
    case ECONNREFUSED:
      return transport == Transport::kUdp
                 ? fill(
                       "{} refused the datagrams (ICMP port unreachable): nothing "
                       "listens there",
                       where)
                 : fill("{} refused the connection: nothing listens there", where);
    case ECONNRESET:
      return fill("{} reset the connection{}", where,
                  connecting ? "" : " (the server or a middlebox dropped it)");
    case EHOSTUNREACH:
    case ENETUNREACH:
      return fill("{} is unreachable: no route to the host ({})", where,
                  std::strerror(error_number));
    default:
      return fill("{}: {} failed: {}", where, connecting ? "connect" : "I/O",
                  std::strerror(error_number));
  }
}

std::string connectTimeoutMessage(Transport transport, const Endpoint& server,
                                  std::chrono::milliseconds timeout) {
  return fill(
      "{} port {} did not accept a connection within {}: a firewall drops it or the host is "
      "down",
      transportTitle(transport), server.toString(), seconds(timeout));
}

std::string closedMessage(Transport transport, const Endpoint& server) {
  return fill("{} port {} closed the connection without answering", transportTitle(transport),
              server.toString());
}

std::string tlsFailureMessage(const Endpoint& server, std::string_view reason, bool verify_failed) {
  if (verify_failed) {
    return fill(
        "TLS port {}: the server certificate did not verify: {} (--ca FILE names the CA, "
        "--tls-name the name to check)",
        server.toString(), reason);
  }
  return fill("TLS port {}: the TLS handshake failed: {} (is that port a TLS listener?)",
              server.toString(), reason);
}

std::string errorResponseMessage(const ErrorContext& context) {
  std::string text = meaning(context);
  // The code and the server's own reason, unless the meaning already names the code.
  if (text.find(std::to_string(context.code)) == std::string::npos) {
    text += fill(" ({} error {}", methodName(context.method), context.code);
    if (!context.reason.empty()) {
      text += fill(" \"{}\"", context.reason);
    }
    text += ")";
  }
  return text;
}

std::optional<std::string> echoFailureMessage(const EchoOutcome& outcome,
                                              std::chrono::milliseconds timeout) {
  const std::string relayed = outcome.relayed.toString();
  if (!outcome.seen_from) {
    return fill(
        "the relay address {} did not pass the echo: nothing reached the peer {} from the relay "
        "within {} (the server cannot send to this machine: a firewall in front of it or of the "
        "server drops UDP from the relay range)",
        relayed, outcome.peer.toString(), seconds(timeout));
  }
  const bool same_source = *outcome.seen_from == outcome.relayed;
  if (outcome.returned) {
    if (same_source) {
      return std::nullopt;
    }
    return fill(
        "the echo passed, but the data reached the peer from {}, not from the relay address {} "
        "the server reported: peers see another address than the one clients hand out "
        "(relay.external_addresses)",
        outcome.seen_from->toString(), relayed);
  }
  std::string text = fill(
      "the relay address {} did not pass the echo: relay.external_addresses may be wrong, or a "
      "firewall drops the relay range",
      relayed);
  if (!same_source) {
    text += fill(" (the data reached the peer from {}, not from {})", outcome.seen_from->toString(),
                 relayed);
  }
  return text;
}

}  // namespace turnpike::server::selftest

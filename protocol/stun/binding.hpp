// The STUN Binding service (RFC 8489 section 6.3, and RFC 5389 section 12.2 for RFC 3489
// clients): bytes and a source address in, a response (or a reason to drop) out. No I/O.
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/message.hpp"

namespace turnpike::protocol {

// RFC 5780 NAT behaviour discovery: a request that arrived on one of the four UDP sockets of a
// server with two addresses and two ports.
struct NatDiscoveryContext {
  Endpoint local;  // the socket the request arrived on
  Endpoint other;  // the other address with the other port: OTHER-ADDRESS (RFC 5780 section 7.4)
};

struct BindingOptions {
  std::string_view software;  // SOFTWARE on success responses; empty omits it
  // RFC 5780 NAT behaviour discovery: where the request arrived (the core sets it per request,
  // for the four RFC 5780 sockets). Null answers as without RFC 5780: CHANGE-REQUEST is not
  // understood and gets 420 (RFC 5780 section 7.2: a server without an alternate address rejects
  // it), and there is no RESPONSE-ORIGIN or OTHER-ADDRESS.
  const NatDiscoveryContext* nat = nullptr;
};

// An RFC 5780 answer is at most this many times the size of its request (amplification):
// SOFTWARE, then RESPONSE-ORIGIN, then OTHER-ADDRESS are left out until it fits.
inline constexpr std::size_t kNatDiscoveryMaxRatio = 3;

// What happened to one incoming STUN datagram or stream frame. Servers count these.
enum class StunOutcome : std::uint8_t {
  kBindingSuccess,      // answered with XOR-MAPPED-ADDRESS
  kClassicBinding,      // RFC 3489 client answered with MAPPED-ADDRESS
  kUnknownAttribute,    // answered 420 with UNKNOWN-ATTRIBUTES
  kMethodNotAllowed,    // a request for a method this server does not serve: answered 400
  kBadRequest,          // an RFC 5780 request that cannot be served (RESPONSE-PORT 0 or with
                        // PADDING): answered 400
  kDropMalformed,       // not a valid STUN message
  kDropBadFingerprint,  // FINGERPRINT present and wrong: not STUN (RFC 8489 section 7.3)
  kDropNotRequest,      // an indication or a response: nothing to answer
  kDropNoCookie,        // a cookie-less message that is not an RFC 3489 Binding request
};
inline constexpr std::size_t kStunOutcomeCount = 9;

[[nodiscard]] std::string_view toString(StunOutcome outcome);
[[nodiscard]] constexpr bool isDrop(StunOutcome outcome) {
  return outcome >= StunOutcome::kDropMalformed;
}

struct StunResult {
  StunOutcome outcome = StunOutcome::kDropMalformed;
  ConstBytes response;  // a prefix of the output buffer; empty when dropped
  // RFC 5780 (BindingOptions::nat): the answer leaves from the other address and/or the other
  // port (CHANGE-REQUEST), and goes to the source address at response_port (RESPONSE-PORT; 0:
  // back to the source port).
  bool change_ip = false;
  bool change_port = false;
  std::uint16_t response_port = 0;
};

// Answers a STUN request received from `source`. `out` must hold at least kMinResponseBuffer
// bytes; smaller buffers get every message dropped.
[[nodiscard]] StunResult handleStunRequest(ConstBytes request, const Endpoint& source,
                                           const BindingOptions& options, MutableBytes out);

// Answers a parsed RFC 8489 request (the caller has checked its class is Request).
[[nodiscard]] StunResult answerBinding(const Message& request, const Endpoint& source,
                                       const BindingOptions& options, MutableBytes out);

// Collects the comprehension-required attributes the server does not understand.
// Returns how many were written to out.
[[nodiscard]] std::size_t findUnknownRequired(const Message& message, const BindingOptions& options,
                                              std::span<std::uint16_t> out);

// Smallest output buffer handleStunRequest accepts: the largest response it builds, a success
// from an IPv6 source with the longest SOFTWARE and a FINGERPRINT (a 420 listing 32 attributes
// is smaller, as errors carry no SOFTWARE). RFC 5780 answers leave out what does not fit.
inline constexpr std::size_t kMinResponseBuffer = kHeaderSize + (4 + 20) + (4 + 764) + (4 + 4);

}  // namespace turnpike::protocol

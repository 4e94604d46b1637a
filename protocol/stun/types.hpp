// STUN/TURN protocol constants: message types, attribute types, error codes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace turnpike::protocol {

inline constexpr std::uint32_t kMagicCookie = 0x2112A442;  // RFC 8489 section 5
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::size_t kAttributeHeaderSize = 4;
inline constexpr std::size_t kTransactionIdSize = 12;
// Largest STUN message: the 16-bit length field plus the header.
inline constexpr std::size_t kMaxMessageSize = kHeaderSize + 0xFFFF;

using TransactionId = std::array<std::byte, kTransactionIdSize>;

// RFC 8489 section 5: the two class bits C1 C0.
enum class MessageClass : std::uint8_t {
  kRequest = 0b00,
  kIndication = 0b01,
  kSuccessResponse = 0b10,
  kErrorResponse = 0b11,
};

// 12-bit methods: RFC 8489 (Binding), RFC 8656 (TURN), RFC 6062 (TCP allocations).
enum class Method : std::uint16_t {
  kBinding = 0x001,
  kAllocate = 0x003,
  kRefresh = 0x004,
  kSend = 0x006,
  kData = 0x007,
  kCreatePermission = 0x008,
  kChannelBind = 0x009,
  kConnect = 0x00A,
  kConnectionBind = 0x00B,
  kConnectionAttempt = 0x00C,
};

/*
 * RFC 8489 section 5, message type field:
 *   0                 1
 *   2  3  4 5 6 7 8 9 0 1 2 3 4 5
 *  +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
 *  |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
 *  +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 */
constexpr std::uint16_t messageType(std::uint16_t method, MessageClass cls) {
  const auto c = static_cast<std::uint16_t>(cls);
  return static_cast<std::uint16_t>((method & 0x000FU) | ((method & 0x0070U) << 1U) |
                                    ((method & 0x0F80U) << 2U) | ((c & 0x1U) << 4U) |
                                    ((c & 0x2U) << 7U));
}
constexpr std::uint16_t messageType(Method method, MessageClass cls) {
  return messageType(static_cast<std::uint16_t>(method), cls);
}
constexpr std::uint16_t methodOf(std::uint16_t type) {
  return static_cast<std::uint16_t>((type & 0x000FU) | ((type & 0x00E0U) >> 1U) |
                                    ((type & 0x3E00U) >> 2U));
}
constexpr MessageClass classOf(std::uint16_t type) {
  return static_cast<MessageClass>(((type >> 4U) & 0x1U) | ((type >> 7U) & 0x2U));
}

// Attribute types. 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional.
namespace attr {
// RFC 8489
inline constexpr std::uint16_t kMappedAddress = 0x0001;
inline constexpr std::uint16_t kUsername = 0x0006;
inline constexpr std::uint16_t kMessageIntegrity = 0x0008;
inline constexpr std::uint16_t kErrorCode = 0x0009;
inline constexpr std::uint16_t kUnknownAttributes = 0x000A;
inline constexpr std::uint16_t kRealm = 0x0014;
inline constexpr std::uint16_t kNonce = 0x0015;
inline constexpr std::uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr std::uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr std::uint16_t kUserhash = 0x001E;
inline constexpr std::uint16_t kXorMappedAddress = 0x0020;
inline constexpr std::uint16_t kPasswordAlgorithms = 0x8002;
inline constexpr std::uint16_t kAlternateDomain = 0x8003;
inline constexpr std::uint16_t kSoftware = 0x8022;
inline constexpr std::uint16_t kAlternateServer = 0x8023;
inline constexpr std::uint16_t kFingerprint = 0x8028;
// RFC 8656
inline constexpr std::uint16_t kChannelNumber = 0x000C;
inline constexpr std::uint16_t kLifetime = 0x000D;
inline constexpr std::uint16_t kXorPeerAddress = 0x0012;
inline constexpr std::uint16_t kData = 0x0013;
inline constexpr std::uint16_t kXorRelayedAddress = 0x0016;
inline constexpr std::uint16_t kRequestedAddressFamily = 0x0017;
inline constexpr std::uint16_t kEvenPort = 0x0018;
inline constexpr std::uint16_t kRequestedTransport = 0x0019;
inline constexpr std::uint16_t kDontFragment = 0x001A;
inline constexpr std::uint16_t kReservationToken = 0x0022;
inline constexpr std::uint16_t kAdditionalAddressFamily = 0x8000;
inline constexpr std::uint16_t kAddressErrorCode = 0x8001;
inline constexpr std::uint16_t kIcmp = 0x8004;
// RFC 5780
inline constexpr std::uint16_t kChangeRequest = 0x0003;
inline constexpr std::uint16_t kPadding = 0x0026;
inline constexpr std::uint16_t kResponsePort = 0x0027;
inline constexpr std::uint16_t kResponseOrigin = 0x802B;
inline constexpr std::uint16_t kOtherAddress = 0x802C;
// RFC 6062
inline constexpr std::uint16_t kConnectionId = 0x002A;
// RFC 8016
inline constexpr std::uint16_t kMobilityTicket = 0x8030;
}  // namespace attr

constexpr bool isComprehensionRequired(std::uint16_t type) { return type < 0x8000U; }

// True for every attribute type this codec decodes (the list in attributes.hpp).
bool isKnownAttribute(std::uint16_t type);

// "XOR-MAPPED-ADDRESS", or "0x1234" style is not returned: unknown types give "UNKNOWN".
std::string_view attributeName(std::uint16_t type);

// Error codes (RFC 8489 section 14.8, RFC 8656 section 19, RFC 6062, RFC 8016).
namespace error {
inline constexpr std::uint16_t kTryAlternate = 300;
inline constexpr std::uint16_t kBadRequest = 400;
inline constexpr std::uint16_t kUnauthenticated = 401;
inline constexpr std::uint16_t kForbidden = 403;
inline constexpr std::uint16_t kMobilityForbidden = 405;
inline constexpr std::uint16_t kUnknownAttribute = 420;
inline constexpr std::uint16_t kAllocationMismatch = 437;
inline constexpr std::uint16_t kStaleNonce = 438;
inline constexpr std::uint16_t kAddressFamilyNotSupported = 440;
inline constexpr std::uint16_t kWrongCredentials = 441;
inline constexpr std::uint16_t kUnsupportedTransportProtocol = 442;
inline constexpr std::uint16_t kPeerAddressFamilyMismatch = 443;
inline constexpr std::uint16_t kConnectionAlreadyExists = 446;
inline constexpr std::uint16_t kConnectionTimeoutOrFailure = 447;
inline constexpr std::uint16_t kAllocationQuotaReached = 486;
inline constexpr std::uint16_t kRoleConflict = 487;
inline constexpr std::uint16_t kServerError = 500;
inline constexpr std::uint16_t kInsufficientCapacity = 508;
}  // namespace error

// The RFC's recommended reason phrase for a code ("Bad Request"), or "" if none.
std::string_view defaultReason(std::uint16_t code);

}  // namespace turnpike::protocol

// Typed decoders for every attribute the codec knows. Each takes the attribute value (as given by
// Message::value) and returns the decoded form or an AttributeError. Encoders live in builder.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::protocol {

enum class AttributeError : std::uint8_t {
  kBadLength,
  kBadFamily,
  kBadValue,
};

// RFC limits on text attributes (RFC 8489 section 14): fewer than this many characters...
inline constexpr std::size_t kMaxTextChars = 127;
// ...and at most this many bytes (REALM, NONCE, SOFTWARE, ERROR-CODE reason).
inline constexpr std::size_t kMaxTextBytes = 763;
// USERNAME: "fewer than 509 bytes" (RFC 8489 section 14.3).
inline constexpr std::size_t kMaxUsernameBytes = 508;
// MESSAGE-INTEGRITY-SHA256: 16 to 32 bytes in steps of 4 (RFC 8489 section 14.6).
inline constexpr std::size_t kMinIntegritySha256Size = 16;
inline constexpr std::size_t kMaxIntegritySha256Size = 32;
inline constexpr std::size_t kIntegritySha1Size = 20;
inline constexpr std::size_t kFingerprintSize = 4;
inline constexpr std::size_t kUserhashSize = 32;
inline constexpr std::size_t kReservationTokenSize = 8;

// The length and text rules the parser applies to each known attribute type. Unknown types and
// variable-length opaque attributes (DATA, PADDING, MOBILITY-TICKET) accept any length.
[[nodiscard]] bool isValidAttributeLength(std::uint16_t type, ConstBytes value);

// Counts UTF-8 characters (lead bytes); does not validate encoding.
[[nodiscard]] std::size_t utf8Length(std::string_view text);

/*
 * MAPPED-ADDRESS family (RFC 8489 section 14.1), also ALTERNATE-SERVER, RESPONSE-ORIGIN,
 * OTHER-ADDRESS:
 *  |0 0 0 0 0 0 0 0|    Family     |           Port                |
 *  |                 Address (32 bits or 128 bits)                 |
 */
[[nodiscard]] std::expected<Endpoint, AttributeError> decodeAddress(ConstBytes value);

// XOR-MAPPED-ADDRESS family (RFC 8489 section 14.2), also XOR-PEER-ADDRESS and
// XOR-RELAYED-ADDRESS: port XOR the cookie's top 16 bits, address XOR cookie || transaction ID.
[[nodiscard]] std::expected<Endpoint, AttributeError> decodeXorAddress(
    ConstBytes value, const TransactionId& transaction_id);

// XORs an endpoint with the cookie and transaction ID: the same operation encodes and decodes.
[[nodiscard]] Endpoint xorEndpoint(const Endpoint& endpoint, const TransactionId& transaction_id);

// ERROR-CODE (RFC 8489 section 14.8): class * 100 + number, and the reason phrase.
struct ErrorCodeValue {
  std::uint16_t code = 0;
  std::string_view reason;
};
[[nodiscard]] std::expected<ErrorCodeValue, AttributeError> decodeErrorCode(ConstBytes value);

// UNKNOWN-ATTRIBUTES (RFC 8489 section 14.9): a list of 16-bit types. Returns how many were
// written to out (at most out.size()).
[[nodiscard]] std::expected<std::size_t, AttributeError> decodeUnknownAttributes(
    ConstBytes value, std::span<std::uint16_t> out);

// PASSWORD-ALGORITHM (RFC 8489 section 14.12) and each entry of PASSWORD-ALGORITHMS (14.11).
enum class PasswordAlgorithm : std::uint16_t { kMd5 = 0x0001, kSha256 = 0x0002 };
struct PasswordAlgorithmValue {
  std::uint16_t algorithm = 0;
  ConstBytes parameters;
};
[[nodiscard]] std::expected<PasswordAlgorithmValue, AttributeError> decodePasswordAlgorithm(
    ConstBytes value);
// Decodes PASSWORD-ALGORITHMS into out; returns the number of entries.
[[nodiscard]] std::expected<std::size_t, AttributeError> decodePasswordAlgorithms(
    ConstBytes value, std::span<PasswordAlgorithmValue> out);

// Text attributes: USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN. Lengths were checked by
// the parser; this is a view.
[[nodiscard]] inline std::string_view decodeText(ConstBytes value) { return asText(value); }

// 32-bit values: LIFETIME (RFC 8656 section 18.2), CONNECTION-ID (RFC 6062 section 6.2.1).
[[nodiscard]] std::expected<std::uint32_t, AttributeError> decodeU32(ConstBytes value);

// CHANNEL-NUMBER (RFC 8656 section 18.1): 16-bit number and 16 reserved bits.
[[nodiscard]] std::expected<std::uint16_t, AttributeError> decodeChannelNumber(ConstBytes value);

// REQUESTED-TRANSPORT (RFC 8656 section 18.7): IANA protocol number (17 = UDP, 6 = TCP).
inline constexpr std::uint8_t kProtocolUdp = 17;
inline constexpr std::uint8_t kProtocolTcp = 6;
[[nodiscard]] std::expected<std::uint8_t, AttributeError> decodeRequestedTransport(
    ConstBytes value);

// REQUESTED-ADDRESS-FAMILY (RFC 8656 section 18.6) and ADDITIONAL-ADDRESS-FAMILY (18.11).
[[nodiscard]] std::expected<AddressFamily, AttributeError> decodeAddressFamily(ConstBytes value);

// EVEN-PORT (RFC 8656 section 18.5): the R bit asks to reserve the next port.
[[nodiscard]] std::expected<bool, AttributeError> decodeEvenPort(ConstBytes value);

// RESERVATION-TOKEN (RFC 8656 section 18.9): 8 opaque bytes.
using ReservationToken = std::array<std::byte, kReservationTokenSize>;
[[nodiscard]] std::expected<ReservationToken, AttributeError> decodeReservationToken(
    ConstBytes value);

// ADDRESS-ERROR-CODE (RFC 8656 section 18.12).
struct AddressErrorCodeValue {
  AddressFamily family = AddressFamily::kIpv4;
  std::uint16_t code = 0;
  std::string_view reason;
};
[[nodiscard]] std::expected<AddressErrorCodeValue, AttributeError> decodeAddressErrorCode(
    ConstBytes value);

// ICMP (RFC 8656 section 18.13).
struct IcmpValue {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint32_t error_data = 0;
};
[[nodiscard]] std::expected<IcmpValue, AttributeError> decodeIcmp(ConstBytes value);

// CHANGE-REQUEST (RFC 5780 section 7.2): the A (change IP) and B (change port) flags.
struct ChangeRequestValue {
  bool change_ip = false;
  bool change_port = false;
};
[[nodiscard]] std::expected<ChangeRequestValue, AttributeError> decodeChangeRequest(
    ConstBytes value);

// RESPONSE-PORT (RFC 5780 section 7.5): a port and 2 bytes of padding.
[[nodiscard]] std::expected<std::uint16_t, AttributeError> decodeResponsePort(ConstBytes value);

// FINGERPRINT value as stored on the wire.
[[nodiscard]] std::expected<std::uint32_t, AttributeError> decodeFingerprint(ConstBytes value);

}  // namespace turnpike::protocol

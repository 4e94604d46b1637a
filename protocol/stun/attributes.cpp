#include "protocol/stun/attributes.hpp"

#include <algorithm>

namespace turnpike::protocol {
namespace {

constexpr std::size_t kIpv4AddressValueSize = 8;
constexpr std::size_t kIpv6AddressValueSize = 20;

struct AttributeInfo {
  std::uint16_t type;
  std::string_view name;
};

// Every attribute type the codec knows (issue list: RFC 8489, 8656, 5780, 6062, 8016).
constexpr std::array kKnownAttributes{
    AttributeInfo{attr::kMappedAddress, "MAPPED-ADDRESS"},
    AttributeInfo{attr::kChangeRequest, "CHANGE-REQUEST"},
    AttributeInfo{attr::kUsername, "USERNAME"},
    AttributeInfo{attr::kMessageIntegrity, "MESSAGE-INTEGRITY"},
    AttributeInfo{attr::kErrorCode, "ERROR-CODE"},
    AttributeInfo{attr::kUnknownAttributes, "UNKNOWN-ATTRIBUTES"},
    AttributeInfo{attr::kChannelNumber, "CHANNEL-NUMBER"},
    AttributeInfo{attr::kLifetime, "LIFETIME"},
    AttributeInfo{attr::kXorPeerAddress, "XOR-PEER-ADDRESS"},
    AttributeInfo{attr::kData, "DATA"},
    AttributeInfo{attr::kRealm, "REALM"},
    AttributeInfo{attr::kNonce, "NONCE"},
    AttributeInfo{attr::kXorRelayedAddress, "XOR-RELAYED-ADDRESS"},
    AttributeInfo{attr::kRequestedAddressFamily, "REQUESTED-ADDRESS-FAMILY"},
    AttributeInfo{attr::kEvenPort, "EVEN-PORT"},
    AttributeInfo{attr::kRequestedTransport, "REQUESTED-TRANSPORT"},
    AttributeInfo{attr::kDontFragment, "DONT-FRAGMENT"},
    AttributeInfo{attr::kMessageIntegritySha256, "MESSAGE-INTEGRITY-SHA256"},
    AttributeInfo{attr::kPasswordAlgorithm, "PASSWORD-ALGORITHM"},
    AttributeInfo{attr::kUserhash, "USERHASH"},
    AttributeInfo{attr::kXorMappedAddress, "XOR-MAPPED-ADDRESS"},
    AttributeInfo{attr::kReservationToken, "RESERVATION-TOKEN"},
    AttributeInfo{attr::kPadding, "PADDING"},
    AttributeInfo{attr::kResponsePort, "RESPONSE-PORT"},
    AttributeInfo{attr::kConnectionId, "CONNECTION-ID"},
    AttributeInfo{attr::kAdditionalAddressFamily, "ADDITIONAL-ADDRESS-FAMILY"},
    AttributeInfo{attr::kAddressErrorCode, "ADDRESS-ERROR-CODE"},
    AttributeInfo{attr::kPasswordAlgorithms, "PASSWORD-ALGORITHMS"},
    AttributeInfo{attr::kAlternateDomain, "ALTERNATE-DOMAIN"},
    AttributeInfo{attr::kIcmp, "ICMP"},
    AttributeInfo{attr::kSoftware, "SOFTWARE"},
    AttributeInfo{attr::kAlternateServer, "ALTERNATE-SERVER"},
    AttributeInfo{attr::kFingerprint, "FINGERPRINT"},
    AttributeInfo{attr::kResponseOrigin, "RESPONSE-ORIGIN"},
    AttributeInfo{attr::kOtherAddress, "OTHER-ADDRESS"},
    AttributeInfo{attr::kMobilityTicket, "MOBILITY-TICKET"},
};

bool isValidText(ConstBytes value, std::size_t max_bytes) {
  return value.size() <= max_bytes && utf8Length(asText(value)) <= kMaxTextChars;
}

bool isValidAddressLength(std::size_t size) {
  return size == kIpv4AddressValueSize || size == kIpv6AddressValueSize;
}

// An ERROR-CODE-shaped value: 4 fixed bytes then a reason phrase.
bool isValidErrorCodeLength(ConstBytes value) {
  return value.size() >= 4 && isValidText(value.subspan(4), kMaxTextBytes);
}

}  // namespace

std::size_t utf8Length(std::string_view text) {
  return static_cast<std::size_t>(std::ranges::count_if(
      text, [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

bool isKnownAttribute(std::uint16_t type) {
  return std::ranges::any_of(kKnownAttributes,
                             [type](const AttributeInfo& info) { return info.type == type; });
}

std::string_view attributeName(std::uint16_t type) {
  const auto* it = std::ranges::find(kKnownAttributes, type, &AttributeInfo::type);
  return it == kKnownAttributes.end() ? std::string_view("UNKNOWN") : it->name;
}

bool isValidAttributeLength(std::uint16_t type, ConstBytes value) {
  const std::size_t size = value.size();
  switch (type) {
    case attr::kMappedAddress:
    case attr::kXorMappedAddress:
    case attr::kXorPeerAddress:
    case attr::kXorRelayedAddress:
    case attr::kAlternateServer:
    case attr::kResponseOrigin:
    case attr::kOtherAddress:
      return isValidAddressLength(size);
    case attr::kUsername:
      return size <= kMaxUsernameBytes;
    case attr::kRealm:
    case attr::kNonce:
    case attr::kSoftware:
      return isValidText(value, kMaxTextBytes);
    case attr::kAlternateDomain:
      return size >= 1 && size <= 255;  // a DNS name
    case attr::kUserhash:
      return size == kUserhashSize;
    case attr::kMessageIntegrity:
      return size == kIntegritySha1Size;
    case attr::kMessageIntegritySha256:
      return size >= kMinIntegritySha256Size && size <= kMaxIntegritySha256Size && size % 4 == 0;
    case attr::kFingerprint:
      return size == kFingerprintSize;
    case attr::kErrorCode:
      return isValidErrorCodeLength(value);
    case attr::kAddressErrorCode:
      return isValidErrorCodeLength(value);
    case attr::kUnknownAttributes:
      return size % 2 == 0;
    case attr::kPasswordAlgorithm:
      return size >= 4;
    case attr::kPasswordAlgorithms:
      return size >= 4;
    case attr::kChannelNumber:
    case attr::kLifetime:
    case attr::kRequestedAddressFamily:
    case attr::kRequestedTransport:
    case attr::kAdditionalAddressFamily:
    case attr::kChangeRequest:
    case attr::kResponsePort:
    case attr::kConnectionId:
      return size == 4;
    case attr::kEvenPort:
      return size == 1;
    case attr::kDontFragment:
      return size == 0;
    case attr::kReservationToken:
      return size == kReservationTokenSize;
    case attr::kIcmp:
      return size == 8;
    default:
      return true;  // DATA, PADDING, MOBILITY-TICKET and unknown types: opaque
  }
}

std::expected<Endpoint, AttributeError> decodeAddress(ConstBytes value) {
  if (!isValidAddressLength(value.size())) {
    return std::unexpected(AttributeError::kBadLength);
  }
  const std::uint8_t family = load8(value, 1);
  Endpoint endpoint;
  endpoint.port = load16(value, 2);
  if (family == static_cast<std::uint8_t>(AddressFamily::kIpv4) &&
      value.size() == kIpv4AddressValueSize) {
    endpoint.address = IpAddress::v4(loadArray<4>(value, 4));
  } else if (family == static_cast<std::uint8_t>(AddressFamily::kIpv6) &&
             value.size() == kIpv6AddressValueSize) {
    endpoint.address = IpAddress::v6(loadArray<16>(value, 4));
  } else {
    return std::unexpected(AttributeError::kBadFamily);
  }
  return endpoint;
}

Endpoint xorEndpoint(const Endpoint& endpoint, const TransactionId& transaction_id) {
  // The XOR pad: magic cookie followed by the transaction ID (RFC 8489 section 14.2).
  std::array<std::uint8_t, 16> pad{0x21, 0x12, 0xA4, 0x42};
  for (std::size_t i = 0; i < transaction_id.size(); ++i) {
    pad[4 + i] = std::to_integer<std::uint8_t>(transaction_id[i]);
  }
  std::array<std::uint8_t, 16> bytes = endpoint.address.bytes();
  for (std::size_t i = 0; i < endpoint.address.size(); ++i) {
    bytes[i] ^= pad[i];
  }
  Endpoint result;
  result.port = static_cast<std::uint16_t>(endpoint.port ^ (kMagicCookie >> 16U));
  result.address = endpoint.address.isV4() ? IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]})
                                           : IpAddress::v6(bytes);
  return result;
}

std::expected<Endpoint, AttributeError> decodeXorAddress(ConstBytes value,
                                                         const TransactionId& transaction_id) {
  auto endpoint = decodeAddress(value);
  if (!endpoint) {
    return endpoint;
  }
  return xorEndpoint(*endpoint, transaction_id);
}

std::expected<ErrorCodeValue, AttributeError> decodeErrorCode(ConstBytes value) {
  if (!isValidErrorCodeLength(value)) {
    return std::unexpected(AttributeError::kBadLength);
  }
  // RFC 8489 section 14.8: 21 reserved bits, 3-bit class (3..6), 8-bit number (0..99).
  const std::uint8_t cls = load8(value, 2) & 0x07U;
  const std::uint8_t number = load8(value, 3);
  if (cls < 3 || cls > 6 || number > 99) {
    return std::unexpected(AttributeError::kBadValue);
  }
  return ErrorCodeValue{static_cast<std::uint16_t>(cls * 100U + number), asText(value.subspan(4))};
}

std::expected<std::size_t, AttributeError> decodeUnknownAttributes(ConstBytes value,
                                                                   std::span<std::uint16_t> out) {
  if (value.size() % 2 != 0) {
    return std::unexpected(AttributeError::kBadLength);
  }
  const std::size_t count = std::min(value.size() / 2, out.size());
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = load16(value, 2 * i);
  }
  return count;
}

std::expected<PasswordAlgorithmValue, AttributeError> decodePasswordAlgorithm(ConstBytes value) {
  // Algorithm (16) | Algorithm Parameters Length (16) | Parameters (variable, padded).
  if (value.size() < 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  const std::size_t params_length = load16(value, 2);
  if (4 + params_length > value.size()) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return PasswordAlgorithmValue{load16(value, 0), value.subspan(4, params_length)};
}

std::expected<std::size_t, AttributeError> decodePasswordAlgorithms(
    ConstBytes value, std::span<PasswordAlgorithmValue> out) {
  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos < value.size()) {
    auto entry = decodePasswordAlgorithm(value.subspan(pos));
    if (!entry) {
      return std::unexpected(entry.error());
    }
    if (count < out.size()) {
      out[count++] = *entry;
    }
    pos += 4 + ((entry->parameters.size() + 3U) & ~std::size_t{3});
  }
  if (pos != value.size()) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return count;
}

std::expected<std::uint32_t, AttributeError> decodeU32(ConstBytes value) {
  if (value.size() != 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return load32(value, 0);
}

std::expected<std::uint16_t, AttributeError> decodeChannelNumber(ConstBytes value) {
  if (value.size() != 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return load16(value, 0);
}

std::expected<std::uint8_t, AttributeError> decodeRequestedTransport(ConstBytes value) {
  if (value.size() != 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return load8(value, 0);
}

std::expected<AddressFamily, AttributeError> decodeAddressFamily(ConstBytes value) {
  if (value.size() != 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  const std::uint8_t family = load8(value, 0);
  if (family != static_cast<std::uint8_t>(AddressFamily::kIpv4) &&
      family != static_cast<std::uint8_t>(AddressFamily::kIpv6)) {
    return std::unexpected(AttributeError::kBadFamily);
  }
  return static_cast<AddressFamily>(family);
}

std::expected<bool, AttributeError> decodeEvenPort(ConstBytes value) {
  if (value.size() != 1) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return (load8(value, 0) & 0x80U) != 0;
}

std::expected<ReservationToken, AttributeError> decodeReservationToken(ConstBytes value) {
  if (value.size() != kReservationTokenSize) {
    return std::unexpected(AttributeError::kBadLength);
  }
  ReservationToken token{};
  std::ranges::copy(value, token.begin());
  return token;
}

std::expected<AddressErrorCodeValue, AttributeError> decodeAddressErrorCode(ConstBytes value) {
  // Family (8) | Reserved (13) | Class (3) | Number (8) | Reason Phrase (variable).
  auto error_code = decodeErrorCode(value);
  if (!error_code) {
    return std::unexpected(error_code.error());
  }
  const std::uint8_t family = load8(value, 0);
  if (family != static_cast<std::uint8_t>(AddressFamily::kIpv4) &&
      family != static_cast<std::uint8_t>(AddressFamily::kIpv6)) {
    return std::unexpected(AttributeError::kBadFamily);
  }
  return AddressErrorCodeValue{static_cast<AddressFamily>(family), error_code->code,
                               error_code->reason};
}

std::expected<IcmpValue, AttributeError> decodeIcmp(ConstBytes value) {
  // Reserved (16) | ICMP Type (8) | ICMP Code (8) | Error Data (32).
  if (value.size() != 8) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return IcmpValue{load8(value, 2), load8(value, 3), load32(value, 4)};
}

std::expected<ChangeRequestValue, AttributeError> decodeChangeRequest(ConstBytes value) {
  if (value.size() != 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  const std::uint32_t flags = load32(value, 0);
  return ChangeRequestValue{(flags & 0x4U) != 0, (flags & 0x2U) != 0};
}

std::expected<std::uint16_t, AttributeError> decodeResponsePort(ConstBytes value) {
  if (value.size() != 4) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return load16(value, 0);
}

std::expected<std::uint32_t, AttributeError> decodeFingerprint(ConstBytes value) {
  if (value.size() != kFingerprintSize) {
    return std::unexpected(AttributeError::kBadLength);
  }
  return load32(value, 0);
}

std::string_view defaultReason(std::uint16_t code) {
  switch (code) {
    case error::kTryAlternate:
      return "Try Alternate";
    case error::kBadRequest:
      return "Bad Request";
    case error::kUnauthenticated:
      return "Unauthenticated";
    case error::kForbidden:
      return "Forbidden";
    case error::kMobilityForbidden:
      return "Mobility Forbidden";
    case error::kUnknownAttribute:
      return "Unknown Attribute";
    case error::kAllocationMismatch:
      return "Allocation Mismatch";
    case error::kStaleNonce:
      return "Stale Nonce";
    case error::kAddressFamilyNotSupported:
      return "Address Family not Supported";
    case error::kWrongCredentials:
      return "Wrong Credentials";
    case error::kUnsupportedTransportProtocol:
      return "Unsupported Transport Protocol";
    case error::kPeerAddressFamilyMismatch:
      return "Peer Address Family Mismatch";
    case error::kConnectionAlreadyExists:
      return "Connection Already Exists";
    case error::kConnectionTimeoutOrFailure:
      return "Connection Timeout or Failure";
    case error::kAllocationQuotaReached:
      return "Allocation Quota Reached";
    case error::kRoleConflict:
      return "Role Conflict";
    case error::kServerError:
      return "Server Error";
    case error::kInsufficientCapacity:
      return "Insufficient Capacity";
    default:
      return "";
  }
}

}  // namespace turnpike::protocol

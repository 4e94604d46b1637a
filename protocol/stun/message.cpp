#include "protocol/stun/message.hpp"

#include <algorithm>

#include "protocol/stun/attributes.hpp"

namespace turnpike::protocol {

std::string_view toString(ParseError error) {
  switch (error) {
    case ParseError::kTooShort:
      return "too short";
    case ParseError::kNotStun:
      return "not STUN";
    case ParseError::kBadMagicCookie:
      return "bad magic cookie";
    case ParseError::kLengthMismatch:
      return "length mismatch";
    case ParseError::kLengthNotAligned:
      return "length not a multiple of 4";
    case ParseError::kAttributeTruncated:
      return "attribute truncated";
    case ParseError::kTooManyAttributes:
      return "too many attributes";
    case ParseError::kAttributeAfterFingerprint:
      return "attribute after FINGERPRINT";
    case ParseError::kBadAttributeLength:
      return "bad attribute length";
  }
  return "unknown";
}

bool looksLikeStun(ConstBytes data) {
  return data.size() >= kHeaderSize && (load8(data, 0) & 0xC0U) == 0 &&
         load32(data, 4) == kMagicCookie;
}

TransactionId Message::transactionId() const {
  TransactionId id{};
  std::ranges::copy(data_.subspan(8, kTransactionIdSize), id.begin());
  return id;
}

const RawAttribute* Message::find(std::uint16_t type) const {
  for (const RawAttribute& attribute : attributes()) {
    if (attribute.type == type) {
      return &attribute;
    }
  }
  return nullptr;
}

std::expected<Message, ParseError> Message::parse(ConstBytes data) {
  return parseImpl(data, /*require_cookie=*/true);
}

std::expected<Message, ParseError> Message::parseClassic(ConstBytes data) {
  return parseImpl(data, /*require_cookie=*/false);
}

std::expected<Message, ParseError> Message::parseImpl(ConstBytes data, bool require_cookie) {
  // RFC 8489 section 6.3: size, leading zero bits, cookie, then the length field.
  if (data.size() < kHeaderSize) {
    return std::unexpected(ParseError::kTooShort);
  }
  if ((load8(data, 0) & 0xC0U) != 0) {
    return std::unexpected(ParseError::kNotStun);
  }
  if (require_cookie && load32(data, 4) != kMagicCookie) {
    return std::unexpected(ParseError::kBadMagicCookie);
  }
  const std::size_t length = load16(data, 2);
  if (length != data.size() - kHeaderSize) {
    return std::unexpected(ParseError::kLengthMismatch);
  }
  if (length % 4 != 0) {
    return std::unexpected(ParseError::kLengthNotAligned);
  }
  Message message(data);
  if (auto ok = message.parseAttributes(); !ok) {
    return std::unexpected(ok.error());
  }
  return message;
}

std::expected<void, ParseError> Message::parseAttributes() {
  bool seen_integrity = false;         // MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256
  bool seen_integrity_sha256 = false;  // MESSAGE-INTEGRITY-SHA256
  bool seen_fingerprint = false;
  std::size_t pos = kHeaderSize;
  while (pos < data_.size()) {
    // Every attribute header and value must fit; the header length is a multiple of 4, so a
    // 4-byte attribute header always fits once pos < size.
    const std::uint16_t type = load16(data_, pos);
    const std::size_t length = load16(data_, pos + 2);
    const std::size_t value_offset = pos + kAttributeHeaderSize;
    const std::size_t padded = (length + 3U) & ~std::size_t{3};
    if (value_offset + padded > data_.size()) {
      return std::unexpected(ParseError::kAttributeTruncated);
    }
    pos = value_offset + padded;
    // RFC 8489 section 14.7: FINGERPRINT is the last attribute.
    if (seen_fingerprint) {
      return std::unexpected(ParseError::kAttributeAfterFingerprint);
    }
    // RFC 8489 sections 14.5 and 14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
    // FINGERPRINT count; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. Others are ignored.
    if (type == attr::kFingerprint) {
      seen_fingerprint = true;
    } else if (type == attr::kMessageIntegritySha256) {
      if (seen_integrity_sha256) {
        continue;
      }
      seen_integrity = seen_integrity_sha256 = true;
    } else if (seen_integrity) {
      continue;
    } else if (type == attr::kMessageIntegrity) {
      seen_integrity = true;
    }
    const ConstBytes value = data_.subspan(value_offset, length);
    if (!isValidAttributeLength(type, value)) {
      return std::unexpected(ParseError::kBadAttributeLength);
    }
    if (count_ == kMaxAttributes) {
      return std::unexpected(ParseError::kTooManyAttributes);
    }
    attributes_[count_++] = RawAttribute{type, static_cast<std::uint16_t>(length),
                                         static_cast<std::uint32_t>(value_offset)};
  }
  return {};
}

}  // namespace turnpike::protocol

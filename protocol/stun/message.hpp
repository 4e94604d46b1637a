// STUN message parsing (RFC 8489 section 5 and 14): one validating pass that records where each
// attribute is. The Message holds a view of the caller's buffer, which must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::protocol {

enum class ParseError : std::uint8_t {
  kTooShort,                   // fewer than 20 bytes
  kNotStun,                    // the first two bits are not zero
  kBadMagicCookie,             // cookie missing (parse(), not parseClassic())
  kLengthMismatch,             // header length != size - 20
  kLengthNotAligned,           // header length not a multiple of 4
  kAttributeTruncated,         // an attribute runs past the end of the message
  kTooManyAttributes,          // more than Message::kMaxAttributes
  kAttributeAfterFingerprint,  // FINGERPRINT is not the last attribute
  kBadAttributeLength,         // a known attribute has a length its RFC forbids
};

[[nodiscard]] std::string_view toString(ParseError error);

// Where one attribute's value lies inside the message.
struct RawAttribute {
  std::uint16_t type = 0;
  std::uint16_t length = 0;  // value length, without padding
  std::uint32_t offset = 0;  // offset of the value from the start of the message
};

/*
 * RFC 8489 section 5:
 *   0                   1                   2                   3
 *  |0 0|     STUN Message Type     |         Message Length        |
 *  |                         Magic Cookie                          |
 *  |                     Transaction ID (96 bits)                  |
 */
class Message {
 public:
  // Enough for any real message; more is treated as hostile.
  static constexpr std::size_t kMaxAttributes = 32;

  // Parses an RFC 8489 message: requires the magic cookie.
  [[nodiscard]] static std::expected<Message, ParseError> parse(ConstBytes data);
  // Parses an RFC 3489 message, whose 128-bit transaction ID has no cookie. Same other checks.
  [[nodiscard]] static std::expected<Message, ParseError> parseClassic(ConstBytes data);

  [[nodiscard]] std::uint16_t type() const { return load16(data_, 0); }
  [[nodiscard]] std::uint16_t method() const { return methodOf(type()); }
  [[nodiscard]] MessageClass messageClass() const { return classOf(type()); }
  [[nodiscard]] bool isMethod(Method m) const { return method() == static_cast<std::uint16_t>(m); }
  [[nodiscard]] bool hasMagicCookie() const { return load32(data_, 4) == kMagicCookie; }
  // The 96-bit transaction ID (bytes 8..19).
  [[nodiscard]] TransactionId transactionId() const;
  // Bytes 4..19: cookie and transaction ID, which RFC 3489 treats as one 128-bit ID.
  [[nodiscard]] ConstBytes cookieAndTransactionId() const { return data_.subspan(4, 16); }
  [[nodiscard]] ConstBytes bytes() const { return data_; }

  // The attributes in wire order. Attributes that RFC 8489 section 14.5/14.6 says to ignore
  // (anything after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT) are
  // validated for framing and left out.
  [[nodiscard]] std::span<const RawAttribute> attributes() const {
    return std::span(attributes_).first(count_);
  }
  // The first attribute of a type (RFC 8489 section 14: later duplicates are ignored).
  [[nodiscard]] const RawAttribute* find(std::uint16_t type) const;
  [[nodiscard]] bool has(std::uint16_t type) const { return find(type) != nullptr; }
  [[nodiscard]] ConstBytes value(const RawAttribute& attribute) const {
    return data_.subspan(attribute.offset, attribute.length);
  }

 private:
  explicit Message(ConstBytes data) : data_(data) {}
  [[nodiscard]] static std::expected<Message, ParseError> parseImpl(ConstBytes data,
                                                                    bool require_cookie);
  [[nodiscard]] std::expected<void, ParseError> parseAttributes();

  ConstBytes data_;
  std::array<RawAttribute, kMaxAttributes> attributes_{};
  std::size_t count_ = 0;
};

// Cheap test used to demultiplex (RFC 7983): could this datagram be a STUN message?
[[nodiscard]] bool looksLikeStun(ConstBytes data);

}  // namespace turnpike::protocol

// Helpers shared by the STUN codec tests: hex conversion, hand-written (possibly malformed)
// messages, and build-then-parse shortcuts. Header-only so any test binary can include it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::protocol {
// Readable gtest failure output for endpoints.
inline void PrintTo(const Endpoint& endpoint, std::ostream* os) { *os << endpoint.toString(); }
}  // namespace turnpike::protocol

namespace turnpike::test {

using Bytes = std::vector<std::byte>;

// "00 01 a4" (any whitespace) -> bytes. A malformed string fails the current test.
inline Bytes fromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  int high = -1;
  for (const char c : hex) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    const int value = nibble(c);
    if (value < 0) {
      ADD_FAILURE() << "bad hex character '" << c << "' in " << hex;
      return {};
    }
    if (high < 0) {
      high = value;
    } else {
      out.push_back(static_cast<std::byte>((high << 4) | value));
      high = -1;
    }
  }
  if (high >= 0) ADD_FAILURE() << "odd number of hex digits in " << hex;
  return out;
}

// Bytes -> "0001a4", for readable EXPECT_EQ diffs.
inline std::string toHex(protocol::ConstBytes bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  for (const std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    out += kDigits[v >> 4U];
    out += kDigits[v & 0xFU];
  }
  return out;
}

inline Bytes bytesOf(std::string_view text) {
  const protocol::ConstBytes view = protocol::asBytes(text);
  return {view.begin(), view.end()};
}

// An endpoint from address text that must be valid.
inline protocol::Endpoint endpoint(std::string_view address, std::uint16_t port) {
  const auto ip = protocol::IpAddress::parse(address);
  EXPECT_TRUE(ip.has_value()) << address;
  return {ip.value_or(protocol::IpAddress()), port};
}

inline constexpr std::uint16_t kBindingRequest =
    protocol::messageType(protocol::Method::kBinding, protocol::MessageClass::kRequest);

// 0x01 0x02 ... 0x0c.
inline constexpr protocol::TransactionId kTestTransactionId{
    std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04},
    std::byte{0x05}, std::byte{0x06}, std::byte{0x07}, std::byte{0x08},
    std::byte{0x09}, std::byte{0x0a}, std::byte{0x0b}, std::byte{0x0c}};

// Writes a message by hand, without MessageBuilder's checks, so tests can produce malformed input.
// bytes() sets the header length to the body size unless a length was forced.
class RawMessage {
 public:
  explicit RawMessage(std::uint16_t type = kBindingRequest,
                      std::uint32_t cookie = protocol::kMagicCookie)
      : data_(protocol::kHeaderSize) {
    protocol::store16(data_, 0, type);
    protocol::store32(data_, 4, cookie);
    std::ranges::copy(kTestTransactionId, data_.begin() + 8);
  }
  // Attribute with this value, padded with pad_byte to a multiple of 4.
  RawMessage& add(std::uint16_t type, protocol::ConstBytes value, std::byte pad_byte = {}) {
    return addHeader(type, static_cast<std::uint16_t>(value.size()))
        .raw(value)
        .raw(Bytes((4 - value.size() % 4) % 4, pad_byte));
  }
  RawMessage& add(std::uint16_t type, std::string_view text) {
    return add(type, protocol::asBytes(text));
  }
  // Attribute whose value is `length` copies of fill.
  RawMessage& addFilled(std::uint16_t type, std::size_t length, std::byte fill = std::byte{'a'}) {
    return add(type, Bytes(length, fill));
  }
  // Only a type/length header, for values that are truncated on purpose.
  RawMessage& addHeader(std::uint16_t type, std::uint16_t length) {
    std::array<std::byte, 4> header{};
    protocol::store16(header, 0, type);
    protocol::store16(header, 2, length);
    return raw(header);
  }
  RawMessage& raw(protocol::ConstBytes bytes) {
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  RawMessage& forceLength(std::uint16_t length) {
    forced_length_ = length;
    return *this;
  }
  [[nodiscard]] Bytes bytes() const {
    Bytes out = data_;
    protocol::store16(out, 2, forced_length_.value_or(static_cast<std::uint16_t>(out.size() - 20)));
    return out;
  }

 private:
  Bytes data_;
  std::optional<std::uint16_t> forced_length_;
};

// Builds a message with MessageBuilder; fails the test if finish() fails.
inline Bytes build(const std::function<void(protocol::MessageBuilder&)>& add,
                   std::uint16_t type = kBindingRequest,
                   const protocol::TransactionId& id = kTestTransactionId) {
  Bytes buffer(protocol::kMaxMessageSize);
  protocol::MessageBuilder builder(buffer, type, id);
  add(builder);
  const auto out = builder.finish();
  if (!out) {
    ADD_FAILURE() << "build failed: " << protocol::toString(out.error());
    return {};
  }
  buffer.resize(out->size());
  return buffer;
}

// Parses bytes that must be valid. The Message views `bytes`, which must outlive it. On failure
// the test fails and value() throws, which gtest reports as well.
inline protocol::Message parseOk(const Bytes& bytes) {
  auto message = protocol::Message::parse(bytes);
  EXPECT_TRUE(message.has_value()) << protocol::toString(message.error()) << " " << toHex(bytes);
  return message.value();
}

// The value of the first attribute of a type; fails the test if there is none.
inline protocol::ConstBytes valueOf(const protocol::Message& message, std::uint16_t type) {
  const protocol::RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) {
    ADD_FAILURE() << "no attribute " << protocol::attributeName(type);
    return {};
  }
  return message.value(*attribute);
}

// Repeats a string.
inline std::string repeat(std::string_view unit, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += unit;
  return out;
}

// Runs every decoder and verifier over every attribute of a parsed message, whatever its type, for
// robustness tests (mutation runs, fuzzer regressions): none may read out of bounds.
inline void exerciseDecoders(const protocol::Message& message) {
  std::array<std::uint16_t, 8> unknown{};
  std::array<protocol::PasswordAlgorithmValue, 4> algorithms{};
  for (const protocol::RawAttribute& attribute : message.attributes()) {
    const protocol::ConstBytes value = message.value(attribute);
    (void)protocol::decodeAddress(value);
    (void)protocol::decodeXorAddress(value, message.transactionId());
    (void)protocol::decodeErrorCode(value);
    (void)protocol::decodeUnknownAttributes(value, unknown);
    (void)protocol::decodePasswordAlgorithm(value);
    (void)protocol::decodePasswordAlgorithms(value, algorithms);
    (void)protocol::decodeU32(value);
    (void)protocol::decodeChannelNumber(value);
    (void)protocol::decodeRequestedTransport(value);
    (void)protocol::decodeAddressFamily(value);
    (void)protocol::decodeEvenPort(value);
    (void)protocol::decodeReservationToken(value);
    (void)protocol::decodeChangeRequest(value);
    (void)protocol::decodeResponsePort(value);
    (void)protocol::decodeAddressErrorCode(value);
    (void)protocol::decodeIcmp(value);
    (void)protocol::decodeFingerprint(value);
    (void)protocol::utf8Length(protocol::decodeText(value));
  }
  (void)protocol::verifyMessageIntegrity(message, bytesOf("key"));
  (void)protocol::verifyMessageIntegritySha256(message, bytesOf("key"));
  (void)protocol::verifyFingerprint(message);
}

// The attribute types of a parsed message, in wire order.
inline std::vector<std::uint16_t> typesOf(const protocol::Message& message) {
  std::vector<std::uint16_t> types;
  for (const protocol::RawAttribute& attribute : message.attributes()) {
    types.push_back(attribute.type);
  }
  return types;
}

}  // namespace turnpike::test

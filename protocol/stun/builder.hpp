// Builds STUN messages into a caller-provided buffer. Errors are sticky: once an attribute does
// not fit, later calls do nothing and finish() reports the overflow.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string_view>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::protocol {

enum class BuildError : std::uint8_t { kBufferTooSmall, kValueTooLong };

[[nodiscard]] std::string_view toString(BuildError error);

class MessageBuilder {
 public:
  // Starts an RFC 8489 message: type, length 0, magic cookie, transaction ID.
  MessageBuilder(MutableBytes buffer, std::uint16_t type, const TransactionId& transaction_id);
  // Starts an RFC 3489 message whose 16-byte transaction ID is copied verbatim (it may lack the
  // cookie): the response to a classic client echoes its request's bytes 4..19.
  MessageBuilder(MutableBytes buffer, std::uint16_t type, ConstBytes classic_transaction_id);

  // Raw attribute: type, length, value, zero padding.
  void addBytes(std::uint16_t type, ConstBytes value);
  void addText(std::uint16_t type, std::string_view text) { addBytes(type, asBytes(text)); }
  void addU32(std::uint16_t type, std::uint32_t value);
  void addAddress(std::uint16_t type, const Endpoint& endpoint);
  // XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS. Needs the RFC 8489 form.
  void addXorAddress(std::uint16_t type, const Endpoint& endpoint);
  // ERROR-CODE; an empty reason uses defaultReason(code).
  void addErrorCode(std::uint16_t code, std::string_view reason = {});
  // ERROR-CODE with an empty reason phrase (RFC 8489 section 14.8 allows it): for answers to
  // unauthenticated requests, which must stay small (amplification).
  void addBareErrorCode(std::uint16_t code);
  void addUnknownAttributes(std::span<const std::uint16_t> types);
  void addChannelNumber(std::uint16_t channel);
  void addRequestedTransport(std::uint8_t protocol);
  void addAddressFamily(std::uint16_t type, AddressFamily family);
  void addEvenPort(bool reserve_next);
  void addAddressErrorCode(AddressFamily family, std::uint16_t code, std::string_view reason = {});
  void addIcmp(const IcmpValue& icmp);
  void addChangeRequest(const ChangeRequestValue& change);
  void addResponsePort(std::uint16_t port);
  // PADDING (RFC 5780 section 7.6): `length` zero bytes.
  void addPadding(std::size_t length);
  void addPasswordAlgorithm(const PasswordAlgorithmValue& algorithm);
  void addPasswordAlgorithms(std::span<const PasswordAlgorithmValue> algorithms);

  // MESSAGE-INTEGRITY: HMAC-SHA1 with key over the message so far (RFC 8489 section 14.5).
  void addMessageIntegrity(ConstBytes key);
  // MESSAGE-INTEGRITY-SHA256, 32 bytes (RFC 8489 section 14.6).
  void addMessageIntegritySha256(ConstBytes key);
  // FINGERPRINT; must be the last attribute (RFC 8489 section 14.7).
  void addFingerprint();

  // Writes only the header of an attribute whose `length`-byte value the caller sends right
  // after the built bytes (no copy), then `padding` zero bytes. Counts it in the message length.
  // Must be the last attribute: no integrity or FINGERPRINT can follow. Returns the padding.
  std::size_t addExternalValue(std::uint16_t type, std::size_t length);

  // The finished message: a prefix of the buffer.
  [[nodiscard]] std::expected<ConstBytes, BuildError> finish() const;
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  // Reserves an attribute of value length; returns the value's span, or empty on overflow.
  MutableBytes beginAttribute(std::uint16_t type, std::size_t length);
  void addAlgorithmList(std::uint16_t type, std::span<const PasswordAlgorithmValue> algorithms);
  void addMac(std::uint16_t type, MacAlgorithm algorithm, std::size_t mac_size, ConstBytes key);
  void addErrorCodeValue(std::uint16_t code, std::string_view reason);

  MutableBytes buffer_;
  std::size_t size_ = 0;
  TransactionId transaction_id_{};
  std::optional<BuildError> error_;
};

}  // namespace turnpike::protocol

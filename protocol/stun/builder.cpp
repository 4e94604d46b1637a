#include "protocol/stun/builder.hpp"

#include <algorithm>

#include "protocol/stun/integrity.hpp"

namespace turnpike::protocol {

std::string_view toString(BuildError error) {
  switch (error) {
    case BuildError::kBufferTooSmall:
      return "buffer too small";
    case BuildError::kValueTooLong:
      return "attribute value too long";
  }
  return "unknown";
}

MessageBuilder::MessageBuilder(MutableBytes buffer, std::uint16_t type,
                               const TransactionId& transaction_id)
    : buffer_(buffer), transaction_id_(transaction_id) {
  if (buffer_.size() < kHeaderSize) {
    error_ = BuildError::kBufferTooSmall;
    return;
  }
  store16(buffer_, 0, type);
  store16(buffer_, 2, 0);
  store32(buffer_, 4, kMagicCookie);
  std::ranges::copy(transaction_id, buffer_.begin() + 8);
  size_ = kHeaderSize;
}

MessageBuilder::MessageBuilder(MutableBytes buffer, std::uint16_t type,
                               ConstBytes classic_transaction_id)
    : buffer_(buffer) {
  if (buffer_.size() < kHeaderSize || classic_transaction_id.size() != 16) {
    error_ = BuildError::kBufferTooSmall;
    return;
  }
  store16(buffer_, 0, type);
  store16(buffer_, 2, 0);
  std::ranges::copy(classic_transaction_id, buffer_.begin() + 4);
  std::ranges::copy(classic_transaction_id.subspan(4), transaction_id_.begin());
  size_ = kHeaderSize;
}

MutableBytes MessageBuilder::beginAttribute(std::uint16_t type, std::size_t length) {
  if (error_) {
    return {};
  }
  if (length > 0xFFFF) {
    error_ = BuildError::kValueTooLong;
    return {};
  }
  const std::size_t padded = (length + 3U) & ~std::size_t{3};
  const std::size_t total = size_ + kAttributeHeaderSize + padded;
  if (total > buffer_.size() || total - kHeaderSize > 0xFFFF) {
    error_ = BuildError::kBufferTooSmall;
    return {};
  }
  store16(buffer_, size_, type);
  store16(buffer_, size_ + 2, static_cast<std::uint16_t>(length));
  // Zero the padding (RFC 8489 section 14: padding bits MUST be ignored, we send zeros).
  std::fill_n(buffer_.begin() + static_cast<std::ptrdiff_t>(size_ + kAttributeHeaderSize + length),
              padded - length, std::byte{0});
  const MutableBytes value = buffer_.subspan(size_ + kAttributeHeaderSize, length);
  size_ = total;
  store16(buffer_, 2, static_cast<std::uint16_t>(size_ - kHeaderSize));
  return value;
}

void MessageBuilder::addBytes(std::uint16_t type, ConstBytes value) {
  const MutableBytes out = beginAttribute(type, value.size());
  if (!error_) {
    std::ranges::copy(value, out.begin());
  }
}

void MessageBuilder::addU32(std::uint16_t type, std::uint32_t value) {
  const MutableBytes out = beginAttribute(type, 4);
  if (!error_) {
    store32(out, 0, value);
  }
}

void MessageBuilder::addAddress(std::uint16_t type, const Endpoint& endpoint) {
  const std::size_t address_size = endpoint.address.size();
  const MutableBytes out = beginAttribute(type, 4 + address_size);
  if (error_) {
    return;
  }
  store8(out, 0, 0);
  store8(out, 1, static_cast<std::uint8_t>(endpoint.address.family()));
  store16(out, 2, endpoint.port);
  for (std::size_t i = 0; i < address_size; ++i) {
    store8(out, 4 + i, endpoint.address.bytes()[i]);
  }
}

void MessageBuilder::addXorAddress(std::uint16_t type, const Endpoint& endpoint) {
  addAddress(type, xorEndpoint(endpoint, transaction_id_));
}

void MessageBuilder::addErrorCode(std::uint16_t code, std::string_view reason) {
  if (reason.empty()) {
    reason = defaultReason(code);
  }
  addErrorCodeValue(code, reason);
}

void MessageBuilder::addBareErrorCode(std::uint16_t code) { addErrorCodeValue(code, {}); }

void MessageBuilder::addErrorCodeValue(std::uint16_t code, std::string_view reason) {
  const MutableBytes out = beginAttribute(attr::kErrorCode, 4 + reason.size());
  if (error_) {
    return;
  }
  store16(out, 0, 0);
  store8(out, 2, static_cast<std::uint8_t>(code / 100U));
  store8(out, 3, static_cast<std::uint8_t>(code % 100U));
  std::ranges::copy(asBytes(reason), out.begin() + 4);
}

void MessageBuilder::addAddressErrorCode(AddressFamily family, std::uint16_t code,
                                         std::string_view reason) {
  if (reason.empty()) {
    reason = defaultReason(code);
  }
  const MutableBytes out = beginAttribute(attr::kAddressErrorCode, 4 + reason.size());
  if (error_) {
    return;
  }
  store8(out, 0, static_cast<std::uint8_t>(family));
  store8(out, 1, 0);
  store8(out, 2, static_cast<std::uint8_t>(code / 100U));
  store8(out, 3, static_cast<std::uint8_t>(code % 100U));
  std::ranges::copy(asBytes(reason), out.begin() + 4);
}

void MessageBuilder::addUnknownAttributes(std::span<const std::uint16_t> types) {
  const MutableBytes out = beginAttribute(attr::kUnknownAttributes, 2 * types.size());
  if (error_) {
    return;
  }
  for (std::size_t i = 0; i < types.size(); ++i) {
    store16(out, 2 * i, types[i]);
  }
}

void MessageBuilder::addChannelNumber(std::uint16_t channel) {
  addU32(attr::kChannelNumber, static_cast<std::uint32_t>(channel) << 16U);
}

void MessageBuilder::addRequestedTransport(std::uint8_t protocol) {
  addU32(attr::kRequestedTransport, static_cast<std::uint32_t>(protocol) << 24U);
}

void MessageBuilder::addAddressFamily(std::uint16_t type, AddressFamily family) {
  addU32(type, static_cast<std::uint32_t>(family) << 24U);
}

void MessageBuilder::addEvenPort(bool reserve_next) {
  const std::array value{reserve_next ? std::byte{0x80} : std::byte{0}};
  addBytes(attr::kEvenPort, value);
}

void MessageBuilder::addIcmp(const IcmpValue& icmp) {
  const MutableBytes out = beginAttribute(attr::kIcmp, 8);
  if (error_) {
    return;
  }
  store16(out, 0, 0);
  store8(out, 2, icmp.type);
  store8(out, 3, icmp.code);
  store32(out, 4, icmp.error_data);
}

void MessageBuilder::addChangeRequest(const ChangeRequestValue& change) {
  addU32(attr::kChangeRequest, (change.change_ip ? 0x4U : 0U) | (change.change_port ? 0x2U : 0U));
}

void MessageBuilder::addPadding(std::size_t length) {
  const MutableBytes out = beginAttribute(attr::kPadding, length);
  std::ranges::fill(out, std::byte{0});
}

void MessageBuilder::addResponsePort(std::uint16_t port) {
  addU32(attr::kResponsePort, static_cast<std::uint32_t>(port) << 16U);
}

void MessageBuilder::addPasswordAlgorithm(const PasswordAlgorithmValue& algorithm) {
  // PASSWORD-ALGORITHM has the layout of one PASSWORD-ALGORITHMS entry (RFC 8489 section 14.12).
  addAlgorithmList(attr::kPasswordAlgorithm, std::span(&algorithm, 1));
}

void MessageBuilder::addPasswordAlgorithms(std::span<const PasswordAlgorithmValue> algorithms) {
  addAlgorithmList(attr::kPasswordAlgorithms, algorithms);
}

void MessageBuilder::addAlgorithmList(std::uint16_t type,
                                      std::span<const PasswordAlgorithmValue> algorithms) {
  // Algorithm (16) | Algorithm Parameters Length (16) | Algorithm Parameters (padded), repeated.
  std::size_t length = 0;
  for (const auto& algorithm : algorithms) {
    length += 4 + ((algorithm.parameters.size() + 3U) & ~std::size_t{3});
  }
  const MutableBytes out = beginAttribute(type, length);
  if (error_) {
    return;
  }
  std::ranges::fill(out, std::byte{0});
  std::size_t pos = 0;
  for (const auto& algorithm : algorithms) {
    store16(out, pos, algorithm.algorithm);
    store16(out, pos + 2, static_cast<std::uint16_t>(algorithm.parameters.size()));
    std::ranges::copy(algorithm.parameters, out.begin() + static_cast<std::ptrdiff_t>(pos + 4));
    pos += 4 + ((algorithm.parameters.size() + 3U) & ~std::size_t{3});
  }
}

void MessageBuilder::addMac(std::uint16_t type, MacAlgorithm algorithm, std::size_t mac_size,
                            ConstBytes key) {
  const std::size_t attribute_start = size_;
  const MutableBytes out = beginAttribute(type, mac_size);
  if (error_) {
    return;
  }
  // The length field already counts this attribute, as RFC 8489 section 14.5 requires.
  computeMac(algorithm, key, buffer_.first(size_), attribute_start,
             static_cast<std::uint16_t>(size_ - kHeaderSize), out);
}

void MessageBuilder::addMessageIntegrity(ConstBytes key) {
  addMac(attr::kMessageIntegrity, MacAlgorithm::kHmacSha1, kIntegritySha1Size, key);
}

void MessageBuilder::addMessageIntegritySha256(ConstBytes key) {
  addMac(attr::kMessageIntegritySha256, MacAlgorithm::kHmacSha256, kMaxIntegritySha256Size, key);
}

void MessageBuilder::addFingerprint() {
  const std::size_t attribute_start = size_;
  const MutableBytes out = beginAttribute(attr::kFingerprint, kFingerprintSize);
  if (error_) {
    return;
  }
  store32(out, 0,
          computeFingerprint(buffer_.first(size_), attribute_start,
                             static_cast<std::uint16_t>(size_ - kHeaderSize)));
}

std::size_t MessageBuilder::addExternalValue(std::uint16_t type, std::size_t length) {
  const std::size_t padded = (length + 3U) & ~std::size_t{3};
  if (error_) {
    return 0;
  }
  if (length > 0xFFFF || size_ + kAttributeHeaderSize > buffer_.size() ||
      size_ - kHeaderSize + kAttributeHeaderSize + padded > 0xFFFF) {
    error_ = BuildError::kValueTooLong;
    return 0;
  }
  store16(buffer_, size_, type);
  store16(buffer_, size_ + 2, static_cast<std::uint16_t>(length));
  size_ += kAttributeHeaderSize;
  store16(buffer_, 2, static_cast<std::uint16_t>(size_ - kHeaderSize + padded));
  return padded - length;
}

std::expected<ConstBytes, BuildError> MessageBuilder::finish() const {
  if (error_) {
    return std::unexpected(*error_);
  }
  return ConstBytes(buffer_.first(size_));
}

}  // namespace turnpike::protocol

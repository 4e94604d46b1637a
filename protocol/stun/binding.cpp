#include "protocol/stun/binding.hpp"

#include <algorithm>
#include <array>

#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"

namespace turnpike::protocol {
namespace {

using UnknownList = std::array<std::uint16_t, Message::kMaxAttributes>;

StunResult finish(const MessageBuilder& builder, StunOutcome outcome) {
  auto bytes = builder.finish();
  if (!bytes) {
    return {StunOutcome::kDropMalformed, {}};  // only with an undersized buffer
  }
  return {outcome, *bytes};
}

// RFC 8489 section 6.3.4: error responses carry ERROR-CODE, and FINGERPRINT when the request had
// it. No SOFTWARE on errors: unauthenticated error traffic is kept small (anti-amplification).
StunResult errorResponse(const Message& request, std::uint16_t code,
                         std::span<const std::uint16_t> unknown, MutableBytes out,
                         StunOutcome outcome) {
  MessageBuilder builder(out, messageType(request.method(), MessageClass::kErrorResponse),
                         request.transactionId());
  builder.addErrorCode(code);
  if (!unknown.empty()) {
    builder.addUnknownAttributes(unknown);
  }
  if (request.has(attr::kFingerprint)) {
    builder.addFingerprint();
  }
  return finish(builder, outcome);
}

// RFC 5389 section 12.2: an RFC 3489 client gets MAPPED-ADDRESS, and its 128-bit transaction ID
// (including the would-be cookie) echoed.
StunResult answerClassic(const Message& request, const Endpoint& source,
                         const BindingOptions& options, MutableBytes out) {
  UnknownList unknown{};
  std::size_t unknown_count = findUnknownRequired(request, options, unknown);
  if (unknown_count > 0) {
    // RFC 3489 section 11.2.8: an odd list repeats one entry to fill the 32-bit word.
    if (unknown_count % 2 == 1) {
      unknown[unknown_count] = unknown[unknown_count - 1];
      ++unknown_count;
    }
    MessageBuilder builder(out, messageType(Method::kBinding, MessageClass::kErrorResponse),
                           request.cookieAndTransactionId());
    builder.addErrorCode(error::kUnknownAttribute);
    builder.addUnknownAttributes(std::span(unknown).first(unknown_count));
    return finish(builder, StunOutcome::kUnknownAttribute);
  }
  MessageBuilder builder(out, messageType(Method::kBinding, MessageClass::kSuccessResponse),
                         request.cookieAndTransactionId());
  builder.addAddress(attr::kMappedAddress, source);
  if (!options.software.empty()) {
    builder.addText(attr::kSoftware, options.software);
  }
  return finish(builder, StunOutcome::kClassicBinding);
}

StunResult handleClassic(ConstBytes request, const Endpoint& source, const BindingOptions& options,
                         MutableBytes out) {
  auto message = Message::parseClassic(request);
  if (!message || !message->isMethod(Method::kBinding) ||
      message->messageClass() != MessageClass::kRequest) {
    return {StunOutcome::kDropNoCookie, {}};
  }
  // RFC 3489's own CHANGE-REQUEST tests (CHANGED-ADDRESS, SOURCE-ADDRESS) are not served: 420.
  const BindingOptions classic{.software = options.software};
  return answerClassic(*message, source, classic, out);
}

// Bytes an attribute takes on the wire: header, value, padding.
std::size_t attributeSize(std::size_t value_length) { return 4 + ((value_length + 3U) & ~3U); }
std::size_t addressAttributeSize(const Endpoint& endpoint) {
  return attributeSize(endpoint.address.isV4() ? 8 : 20);
}

// RFC 5780 section 6.1: the Binding answer of a server with an alternate address and port.
StunResult answerNatDiscovery(const Message& request, const Endpoint& source,
                              const BindingOptions& options, MutableBytes out) {
  const NatDiscoveryContext& nat = *options.nat;
  StunResult result;
  if (const RawAttribute* change = request.find(attr::kChangeRequest)) {
    const auto flags = decodeChangeRequest(request.value(*change)).value_or(ChangeRequestValue{});
    result.change_ip = flags.change_ip;
    result.change_port = flags.change_port;
  }
  const RawAttribute* response_port = request.find(attr::kResponsePort);
  const RawAttribute* padding = request.find(attr::kPadding);
  if (response_port != nullptr) {
    result.response_port = decodeResponsePort(request.value(*response_port)).value_or(0);
    // Section 6.1: PADDING with RESPONSE-PORT is 400; so is a port nothing can be sent to.
    if (result.response_port == 0 || padding != nullptr) {
      return errorResponse(request, error::kBadRequest, {}, out, StunOutcome::kBadRequest);
    }
  }
  // Section 6.1: the response comes from the address and port CHANGE-REQUEST names, RESPONSE-
  // ORIGIN says which, and OTHER-ADDRESS names the alternate address and port.
  const Endpoint origin{result.change_ip ? nat.other.address : nat.local.address,
                        result.change_port ? nat.other.port : nat.local.port};
  // What must be sent: XOR-MAPPED-ADDRESS, PADDING (section 6.1: when the request has it; as
  // long as the request's, never the MTU the RFC suggests, so it cannot amplify), FINGERPRINT.
  // The rest goes in while the answer stays within kNatDiscoveryMaxRatio times the request.
  const bool fingerprint = request.has(attr::kFingerprint);
  std::size_t size = kHeaderSize + addressAttributeSize(source) + (fingerprint ? 8 : 0);
  const std::size_t limit = std::min(out.size(), kNatDiscoveryMaxRatio * request.bytes().size());
  std::size_t padding_length = 0;
  if (padding != nullptr) {
    // Capped to what the output buffer holds.
    padding_length = std::min<std::size_t>(padding->length, (out.size() - size - 4) & ~3U);
    size += attributeSize(padding_length);
  }
  auto fits = [&](std::size_t bytes) {
    if (size + bytes > limit) {
      return false;
    }
    size += bytes;
    return true;
  };
  const bool other_address = fits(addressAttributeSize(nat.other));
  const bool response_origin = other_address && fits(addressAttributeSize(origin));
  const bool software =
      response_origin && !options.software.empty() && fits(attributeSize(options.software.size()));
  MessageBuilder builder(out, messageType(Method::kBinding, MessageClass::kSuccessResponse),
                         request.transactionId());
  builder.addXorAddress(attr::kXorMappedAddress, source);
  if (response_origin) {
    builder.addAddress(attr::kResponseOrigin, origin);
  }
  if (other_address) {
    builder.addAddress(attr::kOtherAddress, nat.other);
  }
  if (software) {
    builder.addText(attr::kSoftware, options.software);
  }
  if (padding != nullptr) {
    builder.addPadding(padding_length);
  }
  if (fingerprint) {
    builder.addFingerprint();
  }
  const StunResult built = finish(builder, StunOutcome::kBindingSuccess);
  result.outcome = built.outcome;
  result.response = built.response;
  return result;
}

}  // namespace

std::string_view toString(StunOutcome outcome) {
  switch (outcome) {
    case StunOutcome::kBindingSuccess:
      return "binding_success";
    case StunOutcome::kClassicBinding:
      return "classic_binding";
    case StunOutcome::kUnknownAttribute:
      return "unknown_attribute";
    case StunOutcome::kMethodNotAllowed:
      return "method_not_allowed";
    case StunOutcome::kBadRequest:
      return "bad_request";
    case StunOutcome::kDropMalformed:
      return "malformed";
    case StunOutcome::kDropBadFingerprint:
      return "bad_fingerprint";
    case StunOutcome::kDropNotRequest:
      return "not_request";
    case StunOutcome::kDropNoCookie:
      return "no_cookie";
  }
  return "unknown";
}

std::size_t findUnknownRequired(const Message& message, const BindingOptions& options,
                                std::span<std::uint16_t> out) {
  std::size_t count = 0;
  for (const RawAttribute& attribute : message.attributes()) {
    const bool understood = isKnownAttribute(attribute.type) &&
                            (options.nat != nullptr || attribute.type != attr::kChangeRequest);
    if (isComprehensionRequired(attribute.type) && !understood && count < out.size()) {
      out[count++] = attribute.type;
    }
  }
  return count;
}

StunResult answerBinding(const Message& request, const Endpoint& source,
                         const BindingOptions& options, MutableBytes out) {
  // RFC 8489 section 6.3.1: unknown comprehension-required attributes get 420.
  UnknownList unknown{};
  const std::size_t unknown_count = findUnknownRequired(request, options, unknown);
  if (unknown_count > 0) {
    return errorResponse(request, error::kUnknownAttribute, std::span(unknown).first(unknown_count),
                         out, StunOutcome::kUnknownAttribute);
  }
  if (options.nat != nullptr) {
    return answerNatDiscovery(request, source, options, out);
  }
  // RFC 8489 section 7.3.1: the success response carries XOR-MAPPED-ADDRESS of the source.
  MessageBuilder builder(out, messageType(Method::kBinding, MessageClass::kSuccessResponse),
                         request.transactionId());
  builder.addXorAddress(attr::kXorMappedAddress, source);
  if (!options.software.empty()) {
    builder.addText(attr::kSoftware, options.software);
  }
  if (request.has(attr::kFingerprint)) {
    builder.addFingerprint();
  }
  return finish(builder, StunOutcome::kBindingSuccess);
}

StunResult handleStunRequest(ConstBytes request, const Endpoint& source,
                             const BindingOptions& options, MutableBytes out) {
  if (out.size() < kMinResponseBuffer) {
    return {StunOutcome::kDropMalformed, {}};
  }
  auto message = Message::parse(request);
  if (!message) {
    // RFC 5389 section 12.2: no magic cookie may mean an RFC 3489 client.
    if (message.error() == ParseError::kBadMagicCookie) {
      return handleClassic(request, source, options, out);
    }
    return {StunOutcome::kDropMalformed, {}};
  }
  // RFC 8489 section 7.3: a wrong FINGERPRINT means the message is not STUN.
  if (verifyFingerprint(*message) == IntegrityResult::kMismatch) {
    return {StunOutcome::kDropBadFingerprint, {}};
  }
  if (message->messageClass() != MessageClass::kRequest) {
    return {StunOutcome::kDropNotRequest, {}};
  }
  if (!message->isMethod(Method::kBinding)) {
    return errorResponse(*message, error::kBadRequest, {}, out, StunOutcome::kMethodNotAllowed);
  }
  return answerBinding(*message, source, options, out);
}

}  // namespace turnpike::protocol

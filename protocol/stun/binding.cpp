#include "protocol/stun/binding.hpp"

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
  return answerClassic(*message, source, options, out);
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
                            (options.nat_discovery || attribute.type != attr::kChangeRequest);
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

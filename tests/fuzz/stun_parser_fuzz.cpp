// libFuzzer target: the STUN parser, every attribute decoder, integrity and fingerprint checks,
// the Binding responder, and a parse -> build -> parse round trip.
#include <array>
#include <cstdint>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/binding.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
using turnpike::fuzz::check;

// Runs the typed decoder for the attribute's type; results are not checked beyond not crashing.
void decodeOne(const Message& message, const RawAttribute& attribute) {
  const ConstBytes value = message.value(attribute);
  check(attribute.offset + attribute.length <= message.bytes().size());
  std::array<std::uint16_t, 8> unknown{};
  std::array<PasswordAlgorithmValue, 4> algorithms{};
  switch (attribute.type) {
    case attr::kMappedAddress:
    case attr::kAlternateServer:
    case attr::kResponseOrigin:
    case attr::kOtherAddress:
      (void)decodeAddress(value);
      break;
    case attr::kXorMappedAddress:
    case attr::kXorPeerAddress:
    case attr::kXorRelayedAddress:
      (void)decodeXorAddress(value, message.transactionId());
      break;
    case attr::kErrorCode:
      (void)decodeErrorCode(value);
      break;
    case attr::kUnknownAttributes:
      (void)decodeUnknownAttributes(value, unknown);
      break;
    case attr::kPasswordAlgorithm:
      (void)decodePasswordAlgorithm(value);
      break;
    case attr::kPasswordAlgorithms:
      (void)decodePasswordAlgorithms(value, algorithms);
      break;
    case attr::kLifetime:
    case attr::kConnectionId:
      (void)decodeU32(value);
      break;
    case attr::kChannelNumber:
      (void)decodeChannelNumber(value);
      break;
    case attr::kRequestedTransport:
      (void)decodeRequestedTransport(value);
      break;
    case attr::kRequestedAddressFamily:
    case attr::kAdditionalAddressFamily:
      (void)decodeAddressFamily(value);
      break;
    case attr::kEvenPort:
      (void)decodeEvenPort(value);
      break;
    case attr::kReservationToken:
      (void)decodeReservationToken(value);
      break;
    case attr::kAddressErrorCode:
      (void)decodeAddressErrorCode(value);
      break;
    case attr::kIcmp:
      (void)decodeIcmp(value);
      break;
    case attr::kChangeRequest:
      (void)decodeChangeRequest(value);
      break;
    case attr::kResponsePort:
      (void)decodeResponsePort(value);
      break;
    case attr::kFingerprint:
      (void)decodeFingerprint(value);
      break;
    default:
      (void)decodeText(value);
      break;
  }
}

// Rebuilding a parsed message attribute by attribute must give a message that parses to the same
// attributes (integrity and fingerprint attributes are copied as opaque bytes).
void roundTrip(const Message& message) {
  std::vector<std::byte> buffer(message.bytes().size() + kHeaderSize);
  MessageBuilder builder(buffer, message.type(), message.transactionId());
  for (const RawAttribute& attribute : message.attributes()) {
    builder.addBytes(attribute.type, message.value(attribute));
  }
  auto built = builder.finish();
  check(built.has_value());
  auto reparsed = Message::parse(*built);
  check(reparsed.has_value());
  check(reparsed->attributes().size() == message.attributes().size());
  for (std::size_t i = 0; i < message.attributes().size(); ++i) {
    const RawAttribute& a = message.attributes()[i];
    const RawAttribute& b = reparsed->attributes()[i];
    check(a.type == b.type && a.length == b.length);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ConstBytes input(reinterpret_cast<const std::byte*>(data), size);  // NOLINT
  constexpr std::array<std::byte, 16> kKey{};
  if (auto message = Message::parse(input)) {
    for (const RawAttribute& attribute : message->attributes()) {
      decodeOne(*message, attribute);
    }
    (void)verifyMessageIntegrity(*message, kKey);
    (void)verifyMessageIntegritySha256(*message, kKey);
    (void)verifyFingerprint(*message);
    roundTrip(*message);
  }
  (void)Message::parseClassic(input);
  std::array<std::byte, kMinResponseBuffer> out{};
  const Endpoint source{IpAddress::v4({192, 0, 2, 1}), 32853};
  const StunResult result = handleStunRequest(input, source, {.software = "turnpike"}, out);
  if (!isDrop(result.outcome)) {
    // Every response turnpike builds must itself be a valid message.
    const bool classic = !looksLikeStun(result.response);
    check(classic ? Message::parseClassic(result.response).has_value()
                  : Message::parse(result.response).has_value());
  }
  return 0;
}

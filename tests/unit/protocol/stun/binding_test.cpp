// handleStunRequest: the Binding responder (RFC 8489 sections 6.3 and 7.3, RFC 5389 section 12.2
// for RFC 3489 clients, RFC 5780 CHANGE-REQUEST; the RFC 5780 answers are in
// tests/unit/protocol/turn/core_nat_discovery_test.cpp).
#include "protocol/stun/binding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::protocol {

// Readable outcomes in gtest failures. Static: ADL finds it, and no other test binary clashes.
static void PrintTo(StunOutcome outcome, std::ostream* os) { *os << toString(outcome); }

namespace {

using test::Bytes;
using test::kBindingRequest;
using test::kTestTransactionId;
using test::toHex;

Bytes toBytes(ConstBytes view) { return {view.begin(), view.end()}; }

constexpr std::uint16_t kSuccessType =
    messageType(Method::kBinding, MessageClass::kSuccessResponse);
constexpr std::uint16_t kErrorType = messageType(Method::kBinding, MessageClass::kErrorResponse);

// classicRequest's RFC 3489 128-bit transaction ID (bytes 4..19): 01020304 where the magic cookie
// would be, then test::kTestTransactionId.
Bytes classicId() { return test::fromHex("01020304 01020304 05060708 090a0b0c"); }

// Largest SOFTWARE valid UTF-8 allows: 127 characters (RFC 8489 section 14.14) of 4 bytes each.
std::string maxSoftware() {
  std::string text;
  for (int i = 0; i < 127; ++i) {
    text += "\xF0\x9F\x98\x80";  // U+1F600
  }
  return text;
}

Endpoint v4Source() { return test::endpoint("192.0.2.1", 32853); }
Endpoint v6Source() { return test::endpoint("2001:db8:1234:5678:11:2233:4455:6677", 32853); }

Bytes bindingRequest(bool fingerprint = false, const std::vector<std::uint16_t>& extra = {}) {
  return test::build([&](MessageBuilder& b) {
    for (const std::uint16_t type : extra) {
      b.addU32(type, 0);
    }
    if (fingerprint) {
      b.addFingerprint();
    }
  });
}

Bytes classicRequest(std::uint16_t type, const std::vector<std::uint16_t>& extra = {}) {
  test::RawMessage message(type, /*cookie=*/0x01020304);
  for (const std::uint16_t t : extra) {
    message.add(t, Bytes(4));
  }
  return message.bytes();
}

struct Handled {
  StunOutcome outcome;
  Bytes response;
};

Handled handle(ConstBytes request, const Endpoint& source, const BindingOptions& options = {}) {
  std::array<std::byte, kMinResponseBuffer> out{};
  const StunResult result = handleStunRequest(request, source, options, out);
  if (!result.response.empty()) {
    EXPECT_EQ(result.response.data(), out.data()) << "response must be a prefix of out";
  }
  return {result.outcome, toBytes(result.response)};
}

std::vector<std::uint16_t> unknownList(const Message& message) {
  const RawAttribute* attribute = message.find(attr::kUnknownAttributes);
  if (attribute == nullptr) {
    return {};
  }
  std::array<std::uint16_t, 64> types{};
  const auto count = decodeUnknownAttributes(message.value(*attribute), types);
  return count ? std::vector<std::uint16_t>(types.begin(), types.begin() + *count)
               : std::vector<std::uint16_t>{};
}

std::uint16_t errorCodeOf(const Message& message) {
  const RawAttribute* attribute = message.find(attr::kErrorCode);
  if (attribute == nullptr) {
    return 0;
  }
  const auto code = decodeErrorCode(message.value(*attribute));
  return code ? code->code : 0;
}

TEST(BindingTest, SuccessTable) {
  struct Case {
    const char* name;
    Endpoint source;
    std::string_view software;
    bool fingerprint;
  };
  const Case cases[] = {
      {"v4", v4Source(), "turnpike", false},
      {"v6", v6Source(), "turnpike", false},
      {"v4 no software", v4Source(), "", false},
      {"v6 no software", v6Source(), "", false},
      {"v4 fingerprint", v4Source(), "turnpike", true},
      {"v6 fingerprint no software", v6Source(), "", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes request = bindingRequest(c.fingerprint);
    const Handled handled = handle(request, c.source, {.software = c.software});
    ASSERT_EQ(handled.outcome, StunOutcome::kBindingSuccess);
    const auto response = Message::parse(handled.response);
    ASSERT_TRUE(response) << toHex(handled.response);
    EXPECT_EQ(response->type(), kSuccessType);
    EXPECT_EQ(response->transactionId(), kTestTransactionId);

    const RawAttribute* xor_mapped = response->find(attr::kXorMappedAddress);
    ASSERT_NE(xor_mapped, nullptr);
    EXPECT_EQ(decodeXorAddress(response->value(*xor_mapped), kTestTransactionId), c.source);
    EXPECT_FALSE(response->has(attr::kMappedAddress));

    const RawAttribute* software = response->find(attr::kSoftware);
    if (c.software.empty()) {
      EXPECT_EQ(software, nullptr);
    } else {
      ASSERT_NE(software, nullptr);
      EXPECT_EQ(decodeText(response->value(*software)), c.software);
    }
    // RFC 8489 section 7.3: FINGERPRINT in the response iff the request had one.
    EXPECT_EQ(verifyFingerprint(*response),
              c.fingerprint ? IntegrityResult::kOk : IntegrityResult::kMissing);
  }
}

TEST(BindingTest, WrongFingerprintIsDropped) {
  Bytes bad_value = bindingRequest(/*fingerprint=*/true);
  bad_value.back() ^= std::byte{0x01};
  Bytes bad_body = bindingRequest(/*fingerprint=*/true);
  bad_body[19] ^= std::byte{0x80};  // last transaction ID byte, covered by the CRC
  for (const Bytes& request : {bad_value, bad_body}) {
    SCOPED_TRACE(toHex(request));
    const Handled handled = handle(request, v4Source(), {.software = "turnpike"});
    EXPECT_EQ(handled.outcome, StunOutcome::kDropBadFingerprint);
    EXPECT_TRUE(handled.response.empty());
  }
}

TEST(BindingTest, UnknownAttributeTable) {
  struct Case {
    const char* name;
    std::vector<std::uint16_t> attributes;
    bool nat_discovery;
    bool fingerprint;
    std::vector<std::uint16_t> expected_unknown;  // empty: success
  };
  const Case cases[] = {
      {"one required", {0x0031}, false, false, {0x0031}},
      {"two required", {0x0031, 0x7FFF}, false, false, {0x0031, 0x7FFF}},
      {"optional ignored", {0x8FFF}, false, false, {}},
      {"mixed", {0x0031, 0x8FFF, 0x7FFF}, false, false, {0x0031, 0x7FFF}},
      {"with fingerprint", {0x7FFF}, false, true, {0x7FFF}},
      {"change-request without nat discovery", {attr::kChangeRequest}, false, false, {0x0003}},
      {"change-request with nat discovery", {attr::kChangeRequest}, true, false, {}},
      {"known required", {attr::kLifetime, attr::kRequestedTransport}, false, false, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes request = bindingRequest(c.fingerprint, c.attributes);
    const NatDiscoveryContext nat{test::endpoint("192.0.2.1", 3478),
                                  test::endpoint("192.0.2.2", 3479)};
    const Handled handled = handle(
        request, v4Source(), {.software = "turnpike", .nat = c.nat_discovery ? &nat : nullptr});
    const auto response = Message::parse(handled.response);
    ASSERT_TRUE(response) << toHex(handled.response);
    EXPECT_EQ(response->transactionId(), kTestTransactionId);
    if (c.expected_unknown.empty()) {
      EXPECT_EQ(handled.outcome, StunOutcome::kBindingSuccess);
      EXPECT_EQ(response->type(), kSuccessType);
      continue;
    }
    EXPECT_EQ(handled.outcome, StunOutcome::kUnknownAttribute);
    EXPECT_EQ(response->type(), kErrorType);
    EXPECT_EQ(errorCodeOf(*response), error::kUnknownAttribute);
    EXPECT_EQ(unknownList(*response), c.expected_unknown);
    EXPECT_FALSE(response->has(attr::kXorMappedAddress));
    EXPECT_FALSE(response->has(attr::kSoftware));  // binding.cpp: no SOFTWARE on errors
    EXPECT_EQ(verifyFingerprint(*response),
              c.fingerprint ? IntegrityResult::kOk : IntegrityResult::kMissing);
  }
}

TEST(BindingTest, NonRequestClassesAreDropped) {
  const std::uint16_t types[] = {
      messageType(Method::kBinding, MessageClass::kIndication),
      kSuccessType,
      kErrorType,
      messageType(Method::kAllocate, MessageClass::kIndication),
      messageType(Method::kAllocate, MessageClass::kSuccessResponse),
  };
  for (const std::uint16_t type : types) {
    SCOPED_TRACE(type);
    const Handled handled = handle(test::build([](MessageBuilder&) {}, type), v4Source());
    EXPECT_EQ(handled.outcome, StunOutcome::kDropNotRequest);
    EXPECT_TRUE(handled.response.empty());
  }
}

TEST(BindingTest, OtherMethodsGetBadRequest) {
  for (const Method method : {Method::kAllocate, Method::kRefresh, Method::kChannelBind}) {
    for (const bool fingerprint : {false, true}) {
      SCOPED_TRACE(static_cast<int>(method) * 10 + static_cast<int>(fingerprint));
      const Bytes request = test::build(
          [&](MessageBuilder& b) {
            if (fingerprint) {
              b.addFingerprint();
            }
          },
          messageType(method, MessageClass::kRequest));
      const Handled handled = handle(request, v4Source(), {.software = "turnpike"});
      EXPECT_EQ(handled.outcome, StunOutcome::kMethodNotAllowed);
      const auto response = Message::parse(handled.response);
      ASSERT_TRUE(response) << toHex(handled.response);
      EXPECT_EQ(response->type(), messageType(method, MessageClass::kErrorResponse));
      EXPECT_EQ(response->transactionId(), kTestTransactionId);
      EXPECT_EQ(errorCodeOf(*response), error::kBadRequest);
      EXPECT_EQ(verifyFingerprint(*response),
                fingerprint ? IntegrityResult::kOk : IntegrityResult::kMissing);
    }
  }
}

TEST(BindingTest, ClassicBindingEchoesIdAndUsesMappedAddress) {
  for (const Endpoint& source : {v4Source(), v6Source()}) {
    for (const std::string_view software : {std::string_view("turnpike"), std::string_view()}) {
      SCOPED_TRACE(source.toString() + " software=" + std::string(software));
      const Bytes request = classicRequest(kBindingRequest);
      const Handled handled = handle(request, source, {.software = software});
      ASSERT_EQ(handled.outcome, StunOutcome::kClassicBinding);
      ASSERT_GE(handled.response.size(), kHeaderSize);
      EXPECT_TRUE(
          std::equal(request.begin() + 4, request.begin() + 20, handled.response.begin() + 4));
      const auto strict = Message::parse(handled.response);
      ASSERT_FALSE(strict);
      EXPECT_EQ(strict.error(), ParseError::kBadMagicCookie);
      const auto response = Message::parseClassic(handled.response);
      ASSERT_TRUE(response) << toHex(handled.response);
      EXPECT_EQ(response->type(), kSuccessType);
      const RawAttribute* mapped = response->find(attr::kMappedAddress);
      ASSERT_NE(mapped, nullptr);
      EXPECT_EQ(decodeAddress(response->value(*mapped)), source);
      EXPECT_FALSE(response->has(attr::kXorMappedAddress));
      EXPECT_EQ(response->has(attr::kSoftware), !software.empty());
    }
  }
}

TEST(BindingTest, ClassicUnknownAttributesListHasEvenCount) {
  struct Case {
    std::vector<std::uint16_t> attributes;
    std::vector<std::uint16_t> expected;  // RFC 3489 section 11.2.8: odd lists repeat one entry
  };
  const Case cases[] = {
      {{0x0031}, {0x0031, 0x0031}},
      {{0x0031, 0x7FFF}, {0x0031, 0x7FFF}},
      {{0x0031, 0x8FFF, 0x7FFF, 0x0040}, {0x0031, 0x7FFF, 0x0040, 0x0040}},
      {{attr::kChangeRequest}, {0x0003, 0x0003}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected.size());
    const Bytes request = classicRequest(kBindingRequest, c.attributes);
    const Handled handled = handle(request, v4Source(), {.software = "turnpike"});
    EXPECT_EQ(handled.outcome, StunOutcome::kUnknownAttribute);
    const auto response = Message::parseClassic(handled.response);
    ASSERT_TRUE(response) << toHex(handled.response);
    EXPECT_EQ(response->type(), kErrorType);
    EXPECT_TRUE(std::ranges::equal(response->cookieAndTransactionId(), classicId()));
    EXPECT_EQ(errorCodeOf(*response), error::kUnknownAttribute);
    const std::vector<std::uint16_t> listed = unknownList(*response);
    EXPECT_EQ(listed.size() % 2, 0U);
    EXPECT_EQ(listed, c.expected);
  }
}

TEST(BindingTest, ClassicNonBindingIsDropped) {
  const std::uint16_t types[] = {
      messageType(Method::kAllocate, MessageClass::kRequest),
      messageType(Method::kBinding, MessageClass::kIndication),
      kSuccessType,
      kErrorType,
  };
  for (const std::uint16_t type : types) {
    SCOPED_TRACE(type);
    const Handled handled = handle(classicRequest(type), v4Source());
    EXPECT_EQ(handled.outcome, StunOutcome::kDropNoCookie);
    EXPECT_TRUE(handled.response.empty());
  }
  // A malformed cookie-less message also counts as kDropNoCookie, not kDropMalformed.
  Bytes bad_length = classicRequest(kBindingRequest);
  bad_length[3] = std::byte{4};
  EXPECT_EQ(handle(bad_length, v4Source()).outcome, StunOutcome::kDropNoCookie);
}

TEST(BindingTest, MalformedInputIsDropped) {
  const Bytes valid = bindingRequest(false, {0x8FFF});  // header + one 4-byte attribute
  auto patched = [&](std::size_t offset, std::uint8_t value) {
    Bytes copy = valid;
    copy[offset] = static_cast<std::byte>(value);
    return copy;
  };
  struct Case {
    const char* name;
    Bytes input;
  };
  const Case cases[] = {
      {"empty", {}},
      {"19 bytes", Bytes(valid.begin(), valid.begin() + 19)},
      {"length too big", patched(3, 12)},
      {"length too small", patched(3, 4)},
      {"length not aligned", patched(3, 7)},
      {"attribute truncated", patched(23, 8)},
      {"top bit set", patched(0, 0x80)},
      {"top bits 11", patched(0, 0xC0)},
      {"known attribute bad length", test::RawMessage().addFilled(attr::kEvenPort, 4).bytes()},
      {"attribute after fingerprint", test::build([](MessageBuilder& b) {
         b.addFingerprint();
         b.addU32(0x8FFF, 0);
       })},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Handled handled = handle(c.input, v4Source(), {.software = "turnpike"});
    EXPECT_EQ(handled.outcome, StunOutcome::kDropMalformed) << toHex(c.input);
    EXPECT_TRUE(handled.response.empty());
  }
}

TEST(BindingTest, SmallOutputBufferIsDropWithoutWriting) {
  const Bytes request = bindingRequest(true);
  for (const std::size_t size : {std::size_t{0}, std::size_t{20}, kMinResponseBuffer - 1}) {
    SCOPED_TRACE(size);
    std::array<std::byte, kMinResponseBuffer + 64> buffer{};
    buffer.fill(std::byte{0xAB});
    const StunResult result = handleStunRequest(request, v4Source(), {.software = "turnpike"},
                                                std::span(buffer).first(size));
    EXPECT_EQ(result.outcome, StunOutcome::kDropMalformed);
    EXPECT_TRUE(result.response.empty());
    EXPECT_TRUE(std::ranges::all_of(buffer, [](std::byte b) { return b == std::byte{0xAB}; }));
  }
}

TEST(BindingTest, WorstCaseUnknownAttributesFitMinResponseBuffer) {
  // 32 unknown comprehension-required attributes: Message::kMaxAttributes, so no room for more.
  std::array<std::byte, 4096> buffer{};
  MessageBuilder builder(buffer, kBindingRequest, kTestTransactionId);
  std::vector<std::uint16_t> types;
  for (std::uint16_t i = 0; i < Message::kMaxAttributes; ++i) {
    types.push_back(static_cast<std::uint16_t>(0x0040 + i));
    ASSERT_FALSE(isKnownAttribute(types.back()));
    builder.addBytes(types.back(), {});
  }
  const Bytes request = toBytes(*builder.finish());
  const std::string software = maxSoftware();
  const Handled handled = handle(request, v6Source(), {.software = software});
  EXPECT_EQ(handled.outcome, StunOutcome::kUnknownAttribute);
  EXPECT_LE(handled.response.size(), kMinResponseBuffer);
  const auto response = Message::parse(handled.response);
  ASSERT_TRUE(response) << toHex(handled.response);
  EXPECT_EQ(unknownList(*response), types);
}

TEST(BindingTest, MaxSoftwareSuccessWithLargeBuffer) {
  const std::string software = maxSoftware();
  ASSERT_EQ(software.size(), 508U);
  std::array<std::byte, 1024> out{};
  const Bytes request = bindingRequest(true);
  const StunResult result = handleStunRequest(request, v6Source(), {.software = software}, out);
  ASSERT_EQ(result.outcome, StunOutcome::kBindingSuccess);
  const auto response = Message::parse(result.response);
  ASSERT_TRUE(response);
  EXPECT_EQ(decodeText(response->value(*response->find(attr::kSoftware))), software);
  EXPECT_EQ(verifyFingerprint(*response), IntegrityResult::kOk);
  // 20 header + 24 XOR-MAPPED-ADDRESS (IPv6) + 512 SOFTWARE + 8 FINGERPRINT.
  EXPECT_EQ(result.response.size(), 564U);
}

// Regression: kMinResponseBuffer once was 548 bytes, too small for a success response with the
// largest valid SOFTWARE (127 four-byte UTF-8 characters, 564 bytes in all), which was dropped.
TEST(BindingTest, MaxSoftwareSuccessFitsMinResponseBuffer) {
  const std::string software = maxSoftware();
  for (const Endpoint& source : {v4Source(), v6Source()}) {
    SCOPED_TRACE(source.toString());
    const Handled handled = handle(bindingRequest(true), source, {.software = software});
    EXPECT_EQ(handled.outcome, StunOutcome::kBindingSuccess);
    EXPECT_FALSE(handled.response.empty());
  }
}

// One random edit of a message: bit flip, byte overwrite, truncation, extension, or a new length.
void mutate(Bytes& bytes, std::mt19937& rng) {
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  auto random_byte = [&] { return static_cast<std::byte>(pick(256)); };
  switch (pick(6)) {
    case 0:
      if (!bytes.empty()) {
        bytes[pick(bytes.size())] ^= static_cast<std::byte>(1U << pick(8));
      }
      break;
    case 1:
      if (!bytes.empty()) {
        bytes[pick(bytes.size())] = random_byte();
      }
      break;
    case 2:
      bytes.resize(bytes.empty() ? 0 : pick(bytes.size()));
      break;
    case 3:
      for (std::size_t n = 1 + pick(8); n > 0; --n) {
        bytes.push_back(random_byte());
      }
      break;
    case 4:
      if (bytes.size() >= 4) {  // a length field: the header's, or somewhere in the attributes
        const std::size_t at = bytes.size() >= 24 && pick(2) == 0 ? 22 : 2;
        const std::size_t length = pick(2) == 0 ? bytes.size() - 20 + 4 * pick(3) : pick(64);
        store16(bytes, at, static_cast<std::uint16_t>(length));
      }
      break;
    default:
      if (bytes.size() >= 2) {  // a message or attribute type
        const std::size_t at = bytes.size() >= 22 && pick(2) == 0 ? 20 : 0;
        store16(bytes, at, static_cast<std::uint16_t>(pick(0x10000)));
      }
      break;
  }
}

TEST(BindingTest, RandomMutationsNeverYieldBadResponses) {
  const std::vector<Bytes> seeds = {
      bindingRequest(),
      bindingRequest(true),
      bindingRequest(true, {0x0031, 0x8FFF}),
      bindingRequest(false, {attr::kChangeRequest, attr::kLifetime}),
      bindingRequest(true, {attr::kResponsePort, attr::kPadding}),  // RFC 5780: 400
      test::build(
          [](MessageBuilder& b) {
            b.addRequestedTransport(kProtocolUdp);
            b.addText(attr::kSoftware, "client");
            b.addFingerprint();
          },
          messageType(Method::kAllocate, MessageClass::kRequest)),
      classicRequest(kBindingRequest),
      classicRequest(kBindingRequest, {0x0031, 0x0003}),
  };
  const Endpoint sources[] = {v4Source(), v6Source()};
  std::mt19937 rng(20240601);
  std::array<std::size_t, kStunOutcomeCount> counts{};
  for (int i = 0; i < 20000; ++i) {
    Bytes input = seeds[rng() % seeds.size()];
    for (std::size_t edits = 1 + rng() % 3; edits > 0; --edits) {
      mutate(input, rng);
    }
    // Half of the cases with an RFC 5780 context: 420s, 400s, RESPONSE-ORIGIN.
    const NatDiscoveryContext nat{test::endpoint("192.0.2.1", 3478),
                                  test::endpoint("192.0.2.2", 3479)};
    const BindingOptions options{.software = (rng() % 2) != 0 ? "turnpike" : "",
                                 .nat = (rng() % 2) != 0 ? &nat : nullptr};
    std::array<std::byte, kMinResponseBuffer + 32> buffer{};
    buffer.fill(std::byte{0xAB});
    const MutableBytes out = std::span(buffer).first(kMinResponseBuffer);
    const StunResult result = handleStunRequest(input, sources[i % 2], options, out);
    ++counts[static_cast<std::size_t>(result.outcome)];
    ASSERT_TRUE(std::all_of(buffer.begin() + kMinResponseBuffer, buffer.end(),
                            [](std::byte b) { return b == std::byte{0xAB}; }))
        << "wrote past out for " << toHex(input);
    if (isDrop(result.outcome)) {
      ASSERT_TRUE(result.response.empty()) << toHex(input);
      continue;
    }
    ASSERT_FALSE(result.response.empty()) << toHex(input);
    // The cookie-less path answers with parseClassic-style messages (kClassicBinding and its 420).
    const bool classic = load32(input, 4) != kMagicCookie;
    ASSERT_EQ(classic, result.outcome == StunOutcome::kClassicBinding ||
                           (classic && result.outcome == StunOutcome::kUnknownAttribute));
    const auto response =
        classic ? Message::parseClassic(result.response) : Message::parse(result.response);
    ASSERT_TRUE(response) << "request " << toHex(input) << "\nresponse " << toHex(result.response);
    EXPECT_TRUE(
        std::ranges::equal(response->cookieAndTransactionId(), ConstBytes(input).subspan(4, 16)));
    const MessageClass cls = response->messageClass();
    EXPECT_TRUE(cls == MessageClass::kSuccessResponse || cls == MessageClass::kErrorResponse);
    EXPECT_NE(verifyFingerprint(*response), IntegrityResult::kMismatch);
  }
  // The mutations reach every outcome.
  for (std::size_t i = 0; i < kStunOutcomeCount; ++i) {
    EXPECT_GT(counts[i], 0U) << toString(static_cast<StunOutcome>(i));
  }
}

}  // namespace
}  // namespace turnpike::protocol

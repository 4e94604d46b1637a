// Message::parse / parseClassic: every rule in message.cpp, the message type encoding in types.hpp,
// looksLikeStun, and a seeded random-mutation run over valid messages.
#include "protocol/stun/message.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::protocol {
namespace {

using test::Bytes;
using test::parseOk;
using test::RawMessage;
using test::repeat;
using test::toHex;
using test::typesOf;

constexpr std::uint16_t kUnknownOptional = 0x8FFF;

// The parse error, or nullopt if the bytes parsed.
std::optional<ParseError> errorOf(const Bytes& bytes, bool classic = false) {
  const auto message = classic ? Message::parseClassic(bytes) : Message::parse(bytes);
  return message ? std::nullopt : std::optional(message.error());
}

TEST(MessageParseTest, FewerThanTwentyBytesIsTooShort) {
  const Bytes header = RawMessage().bytes();
  for (std::size_t size = 0; size < kHeaderSize; ++size) {
    const Bytes prefix(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_EQ(errorOf(prefix), ParseError::kTooShort) << size;
    EXPECT_EQ(errorOf(prefix, /*classic=*/true), ParseError::kTooShort) << size;
  }
  EXPECT_EQ(errorOf(header), std::nullopt);
  EXPECT_TRUE(parseOk(header).attributes().empty());
}

TEST(MessageParseTest, FirstTwoBitsMustBeZero) {
  for (const std::uint16_t type : {0x4001, 0x8001, 0xC001, 0x4000}) {
    const Bytes bytes = RawMessage(type).bytes();
    EXPECT_EQ(errorOf(bytes), ParseError::kNotStun) << type;
    EXPECT_EQ(errorOf(bytes, /*classic=*/true), ParseError::kNotStun) << type;
  }
  EXPECT_EQ(errorOf(RawMessage(0x3FFF).bytes()), std::nullopt);
}

TEST(MessageParseTest, MagicCookieRequiredByParseOnly) {
  for (const std::uint32_t cookie : {0x00000000U, 0x2112A443U, 0x4221A412U, 0xFFFFFFFFU}) {
    const Bytes bytes = RawMessage(test::kBindingRequest, cookie).raw(Bytes(4)).bytes();
    EXPECT_EQ(errorOf(bytes), ParseError::kBadMagicCookie) << cookie;
    const auto classic = Message::parseClassic(bytes);
    ASSERT_TRUE(classic.has_value()) << cookie;
    EXPECT_FALSE(classic->hasMagicCookie());
    EXPECT_EQ(toHex(classic->cookieAndTransactionId()), toHex(ConstBytes(bytes).subspan(4, 16)));
    EXPECT_EQ(classic->attributes().size(), 1U);
  }
  const Bytes good = RawMessage().bytes();
  EXPECT_TRUE(Message::parseClassic(good)->hasMagicCookie());
}

TEST(MessageParseTest, ChecksRunInRfcOrder) {
  // Size, then the leading bits, then the cookie, then the length field.
  EXPECT_EQ(errorOf(Bytes(19, std::byte{0xFF})), ParseError::kTooShort);
  EXPECT_EQ(errorOf(RawMessage(0xC001, 0).forceLength(3).bytes()), ParseError::kNotStun);
  EXPECT_EQ(errorOf(RawMessage(0x0001, 0).forceLength(3).bytes()), ParseError::kBadMagicCookie);
  EXPECT_EQ(errorOf(RawMessage().raw(Bytes(2)).forceLength(4).bytes()),
            ParseError::kLengthMismatch);
}

TEST(MessageParseTest, LengthFieldMustMatchSize) {
  struct Case {
    std::size_t body;
    std::uint16_t declared;
  };
  for (const Case c : {Case{0, 4}, Case{4, 0}, Case{4, 8}, Case{8, 4}, Case{8, 0xFFFF},
                       Case{0, 0xFFFC}, Case{5, 4}, Case{4, 5}}) {
    const Bytes bytes = RawMessage().raw(Bytes(c.body)).forceLength(c.declared).bytes();
    EXPECT_EQ(errorOf(bytes), ParseError::kLengthMismatch) << c.body << " " << c.declared;
    EXPECT_EQ(errorOf(bytes, true), ParseError::kLengthMismatch) << c.body << " " << c.declared;
  }
  // A valid message followed by trailing bytes in the same datagram.
  Bytes trailing = test::build([](MessageBuilder& b) { b.addText(attr::kSoftware, "x"); });
  EXPECT_EQ(errorOf(trailing), std::nullopt);
  trailing.push_back(std::byte{0});
  EXPECT_EQ(errorOf(trailing), ParseError::kLengthMismatch);
}

TEST(MessageParseTest, LengthMustBeMultipleOfFour) {
  for (const std::size_t body : {1, 2, 3, 5, 6, 7, 4095}) {
    EXPECT_EQ(errorOf(RawMessage().raw(Bytes(body)).bytes()), ParseError::kLengthNotAligned)
        << body;
  }
}

// The body length is a multiple of 4 and so is every attribute start, so an attribute header
// always fits and a value that fits always has room for its padding: the only truncation left is
// a value (and with it its padding) running past the end, which these cases cover.
TEST(MessageParseTest, AttributeRunningPastTheEndIsTruncated) {
  const std::vector<Bytes> truncated = {
      RawMessage().addHeader(attr::kSoftware, 1).bytes(),  // no room for value or padding
      RawMessage().addHeader(attr::kSoftware, 5).raw(Bytes(4)).bytes(),
      RawMessage().addHeader(attr::kSoftware, 8).raw(Bytes(4)).bytes(),
      RawMessage().addHeader(kUnknownOptional, 0xFFFF).raw(Bytes(8)).bytes(),
      RawMessage().add(attr::kSoftware, "abcd").addHeader(attr::kUsername, 9).raw(Bytes(8)).bytes(),
      // Framing is checked even for attributes that are ignored after MESSAGE-INTEGRITY.
      RawMessage().addFilled(attr::kMessageIntegrity, 20).addHeader(attr::kRealm, 5).bytes(),
  };
  for (const Bytes& bytes : truncated) {
    EXPECT_EQ(errorOf(bytes), ParseError::kAttributeTruncated) << toHex(bytes);
  }
  // Exact fits.
  const Bytes exact =
      RawMessage().addHeader(kUnknownOptional, 4).raw(Bytes(4)).addHeader(0x8FFE, 0).bytes();
  EXPECT_EQ(typesOf(parseOk(exact)), (std::vector<std::uint16_t>{kUnknownOptional, 0x8FFE}));
  EXPECT_EQ(errorOf(RawMessage().addHeader(attr::kSoftware, 3).raw(Bytes(4)).bytes()),
            std::nullopt);
}

TEST(MessageParseTest, AtMostThirtyTwoAttributes) {
  RawMessage raw;
  for (std::size_t i = 0; i < Message::kMaxAttributes; ++i) raw.addFilled(kUnknownOptional, 4);
  const Bytes thirty_two = raw.bytes();
  EXPECT_EQ(parseOk(thirty_two).attributes().size(), Message::kMaxAttributes);
  EXPECT_EQ(errorOf(raw.addFilled(kUnknownOptional, 0).bytes()), ParseError::kTooManyAttributes);

  // Attributes ignored after MESSAGE-INTEGRITY do not count.
  RawMessage ignored;
  for (std::size_t i = 0; i + 1 < Message::kMaxAttributes; ++i) ignored.addFilled(0x8FFE, 0);
  ignored.addFilled(attr::kMessageIntegrity, 20);
  for (int i = 0; i < 10; ++i) ignored.addFilled(kUnknownOptional, 4);
  const Bytes bytes = ignored.bytes();
  EXPECT_EQ(parseOk(bytes).attributes().size(), Message::kMaxAttributes);
}

TEST(MessageParseTest, NothingMayFollowFingerprint) {
  const std::vector<Bytes> cases = {
      RawMessage().addFilled(attr::kFingerprint, 4).add(attr::kSoftware, "x").bytes(),
      RawMessage().addFilled(attr::kFingerprint, 4).addFilled(attr::kFingerprint, 4).bytes(),
      RawMessage().addFilled(attr::kFingerprint, 4).addFilled(attr::kMessageIntegrity, 20).bytes(),
      // Even an attribute that would be ignored after MESSAGE-INTEGRITY.
      RawMessage()
          .addFilled(attr::kMessageIntegrity, 20)
          .addFilled(attr::kFingerprint, 4)
          .add(attr::kSoftware, "x")
          .bytes(),
  };
  for (const Bytes& bytes : cases) {
    EXPECT_EQ(errorOf(bytes), ParseError::kAttributeAfterFingerprint) << toHex(bytes);
  }
}

TEST(MessageParseTest, AttributesAfterMessageIntegrityAreIgnored) {
  const Bytes bytes = RawMessage()
                          .add(attr::kSoftware, "before")
                          .addFilled(attr::kMessageIntegrity, 20)
                          .add(attr::kUsername, "after")
                          .addFilled(attr::kLifetime, 3)  // bad length, but not validated
                          .add(attr::kSoftware, "after")
                          .addFilled(attr::kMessageIntegrity, 20)  // a second MI: ignored too
                          .bytes();
  const Message message = parseOk(bytes);
  EXPECT_EQ(typesOf(message),
            (std::vector<std::uint16_t>{attr::kSoftware, attr::kMessageIntegrity}));
  EXPECT_EQ(message.find(attr::kUsername), nullptr);
  EXPECT_FALSE(message.has(attr::kLifetime));
  EXPECT_EQ(decodeText(test::valueOf(message, attr::kSoftware)), "before");
}

TEST(MessageParseTest, IntegrityAttributesAndFingerprintOrdering) {
  const Bytes all = RawMessage()
                        .addFilled(attr::kMessageIntegrity, 20)
                        .add(attr::kSoftware, "ignored")
                        .addFilled(attr::kMessageIntegritySha256, 32)
                        .add(attr::kRealm, "ignored")
                        .addFilled(attr::kFingerprint, 4)
                        .bytes();
  EXPECT_EQ(typesOf(parseOk(all)),
            (std::vector<std::uint16_t>{attr::kMessageIntegrity, attr::kMessageIntegritySha256,
                                        attr::kFingerprint}));
  // After MESSAGE-INTEGRITY-SHA256 only FINGERPRINT counts: a later MI or MI-SHA256 is ignored.
  const Bytes sha256_first = RawMessage()
                                 .addFilled(attr::kMessageIntegritySha256, 16)
                                 .addFilled(attr::kMessageIntegrity, 20)
                                 .addFilled(attr::kMessageIntegritySha256, 32)
                                 .addFilled(attr::kFingerprint, 4)
                                 .bytes();
  const Message message = parseOk(sha256_first);
  EXPECT_EQ(typesOf(message),
            (std::vector<std::uint16_t>{attr::kMessageIntegritySha256, attr::kFingerprint}));
  EXPECT_EQ(message.find(attr::kMessageIntegritySha256)->length, 16);
  // The MACs recorded after MESSAGE-INTEGRITY are still length-checked.
  EXPECT_EQ(errorOf(RawMessage()
                        .addFilled(attr::kMessageIntegrity, 20)
                        .addFilled(attr::kMessageIntegritySha256, 20 + 2)
                        .bytes()),
            ParseError::kBadAttributeLength);
  EXPECT_EQ(errorOf(RawMessage()
                        .addFilled(attr::kMessageIntegrity, 20)
                        .addFilled(attr::kFingerprint, 8)
                        .bytes()),
            ParseError::kBadAttributeLength);
}

TEST(MessageParseTest, DuplicatesAreKeptAndFindReturnsTheFirst) {
  const Bytes bytes =
      RawMessage().add(attr::kSoftware, "first").add(attr::kSoftware, "second!").bytes();
  const Message message = parseOk(bytes);
  ASSERT_EQ(message.attributes().size(), 2U);
  EXPECT_EQ(message.find(attr::kSoftware), &message.attributes()[0]);
  EXPECT_EQ(message.attributes()[0].offset, 24U);
  EXPECT_EQ(message.attributes()[1].offset, 36U);
  EXPECT_EQ(message.attributes()[1].length, 7U);
  EXPECT_EQ(decodeText(test::valueOf(message, attr::kSoftware)), "first");
  EXPECT_EQ(message.find(attr::kUsername), nullptr);
}

// One row per attribute type handled by isValidAttributeLength (values are 'a' bytes).
struct LengthRule {
  std::uint16_t type;
  std::vector<std::size_t> good;
  std::vector<std::size_t> bad;
  friend void PrintTo(const LengthRule& rule, std::ostream* os) { *os << rule.type; }
};

const std::vector<std::size_t> kAddressGood = {8, 20};
const std::vector<std::size_t> kAddressBad = {0, 4, 7, 12, 16, 19, 24};
const std::vector<std::size_t> kU32Bad = {0, 1, 3, 5, 8};
const std::vector<std::size_t> kTextGood = {0, 1, 127};
const std::vector<std::size_t> kTextBad = {128, 763, 764};  // 'a' x 128+ exceeds 127 chars
const std::vector<std::size_t> kErrorGood = {4, 5, 131};
const std::vector<std::size_t> kErrorBad = {0, 1, 3, 132};
const std::vector<std::size_t> kAnyLength = {0, 1, 3, 4, 5, 1000};

const std::vector<LengthRule> kLengthRules = {
    {attr::kMappedAddress, kAddressGood, kAddressBad},
    {attr::kXorMappedAddress, kAddressGood, kAddressBad},
    {attr::kXorPeerAddress, kAddressGood, kAddressBad},
    {attr::kXorRelayedAddress, kAddressGood, kAddressBad},
    {attr::kAlternateServer, kAddressGood, kAddressBad},
    {attr::kResponseOrigin, kAddressGood, kAddressBad},
    {attr::kOtherAddress, kAddressGood, kAddressBad},
    {attr::kUsername, {0, 1, 508}, {509, 1000}},
    {attr::kRealm, kTextGood, kTextBad},
    {attr::kNonce, kTextGood, kTextBad},
    {attr::kSoftware, kTextGood, kTextBad},
    {attr::kAlternateDomain, {1, 127, 255}, {0, 256}},
    {attr::kUserhash, {32}, {0, 16, 31, 33, 64}},
    {attr::kMessageIntegrity, {20}, {0, 16, 19, 21, 32}},
    {attr::kMessageIntegritySha256, {16, 20, 24, 28, 32}, {0, 12, 15, 17, 18, 30, 36}},
    {attr::kFingerprint, {4}, {0, 3, 5, 8}},
    {attr::kErrorCode, kErrorGood, kErrorBad},
    {attr::kAddressErrorCode, kErrorGood, kErrorBad},
    {attr::kUnknownAttributes, {0, 2, 4, 6}, {1, 3, 5}},
    {attr::kPasswordAlgorithm, {4, 5, 8}, {0, 2, 3}},
    {attr::kPasswordAlgorithms, {4, 5, 8}, {0, 2, 3}},
    {attr::kChannelNumber, {4}, kU32Bad},
    {attr::kLifetime, {4}, kU32Bad},
    {attr::kRequestedAddressFamily, {4}, kU32Bad},
    {attr::kRequestedTransport, {4}, kU32Bad},
    {attr::kAdditionalAddressFamily, {4}, kU32Bad},
    {attr::kChangeRequest, {4}, kU32Bad},
    {attr::kResponsePort, {4}, kU32Bad},
    {attr::kConnectionId, {4}, kU32Bad},
    {attr::kEvenPort, {1}, {0, 2, 4}},
    {attr::kDontFragment, {0}, {1, 4}},
    {attr::kReservationToken, {8}, {0, 4, 7, 9, 16}},
    {attr::kIcmp, {8}, {0, 4, 7, 9}},
    {attr::kData, kAnyLength, {}},
    {attr::kPadding, kAnyLength, {}},
    {attr::kMobilityTicket, kAnyLength, {}},
    {kUnknownOptional, kAnyLength, {}},
    {0x7FFF, kAnyLength, {}},  // unknown comprehension-required: the parser does not judge
};

class AttributeLengthTest : public testing::TestWithParam<LengthRule> {};

TEST_P(AttributeLengthTest, EnforcesTheRfcLength) {
  const LengthRule& rule = GetParam();
  for (const std::size_t length : rule.good) {
    const Bytes bytes = RawMessage().addFilled(rule.type, length).bytes();
    EXPECT_EQ(errorOf(bytes), std::nullopt) << length;
    EXPECT_TRUE(isValidAttributeLength(rule.type, Bytes(length, std::byte{'a'}))) << length;
  }
  for (const std::size_t length : rule.bad) {
    const Bytes bytes = RawMessage().addFilled(rule.type, length).bytes();
    EXPECT_EQ(errorOf(bytes), ParseError::kBadAttributeLength) << length;
    EXPECT_EQ(errorOf(bytes, true), ParseError::kBadAttributeLength) << length;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, AttributeLengthTest, testing::ValuesIn(kLengthRules),
                         [](const auto& info) {
                           std::string name = std::string(attributeName(info.param.type));
                           std::ranges::replace(name, '-', '_');
                           return name + "_" + std::to_string(info.param.type);
                         });

TEST(MessageParseTest, TextLimits) {
  // utf8Length counts lead bytes without validating, so the RFC's 763-byte bound for 127
  // characters is reachable with 127 six-byte (pre-RFC 3629) sequences and a trailing
  // continuation byte: 763 bytes, 127 characters.
  const std::string six_byte = "\xfc\x80\x80\x80\x80\x80";
  const std::string bytes_763 = repeat(six_byte, 127) + "\x80";
  const std::string bytes_764 = bytes_763 + "\x80";
  ASSERT_EQ(bytes_763.size(), kMaxTextBytes);
  ASSERT_EQ(utf8Length(bytes_764), kMaxTextChars);
  struct Case {
    std::string text;
    bool ok;
  };
  const std::vector<Case> cases = {
      {repeat("a", 127), true},
      {repeat("a", 128), false},
      {repeat("\xc3\xa9", 127), true},          // 127 x U+00E9, 254 bytes
      {repeat("\xe2\x82\xac", 127), true},      // 127 x U+20AC, 381 bytes
      {repeat("\xf0\x9f\x98\x80", 127), true},  // 127 x U+1F600, 508 bytes
      {repeat("\xe2\x82\xac", 128), false},
      {bytes_763, true},
      {bytes_764, false}};
  for (const std::uint16_t type : {attr::kRealm, attr::kNonce, attr::kSoftware}) {
    for (const Case& c : cases) {
      const Bytes bytes = RawMessage().add(type, c.text).bytes();
      EXPECT_EQ(errorOf(bytes).has_value(), !c.ok)
          << attributeName(type) << " " << c.text.size() << " bytes";
    }
  }
  // The ERROR-CODE reason phrase follows the same rule.
  for (const Case& c : cases) {
    const Bytes bytes =
        RawMessage().add(attr::kErrorCode, std::string("\0\0\x04\x00", 4) + c.text).bytes();
    EXPECT_EQ(errorOf(bytes).has_value(), !c.ok) << "ERROR-CODE " << c.text.size() << " bytes";
  }
  // USERNAME limits bytes only: 508 ok (even as 508 characters), 509 not.
  EXPECT_EQ(errorOf(RawMessage().add(attr::kUsername, repeat("a", 508)).bytes()), std::nullopt);
  EXPECT_EQ(errorOf(RawMessage().add(attr::kUsername, repeat("\xe2\x82\xac", 169)).bytes()),
            std::nullopt);  // 507 bytes
  EXPECT_EQ(errorOf(RawMessage().add(attr::kUsername, repeat("a", 509)).bytes()),
            ParseError::kBadAttributeLength);
}

TEST(MessageTypeTest, EncodingRoundTripsForEveryMethodAndClass) {
  for (std::uint16_t method = 0; method <= 0xFFF; ++method) {
    for (const MessageClass cls : {MessageClass::kRequest, MessageClass::kIndication,
                                   MessageClass::kSuccessResponse, MessageClass::kErrorResponse}) {
      const std::uint16_t type = messageType(method, cls);
      ASSERT_EQ(type & 0xC000U, 0U) << method;
      ASSERT_EQ(methodOf(type), method);
      ASSERT_EQ(classOf(type), cls) << method;
    }
  }
}

TEST(MessageTypeTest, KnownTypeValues) {
  struct Case {
    Method method;
    MessageClass cls;
    std::uint16_t type;
  };
  const std::vector<Case> cases = {{Method::kBinding, MessageClass::kRequest, 0x0001},
                                   {Method::kBinding, MessageClass::kIndication, 0x0011},
                                   {Method::kBinding, MessageClass::kSuccessResponse, 0x0101},
                                   {Method::kBinding, MessageClass::kErrorResponse, 0x0111},
                                   {Method::kAllocate, MessageClass::kRequest, 0x0003},
                                   {Method::kAllocate, MessageClass::kSuccessResponse, 0x0103},
                                   {Method::kAllocate, MessageClass::kErrorResponse, 0x0113},
                                   {Method::kRefresh, MessageClass::kRequest, 0x0004},
                                   {Method::kSend, MessageClass::kIndication, 0x0016},
                                   {Method::kData, MessageClass::kIndication, 0x0017},
                                   {Method::kCreatePermission, MessageClass::kRequest, 0x0008},
                                   {Method::kChannelBind, MessageClass::kSuccessResponse, 0x0109},
                                   {Method::kConnect, MessageClass::kRequest, 0x000A},
                                   {Method::kConnectionBind, MessageClass::kRequest, 0x000B},
                                   {Method::kConnectionAttempt, MessageClass::kIndication, 0x001C}};
  for (const Case& c : cases) {
    EXPECT_EQ(messageType(c.method, c.cls), c.type);
    const Bytes bytes = RawMessage(c.type).bytes();
    const Message message = parseOk(bytes);
    EXPECT_EQ(message.type(), c.type);
    EXPECT_EQ(message.method(), static_cast<std::uint16_t>(c.method));
    EXPECT_EQ(message.messageClass(), c.cls);
    EXPECT_TRUE(message.isMethod(c.method));
    EXPECT_EQ(message.isMethod(Method::kBinding), c.method == Method::kBinding);
  }
  // Extreme method: all twelve bits set, error response.
  EXPECT_EQ(messageType(0xFFF, MessageClass::kErrorResponse), 0x3FFF);
}

TEST(MessageTest, TransactionIdAndCookieBytes) {
  const Bytes bytes = RawMessage().bytes();
  const Message message = parseOk(bytes);
  EXPECT_EQ(message.transactionId(), test::kTestTransactionId);
  EXPECT_EQ(toHex(message.cookieAndTransactionId()), "2112a4420102030405060708090a0b0c");
  EXPECT_EQ(message.bytes().data(), bytes.data());  // a view, not a copy
}

TEST(MessageTest, LooksLikeStun) {
  const Bytes valid = RawMessage().bytes();
  EXPECT_TRUE(looksLikeStun(valid));
  EXPECT_TRUE(looksLikeStun(RawMessage().forceLength(100).bytes()));  // cheap: length unchecked
  EXPECT_FALSE(looksLikeStun(ConstBytes(valid).first(19)));
  EXPECT_FALSE(looksLikeStun({}));
  EXPECT_FALSE(looksLikeStun(RawMessage(0x4001).bytes()));  // ChannelData range
  EXPECT_FALSE(looksLikeStun(RawMessage(0x8001).bytes()));
  EXPECT_FALSE(looksLikeStun(RawMessage(test::kBindingRequest, 0x2112A443).bytes()));
}

TEST(MessageTest, ParseErrorNames) {
  std::vector<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(ParseError::kBadAttributeLength); ++e) {
    names.push_back(toString(static_cast<ParseError>(e)));
    EXPECT_NE(names.back(), "unknown") << e;
  }
  std::ranges::sort(names);
  EXPECT_EQ(std::ranges::adjacent_find(names), names.end());
}

// Seeds for the mutation test: valid messages covering most attribute kinds.
std::vector<Bytes> mutationSeeds() {
  const Bytes key = test::bytesOf("key");
  const std::array<std::byte, 8> token{};
  return {
      RawMessage().bytes(),
      test::build([&](MessageBuilder& b) {
        b.addText(attr::kSoftware, "seed");
        b.addXorAddress(attr::kXorMappedAddress, test::endpoint("192.0.2.1", 32853));
        b.addText(attr::kUsername, "user");
        b.addText(attr::kRealm, "realm");
        b.addText(attr::kNonce, "nonce");
        b.addMessageIntegrity(key);
        b.addMessageIntegritySha256(key);
        b.addFingerprint();
      }),
      test::build([&](MessageBuilder& b) {
        b.addRequestedTransport(kProtocolUdp);
        b.addU32(attr::kLifetime, 600);
        b.addEvenPort(true);
        b.addBytes(attr::kDontFragment, {});
        b.addBytes(attr::kReservationToken, token);
        b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
        b.addMessageIntegrity(key);
        b.addFingerprint();
      }),
      test::build(
          [&](MessageBuilder& b) {
            b.addErrorCode(error::kUnknownAttribute);
            const std::array<std::uint16_t, 3> unknown{0x0024, 0x7FFF, 0x0002};
            b.addUnknownAttributes(unknown);
            const std::array algorithms{PasswordAlgorithmValue{1, {}},
                                        PasswordAlgorithmValue{2, token}};
            b.addPasswordAlgorithms(algorithms);
            b.addAddressErrorCode(AddressFamily::kIpv4, 440);
            b.addFingerprint();
          },
          messageType(Method::kAllocate, MessageClass::kErrorResponse)),
      test::build(
          [&](MessageBuilder& b) {
            b.addXorAddress(attr::kXorPeerAddress, test::endpoint("2001:db8::1", 9));
            b.addBytes(attr::kData, test::bytesOf("hello"));
            b.addIcmp({3, 1, 0x01020304});
            b.addChannelNumber(0x4001);
            b.addAddress(attr::kOtherAddress, test::endpoint("::1", 3478));
          },
          messageType(Method::kData, MessageClass::kIndication)),
  };
}

TEST(MessageParseTest, RandomMutationsNeverBreakBounds) {
  const std::vector<Bytes> seeds = mutationSeeds();
  std::mt19937 rng(5769);  // fixed seed: the run is reproducible
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n)(rng); };
  auto fixLength = [](Bytes& bytes) {
    if (bytes.size() >= kHeaderSize) {
      store16(bytes, 2, static_cast<std::uint16_t>(bytes.size() - kHeaderSize));
    }
  };
  int parsed = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    Bytes bytes = seeds[pick(seeds.size() - 1)];
    const std::size_t mutations = 1 + pick(3);
    for (std::size_t m = 0; m < mutations; ++m) {
      switch (pick(6)) {
        case 0:  // flip one bit
          if (!bytes.empty()) bytes[pick(bytes.size() - 1)] ^= std::byte{1} << pick(7);
          break;
        case 1:  // random byte
          if (!bytes.empty()) bytes[pick(bytes.size() - 1)] = static_cast<std::byte>(pick(255));
          break;
        case 2:  // truncate
          bytes.resize(pick(bytes.size()));
          break;
        case 3:  // truncate to a multiple of 4 and keep the length field consistent
          bytes.resize(pick(bytes.size()) & ~std::size_t{3});
          fixLength(bytes);
          break;
        case 4:  // append random bytes and fix the length field
          for (std::size_t i = pick(8); i > 0; --i)
            bytes.push_back(static_cast<std::byte>(pick(255)));
          fixLength(bytes);
          break;
        case 5:  // rewrite an attribute type or length field
          if (bytes.size() >= 24) {
            store16(bytes, kHeaderSize + 4 * pick((bytes.size() - 24) / 4) + 2 * pick(1),
                    static_cast<std::uint16_t>(pick(0xFFFF)));
          }
          break;
        default:  // random header length
          if (bytes.size() >= 4) store16(bytes, 2, static_cast<std::uint16_t>(pick(0xFFFF)));
          break;
      }
    }
    // An exactly sized heap copy, so ASan flags any read past the end.
    const Bytes exact(bytes.begin(), bytes.end());
    for (const bool classic : {false, true}) {
      const auto message = classic ? Message::parseClassic(exact) : Message::parse(exact);
      if (!message) continue;
      ++parsed;
      ASSERT_LE(message->attributes().size(), Message::kMaxAttributes);
      for (const RawAttribute& attribute : message->attributes()) {
        ASSERT_GE(attribute.offset, kHeaderSize + kAttributeHeaderSize) << toHex(bytes);
        ASSERT_LE(attribute.offset + attribute.length, bytes.size()) << toHex(bytes);
        ASSERT_LE(attribute.offset + ((attribute.length + 3U) & ~3U), bytes.size());
      }
      test::exerciseDecoders(*message);
    }
  }
  EXPECT_GT(parsed, 4000);  // the mutations must also reach the attribute checks
}

}  // namespace
}  // namespace turnpike::protocol

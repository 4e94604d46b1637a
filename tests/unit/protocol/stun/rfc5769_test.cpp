// RFC 5769 test vectors, byte for byte: parsing, attribute decoding, MESSAGE-INTEGRITY and
// FINGERPRINT verification, detection of every single-bit flip, and reproduction with
// MessageBuilder. The hex dumps are those of RFC 5769 sections 2.1-2.4 (they agree with the copies
// in coturn's rfc5769check.c and other stacks); the parameters are the RFC's with its errata:
// SOFTWARE "STUN test client" / "test vector", USERNAME "evtj:h6vY", password
// "VOkJxbRl1RmTxUk/WvJxBt", and for 2.4 the SASLprep'd password "TheMatrIX". Every MAC and CRC in
// the vectors is verified below, so a wrong byte would show.
#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <vector>

#include "auth/long_term_key.hpp"
#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::protocol {
namespace {

using test::Bytes;
using test::fromHex;
using test::parseOk;
using test::toHex;
using test::typesOf;
using test::valueOf;

// RFC 5769 section 2.1, "Sample Request". USERNAME is padded with spaces (0x20).
constexpr std::string_view kSampleRequest = R"(
  00 01 00 58  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
  80 22 00 10  53 54 55 4e  20 74 65 73  74 20 63 6c  69 65 6e 74
  00 24 00 04  6e 00 01 ff
  80 29 00 08  93 2f f9 b1  51 26 3b 36
  00 06 00 09  65 76 74 6a  3a 68 36 76  59 20 20 20
  00 08 00 14  9a ea a7 0c  bf d8 cb 56  78 1e f2 b5  b2 d3 f2 49  c1 b5 71 a2
  80 28 00 04  e5 7a 3b cf)";

// RFC 5769 section 2.2, "Sample IPv4 Response". SOFTWARE is padded with a space.
constexpr std::string_view kIpv4Response = R"(
  01 01 00 3c  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
  80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
  00 20 00 08  00 01 a1 47  e1 12 a6 43
  00 08 00 14  2b 91 f5 99  fd 9e 90 c3  8c 74 89 f9  2a f9 ba 53  f0 6b e7 d7
  80 28 00 04  c0 7d 4c 96)";

// RFC 5769 section 2.3, "Sample IPv6 Response". SOFTWARE is padded with a space.
constexpr std::string_view kIpv6Response = R"(
  01 01 00 48  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
  80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
  00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9
  00 08 00 14  a3 82 95 4e  4b e6 7b f1  17 84 c9 7c  82 92 c2 75  bf e3 ed 41
  80 28 00 04  c8 fb 0b 4c)";

// RFC 5769 section 2.4, "Sample Request with Long-Term Authentication". Zero padding, no
// FINGERPRINT.
constexpr std::string_view kLongTermRequest = R"(
  00 01 00 60  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
  00 06 00 12  e3 83 9e e3  83 88 e3 83  aa e3 83 83  e3 82 af e3  82 b9 00 00
  00 15 00 1c  66 2f 2f 34  39 39 6b 39  35 34 64 36  4f 4c 33 34  6f 4c 39 46
               53 54 76 79  36 34 73 41
  00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
  00 08 00 14  f6 70 24 65  6d d6 4a 3e  02 b8 e0 71  2e 85 c9 a2  8c a8 96 66)";

constexpr std::string_view kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";
// U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 in UTF-8 (SASLprep leaves it unchanged).
constexpr std::string_view kUsername =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
// "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep: soft hyphen dropped, U+00AA -> "a",
// U+2168 -> "IX".
constexpr std::string_view kPassword = "TheMatrIX";
constexpr std::string_view kUnpreparedPassword = "The\xc2\xadM\xc2\xaatr\xe2\x85\xa8";
constexpr std::string_view kRealm = "example.org";
constexpr std::string_view kNonce = "f//499k954d6OL34oL9FSTvy64sA";
// ICE attributes (RFC 8445) in 2.1; the codec does not know them and keeps them as raw values.
constexpr std::uint16_t kPriority = 0x0024;
constexpr std::uint16_t kIceControlled = 0x8029;

Bytes longTermKey() {
  const auth::Md5Key key = auth::longTermKeyMd5(kUsername, kRealm, kPassword);
  return {key.begin(), key.end()};
}

struct Rfc5769Vector {
  std::string_view name;
  std::string_view hex;
  bool long_term;        // key = MD5(username:realm:password), else the short-term password
  bool has_fingerprint;  // 2.4 has none
  bool space_padded;     // the RFC pads some text attributes with 0x20, the builder with zeros
  void (*add_attributes)(MessageBuilder&);  // everything before MESSAGE-INTEGRITY, in order

  [[nodiscard]] Bytes key() const {
    return long_term ? longTermKey() : test::bytesOf(kShortTermPassword);
  }
  friend void PrintTo(const Rfc5769Vector& vector, std::ostream* os) { *os << vector.name; }
};

const std::array kVectors{
    Rfc5769Vector{"SampleRequest", kSampleRequest, false, true, true,
                  [](MessageBuilder& b) {
                    b.addText(attr::kSoftware, "STUN test client");
                    b.addU32(kPriority, 0x6e0001ff);
                    b.addBytes(kIceControlled, fromHex("932ff9b151263b36"));
                    b.addText(attr::kUsername, "evtj:h6vY");
                  }},
    Rfc5769Vector{"Ipv4Response", kIpv4Response, false, true, true,
                  [](MessageBuilder& b) {
                    b.addText(attr::kSoftware, "test vector");
                    b.addXorAddress(attr::kXorMappedAddress, test::endpoint("192.0.2.1", 32853));
                  }},
    Rfc5769Vector{"Ipv6Response", kIpv6Response, false, true, true,
                  [](MessageBuilder& b) {
                    b.addText(attr::kSoftware, "test vector");
                    b.addXorAddress(attr::kXorMappedAddress,
                                    test::endpoint("2001:db8:1234:5678:11:2233:4455:6677", 32853));
                  }},
    Rfc5769Vector{"LongTermRequest", kLongTermRequest, true, false, false,
                  [](MessageBuilder& b) {
                    b.addText(attr::kUsername, kUsername);
                    b.addText(attr::kNonce, kNonce);
                    b.addText(attr::kRealm, kRealm);
                  }},
};

// Whether each byte is attribute padding (after the value, up to the 4-byte boundary).
std::vector<bool> paddingMask(const Message& message) {
  std::vector<bool> mask(message.bytes().size(), false);
  for (const RawAttribute& attribute : message.attributes()) {
    for (std::size_t i = attribute.offset + attribute.length; i % 4 != 0; ++i) {
      mask[i] = true;
    }
  }
  return mask;
}

// Rebuilds a vector with MessageBuilder: same type, transaction ID and attributes, then
// MESSAGE-INTEGRITY and FINGERPRINT. With padding_source, that message's padding bytes are
// written over the builder's before the MACs are computed (the MACs cover the buffer as is).
Bytes rebuild(const Rfc5769Vector& vector, const Message* padding_source) {
  const Bytes original_bytes = fromHex(vector.hex);
  const Message original = parseOk(original_bytes);
  Bytes buffer(256);
  MessageBuilder builder(buffer, original.type(), original.transactionId());
  vector.add_attributes(builder);
  if (padding_source != nullptr) {
    const std::vector<bool> mask = paddingMask(*padding_source);
    for (std::size_t i = 0; i < builder.size() && i < mask.size(); ++i) {
      if (mask[i]) buffer[i] = padding_source->bytes()[i];
    }
  }
  builder.addMessageIntegrity(vector.key());
  if (vector.has_fingerprint) builder.addFingerprint();
  const auto out = builder.finish();
  EXPECT_TRUE(out.has_value());
  return out ? Bytes(out->begin(), out->end()) : Bytes{};
}

class Rfc5769VectorTest : public testing::TestWithParam<Rfc5769Vector> {};

TEST_P(Rfc5769VectorTest, ParsesAndVerifies) {
  const Rfc5769Vector& vector = GetParam();
  const Bytes bytes = fromHex(vector.hex);
  const Message message = parseOk(bytes);
  EXPECT_EQ(message.bytes().size(), bytes.size());
  EXPECT_TRUE(message.hasMagicCookie());
  EXPECT_TRUE(message.isMethod(Method::kBinding));
  EXPECT_EQ(verifyMessageIntegrity(message, vector.key()), IntegrityResult::kOk);
  EXPECT_EQ(verifyMessageIntegrity(message, test::bytesOf("wrong")), IntegrityResult::kMismatch);
  EXPECT_EQ(verifyMessageIntegritySha256(message, vector.key()), IntegrityResult::kMissing);
  EXPECT_EQ(verifyFingerprint(message),
            vector.has_fingerprint ? IntegrityResult::kOk : IntegrityResult::kMissing);
}

TEST_P(Rfc5769VectorTest, EverySingleBitFlipIsDetected) {
  const Rfc5769Vector& vector = GetParam();
  const Bytes original = fromHex(vector.hex);
  const Bytes key = vector.key();
  for (std::size_t bit = 0; bit < original.size() * 8; ++bit) {
    Bytes flipped = original;
    flipped[bit / 8] ^= std::byte{static_cast<std::uint8_t>(0x80U >> (bit % 8))};
    const auto message = Message::parse(flipped);
    if (!message) continue;  // rejected by the parser
    const bool integrity_ok = verifyMessageIntegrity(*message, key) == IntegrityResult::kOk;
    const bool fingerprint_ok =
        !vector.has_fingerprint || verifyFingerprint(*message) == IntegrityResult::kOk;
    EXPECT_FALSE(integrity_ok && fingerprint_ok) << "byte " << bit / 8 << " bit " << bit % 8;
  }
}

// The RFC pads USERNAME (2.1) and SOFTWARE (2.2, 2.3) with spaces; RFC 8489 section 14 lets
// senders pad with anything and the builder pads with zeros. As MESSAGE-INTEGRITY and FINGERPRINT
// cover the padding, a zero-padded rebuild can only match the vector outside the padding and the
// two MAC values; its own MACs must still verify. Copying the vector's padding bytes into the
// builder's buffer before addMessageIntegrity()/addFingerprint() must then give the vector exactly,
// which shows the MACs are computed over the same bytes the same way. 2.4 pads with zeros and must
// match without help.
TEST_P(Rfc5769VectorTest, BuilderReproducesTheVector) {
  const Rfc5769Vector& vector = GetParam();
  const Bytes expected = fromHex(vector.hex);
  const Message original = parseOk(expected);
  const Bytes built = rebuild(vector, nullptr);
  ASSERT_EQ(built.size(), expected.size());

  const Message rebuilt = parseOk(built);
  EXPECT_EQ(verifyMessageIntegrity(rebuilt, vector.key()), IntegrityResult::kOk);
  if (vector.has_fingerprint) {
    EXPECT_EQ(verifyFingerprint(rebuilt), IntegrityResult::kOk);
  }

  std::vector<bool> ignore = paddingMask(original);
  bool padding_differs = false;
  for (std::size_t i = 0; i < built.size(); ++i) {
    if (!ignore[i]) continue;
    EXPECT_EQ(built[i], std::byte{0}) << "builder padding at " << i;
    padding_differs = padding_differs || expected[i] != built[i];
  }
  EXPECT_EQ(padding_differs, vector.space_padded);
  if (!padding_differs) {
    EXPECT_EQ(toHex(built), toHex(expected));
  } else {
    for (const std::uint16_t type : {attr::kMessageIntegrity, attr::kFingerprint}) {
      if (const RawAttribute* mac = original.find(type)) {
        std::fill_n(ignore.begin() + mac->offset, mac->length, true);
      }
    }
    Bytes masked_built = built;
    Bytes masked_expected = expected;
    for (std::size_t i = 0; i < built.size(); ++i) {
      if (ignore[i]) masked_built[i] = masked_expected[i] = std::byte{0};
    }
    EXPECT_EQ(toHex(masked_built), toHex(masked_expected));
  }

  EXPECT_EQ(toHex(rebuild(vector, &original)), toHex(expected));
}

INSTANTIATE_TEST_SUITE_P(Rfc5769, Rfc5769VectorTest, testing::ValuesIn(kVectors),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Rfc5769Test, SampleRequestAttributes) {
  const Bytes bytes = fromHex(kSampleRequest);
  const Message message = parseOk(bytes);
  EXPECT_EQ(message.type(), 0x0001);
  EXPECT_EQ(message.messageClass(), MessageClass::kRequest);
  EXPECT_EQ(toHex(message.transactionId()), "b7e7a701bc34d686fa87dfae");
  EXPECT_EQ(typesOf(message),
            (std::vector<std::uint16_t>{attr::kSoftware, kPriority, kIceControlled, attr::kUsername,
                                        attr::kMessageIntegrity, attr::kFingerprint}));
  EXPECT_EQ(decodeText(valueOf(message, attr::kSoftware)), "STUN test client");
  EXPECT_EQ(decodeU32(valueOf(message, kPriority)).value(), 0x6e0001ffU);
  EXPECT_EQ(toHex(valueOf(message, kIceControlled)), "932ff9b151263b36");
  EXPECT_EQ(decodeText(valueOf(message, attr::kUsername)), "evtj:h6vY");  // padding excluded
  EXPECT_EQ(toHex(valueOf(message, attr::kMessageIntegrity)),
            "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2");
  EXPECT_EQ(decodeFingerprint(valueOf(message, attr::kFingerprint)).value(), 0xe57a3bcfU);
}

TEST(Rfc5769Test, Ipv4ResponseAttributes) {
  const Bytes bytes = fromHex(kIpv4Response);
  const Message message = parseOk(bytes);
  EXPECT_EQ(message.type(), 0x0101);
  EXPECT_EQ(message.messageClass(), MessageClass::kSuccessResponse);
  EXPECT_EQ(toHex(message.transactionId()), "b7e7a701bc34d686fa87dfae");
  EXPECT_EQ(typesOf(message),
            (std::vector<std::uint16_t>{attr::kSoftware, attr::kXorMappedAddress,
                                        attr::kMessageIntegrity, attr::kFingerprint}));
  EXPECT_EQ(decodeText(valueOf(message, attr::kSoftware)), "test vector");
  const ConstBytes xor_mapped = valueOf(message, attr::kXorMappedAddress);
  EXPECT_EQ(decodeXorAddress(xor_mapped, message.transactionId()).value(),
            test::endpoint("192.0.2.1", 32853));
  // The same value read without the XOR: port 0xa147, address e1.12.a6.43.
  EXPECT_EQ(decodeAddress(xor_mapped).value(), test::endpoint("225.18.166.67", 0xa147));
  EXPECT_EQ(decodeFingerprint(valueOf(message, attr::kFingerprint)).value(), 0xc07d4c96U);
}

TEST(Rfc5769Test, Ipv6ResponseAttributes) {
  const Bytes bytes = fromHex(kIpv6Response);
  const Message message = parseOk(bytes);
  EXPECT_EQ(message.type(), 0x0101);
  EXPECT_EQ(typesOf(message),
            (std::vector<std::uint16_t>{attr::kSoftware, attr::kXorMappedAddress,
                                        attr::kMessageIntegrity, attr::kFingerprint}));
  EXPECT_EQ(decodeText(valueOf(message, attr::kSoftware)), "test vector");
  const auto mapped =
      decodeXorAddress(valueOf(message, attr::kXorMappedAddress), message.transactionId());
  EXPECT_EQ(mapped.value(), test::endpoint("2001:db8:1234:5678:11:2233:4455:6677", 32853));
  EXPECT_TRUE(mapped->address.isV6());
  EXPECT_EQ(decodeFingerprint(valueOf(message, attr::kFingerprint)).value(), 0xc8fb0b4cU);
}

TEST(Rfc5769Test, LongTermRequestAttributes) {
  const Bytes bytes = fromHex(kLongTermRequest);
  const Message message = parseOk(bytes);
  EXPECT_EQ(message.type(), 0x0001);
  EXPECT_EQ(toHex(message.transactionId()), "78ad3433c6ad72c029da412e");
  EXPECT_EQ(typesOf(message), (std::vector<std::uint16_t>{attr::kUsername, attr::kNonce,
                                                          attr::kRealm, attr::kMessageIntegrity}));
  EXPECT_EQ(decodeText(valueOf(message, attr::kUsername)), kUsername);
  EXPECT_EQ(decodeText(valueOf(message, attr::kNonce)), kNonce);
  EXPECT_EQ(decodeText(valueOf(message, attr::kRealm)), kRealm);
  EXPECT_EQ(utf8Length(decodeText(valueOf(message, attr::kUsername))), 6U);
  // MD5("<username>:example.org:TheMatrIX"), computed independently with `openssl md5`.
  EXPECT_EQ(toHex(longTermKey()), "e8ca7ad59d5eb0518e312911d2dab2a9");
  EXPECT_EQ(verifyMessageIntegrity(message, longTermKey()), IntegrityResult::kOk);
  // turnpike does not apply SASLprep/OpaqueString: the raw password gives another key.
  const auth::Md5Key unprepared = auth::longTermKeyMd5(kUsername, kRealm, kUnpreparedPassword);
  EXPECT_EQ(verifyMessageIntegrity(message, unprepared), IntegrityResult::kMismatch);
  // The short-term form (the password itself as key) is not what 2.4 uses.
  EXPECT_EQ(verifyMessageIntegrity(message, test::bytesOf(kPassword)), IntegrityResult::kMismatch);
}

}  // namespace
}  // namespace turnpike::protocol

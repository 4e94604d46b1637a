// Every attribute: encode with MessageBuilder -> Message::parse -> decode, with the raw wire bytes
// checked against the RFC layouts; MAC constants computed independently (Python hmac/zlib).
// Also the builder's overflow handling and the decoders' error paths.
#include "protocol/stun/attributes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "auth/long_term_key.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::protocol {
namespace {

using test::build;
using test::Bytes;
using test::bytesOf;
using test::endpoint;
using test::fromHex;
using test::parseOk;
using test::toHex;
using test::valueOf;
using Add = std::function<void(MessageBuilder&)>;

constexpr std::uint16_t kUnknownOptional = 0x8FFF;

// Builds a message with `add`, parses it and returns a copy of the first `type` attribute's value
// (so it outlives the message). Checks the padding after it is zeros.
Bytes encode(std::uint16_t type, const Add& add) {
  const Bytes bytes = build(add);
  const Message message = parseOk(bytes);
  const RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) {
    ADD_FAILURE() << "no " << attributeName(type);
    return {};
  }
  for (std::size_t i = attribute->offset + attribute->length; i % 4 != 0; ++i) {
    EXPECT_EQ(bytes[i], std::byte{0}) << "padding byte " << i << " of " << attributeName(type);
  }
  const ConstBytes value = message.value(*attribute);
  return {value.begin(), value.end()};
}

// A value as `bytes` big-endian bytes in hex: bigEndianHex(0x4000, 2) == "4000".
std::string bigEndianHex(std::uint32_t value, int bytes) {
  std::array<char, 9> out{};
  std::snprintf(out.data(), out.size(), "%0*x", 2 * bytes, value);
  return out.data();
}

TEST(AddressAttributeTest, PlainAddressesRoundTrip) {
  struct Case {
    Endpoint endpoint;
    std::string_view raw;
  };
  const std::vector<Case> cases = {
      {endpoint("192.0.2.1", 32853), "00018055c0000201"},
      {endpoint("0.0.0.0", 0), "0001000000000000"},
      {endpoint("2001:db8::1", 1), "0002000120010db8000000000000000000000001"},
      {endpoint("ffff::ffff", 65535), "0002ffffffff000000000000000000000000ffff"},
  };
  for (const std::uint16_t type :
       {attr::kMappedAddress, attr::kAlternateServer, attr::kResponseOrigin, attr::kOtherAddress}) {
    for (const Case& c : cases) {
      const Bytes value = encode(type, [&](MessageBuilder& b) { b.addAddress(type, c.endpoint); });
      EXPECT_EQ(toHex(value), c.raw) << attributeName(type);
      EXPECT_EQ(decodeAddress(value).value(), c.endpoint) << attributeName(type);
    }
  }
}

// RFC 8489 section 14.2: X-Port = port XOR 0x2112; an IPv4 address is XORed with the cookie, an
// IPv6 address with cookie || transaction ID (here 01 02 .. 0c).
TEST(AddressAttributeTest, XorAddressesRoundTripWithRfcXor) {
  const Endpoint v4 = endpoint("192.0.2.1", 32853);
  const Endpoint v6 = endpoint("2001:db8:1234:5678:11:2233:4455:6677", 32853);
  for (const std::uint16_t type :
       {attr::kXorMappedAddress, attr::kXorPeerAddress, attr::kXorRelayedAddress}) {
    const Bytes raw4 = encode(type, [&](MessageBuilder& b) { b.addXorAddress(type, v4); });
    EXPECT_EQ(toHex(raw4), "0001a147e112a643");  // 0x8055^0x2112, c0000201^2112a442
    EXPECT_EQ(decodeXorAddress(raw4, test::kTestTransactionId).value(), v4);
    const Bytes raw6 = encode(type, [&](MessageBuilder& b) { b.addXorAddress(type, v6); });
    EXPECT_EQ(toHex(raw6), "0002a1470113a9fa1336557c0517253b4d5f6d7b");
    EXPECT_EQ(decodeXorAddress(raw6, test::kTestTransactionId).value(), v6);
    // Another transaction ID changes the IPv6 result but not the IPv4 one.
    const TransactionId other{};
    EXPECT_EQ(decodeXorAddress(raw4, other).value(), v4);
    EXPECT_NE(decodeXorAddress(raw6, other).value(), v6);
  }
  EXPECT_EQ(xorEndpoint(xorEndpoint(v6, test::kTestTransactionId), test::kTestTransactionId), v6);
}

TEST(AddressAttributeTest, DecodeAddressRejectsBadFamilyAndLength) {
  const std::vector<std::pair<std::string_view, AttributeError>> cases = {
      {"00008055c0000201", AttributeError::kBadFamily},                          // family 0
      {"00038055c0000201", AttributeError::kBadFamily},                          // family 3
      {"0001805520010db8000000000000000000000001", AttributeError::kBadFamily},  // v4, 20 bytes
      {"00028055c0000201", AttributeError::kBadFamily},                          // v6, 8 bytes
      {"", AttributeError::kBadLength},
      {"00018055c000", AttributeError::kBadLength},
      {"00018055c0000201c0000201", AttributeError::kBadLength},
  };
  for (const auto& [hex, error] : cases) {
    EXPECT_EQ(decodeAddress(fromHex(hex)).error(), error) << hex;
    EXPECT_EQ(decodeXorAddress(fromHex(hex), test::kTestTransactionId).error(), error) << hex;
  }
}

TEST(TextAttributeTest, RoundTripWithZeroPadding) {
  const std::string longest(127, 'x');
  const std::vector<std::string> texts = {
      "a",    "ab", "abc", "abcd", "abcde", "example.org", "\xe3\x83\x9e\xe3\x83\x88 \xc3\xa9",
      longest};
  for (const std::uint16_t type :
       {attr::kUsername, attr::kRealm, attr::kNonce, attr::kSoftware, attr::kAlternateDomain}) {
    for (const std::string& text : texts) {
      const Bytes value = encode(type, [&](MessageBuilder& b) { b.addText(type, text); });
      EXPECT_EQ(decodeText(value), text) << attributeName(type);
    }
  }
  EXPECT_EQ(encode(attr::kSoftware, [](MessageBuilder& b) { b.addText(attr::kSoftware, ""); }),
            Bytes{});
}

TEST(OpaqueAttributeTest, UserhashReservationTokenPaddingMobilityTicket) {
  const auth::Sha256Key hash = auth::userhash("user", "realm");
  EXPECT_EQ(encode(attr::kUserhash, [&](MessageBuilder& b) { b.addBytes(attr::kUserhash, hash); }),
            Bytes(hash.begin(), hash.end()));
  const Bytes token = fromHex("0102030405060708");
  const Bytes raw = encode(attr::kReservationToken,
                           [&](MessageBuilder& b) { b.addBytes(attr::kReservationToken, token); });
  EXPECT_EQ(toHex(decodeReservationToken(raw).value()), "0102030405060708");
  for (const std::uint16_t type : {attr::kPadding, attr::kMobilityTicket, kUnknownOptional}) {
    for (const std::size_t size : {0, 1, 7, 12, 300}) {
      const Bytes value(size, std::byte{0x5a});
      EXPECT_EQ(encode(type, [&](MessageBuilder& b) { b.addBytes(type, value); }), value);
    }
  }
  const Bytes empty =
      encode(attr::kDontFragment, [](MessageBuilder& b) { b.addBytes(attr::kDontFragment, {}); });
  EXPECT_TRUE(empty.empty());
}

TEST(OpaqueAttributeTest, DataIsPaddedWithZeros) {
  for (const std::size_t size : {0, 1, 3, 4, 5}) {
    Bytes payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>(0xF0 + i);
    const Bytes bytes = build([&](MessageBuilder& b) { b.addBytes(attr::kData, payload); });
    EXPECT_EQ(bytes.size(), kHeaderSize + 4 + ((size + 3) & ~3U)) << size;
    EXPECT_EQ(encode(attr::kData, [&](MessageBuilder& b) { b.addBytes(attr::kData, payload); }),
              payload);  // encode() checks the padding is zeros
  }
}

// Constant: Python hmac.new(b"", header || SOFTWARE "abc", sha1), header length field 0x0020.
TEST(IntegrityAttributeTest, MessageIntegrity) {
  const Bytes bytes = build([](MessageBuilder& b) {
    b.addText(attr::kSoftware, "abc");
    b.addMessageIntegrity({});  // empty key
  });
  const Message message = parseOk(bytes);
  EXPECT_EQ(toHex(valueOf(message, attr::kMessageIntegrity)),
            "951d554ee32fe5680a0bb445ba527650ad38d8fe");
  EXPECT_EQ(verifyMessageIntegrity(message, {}), IntegrityResult::kOk);
  EXPECT_EQ(verifyMessageIntegrity(message, bytesOf("x")), IntegrityResult::kMismatch);
  EXPECT_EQ(verifyMessageIntegritySha256(message, {}), IntegrityResult::kMissing);
  const Bytes plain = build([](MessageBuilder& b) { b.addText(attr::kSoftware, "abc"); });
  EXPECT_EQ(verifyMessageIntegrity(parseOk(plain), {}), IntegrityResult::kMissing);
}

// Constants: Python hmac.new(b"key", header || SOFTWARE "abc", sha256), header length field 0x2c
// for the 32-byte MAC and 0x1c for a MAC truncated to 16 bytes (RFC 8489 section 14.6).
TEST(IntegrityAttributeTest, MessageIntegritySha256FullAndTruncated) {
  const Bytes key = bytesOf("key");
  const Bytes bytes = build([&](MessageBuilder& b) {
    b.addText(attr::kSoftware, "abc");
    b.addMessageIntegritySha256(key);
  });
  const Message message = parseOk(bytes);
  EXPECT_EQ(toHex(valueOf(message, attr::kMessageIntegritySha256)),
            "25de2dbe9e1989d62316226d6a1064648eed2825dfb57b51ce8eedf8866b0f00");
  EXPECT_EQ(verifyMessageIntegritySha256(message, key), IntegrityResult::kOk);
  EXPECT_EQ(verifyMessageIntegritySha256(message, bytesOf("kex")), IntegrityResult::kMismatch);
  EXPECT_EQ(verifyMessageIntegrity(message, key), IntegrityResult::kMissing);

  const Bytes truncated =
      test::RawMessage()
          .add(attr::kSoftware, "abc")
          .add(attr::kMessageIntegritySha256, fromHex("ca9b1a12486572025fe665bf657f145b"))
          .bytes();
  EXPECT_EQ(verifyMessageIntegritySha256(parseOk(truncated), key), IntegrityResult::kOk);
}

TEST(IntegrityAttributeTest, BothMacsAndFingerprintInOneMessage) {
  const Bytes sha1_key = bytesOf("short-term");
  const Bytes sha256_key = bytesOf("other");
  Bytes bytes = build([&](MessageBuilder& b) {
    b.addText(attr::kUsername, "user");
    b.addMessageIntegrity(sha1_key);
    b.addMessageIntegritySha256(sha256_key);
    b.addFingerprint();
  });
  {
    const Message message = parseOk(bytes);
    EXPECT_EQ(verifyMessageIntegrity(message, sha1_key), IntegrityResult::kOk);
    EXPECT_EQ(verifyMessageIntegritySha256(message, sha256_key), IntegrityResult::kOk);
    EXPECT_EQ(verifyMessageIntegritySha256(message, sha1_key), IntegrityResult::kMismatch);
    EXPECT_EQ(verifyFingerprint(message), IntegrityResult::kOk);
  }
  // MESSAGE-INTEGRITY-SHA256 and FINGERPRINT cover the MESSAGE-INTEGRITY value.
  const Message original = parseOk(bytes);
  const std::size_t mi_offset = original.find(attr::kMessageIntegrity)->offset;
  bytes[mi_offset] ^= std::byte{1};
  const Message tampered = parseOk(bytes);
  EXPECT_EQ(verifyMessageIntegrity(tampered, sha1_key), IntegrityResult::kMismatch);
  EXPECT_EQ(verifyMessageIntegritySha256(tampered, sha256_key), IntegrityResult::kMismatch);
  EXPECT_EQ(verifyFingerprint(tampered), IntegrityResult::kMismatch);
}

// The HMAC context keeps its last key (a request and its response share one): every change of
// key, length, prefix or algorithm must re-key, and a key longer than the remembered 64 bytes too.
TEST(IntegrityAttributeTest, KeyChangesBetweenMessagesAreNeverMissed) {
  const Bytes long_key(100, std::byte{7});
  Bytes long_key_other = long_key;
  long_key_other.back() = std::byte{8};
  const std::vector<Bytes> keys = {
      bytesOf("alpha"), bytesOf("beta"), bytesOf("alph"), bytesOf("alphaa"), {},
      long_key,         long_key_other};
  std::vector<Bytes> signed_by;
  for (const Bytes& key : keys) {
    signed_by.push_back(build([&](MessageBuilder& b) {
      b.addText(attr::kSoftware, "abc");
      b.addMessageIntegrity(key);
      b.addMessageIntegritySha256(key);
    }));
  }
  // Every (message, key) pair, in an order where each key follows every other one.
  for (int round = 0; round < 2; ++round) {
    for (std::size_t m = 0; m < keys.size(); ++m) {
      const Message message = parseOk(signed_by[m]);
      for (std::size_t k = 0; k < keys.size(); ++k) {
        const IntegrityResult expected = m == k ? IntegrityResult::kOk : IntegrityResult::kMismatch;
        EXPECT_EQ(verifyMessageIntegrity(message, keys[k]), expected) << m << " " << k;
        EXPECT_EQ(verifyMessageIntegritySha256(message, keys[k]), expected) << m << " " << k;
        EXPECT_EQ(verifyMessageIntegrity(message, keys[m]), IntegrityResult::kOk) << m;
      }
    }
  }
}

// Constant: Python zlib.crc32(header || SOFTWARE "abc") ^ 0x5354554e, header length field 0x10.
TEST(IntegrityAttributeTest, Fingerprint) {
  EXPECT_EQ(crc32(bytesOf("123456789")), 0xCBF43926U);  // the CRC-32 check value
  Bytes bytes = build([](MessageBuilder& b) {
    b.addText(attr::kSoftware, "abc");
    b.addFingerprint();
  });
  EXPECT_EQ(decodeFingerprint(valueOf(parseOk(bytes), attr::kFingerprint)).value(), 0xb91c61a6U);
  EXPECT_EQ(verifyFingerprint(parseOk(bytes)), IntegrityResult::kOk);
  bytes[kHeaderSize + 4] ^= std::byte{0x20};  // "abc" -> "Abc"
  EXPECT_EQ(verifyFingerprint(parseOk(bytes)), IntegrityResult::kMismatch);
  const Bytes plain = build([](MessageBuilder& b) { b.addText(attr::kSoftware, "abc"); });
  EXPECT_EQ(verifyFingerprint(parseOk(plain)), IntegrityResult::kMissing);
}

TEST(ErrorCodeAttributeTest, EveryCodeRoundTrips) {
  for (std::uint16_t code = 300; code <= 699; ++code) {
    const std::string reason = "reason " + std::to_string(code);
    const Bytes value =
        encode(attr::kErrorCode, [&](MessageBuilder& b) { b.addErrorCode(code, reason); });
    ASSERT_GE(value.size(), 4U);
    EXPECT_EQ(toHex(ConstBytes(value).first(2)), "0000");
    EXPECT_EQ(std::to_integer<int>(value[2]), code / 100);
    EXPECT_EQ(std::to_integer<int>(value[3]), code % 100);
    const auto decoded = decodeErrorCode(value);
    ASSERT_TRUE(decoded.has_value()) << code;
    EXPECT_EQ(decoded->code, code);
    EXPECT_EQ(decoded->reason, reason);
  }
}

TEST(ErrorCodeAttributeTest, DefaultReasonAndBadValues) {
  const Bytes value = encode(attr::kErrorCode, [](MessageBuilder& b) { b.addErrorCode(420); });
  EXPECT_EQ(decodeErrorCode(value)->reason, "Unknown Attribute");
  const Bytes none = encode(attr::kErrorCode, [](MessageBuilder& b) { b.addErrorCode(599); });
  EXPECT_EQ(none.size(), 4U);  // no default reason for 599
  EXPECT_EQ(decodeErrorCode(none)->code, 599);
  // Class 2 and 7 are outside 3..6, number 100 is outside 0..99.
  for (const std::string_view hex : {"00000200", "00000700", "00000464", "000004ff", "00000000"}) {
    EXPECT_EQ(decodeErrorCode(fromHex(hex)).error(), AttributeError::kBadValue) << hex;
  }
  // The 21 reserved bits are ignored.
  EXPECT_EQ(decodeErrorCode(fromHex("fffffc01"))->code, 401);
  EXPECT_EQ(decodeErrorCode(fromHex("000004")).error(), AttributeError::kBadLength);
}

TEST(ErrorCodeAttributeTest, AddressErrorCode) {
  const Bytes value = encode(attr::kAddressErrorCode, [](MessageBuilder& b) {
    b.addAddressErrorCode(AddressFamily::kIpv6, 440);
  });
  EXPECT_EQ(toHex(ConstBytes(value).first(4)), "02000428");
  const auto decoded = decodeAddressErrorCode(value);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->family, AddressFamily::kIpv6);
  EXPECT_EQ(decoded->code, 440);
  EXPECT_EQ(decoded->reason, "Address Family not Supported");
  const Bytes custom = encode(attr::kAddressErrorCode, [](MessageBuilder& b) {
    b.addAddressErrorCode(AddressFamily::kIpv4, 508, "full");
  });
  EXPECT_EQ(decodeAddressErrorCode(custom)->reason, "full");
  EXPECT_EQ(decodeAddressErrorCode(custom)->family, AddressFamily::kIpv4);
  EXPECT_EQ(decodeAddressErrorCode(fromHex("03000400")).error(), AttributeError::kBadFamily);
  EXPECT_EQ(decodeAddressErrorCode(fromHex("01000200")).error(), AttributeError::kBadValue);
  EXPECT_EQ(decodeAddressErrorCode(fromHex("0100")).error(), AttributeError::kBadLength);
}

TEST(PasswordAlgorithmTest, ListRoundTrip) {
  const Bytes three = bytesOf("abc");
  const Bytes five = bytesOf("abcde");
  const std::array algorithms{PasswordAlgorithmValue{1, {}}, PasswordAlgorithmValue{2, {}},
                              PasswordAlgorithmValue{1, three}, PasswordAlgorithmValue{2, five}};
  const Bytes value = encode(attr::kPasswordAlgorithms,
                             [&](MessageBuilder& b) { b.addPasswordAlgorithms(algorithms); });
  EXPECT_EQ(toHex(value), "00010000000200000001000361626300000200056162636465000000");
  std::array<PasswordAlgorithmValue, 8> out{};
  ASSERT_EQ(decodePasswordAlgorithms(value, out).value(), 4U);
  for (std::size_t i = 0; i < algorithms.size(); ++i) {
    EXPECT_EQ(out[i].algorithm, algorithms[i].algorithm) << i;
    EXPECT_EQ(toHex(out[i].parameters), toHex(algorithms[i].parameters)) << i;
  }
  std::array<PasswordAlgorithmValue, 1> one{};
  EXPECT_EQ(decodePasswordAlgorithms(value, one).value(), 1U);  // only what fits
  EXPECT_EQ(one[0].algorithm, 1);
}

TEST(PasswordAlgorithmTest, TruncatedListIsAnError) {
  std::array<PasswordAlgorithmValue, 4> out{};
  for (const std::string_view hex : {"00010008aabbccdd",  // parameters run past the end
                                     "00010003aabbcc",    // parameter padding missing
                                     "0001000000",        // partial second entry
                                     "00010000000200"}) {
    EXPECT_EQ(decodePasswordAlgorithms(fromHex(hex), out).error(), AttributeError::kBadLength)
        << hex;
  }
  EXPECT_EQ(decodePasswordAlgorithms({}, out).value(), 0U);
}

TEST(PasswordAlgorithmTest, SingleAlgorithm) {
  const Bytes sha256 = encode(attr::kPasswordAlgorithm, [](MessageBuilder& b) {
    b.addPasswordAlgorithm({static_cast<std::uint16_t>(PasswordAlgorithm::kSha256), {}});
  });
  EXPECT_EQ(toHex(sha256), "00020000");
  EXPECT_EQ(decodePasswordAlgorithm(sha256)->algorithm, 2);
  EXPECT_TRUE(decodePasswordAlgorithm(sha256)->parameters.empty());
  const Bytes params = bytesOf("xy");
  const Bytes md5 = encode(attr::kPasswordAlgorithm, [&](MessageBuilder& b) {
    b.addPasswordAlgorithm({1, params});
  });
  EXPECT_EQ(decodePasswordAlgorithm(md5)->algorithm, 1);
  EXPECT_EQ(toHex(decodePasswordAlgorithm(md5)->parameters), "7879");
  EXPECT_EQ(decodePasswordAlgorithm(fromHex("000100")).error(), AttributeError::kBadLength);
  EXPECT_EQ(decodePasswordAlgorithm(fromHex("00010002aa")).error(), AttributeError::kBadLength);
}

TEST(UnknownAttributesTest, RoundTripWithOddCountPadding) {
  const std::vector<std::uint16_t> all = {0x0024, 0x7FFF, 0x0002};
  for (std::size_t count = 0; count <= all.size(); ++count) {
    const std::span types(all.data(), count);
    const Bytes value =
        encode(attr::kUnknownAttributes, [&](MessageBuilder& b) { b.addUnknownAttributes(types); });
    ASSERT_EQ(value.size(), 2 * count);  // encode() checks the 2 padding bytes for odd counts
    std::array<std::uint16_t, 4> out{};
    ASSERT_EQ(decodeUnknownAttributes(value, out).value(), count);
    EXPECT_TRUE(std::ranges::equal(std::span(out).first(count), types));
  }
  std::array<std::uint16_t, 1> small{};
  EXPECT_EQ(decodeUnknownAttributes(fromHex("00240025"), small).value(), 1U);
  EXPECT_EQ(small[0], 0x0024);
  EXPECT_EQ(decodeUnknownAttributes(fromHex("002400"), small).error(), AttributeError::kBadLength);
}

TEST(NumericAttributeTest, ChannelLifetimeConnectionIdResponsePort) {
  for (const std::uint16_t channel : {0x4000, 0x4FFF, 0x7FFF}) {
    const Bytes v =
        encode(attr::kChannelNumber, [&](MessageBuilder& b) { b.addChannelNumber(channel); });
    EXPECT_EQ(toHex(v), bigEndianHex(channel, 2) + "0000");  // RFFU zero
    EXPECT_EQ(decodeChannelNumber(v).value(), channel);
  }
  for (const std::uint16_t type : {attr::kLifetime, attr::kConnectionId}) {
    for (const std::uint32_t n : {0U, 600U, 0x12345678U, 0xFFFFFFFFU}) {
      const Bytes v = encode(type, [&](MessageBuilder& b) { b.addU32(type, n); });
      EXPECT_EQ(toHex(v), bigEndianHex(n, 4));
      EXPECT_EQ(decodeU32(v).value(), n);
    }
  }
  const Bytes port =
      encode(attr::kResponsePort, [](MessageBuilder& b) { b.addResponsePort(3478); });
  EXPECT_EQ(toHex(port), "0d960000");
  EXPECT_EQ(decodeResponsePort(port).value(), 3478);
}

TEST(NumericAttributeTest, TransportFamilyEvenPortIcmpChangeRequest) {
  for (const std::uint8_t protocol : {kProtocolUdp, kProtocolTcp}) {
    const Bytes v = encode(attr::kRequestedTransport,
                           [&](MessageBuilder& b) { b.addRequestedTransport(protocol); });
    EXPECT_EQ(toHex(v), bigEndianHex(protocol, 1) + "000000");
    EXPECT_EQ(decodeRequestedTransport(v).value(), protocol);
  }
  for (const std::uint16_t type : {attr::kRequestedAddressFamily, attr::kAdditionalAddressFamily}) {
    for (const AddressFamily family : {AddressFamily::kIpv4, AddressFamily::kIpv6}) {
      const Bytes v = encode(type, [&](MessageBuilder& b) { b.addAddressFamily(type, family); });
      EXPECT_EQ(toHex(v), family == AddressFamily::kIpv4 ? "01000000" : "02000000");
      EXPECT_EQ(decodeAddressFamily(v).value(), family);
    }
  }
  EXPECT_EQ(decodeAddressFamily(fromHex("03000000")).error(), AttributeError::kBadFamily);
  EXPECT_EQ(decodeAddressFamily(fromHex("00000000")).error(), AttributeError::kBadFamily);
  for (const bool reserve : {true, false}) {
    const Bytes v = encode(attr::kEvenPort, [&](MessageBuilder& b) { b.addEvenPort(reserve); });
    EXPECT_EQ(toHex(v), reserve ? "80" : "00");
    EXPECT_EQ(decodeEvenPort(v).value(), reserve);
  }
  EXPECT_TRUE(decodeEvenPort(fromHex("ff")).value());
  EXPECT_FALSE(decodeEvenPort(fromHex("7f")).value());  // reserved bits ignored
  const Bytes icmp = encode(attr::kIcmp, [](MessageBuilder& b) { b.addIcmp({3, 1, 0x01020304}); });
  EXPECT_EQ(toHex(icmp), "0000030101020304");
  const IcmpValue decoded = decodeIcmp(icmp).value();
  EXPECT_EQ(decoded.type, 3);
  EXPECT_EQ(decoded.code, 1);
  EXPECT_EQ(decoded.error_data, 0x01020304U);
  for (const bool ip : {false, true}) {
    for (const bool port : {false, true}) {
      const Bytes v = encode(attr::kChangeRequest, [&](MessageBuilder& b) {
        b.addChangeRequest({ip, port});
      });
      EXPECT_EQ(toHex(v), bigEndianHex((ip ? 4U : 0U) | (port ? 2U : 0U), 4));
      EXPECT_EQ(decodeChangeRequest(v)->change_ip, ip);
      EXPECT_EQ(decodeChangeRequest(v)->change_port, port);
    }
  }
}

TEST(DecoderTest, WrongLengthsAreRejected) {
  const auto bad = AttributeError::kBadLength;
  EXPECT_EQ(decodeU32(Bytes(3)).error(), bad);
  EXPECT_EQ(decodeU32(Bytes(5)).error(), bad);
  EXPECT_EQ(decodeChannelNumber(Bytes(2)).error(), bad);
  EXPECT_EQ(decodeRequestedTransport(Bytes(1)).error(), bad);
  EXPECT_EQ(decodeAddressFamily(Bytes(0)).error(), bad);
  EXPECT_EQ(decodeEvenPort(Bytes(4)).error(), bad);
  EXPECT_EQ(decodeEvenPort(Bytes(0)).error(), bad);
  EXPECT_EQ(decodeReservationToken(Bytes(7)).error(), bad);
  EXPECT_EQ(decodeIcmp(Bytes(4)).error(), bad);
  EXPECT_EQ(decodeChangeRequest(Bytes(8)).error(), bad);
  EXPECT_EQ(decodeResponsePort(Bytes(2)).error(), bad);
  EXPECT_EQ(decodeFingerprint(Bytes(8)).error(), bad);
  EXPECT_EQ(decodeErrorCode(Bytes(0)).error(), bad);
}

TEST(UnknownAttributeTest, ComprehensionOptionalIsKeptAndSkipped) {
  const Bytes bytes = build([](MessageBuilder& b) {
    b.addBytes(kUnknownOptional, bytesOf("12345"));  // 3 bytes of padding to skip
    b.addU32(attr::kLifetime, 77);
  });
  const Message message = parseOk(bytes);
  ASSERT_EQ(message.attributes().size(), 2U);
  EXPECT_EQ(message.attributes()[0].type, kUnknownOptional);
  EXPECT_EQ(message.attributes()[0].length, 5U);
  EXPECT_EQ(decodeU32(valueOf(message, attr::kLifetime)).value(), 77U);
  EXPECT_FALSE(isKnownAttribute(kUnknownOptional));
  EXPECT_FALSE(isComprehensionRequired(kUnknownOptional));
  EXPECT_TRUE(isComprehensionRequired(0x7FFF));
}

TEST(AttributeNameTest, EveryKnownAttributeHasItsRfcName) {
  using namespace attr;  // NOLINT: the table reads better without the prefix
  // clang-format off
  const std::vector<std::pair<std::uint16_t, std::string_view>> names = {
      {kMappedAddress, "MAPPED-ADDRESS"}, {kUsername, "USERNAME"},
      {kMessageIntegrity, "MESSAGE-INTEGRITY"}, {kErrorCode, "ERROR-CODE"},
      {kUnknownAttributes, "UNKNOWN-ATTRIBUTES"}, {kRealm, "REALM"}, {kNonce, "NONCE"},
      {kMessageIntegritySha256, "MESSAGE-INTEGRITY-SHA256"},
      {kPasswordAlgorithm, "PASSWORD-ALGORITHM"}, {kUserhash, "USERHASH"},
      {kXorMappedAddress, "XOR-MAPPED-ADDRESS"}, {kPasswordAlgorithms, "PASSWORD-ALGORITHMS"},
      {kAlternateDomain, "ALTERNATE-DOMAIN"}, {kSoftware, "SOFTWARE"},
      {kAlternateServer, "ALTERNATE-SERVER"}, {kFingerprint, "FINGERPRINT"},
      {kChannelNumber, "CHANNEL-NUMBER"}, {kLifetime, "LIFETIME"},
      {kXorPeerAddress, "XOR-PEER-ADDRESS"}, {kData, "DATA"},
      {kXorRelayedAddress, "XOR-RELAYED-ADDRESS"},
      {kRequestedAddressFamily, "REQUESTED-ADDRESS-FAMILY"}, {kEvenPort, "EVEN-PORT"},
      {kRequestedTransport, "REQUESTED-TRANSPORT"}, {kDontFragment, "DONT-FRAGMENT"},
      {kReservationToken, "RESERVATION-TOKEN"},
      {kAdditionalAddressFamily, "ADDITIONAL-ADDRESS-FAMILY"},
      {kAddressErrorCode, "ADDRESS-ERROR-CODE"}, {kIcmp, "ICMP"},
      {kChangeRequest, "CHANGE-REQUEST"}, {kPadding, "PADDING"}, {kResponsePort, "RESPONSE-PORT"},
      {kResponseOrigin, "RESPONSE-ORIGIN"}, {kOtherAddress, "OTHER-ADDRESS"},
      {kConnectionId, "CONNECTION-ID"}, {kMobilityTicket, "MOBILITY-TICKET"}};
  // clang-format on
  for (const auto& [type, name] : names) {
    EXPECT_TRUE(isKnownAttribute(type)) << name;
    EXPECT_EQ(attributeName(type), name);
  }
  std::size_t known = 0;  // and no other type is known
  for (std::uint32_t type = 0; type <= 0xFFFF; ++type) {
    known += isKnownAttribute(static_cast<std::uint16_t>(type)) ? 1 : 0;
  }
  EXPECT_EQ(known, names.size());
  for (const std::uint16_t type : {0x0000, 0x0002, 0x0024, 0x8029, 0x8FFF, 0xFFFF}) {
    EXPECT_FALSE(isKnownAttribute(type)) << type;
    EXPECT_EQ(attributeName(type), "UNKNOWN") << type;
  }
}

TEST(MessageBuilderTest, OverflowIsReportedAndNeverWritesPastTheBuffer) {
  const Add add = [](MessageBuilder& b) {
    b.addText(attr::kSoftware, "turnpike");
    b.addXorAddress(attr::kXorMappedAddress, endpoint("2001:db8::1", 3478));
    b.addErrorCode(error::kStaleNonce);
    b.addMessageIntegrity(bytesOf("key"));
    b.addMessageIntegritySha256(bytesOf("key"));
    b.addFingerprint();
  };
  const Bytes full = build(add);
  constexpr std::byte kGuard{0xA5};
  constexpr std::size_t kGuardSize = 64;
  for (std::size_t size = 0; size <= full.size(); ++size) {
    Bytes backing(size + kGuardSize, kGuard);
    MessageBuilder builder(MutableBytes(backing).first(size), test::kBindingRequest,
                           test::kTestTransactionId);
    add(builder);
    const auto out = builder.finish();
    if (size < full.size()) {
      ASSERT_FALSE(out.has_value()) << size;
      EXPECT_EQ(out.error(), BuildError::kBufferTooSmall) << size;
    } else {
      ASSERT_TRUE(out.has_value());
      EXPECT_EQ(toHex(*out), toHex(full));
    }
    EXPECT_TRUE(std::ranges::all_of(std::span(backing).subspan(size),
                                    [&](std::byte b) { return b == kGuard; }))
        << "wrote past a buffer of " << size;
  }
}

TEST(MessageBuilderTest, ErrorsAreSticky) {
  Bytes buffer(32);
  MessageBuilder builder(buffer, test::kBindingRequest, test::kTestTransactionId);
  builder.addBytes(attr::kData, Bytes(100));
  builder.addU32(attr::kLifetime, 1);  // would fit, but the builder already failed
  EXPECT_EQ(builder.size(), kHeaderSize);
  EXPECT_EQ(builder.finish().error(), BuildError::kBufferTooSmall);
}

TEST(MessageBuilderTest, SixteenBitLengthLimits) {
  Bytes buffer(kMaxMessageSize + 100);
  {
    MessageBuilder builder(buffer, test::kBindingRequest, test::kTestTransactionId);
    builder.addBytes(attr::kData, Bytes(0x10000));
    EXPECT_EQ(builder.finish().error(), BuildError::kValueTooLong);
  }
  {
    MessageBuilder builder(buffer, test::kBindingRequest, test::kTestTransactionId);
    builder.addBytes(attr::kData, Bytes(0xFFF8));  // body 0xFFFC: the largest aligned length
    const auto out = builder.finish();
    ASSERT_TRUE(out.has_value());
    const auto message = Message::parse(*out);
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->find(attr::kData)->length, 0xFFF8);
    builder.addBytes(attr::kData, {});  // body would be 0x10000
    EXPECT_EQ(builder.finish().error(), BuildError::kBufferTooSmall);
  }
}

TEST(MessageBuilderTest, ClassicTransactionIdIsCopiedVerbatim) {
  const Bytes id = fromHex("0102030405060708090a0b0c0d0e0f10");  // no magic cookie
  Bytes buffer(64);
  MessageBuilder builder(buffer, test::kBindingRequest, ConstBytes(id));
  builder.addAddress(attr::kMappedAddress, endpoint("192.0.2.1", 1));
  const auto out = builder.finish();
  ASSERT_TRUE(out.has_value());
  const auto message = Message::parseClassic(*out);
  ASSERT_TRUE(message.has_value());
  EXPECT_FALSE(message->hasMagicCookie());
  EXPECT_EQ(toHex(message->cookieAndTransactionId()), toHex(id));
  EXPECT_EQ(Message::parse(*out).error(), ParseError::kBadMagicCookie);

  MessageBuilder bad(buffer, test::kBindingRequest, ConstBytes(id).first(12));
  EXPECT_EQ(bad.finish().error(), BuildError::kBufferTooSmall);
  EXPECT_NE(toString(BuildError::kBufferTooSmall), toString(BuildError::kValueTooLong));
}

}  // namespace
}  // namespace turnpike::protocol

// ChannelData parse and build (RFC 8656 sections 12.4 and 12.5).
#include "protocol/turn/channel_data.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "tests/unit/protocol/turn/test_util.hpp"

namespace turnpike::protocol {
namespace {

using test::Bytes;
using test::octets;
using test::patternBytes;
using test::toHex;

// A ChannelData message written by hand, independent of buildChannelData.
Bytes rawChannelData(std::uint16_t channel, std::uint16_t length, ConstBytes payload,
                     std::size_t trailing = 0) {
  Bytes out =
      octets({static_cast<std::uint8_t>(channel >> 8U), static_cast<std::uint8_t>(channel & 0xFFU),
              static_cast<std::uint8_t>(length >> 8U), static_cast<std::uint8_t>(length & 0xFFU)});
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), trailing, std::byte{0xEE});
  return out;
}

TEST(ChannelDataTest, ParsesValidMessages) {
  for (const std::uint16_t channel :
       {std::uint16_t{0x4000}, std::uint16_t{0x4001}, std::uint16_t{0x4ABC}, std::uint16_t{0x4FFF},
        std::uint16_t{0x5000}, std::uint16_t{0x7FFF}}) {
    for (const std::size_t length : {0U, 1U, 3U, 4U, 100U}) {
      SCOPED_TRACE(testing::Message() << std::hex << channel << " length " << std::dec << length);
      const Bytes payload = patternBytes(length);
      const Bytes message = rawChannelData(channel, static_cast<std::uint16_t>(length), payload);
      const auto parsed = parseChannelData(message);
      ASSERT_TRUE(parsed) << toHex(message);
      EXPECT_EQ(parsed->channel, channel);
      ASSERT_EQ(parsed->data.size(), length);
      EXPECT_TRUE(std::ranges::equal(parsed->data, payload));
      // A view into the input, right after the 4-byte header.
      EXPECT_EQ(parsed->data.data(), message.data() + kChannelDataHeaderSize);
    }
  }
}

TEST(ChannelDataTest, RejectsChannelsOutsideRange) {
  // 0x0000-0x3FFF are STUN's; 0x8000 and up are not ChannelData. 0x5000-0x7FFF are accepted
  // for RFC 5766 clients (libwebrtc, coturn) although RFC 8656 reserves them.
  for (const std::uint16_t channel : {std::uint16_t{0x0000}, std::uint16_t{0x3FFF},
                                      std::uint16_t{0x8000}, std::uint16_t{0xFFFF}}) {
    SCOPED_TRACE(channel);
    const Bytes message = rawChannelData(channel, 4, patternBytes(4));
    const auto parsed = parseChannelData(message);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), ChannelDataError::kBadChannel);
    EXPECT_FALSE(isValidChannelNumber(channel));
  }
  EXPECT_TRUE(isValidChannelNumber(kMinChannelNumber));
  EXPECT_TRUE(isValidChannelNumber(kMaxChannelNumber));
}

TEST(ChannelDataTest, RejectsShortInput) {
  const Bytes full = rawChannelData(0x4000, 0, {});
  for (std::size_t size = 0; size < kChannelDataHeaderSize; ++size) {
    SCOPED_TRACE(size);
    const auto parsed = parseChannelData(ConstBytes(full).first(size));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), ChannelDataError::kTooShort);
  }
}

TEST(ChannelDataTest, RejectsLengthBeyondInput) {
  struct Case {
    std::uint16_t length;
    std::size_t available;
  };
  for (const Case c : {Case{1, 0}, Case{10, 9}, Case{100, 4}, Case{0xFFFF, 100}}) {
    SCOPED_TRACE(c.length);
    const Bytes message = rawChannelData(0x4001, c.length, patternBytes(c.available));
    const auto parsed = parseChannelData(message);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), ChannelDataError::kTruncated);
  }
}

TEST(ChannelDataTest, DatagramPaddingIsNotData) {
  // RFC 8656 section 12.5: a UDP datagram may carry padding after Length bytes.
  for (const std::size_t trailing : {1U, 3U, 16U}) {
    SCOPED_TRACE(trailing);
    const Bytes payload = patternBytes(5);
    const Bytes message = rawChannelData(0x4002, 5, payload, trailing);
    const auto parsed = parseChannelData(message);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->channel, 0x4002);
    EXPECT_TRUE(std::ranges::equal(parsed->data, payload));
  }
}

TEST(ChannelDataTest, ChannelDataSize) {
  static_assert(channelDataSize(0, false) == 4);
  static_assert(channelDataSize(0, true) == 4);
  static_assert(channelDataSize(1, false) == 5);
  static_assert(channelDataSize(1, true) == 8);
  static_assert(channelDataSize(3, true) == 8);
  static_assert(channelDataSize(4, true) == 8);
  static_assert(channelDataSize(5, true) == 12);
  static_assert(channelDataSize(0xFFFF, false) == 0x10003);
  static_assert(channelDataSize(0xFFFF, true) == 0x10004);
  for (std::size_t payload = 0; payload < 64; ++payload) {
    EXPECT_EQ(channelDataSize(payload, false), 4 + payload);
    EXPECT_EQ(channelDataSize(payload, true) % 4, 0U);
    EXPECT_GE(channelDataSize(payload, true), 4 + payload);
    EXPECT_LT(channelDataSize(payload, true), 8 + payload);
  }
}

TEST(ChannelDataTest, BuildsDatagramAndStreamForms) {
  for (const bool stream : {false, true}) {
    for (const std::size_t length : {0U, 1U, 2U, 3U, 4U, 5U, 100U, 0xFFFFU}) {
      SCOPED_TRACE(testing::Message() << "stream " << stream << " length " << length);
      const Bytes payload = patternBytes(length);
      Bytes out(0x10004 + 16, std::byte{0xFF});  // 0xFF shows whether padding was zeroed
      const auto built = buildChannelData(out, 0x4123, payload, stream);
      ASSERT_TRUE(built);
      const std::size_t expected_size = stream ? (4 + length + 3) / 4 * 4 : 4 + length;
      ASSERT_EQ(built->size(), expected_size);
      EXPECT_EQ(built->size(), channelDataSize(length, stream));
      EXPECT_EQ(built->data(), out.data());
      EXPECT_EQ(load16(*built, 0), 0x4123);
      EXPECT_EQ(load16(*built, 2), length);
      EXPECT_TRUE(std::ranges::equal(built->subspan(4, length), payload));
      // Stream padding is zeros (RFC 8656 section 12.5); nothing past the message is touched.
      EXPECT_TRUE(std::ranges::all_of(built->subspan(4 + length),
                                      [](std::byte b) { return b == std::byte{0}; }));
      EXPECT_TRUE(std::all_of(out.begin() + static_cast<std::ptrdiff_t>(expected_size), out.end(),
                              [](std::byte b) { return b == std::byte{0xFF}; }));
      // Round trip.
      const auto parsed = parseChannelData(*built);
      ASSERT_TRUE(parsed);
      EXPECT_EQ(parsed->channel, 0x4123);
      EXPECT_TRUE(std::ranges::equal(parsed->data, payload));
    }
  }
}

TEST(ChannelDataTest, BuildFailsWhenBufferTooSmall) {
  const Bytes payload = patternBytes(5);
  struct Case {
    bool stream;
    std::size_t buffer;
  };
  // Datagram needs 9 bytes; stream needs 12 (9 is not enough for the padding).
  for (const Case c :
       {Case{false, 0}, Case{false, 3}, Case{false, 8}, Case{true, 9}, Case{true, 11}}) {
    SCOPED_TRACE(testing::Message() << "stream " << c.stream << " buffer " << c.buffer);
    std::array<std::byte, 32> storage{};
    storage.fill(std::byte{0xAB});
    const auto built =
        buildChannelData(std::span(storage).first(c.buffer), 0x4000, payload, c.stream);
    ASSERT_FALSE(built);
    EXPECT_EQ(built.error(), BuildError::kBufferTooSmall);
    EXPECT_TRUE(std::ranges::all_of(storage, [](std::byte b) { return b == std::byte{0xAB}; }));
  }
  // Exactly enough is enough.
  std::array<std::byte, 12> exact{};
  EXPECT_TRUE(buildChannelData(std::span(exact).first(9), 0x4000, payload, false));
  EXPECT_TRUE(buildChannelData(exact, 0x4000, payload, true));
}

TEST(ChannelDataTest, BuildRejectsPayloadOver65535) {
  const Bytes payload(0x10000);
  Bytes out(0x10000 + 8);
  const auto built = buildChannelData(out, 0x4000, payload, false);
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error(), BuildError::kValueTooLong);
}

TEST(ChannelDataTest, WriteChannelDataHeader) {
  std::array<std::byte, 6> out{};
  out.fill(std::byte{0xAB});
  writeChannelDataHeader(out, 0x4FFE, 0x1234);
  EXPECT_EQ(toHex(out), "4ffe1234abab");
  writeChannelDataHeader(out, 0x4000, 0);
  EXPECT_EQ(toHex(out), "40000000abab");
}

TEST(ChannelDataTest, LooksLikeChannelData) {
  // The bits 01: 0x40-0x7F (RFC 5766's channel range, which clients still use).
  EXPECT_FALSE(looksLikeChannelData({}));
  for (const std::uint8_t first : {0x40, 0x4F, 0x50, 0x7F}) {
    EXPECT_TRUE(looksLikeChannelData(octets({first}))) << int{first};
  }
  for (const std::uint8_t first : {0x00, 0x01, 0x3F, 0x80, 0xBF, 0xC0, 0xFF}) {
    EXPECT_FALSE(looksLikeChannelData(octets({first, 0x00, 0x00, 0x00}))) << int{first};
  }
  // A STUN message is never taken for ChannelData.
  const Bytes stun = test::build([](MessageBuilder&) {});
  EXPECT_FALSE(looksLikeChannelData(stun));
}

}  // namespace
}  // namespace turnpike::protocol

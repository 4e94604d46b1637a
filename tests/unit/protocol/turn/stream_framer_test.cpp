// StreamFramer: STUN and ChannelData framing over TCP/TLS (RFC 8656 section 12.5), bounded.
#include "protocol/turn/stream_framer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

#include "protocol/turn/channel_data.hpp"
#include "tests/unit/protocol/turn/test_util.hpp"

namespace turnpike::protocol {
namespace {

using test::Bytes;
using test::octets;
using test::patternBytes;
using test::toBytes;
using test::toHex;

struct Collected {
  FrameKind kind;
  Bytes bytes;
  friend bool operator==(const Collected&, const Collected&) = default;
};

void PrintTo(const Collected& frame, std::ostream* os) {
  *os << (frame.kind == FrameKind::kStun ? "STUN " : "ChannelData ") << toHex(frame.bytes);
}

Bytes channelDataFrame(std::uint16_t channel, std::size_t length, std::uint8_t seed = 1) {
  Bytes out(channelDataSize(length, /*stream=*/true));
  const auto built = buildChannelData(out, channel, patternBytes(length, seed), /*stream=*/true);
  EXPECT_TRUE(built);
  return out;
}

Bytes stunMessage(std::string_view software) {
  return test::build([&](MessageBuilder& b) {
    b.addText(attr::kSoftware, software);
    b.addFingerprint();
  });
}

// The frames a framer should produce for a stream: unpadded ChannelData, whole STUN.
struct Stream {
  Bytes bytes;
  std::vector<Collected> frames;

  void addStun(const Bytes& message) {
    bytes.insert(bytes.end(), message.begin(), message.end());
    frames.push_back({FrameKind::kStun, message});
  }
  void addChannelData(std::uint16_t channel, std::size_t length) {
    const Bytes padded = channelDataFrame(channel, length, static_cast<std::uint8_t>(length));
    bytes.insert(bytes.end(), padded.begin(), padded.end());
    frames.push_back({FrameKind::kChannelData, Bytes(padded.begin(), padded.begin() + 4 + length)});
  }
};

Stream mixedStream() {
  Stream stream;
  stream.addStun(stunMessage("turnpike test"));
  for (const std::size_t length : {0U, 1U, 2U, 3U, 4U, 5U, 100U, 1000U}) {
    stream.addChannelData(static_cast<std::uint16_t>(0x4000 + length), length);
  }
  stream.addStun(stunMessage("x"));
  stream.addChannelData(0x4FFF, 7);
  return stream;
}

// Feeds `input` through the framer, `chunk(space)` bytes per read, draining after each commit.
// Checks that writableSpace() is never empty while no error was reported.
std::expected<std::vector<Collected>, FramerError> feed(
    StreamFramer& framer, ConstBytes input, const std::function<std::size_t(std::size_t)>& chunk) {
  std::vector<Collected> frames;
  std::size_t pos = 0;
  while (pos < input.size()) {
    const MutableBytes space = framer.writableSpace();
    EXPECT_FALSE(space.empty());
    if (space.empty()) {
      break;
    }
    const std::size_t n = std::min({chunk(space.size()), space.size(), input.size() - pos});
    std::ranges::copy(input.subspan(pos, n), space.begin());
    framer.commit(n);
    pos += n;
    while (true) {
      auto frame = framer.next();
      if (!frame) {
        return std::unexpected(frame.error());
      }
      if (!*frame) {
        break;
      }
      frames.push_back({(*frame)->kind, toBytes((*frame)->bytes)});
    }
  }
  return frames;
}

TEST(StreamFramerTest, AllAtOnce) {
  const Stream stream = mixedStream();
  StreamFramer framer;
  const auto frames = feed(framer, stream.bytes, [](std::size_t space) { return space; });
  ASSERT_TRUE(frames);
  EXPECT_EQ(*frames, stream.frames);
  EXPECT_EQ(framer.buffered(), 0U);
}

TEST(StreamFramerTest, OneByteAtATime) {
  const Stream stream = mixedStream();
  StreamFramer framer;
  const auto frames = feed(framer, stream.bytes, [](std::size_t) { return 1; });
  ASSERT_TRUE(frames);
  EXPECT_EQ(*frames, stream.frames);
  EXPECT_EQ(framer.buffered(), 0U);
}

TEST(StreamFramerTest, RandomChunks) {
  const Stream stream = mixedStream();
  std::mt19937 rng(12345);
  for (int run = 0; run < 200; ++run) {
    SCOPED_TRACE(run);
    const std::size_t max_chunk = 1 + rng() % 300;
    // A small initial capacity makes the buffer grow and compact along the way.
    StreamFramer framer(StreamFramer::kMaxFrameSize, run % 2 == 0 ? 64 : 4096);
    const auto frames =
        feed(framer, stream.bytes, [&](std::size_t) { return 1 + rng() % max_chunk; });
    ASSERT_TRUE(frames);
    ASSERT_EQ(*frames, stream.frames);
  }
}

TEST(StreamFramerTest, PaddingIsConsumedButNotReturned) {
  Stream stream;
  stream.addChannelData(0x4001, 5);  // 9 bytes of frame, 3 of padding
  stream.addStun(stunMessage("after padding"));
  ASSERT_EQ(stream.bytes.size(), 12 + stream.frames[1].bytes.size());
  StreamFramer framer;
  const MutableBytes space = framer.writableSpace();
  std::ranges::copy(stream.bytes, space.begin());
  framer.commit(stream.bytes.size());
  const auto first = framer.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->kind, FrameKind::kChannelData);
  EXPECT_EQ((*first)->bytes.size(), 9U);
  EXPECT_EQ(framer.buffered(), stream.frames[1].bytes.size());  // padding is gone too
  const auto second = framer.next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->kind, FrameKind::kStun);
  EXPECT_EQ(toBytes((*second)->bytes), stream.frames[1].bytes);
  EXPECT_EQ(framer.buffered(), 0U);
}

TEST(StreamFramerTest, WaitsForPadding) {
  const Bytes frame = channelDataFrame(0x4001, 5);
  StreamFramer framer;
  std::ranges::copy(ConstBytes(frame).first(10), framer.writableSpace().begin());
  framer.commit(10);  // header, payload, one of three padding bytes
  const auto partial = framer.next();
  ASSERT_TRUE(partial);
  EXPECT_FALSE(*partial);
  std::ranges::copy(ConstBytes(frame).subspan(10), framer.writableSpace().begin());
  framer.commit(2);
  const auto whole = framer.next();
  ASSERT_TRUE(whole && *whole);
  EXPECT_EQ((*whole)->bytes.size(), 9U);
}

// Commits bytes and returns what next() says.
std::expected<std::optional<Frame>, FramerError> pushAndNext(StreamFramer& framer,
                                                             const Bytes& bytes) {
  const MutableBytes space = framer.writableSpace();
  EXPECT_GE(space.size(), bytes.size());
  std::ranges::copy(bytes, space.begin());
  framer.commit(bytes.size());
  return framer.next();
}

void expectStickyError(StreamFramer& framer, FramerError error) {
  for (int i = 0; i < 3; ++i) {
    const auto again = framer.next();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), error);
    EXPECT_TRUE(framer.writableSpace().empty());
  }
}

TEST(StreamFramerTest, GarbageIsStickyError) {
  struct Case {
    const char* name;
    Bytes bytes;
  };
  const Case cases[] = {
      {"first byte 0x80", octets({0x80, 0x01, 0x00, 0x00})},
      {"first byte 0xC0", octets({0xC0, 0x00, 0x00, 0x08})},
      {"STUN length not aligned", octets({0x00, 0x01, 0x00, 0x06})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StreamFramer framer;
    const auto result = pushAndNext(framer, c.bytes);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), FramerError::kGarbage);
    expectStickyError(framer, FramerError::kGarbage);
  }
}

TEST(StreamFramerTest, GarbageAfterValidFrame) {
  Stream stream;
  stream.addChannelData(0x4000, 4);
  Bytes bytes = stream.bytes;
  bytes.push_back(std::byte{0xC0});
  bytes.insert(bytes.end(), 3, std::byte{0});
  StreamFramer framer;
  const auto first = pushAndNext(framer, bytes);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(toBytes((*first)->bytes), stream.frames[0].bytes);
  const auto second = framer.next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), FramerError::kGarbage);
  expectStickyError(framer, FramerError::kGarbage);
}

TEST(StreamFramerTest, NeedsFourBytesToDecide) {
  StreamFramer framer;
  for (const std::uint8_t b : {0xC0, 0x00, 0x00}) {  // garbage, but only 3 bytes so far
    const auto result = pushAndNext(framer, octets({b}));
    ASSERT_TRUE(result);
    EXPECT_FALSE(*result);
  }
  const auto result = pushAndNext(framer, octets({0x00}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), FramerError::kGarbage);
}

TEST(StreamFramerTest, FrameTooLarge) {
  struct Case {
    const char* name;
    Bytes header;
    bool too_large;
  };
  // max_frame_size 256: STUN 20 + 236 fits exactly; ChannelData 4 + 252 fits; 4 + 253 pads to 260.
  const Case cases[] = {
      {"STUN at max", octets({0x00, 0x01, 0x00, 236}), false},
      {"STUN over max", octets({0x00, 0x01, 0x00, 240}), true},
      {"STUN 64k", octets({0x00, 0x01, 0xFF, 0xFC}), true},
      {"ChannelData at max", octets({0x40, 0x00, 0x00, 252}), false},
      {"ChannelData padding over max", octets({0x40, 0x00, 0x00, 253}), true},
      {"ChannelData 64k", octets({0x4F, 0xFF, 0xFF, 0xFF}), true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StreamFramer framer(256, 64);
    const auto result = pushAndNext(framer, c.header);
    if (!c.too_large) {
      ASSERT_TRUE(result);
      EXPECT_FALSE(*result);  // waiting for the rest
      EXPECT_FALSE(framer.writableSpace().empty());
      // Memory follows the bytes received, not the length the header claims.
      EXPECT_EQ(framer.capacity(), 64U);
      continue;
    }
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), FramerError::kFrameTooLarge);
    expectStickyError(framer, FramerError::kFrameTooLarge);
  }
}

// A peer that sends only a header claiming a 64 KiB frame makes the server hold no more than the
// initial buffer; the buffer grows only as the frame's bytes arrive.
TEST(StreamFramerTest, ClaimedLengthDoesNotReserveMemory) {
  StreamFramer framer;
  auto result = pushAndNext(framer, octets({0x40, 0x00, 0xFF, 0xFF}));
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result);
  EXPECT_FALSE(framer.writableSpace().empty());
  EXPECT_EQ(framer.capacity(), StreamFramer::kDefaultInitialCapacity);
}

TEST(StreamFramerTest, CapacityIsClamped) {
  EXPECT_EQ(StreamFramer().capacity(), StreamFramer::kDefaultInitialCapacity);
  EXPECT_EQ(StreamFramer(256, 64).capacity(), 64U);
  EXPECT_EQ(StreamFramer(256, 4096).capacity(), 256U);
  EXPECT_EQ(StreamFramer(256, 1).capacity(), kHeaderSize);
  EXPECT_EQ(StreamFramer(1, 1).capacity(), kHeaderSize);  // a STUN header always fits
}

TEST(StreamFramerTest, GrowsOnlyUpToMax) {
  Stream stream;
  for (const std::size_t length : {10U, 60U, 252U, 3U, 200U, 252U}) {
    stream.addChannelData(0x4000, length);
  }
  stream.addStun(test::build([](MessageBuilder& b) { b.addBytes(0x8FFF, Bytes(232)); }));
  ASSERT_EQ(stream.frames.back().bytes.size(), 256U);
  StreamFramer framer(256, 64);
  EXPECT_EQ(framer.capacity(), 64U);
  std::size_t max_seen = 0;
  const auto frames = feed(framer, stream.bytes, [&](std::size_t space) {
    max_seen = std::max(max_seen, framer.capacity());
    return space;
  });
  ASSERT_TRUE(frames);
  EXPECT_EQ(*frames, stream.frames);
  EXPECT_EQ(max_seen, 256U);
  EXPECT_EQ(framer.capacity(), 256U);
}

TEST(StreamFramerTest, LargeChannelDataAcrossManyReads) {
  Stream stream;
  stream.addChannelData(0x4321, 60000);
  stream.addChannelData(0x4321, 0xFFFF);  // the largest ChannelData, padded to 65540
  stream.addStun(stunMessage("tail"));
  StreamFramer framer;
  const auto frames = feed(framer, stream.bytes, [](std::size_t) { return 1400; });
  ASSERT_TRUE(frames);
  ASSERT_EQ(frames->size(), 3U);
  EXPECT_EQ(*frames, stream.frames);
  EXPECT_LE(framer.capacity(), StreamFramer::kMaxFrameSize);
  EXPECT_GE(framer.capacity(), channelDataSize(0xFFFF, true));
}

TEST(StreamFramerTest, BufferedAccounting) {
  const Bytes stun = stunMessage("buffered");
  const Bytes channel = channelDataFrame(0x4000, 6);  // 12 bytes with padding
  StreamFramer framer;
  EXPECT_EQ(framer.buffered(), 0U);
  ASSERT_TRUE(pushAndNext(framer, Bytes(stun.begin(), stun.begin() + 10)));
  EXPECT_EQ(framer.buffered(), 10U);
  Bytes rest(stun.begin() + 10, stun.end());
  rest.insert(rest.end(), channel.begin(), channel.begin() + 5);
  const auto first = pushAndNext(framer, rest);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->bytes.size(), stun.size());
  EXPECT_EQ(framer.buffered(), 5U);
  const auto none = framer.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  EXPECT_EQ(framer.buffered(), 5U);
  const auto second = pushAndNext(framer, Bytes(channel.begin() + 5, channel.end()));
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(framer.buffered(), 0U);
}

TEST(StreamFramerTest, FrameViewsStayValidUntilWritableSpace) {
  const Stream stream = mixedStream();
  StreamFramer framer;
  const MutableBytes space = framer.writableSpace();
  ASSERT_GE(space.size(), stream.bytes.size());
  std::ranges::copy(stream.bytes, space.begin());
  framer.commit(stream.bytes.size());
  // Collect every view first, then compare: none may be disturbed by later next() calls.
  std::vector<Frame> views;
  while (true) {
    auto frame = framer.next();
    ASSERT_TRUE(frame);
    if (!*frame) {
      break;
    }
    views.push_back(**frame);
  }
  ASSERT_EQ(views.size(), stream.frames.size());
  for (std::size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].kind, stream.frames[i].kind);
    EXPECT_TRUE(std::ranges::equal(views[i].bytes, stream.frames[i].bytes)) << i;
    EXPECT_GE(views[i].bytes.data(), space.data());  // zero-copy: views into the read buffer
    EXPECT_LE(views[i].bytes.data() + views[i].bytes.size(), space.data() + space.size());
  }
}

TEST(StreamFramerTest, MemoryStaysBoundedOverManyFrames) {
  // 1000 frames of 100 bytes each: ChannelData with 96-byte payloads and 100-byte STUN messages.
  Stream stream;
  const Bytes stun100 = test::build([](MessageBuilder& b) { b.addBytes(0x8FFF, Bytes(76)); });
  ASSERT_EQ(stun100.size(), 100U);
  for (int i = 0; i < 1000; ++i) {
    if (i % 10 == 0) {
      stream.addStun(stun100);
    } else {
      stream.addChannelData(static_cast<std::uint16_t>(0x4000 + i), 96);
    }
  }
  ASSERT_EQ(stream.bytes.size(), 100000U);
  std::mt19937 rng(777);
  const std::function<std::size_t(std::size_t)> chunkers[] = {
      [](std::size_t space) { return space; },  // read as much as fits, as libuv does
      [](std::size_t) { return 1; },
      [&](std::size_t) { return 1 + rng() % 700; },
  };
  for (const auto& chunk : chunkers) {
    StreamFramer framer;
    const std::size_t initial = framer.capacity();
    const auto frames = feed(framer, stream.bytes, chunk);
    ASSERT_TRUE(frames);
    EXPECT_EQ(frames->size(), 1000U);
    EXPECT_EQ(*frames, stream.frames);
    EXPECT_EQ(framer.capacity(), initial);
  }
}

}  // namespace
}  // namespace turnpike::protocol

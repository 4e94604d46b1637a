// classifyStreamStart: TLS, STUN, ChannelData or neither, from a stream's first bytes.
#include "protocol/turn/transport_detect.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace turnpike::protocol {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (const int value : values) {
    out.push_back(static_cast<std::byte>(value));
  }
  return out;
}

struct Case {
  const char* name;
  std::vector<std::byte> data;
  StreamStart expected;
};

TEST(TransportDetectTest, FirstBytes) {
  const std::vector<Case> cases{
      {"empty", {}, StreamStart::kNeedMore},
      {"TLS handshake record", bytes({0x16, 0x03, 0x01, 0x02, 0x00}), StreamStart::kTls},
      {"TLS, one byte so far", bytes({0x16}), StreamStart::kNeedMore},
      // 0x16 0x00: not TLS; its top bits are 00, so it must be STUN with the cookie.
      {"0x16 then no version", bytes({0x16, 0x00, 0, 0, 0x21, 0x12, 0xA4, 0x42}),
       StreamStart::kStun},
      {"0x16 0x01 without cookie", bytes({0x16, 0x01, 0, 0, 0, 0, 0, 0}), StreamStart::kUnknown},
      {"STUN Binding", bytes({0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42}), StreamStart::kStun},
      {"STUN, seven bytes", bytes({0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4}),
       StreamStart::kNeedMore},
      {"RFC 3489 STUN (no cookie)", bytes({0x00, 0x01, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78}),
       StreamStart::kUnknown},
      {"ChannelData", bytes({0x40}), StreamStart::kChannelData},
      {"ChannelData 0x7FFF", bytes({0x7F, 0xFF, 0x00, 0x04}), StreamStart::kChannelData},
      // ASCII letters have 0b01 in the top bits: HTTP passes for ChannelData here, and the
      // framer takes over (channel 0x4745 with 21,536 bytes to come).
      {"HTTP", bytes({'G', 'E', 'T', ' '}), StreamStart::kChannelData},
      {"DEL", bytes({0x7F}), StreamStart::kChannelData},
      {"binary", bytes({0xFF, 0xFE}), StreamStart::kUnknown},
      {"top bits 10", bytes({0x80}), StreamStart::kUnknown},
      {"top bits 11", bytes({0xC0}), StreamStart::kUnknown},
      {"SSLv2-style hello", bytes({0x80, 0x2E, 0x01}), StreamStart::kUnknown},
      {"TLS alert record", bytes({0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28, 0x00}),
       StreamStart::kUnknown},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(classifyStreamStart(c.data), c.expected) << c.name;
  }
}

}  // namespace
}  // namespace turnpike::protocol

// ChannelData messages (RFC 8656 section 12.4):
//   0                   1                   2                   3
//  |         Channel Number        |            Length             |
//  /                       Application Data                        /
// Over UDP the datagram may hold padding after Length bytes; over TCP/TLS the message is always
// padded to a multiple of 4 (section 12.5).
#pragma once

#include <cstdint>
#include <expected>

#include "protocol/stun/builder.hpp"
#include "protocol/stun/byte_io.hpp"

namespace turnpike::protocol {

inline constexpr std::size_t kChannelDataHeaderSize = 4;
inline constexpr std::uint16_t kMinChannelNumber = 0x4000;
// RFC 8656 section 12 narrows channels to 0x4000-0x4FFF, but RFC 5766 allowed up to 0x7FFF and
// clients still pick from that range (libwebrtc, coturn's clients): accepting it is what keeps
// browsers working. 0x8000 and up can never be ChannelData (the first bits must be 01).
inline constexpr std::uint16_t kMaxChannelNumber = 0x7FFF;

[[nodiscard]] constexpr bool isValidChannelNumber(std::uint16_t channel) {
  return channel >= kMinChannelNumber && channel <= kMaxChannelNumber;
}

// ChannelData starts with the bits 01 (RFC 8656 section 12; RFC 7983 gives TURN channels the
// first bytes 64-79, RFC 5766 clients use up to 127).
[[nodiscard]] inline bool looksLikeChannelData(ConstBytes data) {
  return !data.empty() && (load8(data, 0) & 0xC0U) == 0x40U;
}

enum class ChannelDataError : std::uint8_t { kTooShort, kBadChannel, kTruncated };

[[nodiscard]] std::string_view toString(ChannelDataError error);

struct ChannelData {
  std::uint16_t channel = 0;
  ConstBytes data;  // exactly Length bytes, a view into the input
};

// Parses a ChannelData message from a datagram (trailing padding allowed) or a stream frame.
[[nodiscard]] std::expected<ChannelData, ChannelDataError> parseChannelData(ConstBytes message);

// Size on the wire of a ChannelData message with this payload; padded when sent on a stream.
[[nodiscard]] constexpr std::size_t channelDataSize(std::size_t payload, bool stream) {
  const std::size_t size = kChannelDataHeaderSize + payload;
  return stream ? (size + 3U) & ~std::size_t{3} : size;
}

// Writes the 4-byte header, so a payload can follow without a copy (e.g. in an iovec).
void writeChannelDataHeader(MutableBytes out, std::uint16_t channel, std::uint16_t length);

// Writes a whole ChannelData message (header, payload, stream padding) into out.
[[nodiscard]] std::expected<ConstBytes, BuildError> buildChannelData(MutableBytes out,
                                                                     std::uint16_t channel,
                                                                     ConstBytes payload,
                                                                     bool stream);

}  // namespace turnpike::protocol

#include "protocol/turn/channel_data.hpp"

#include <algorithm>

namespace turnpike::protocol {

std::string_view toString(ChannelDataError error) {
  switch (error) {
    case ChannelDataError::kTooShort:
      return "ChannelData too short";
    case ChannelDataError::kBadChannel:
      return "ChannelData channel number out of range";
    case ChannelDataError::kTruncated:
      return "ChannelData shorter than its length";
  }
  return "unknown";
}

std::expected<ChannelData, ChannelDataError> parseChannelData(ConstBytes message) {
  if (message.size() < kChannelDataHeaderSize) {
    return std::unexpected(ChannelDataError::kTooShort);
  }
  const std::uint16_t channel = load16(message, 0);
  if (!isValidChannelNumber(channel)) {
    return std::unexpected(ChannelDataError::kBadChannel);
  }
  const std::size_t length = load16(message, 2);
  // RFC 8656 section 12.4: a datagram too short for the claimed length is discarded.
  if (kChannelDataHeaderSize + length > message.size()) {
    return std::unexpected(ChannelDataError::kTruncated);
  }
  return ChannelData{channel, message.subspan(kChannelDataHeaderSize, length)};
}

void writeChannelDataHeader(MutableBytes out, std::uint16_t channel, std::uint16_t length) {
  store16(out, 0, channel);
  store16(out, 2, length);
}

std::expected<ConstBytes, BuildError> buildChannelData(MutableBytes out, std::uint16_t channel,
                                                       ConstBytes payload, bool stream) {
  if (payload.size() > 0xFFFF) {
    return std::unexpected(BuildError::kValueTooLong);
  }
  const std::size_t size = channelDataSize(payload.size(), stream);
  if (size > out.size()) {
    return std::unexpected(BuildError::kBufferTooSmall);
  }
  writeChannelDataHeader(out, channel, static_cast<std::uint16_t>(payload.size()));
  auto tail = std::ranges::copy(payload, out.begin() + kChannelDataHeaderSize).out;
  std::fill(tail, out.begin() + static_cast<std::ptrdiff_t>(size), std::byte{0});
  return ConstBytes(out.first(size));
}

}  // namespace turnpike::protocol

#include "protocol/turn/stream_framer.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/stun/types.hpp"
#include "protocol/turn/channel_data.hpp"

namespace turnpike::protocol {

std::string_view toString(FramerError error) {
  switch (error) {
    case FramerError::kGarbage:
      return "neither STUN nor ChannelData";
    case FramerError::kFrameTooLarge:
      return "frame larger than the limit";
  }
  return "unknown";
}

StreamFramer::StreamFramer(std::size_t max_frame_size, std::size_t initial_capacity)
    : max_frame_size_(std::max<std::size_t>(max_frame_size, kHeaderSize)),
      capacity_(std::clamp<std::size_t>(initial_capacity, kHeaderSize, max_frame_size_)),
      buffer_(std::make_unique<std::byte[]>(capacity_)) {}  // NOLINT

MutableBytes StreamFramer::writableSpace() {
  if (error_) {
    return {};
  }
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);  // NOLINT
    end_ -= begin_;
    begin_ = 0;
  }
  // Grow only when full, by doubling: memory follows the bytes a peer has actually sent, not the
  // length its header claims (a 4-byte header cannot make the server reserve 64 KiB).
  // A full buffer below the limit holds an incomplete frame that fits (next() checked it).
  if (end_ == capacity_) {
    const std::size_t new_capacity = std::min(max_frame_size_, capacity_ * 2);
    auto bigger = std::make_unique<std::byte[]>(new_capacity);  // NOLINT
    std::memcpy(bigger.get(), buffer_.get(), end_);
    buffer_ = std::move(bigger);
    capacity_ = new_capacity;
  }
  return {buffer_.get() + end_, capacity_ - end_};  // NOLINT
}

void StreamFramer::commit(std::size_t n) { end_ = std::min(end_ + n, capacity_); }

std::expected<std::optional<Frame>, FramerError> StreamFramer::next() {
  if (error_) {
    return std::unexpected(*error_);
  }
  const ConstBytes available{buffer_.get() + begin_, end_ - begin_};  // NOLINT
  if (available.size() < 4) {
    return std::nullopt;
  }
  const std::uint8_t first = load8(available, 0);
  const std::size_t length = load16(available, 2);
  std::size_t frame_size = 0;   // bytes consumed, with stream padding
  std::size_t frame_bytes = 0;  // bytes handed out
  FrameKind kind = FrameKind::kStun;
  if ((first & 0xC0U) == 0x00U) {
    // STUN: 20-byte header plus a length that is a multiple of 4 (RFC 8489 section 5).
    if (length % 4 != 0) {
      error_ = FramerError::kGarbage;
    }
    frame_size = frame_bytes = kHeaderSize + length;
  } else if ((first & 0xC0U) == 0x40U && isValidChannelNumber(load16(available, 0))) {
    kind = FrameKind::kChannelData;
    frame_bytes = kChannelDataHeaderSize + length;
    frame_size = channelDataSize(length, /*stream=*/true);
  } else {
    error_ = FramerError::kGarbage;
  }
  if (!error_ && frame_size > max_frame_size_) {
    error_ = FramerError::kFrameTooLarge;
  }
  if (error_) {
    return std::unexpected(*error_);
  }
  if (available.size() < frame_size) {
    return std::nullopt;
  }
  begin_ += frame_size;
  return Frame{kind, available.first(frame_bytes)};
}

}  // namespace turnpike::protocol

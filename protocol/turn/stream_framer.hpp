// Splits a TCP/TLS byte stream into STUN messages and ChannelData frames (RFC 8656 section 12.5,
// RFC 6062). Bounded: a frame larger than the limit, or bytes that are neither STUN (first bits
// 00) nor ChannelData (01), are an error, after which the connection should be closed.
//
// Zero-copy use with a reader such as libuv:
//   MutableBytes space = framer.writableSpace();   // read into this
//   framer.commit(bytes_read);
//   while (auto frame = framer.next(); frame && *frame) { handle(**frame); }
// A Frame's bytes stay valid until the next writableSpace() call.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::protocol {

enum class FrameKind : std::uint8_t { kStun, kChannelData };

struct Frame {
  FrameKind kind = FrameKind::kStun;
  // The whole STUN message, or the ChannelData header and payload without stream padding.
  ConstBytes bytes;
};

enum class FramerError : std::uint8_t { kGarbage, kFrameTooLarge };

[[nodiscard]] std::string_view toString(FramerError error);

class StreamFramer {
 public:
  // The largest frame the stream format allows: a STUN message with a 65532-byte body.
  static constexpr std::size_t kMaxFrameSize = 20 + 0xFFFC;
  static constexpr std::size_t kDefaultInitialCapacity = 4096;

  explicit StreamFramer(std::size_t max_frame_size = kMaxFrameSize,
                        std::size_t initial_capacity = kDefaultInitialCapacity);

  // Free space to read into; never empty unless the framer already reported an error.
  [[nodiscard]] MutableBytes writableSpace();
  // Records that n bytes were written into the last writableSpace().
  void commit(std::size_t n);
  // The next complete frame, nullopt if more bytes are needed, or an error (sticky).
  [[nodiscard]] std::expected<std::optional<Frame>, FramerError> next();

  [[nodiscard]] std::size_t buffered() const { return end_ - begin_; }
  // The bytes received after the last frame handed out (valid until the next writableSpace()).
  [[nodiscard]] ConstBytes pending() const {
    return {buffer_.get() + begin_, end_ - begin_};  // NOLINT
  }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  std::size_t max_frame_size_;
  std::size_t capacity_;
  std::unique_ptr<std::byte[]> buffer_;  // NOLINT(cppcoreguidelines-avoid-c-arrays)
  std::size_t begin_ = 0;                // first unconsumed byte
  std::size_t end_ = 0;                  // one past the last received byte
  std::optional<FramerError> error_;
};

}  // namespace turnpike::protocol

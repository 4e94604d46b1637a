// Which protocol a client speaks on a shared TCP port (listener transport "auto"), from the
// first bytes of the stream. No I/O: the caller reads and waits.
//
//   TLS record (RFC 8446 section 5.1):   0x16 (handshake) 0x03 (legacy version major)
//   STUN (RFC 8489 section 5):           0b00 in the top bits, magic cookie 0x2112A442 at offset 4
//   ChannelData (RFC 8656 section 12.4): 0b01 in the top bits
#pragma once

#include <cstdint>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::protocol {

enum class StreamStart : std::uint8_t {
  kNeedMore,     // too few bytes to tell yet
  kTls,          // a TLS record: TURNS
  kStun,         // a STUN message: TURN over TCP
  kChannelData,  // ChannelData: TURN over TCP
  kUnknown,      // none of these: close the connection
};

// The most bytes classifyStreamStart() ever needs.
inline constexpr std::size_t kStreamStartBytes = 8;

[[nodiscard]] StreamStart classifyStreamStart(ConstBytes first_bytes);

}  // namespace turnpike::protocol

#include "protocol/turn/transport_detect.hpp"

#include "protocol/stun/types.hpp"

namespace turnpike::protocol {

StreamStart classifyStreamStart(ConstBytes first_bytes) {
  if (first_bytes.empty()) {
    return StreamStart::kNeedMore;
  }
  const std::uint8_t first = load8(first_bytes, 0);
  if (first == 0x16) {  // also 0b00 in the top bits: a TLS record unless byte 1 says otherwise
    if (first_bytes.size() < 2) {
      return StreamStart::kNeedMore;
    }
    if (load8(first_bytes, 1) == 0x03) {
      return StreamStart::kTls;
    }
  }
  switch (first >> 6U) {
    case 0b01:
      return StreamStart::kChannelData;
    case 0b00:
      if (first_bytes.size() < kStreamStartBytes) {
        return StreamStart::kNeedMore;
      }
      return load32(first_bytes, 4) == kMagicCookie ? StreamStart::kStun : StreamStart::kUnknown;
    default:
      return StreamStart::kUnknown;
  }
}

}  // namespace turnpike::protocol

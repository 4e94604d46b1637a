// libFuzzer target: the TCP/TLS stream framer and the ChannelData parser. The first input byte
// picks the read sizes, so one input explores many ways of splitting the same stream.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "protocol/stun/message.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/stream_framer.hpp"

namespace {

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t chunk =
      1 + data[0] % 64;  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  const ConstBytes stream(reinterpret_cast<const std::byte*>(data + 1), size - 1);  // NOLINT
  (void)parseChannelData(stream);  // the same bytes as one UDP datagram
  // A small limit makes the oversize path reachable; a small start makes growth reachable.
  StreamFramer framer(/*max_frame_size=*/2048, /*initial_capacity=*/64);
  std::size_t fed = 0;
  std::size_t framed = 0;
  while (fed < stream.size()) {
    const MutableBytes space = framer.writableSpace();
    if (space.empty()) {
      return 0;  // the framer failed earlier: the connection would be closed
    }
    const std::size_t n = std::min({chunk, space.size(), stream.size() - fed});
    std::copy_n(stream.begin() + static_cast<std::ptrdiff_t>(fed), n, space.begin());
    framer.commit(n);
    fed += n;
    while (true) {
      auto frame = framer.next();
      if (!frame) {
        return 0;
      }
      if (!*frame) {
        break;
      }
      const Frame& f = **frame;
      check(f.bytes.size() <= 2048);
      framed += f.bytes.size();
      if (f.kind == FrameKind::kChannelData) {
        auto channel_data = parseChannelData(f.bytes);
        check(channel_data.has_value());
        check(channel_data->data.size() + kChannelDataHeaderSize == f.bytes.size());
      } else {
        (void)Message::parse(f.bytes);
      }
    }
  }
  check(framed + framer.buffered() <= fed);
  return 0;
}

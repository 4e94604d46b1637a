// libFuzzer target: the TCP/TLS stream framer and the ChannelData parser. The first input byte
// picks the read sizes, so one input explores many ways of splitting the same stream.
#include <algorithm>
#include <cstdint>

#include "protocol/stun/message.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/stream_framer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
using turnpike::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = turnpike::fuzz::streamInput(data, size, 64);
  if (!input) {
    return 0;
  }
  const std::size_t chunk = input->read_size;
  const ConstBytes stream = input->stream;
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

// libFuzzer target: the PROXY protocol v2 header parser, fed the way a connection reads it (the
// first input byte picks the read size), with the invariants the connection relies on.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

#include "protocol/proxy/proxy_header.hpp"

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
      1 + data[0] % 32;  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  const ConstBytes stream(reinterpret_cast<const std::byte*>(data + 1), size - 1);  // NOLINT
  // A small limit makes kTooLong reachable from short inputs too.
  const std::size_t limit = data[0] >= 0x80 ? 64 : kProxyHeaderMaxSize;
  std::size_t have = 0;
  while (true) {
    have = std::min(stream.size(), have + chunk);
    const auto parsed = parseProxyHeader(stream.first(have), limit);
    if (!parsed) {
      // Final: more bytes never turn a rejection into a header.
      check(!parseProxyHeader(stream, limit).has_value());
      return 0;
    }
    if (parsed->has_value()) {
      const ProxyHeader& header = **parsed;
      check(header.size >= kProxyHeaderFixedSize && header.size <= have && header.size <= limit);
      check(header.source.has_value() == header.destination.has_value());
      check(!(header.local && header.source.has_value()));
      // The same header from exactly its own bytes.
      const auto again = parseProxyHeader(stream.first(header.size), limit);
      check(again.has_value() && again->has_value() && (*again)->size == header.size);
      if (header.source) {
        std::array<std::byte, 64> buffer{};
        const auto written = writeProxyHeader(buffer, header.source, header.destination);
        check(written.has_value());
        const auto rebuilt = parseProxyHeader(std::span(buffer).first(*written));
        check(rebuilt.has_value() && rebuilt->has_value() && (*rebuilt)->source == header.source &&
              (*rebuilt)->destination == header.destination);
      }
      return 0;
    }
    if (have == stream.size()) {
      return 0;  // a valid beginning: the connection would wait for more
    }
  }
}

// libFuzzer target: the TLS ClientHello parser, fed the way a connection reads it (the first input
// byte picks the read size and the bound), with the invariants the connection relies on.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "protocol/tls/client_hello.hpp"

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
  // A small bound makes kTooLong reachable from short inputs too.
  const std::size_t limit = data[0] >= 0x80 ? 300 : kClientHelloMaxSize;
  std::size_t have = 0;
  while (true) {
    have = std::min(stream.size(), have + chunk);
    const auto parsed = parseClientHello(stream.first(have), limit);
    if (!parsed) {
      // Final: more bytes never turn a rejection into a hello.
      check(!parseClientHello(stream, limit).has_value());
      return 0;
    }
    if (parsed->has_value()) {
      const ClientHello& hello = **parsed;
      check(hello.size > 5 && hello.size <= have && hello.size <= limit);
      check(hello.server_name.size() <= 255);
      check(hello.alpn_offered || hello.alpn.empty());
      for (const auto& name : hello.alpn) {
        check(!name.empty() && name.size() <= 255);
      }
      // The same hello from exactly its own bytes.
      const auto again = parseClientHello(stream.first(hello.size), limit);
      check(again.has_value() && again->has_value() && (*again)->size == hello.size &&
            (*again)->server_name == hello.server_name && (*again)->alpn == hello.alpn);
      return 0;
    }
    if (have == stream.size()) {
      return 0;  // a valid beginning: the connection would wait for more
    }
  }
}

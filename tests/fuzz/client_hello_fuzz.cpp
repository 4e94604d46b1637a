// libFuzzer target: the TLS ClientHello parser, fed the way a connection reads it (the first input
// byte picks the read size and the bound), with the invariants the connection relies on.
#include <cstdint>

#include "protocol/tls/client_hello.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
using turnpike::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = turnpike::fuzz::streamInput(data, size, 64);
  if (!input) {
    return 0;
  }
  // A small bound makes kTooLong reachable from short inputs too.
  const std::size_t limit = input->small_bound ? 300 : kClientHelloMaxSize;
  const auto parse = [limit](ConstBytes bytes) { return parseClientHello(bytes, limit); };
  const auto decided = turnpike::fuzz::firstValue(input->stream, input->read_size, parse);
  if (!decided) {
    return 0;
  }
  const ClientHello& hello = decided->value;
  check(hello.size > 5 && hello.size <= decided->have && hello.size <= limit);
  check(hello.server_name.size() <= 255);
  check(hello.alpn_offered || hello.alpn.empty());
  for (const auto& name : hello.alpn) {
    check(!name.empty() && name.size() <= 255);
  }
  // The same hello from exactly its own bytes.
  const auto again = parse(input->stream.first(hello.size));
  check(again.has_value() && again->has_value() && (*again)->size == hello.size &&
        (*again)->server_name == hello.server_name && (*again)->alpn == hello.alpn);
  return 0;
}

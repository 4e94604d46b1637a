// libFuzzer target: the PROXY protocol header parser (v1 and v2), fed the way a connection reads it
// (the first input byte picks the read size), with the invariants the connection relies on.
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "protocol/proxy/proxy_header.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
using turnpike::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = turnpike::fuzz::streamInput(data, size, 32);
  if (!input) {
    return 0;
  }
  // A small limit makes kTooLong reachable from short inputs too.
  const std::size_t limit = input->small_bound ? 64 : kProxyHeaderMaxSize;
  const auto parse = [limit](ConstBytes bytes) { return parseProxyHeader(bytes, limit); };
  const auto decided = turnpike::fuzz::firstValue(input->stream, input->read_size, parse);
  if (!decided) {
    return 0;
  }
  const ProxyHeader& header = decided->value;
  constexpr std::size_t kShortestV1 = 15;  // "PROXY UNKNOWN\r\n"
  check(header.version == 1 ? header.size >= kShortestV1 && header.size <= kProxyHeaderV1MaxSize
                            : header.version == 2 && header.size >= kProxyHeaderFixedSize);
  check(header.size <= decided->have && header.size <= limit);
  check(header.source.has_value() == header.destination.has_value());
  check(!(header.local && header.source.has_value()));
  // The same header from exactly its own bytes.
  const auto again = parse(input->stream.first(header.size));
  check(again.has_value() && again->has_value() && (*again)->size == header.size);
  if (header.source) {
    std::array<std::byte, 64> buffer{};
    const auto written = writeProxyHeader(buffer, header.source, header.destination);
    check(written.has_value());
    const auto rebuilt = parseProxyHeader(std::span(buffer).first(*written));
    check(rebuilt.has_value() && rebuilt->has_value() && (*rebuilt)->source == header.source &&
          (*rebuilt)->destination == header.destination);
    const std::string line = writeProxyHeaderV1(header.source, header.destination);
    const auto from_line = parseProxyHeader(std::as_bytes(std::span(line)));
    check(from_line.has_value() && from_line->has_value() &&
          (*from_line)->source == header.source &&
          (*from_line)->destination == header.destination && (*from_line)->size == line.size());
  }
  return 0;
}

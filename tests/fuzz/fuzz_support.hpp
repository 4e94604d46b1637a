// Shared by the libFuzzer targets: the check that aborts (so libFuzzer reports the input), and
// the way the stream targets read their input as a connection reads its bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::fuzz {

inline void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

// A connection's byte stream: the first input byte picks the read size (1..max_read)
// and, with its top bit, a small bound for the target to use; the rest is the stream.
struct StreamInput {
  std::size_t read_size = 1;
  bool small_bound = false;
  protocol::ConstBytes stream;
};

inline std::optional<StreamInput> streamInput(const std::uint8_t* data, std::size_t size,
                                              std::size_t max_read) {
  if (size == 0) {
    return std::nullopt;
  }
  return StreamInput{
      1 + data[0] % max_read, data[0] >= 0x80,
      protocol::ConstBytes(reinterpret_cast<const std::byte*>(data + 1), size - 1)};  // NOLINT
}

// What a parser of the start of a stream decided, and after how many bytes.
template <typename T>
struct Decided {
  T value;
  std::size_t have;  // the prefix that was parsed
};

// The T of a parser returning std::expected<std::optional<T>, Error>.
template <typename Parse>
using ParsedValue =
    typename std::invoke_result_t<Parse, protocol::ConstBytes>::value_type::value_type;

// Feeds `parse` (a parser of the start of a stream: a value, nullopt for "need more", or a final
// error) growing prefixes of `stream`, as a connection re-parses its buffer after each read, and
// checks that a rejection is final: more bytes never turn it into a value. The first reads are
// `read_size` bytes; later ones a quarter of what is buffered, so a stream of n bytes costs
// O(n) parsing rather than O(n^2 / read_size). Returns the first value, or nullopt when the
// stream was rejected or ended while still a valid beginning.
template <typename Parse>
std::optional<Decided<ParsedValue<Parse>>> firstValue(protocol::ConstBytes stream,
                                                      std::size_t read_size, Parse parse) {
  std::size_t have = 0;
  while (true) {
    have = std::min(stream.size(), have + std::max(read_size, have / 4));
    auto parsed = parse(stream.first(have));
    if (!parsed) {
      check(!parse(stream).has_value());
      return std::nullopt;
    }
    if (parsed->has_value()) {
      return Decided<ParsedValue<Parse>>{std::move(**parsed), have};
    }
    if (have == stream.size()) {
      return std::nullopt;  // a valid beginning: the connection would wait for more
    }
  }
}

}  // namespace turnpike::fuzz

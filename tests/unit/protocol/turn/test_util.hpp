// Helpers for the TURN codec tests, on top of the STUN ones
// (tests/unit/protocol/stun/test_util.hpp: Bytes, toHex, build, kTestTransactionId): byte lists,
// payload patterns, readable enum output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>

#include "protocol/stun/builder.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/stream_framer.hpp"
#include "tests/unit/protocol/stun/test_util.hpp"

namespace turnpike::protocol {
// GoogleTest printers (found by ADL), so failures name the enumerator instead of a byte dump.
inline void PrintTo(BuildError value, std::ostream* os) { *os << toString(value); }
inline void PrintTo(ChannelDataError value, std::ostream* os) { *os << toString(value); }
inline void PrintTo(FramerError value, std::ostream* os) { *os << toString(value); }
}  // namespace turnpike::protocol

namespace turnpike::test {

inline Bytes toBytes(protocol::ConstBytes view) { return {view.begin(), view.end()}; }

// {0x40, 0x00, 0x00, 0x04} -> bytes.
inline Bytes octets(std::initializer_list<std::uint8_t> values) {
  Bytes out;
  out.reserve(values.size());
  for (const std::uint8_t v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

// n bytes of a recognisable pattern with no zero byte, so zero padding stands out.
inline Bytes patternBytes(std::size_t n, std::uint8_t seed = 1) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::byte>(static_cast<std::uint8_t>(seed + i * 7U) | 0x01U);
  }
  return out;
}

}  // namespace turnpike::test

// What turn_load --bare and bare_forwarder agree on. The setup exchange: "TPBARE" 0x01 0x00, then
// a 16-bit port (the peer port in the request, the relay port in the answer). The channel number
// turn_load binds over TURN is the one bare_forwarder writes on its ChannelData.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace turnpike::bench {

inline constexpr std::array<std::uint8_t, 8> kBareMagic{'T', 'P', 'B', 'A', 'R', 'E', 1, 0};
inline constexpr std::size_t kBareSetupSize = kBareMagic.size() + 2;
inline constexpr std::uint16_t kChannel = 0x4000;

}  // namespace turnpike::bench

#include "protocol/turn/allocation.hpp"

#include <algorithm>

namespace turnpike::protocol {

const RelayLeg* Allocation::legFor(AddressFamily family) const {
  const auto it = std::ranges::find_if(
      legs, [family](const RelayLeg& leg) { return leg.relayed.address.family() == family; });
  return it == legs.end() ? nullptr : &*it;
}

bool Allocation::hasPermission(const IpAddress& peer, MonotonicTime now) const {
  return std::ranges::any_of(permissions, [&](const Permission& permission) {
    return permission.peer == peer && permission.expires > now;
  });
}

const ChannelBinding* Allocation::channelByNumber(std::uint16_t number, MonotonicTime now) const {
  const auto it = std::ranges::find_if(channels, [&](const ChannelBinding& channel) {
    return channel.number == number && channel.expires > now;
  });
  return it == channels.end() ? nullptr : &*it;
}

const ChannelBinding* Allocation::channelByPeer(const Endpoint& peer, MonotonicTime now) const {
  const auto it = std::ranges::find_if(channels, [&](const ChannelBinding& channel) {
    return channel.peer == peer && channel.expires > now;
  });
  return it == channels.end() ? nullptr : &*it;
}

MonotonicTime Allocation::nextDeadline() const {
  MonotonicTime deadline = expires;
  for (const Permission& permission : permissions) {
    deadline = std::min(deadline, permission.expires);
  }
  for (const ChannelBinding& channel : channels) {
    // The binding stops relaying at `expires` and is forgotten after the cooldown.
    deadline =
        std::min(deadline, channel.active ? channel.expires : channel.expires + kChannelCooldown);
  }
  for (const CachedResponse& response : responses) {
    deadline = std::min(deadline, response.expires);
  }
  for (const TcpPeerConnection& connection : tcp_connections) {
    if (connection.state == TcpPeerConnection::State::kWaitingBind) {
      deadline = std::min(deadline, connection.bind_deadline);
    }
  }
  return deadline;
}

ExpiryCounts Allocation::expire(MonotonicTime now) {
  ExpiryCounts counts;
  counts.permissions =
      std::erase_if(permissions, [now](const Permission& p) { return p.expires <= now; });
  for (ChannelBinding& channel : channels) {
    if (channel.active && channel.expires <= now) {
      channel.active = false;
      ++counts.channels;
    }
  }
  // A binding whose route is still announced stays until the core has taken the route down.
  std::erase_if(channels, [now](const ChannelBinding& c) {
    return !c.routed && c.expires + kChannelCooldown <= now;
  });
  std::erase_if(responses, [now](const CachedResponse& r) { return r.expires <= now; });
  return counts;
}

}  // namespace turnpike::protocol

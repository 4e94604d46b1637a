// Refresh, CreatePermission and ChannelBind (RFC 8656 sections 8.2, 10.2, 12.2).
#include <algorithm>

#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/core.hpp"

namespace turnpike::protocol {

bool Core::peerAllowed(const Endpoint& peer) {
  if (deps_.policy->isAllowed(peer)) {
    return true;
  }
  stats_.peer_denied.add();
  return false;
}

bool Core::refreshFitsAllocation(const Message& message, const Allocation& allocation) {
  // RFC 8656 section 8.2: REQUESTED-ADDRESS-FAMILY must name a family the allocation has.
  if (const RawAttribute* family = message.find(attr::kRequestedAddressFamily)) {
    auto decoded = decodeAddressFamily(message.value(*family));
    return decoded && allocation.legFor(*decoded) != nullptr;
  }
  return true;
}

std::expected<Seconds, TurnError> Core::refresh(Request& request, Allocation& allocation) {
  const Message& message = request.message;
  if (!refreshFitsAllocation(message, allocation)) {
    return std::unexpected(TurnError{error::kPeerAddressFamilyMismatch});
  }
  const Seconds lifetime = grantedLifetime(message);
  if (lifetime.count() > 0) {
    allocation.expires = request.now + lifetime;
  }
  return lifetime;
}

bool Core::installPermission(Allocation& allocation, const IpAddress& peer, MonotonicTime now) {
  auto it = std::ranges::find(allocation.permissions, peer, &Permission::peer);
  if (it != allocation.permissions.end()) {
    it->expires = now + kPermissionLifetime;
    return true;
  }
  if (allocation.permissions.size() >= config_.max_permissions) {
    return false;
  }
  allocation.permissions.push_back(Permission{peer, now + kPermissionLifetime});
  stats_.permissions_active.add();
  return true;
}

namespace {

bool hasPermissionEntry(const Allocation& allocation, const IpAddress& peer) {
  return std::ranges::find(allocation.permissions, peer, &Permission::peer) !=
         allocation.permissions.end();
}

}  // namespace

std::expected<void, TurnError> Core::createPermission(Request& request, Allocation& allocation) {
  const Message& message = request.message;
  // RFC 8656 section 10.2: every XOR-PEER-ADDRESS is checked before any is installed. The port
  // is ignored: a permission is for an IP address.
  std::array<IpAddress, Message::kMaxAttributes> peers{};
  std::size_t count = 0;
  std::size_t new_peers = 0;
  for (const RawAttribute& attribute : message.attributes()) {
    if (attribute.type != attr::kXorPeerAddress) {
      continue;
    }
    auto peer = decodeXorAddress(message.value(attribute), message.transactionId());
    if (!peer) {
      return std::unexpected(TurnError{error::kBadRequest});
    }
    if (allocation.legFor(peer->address.family()) == nullptr) {
      return std::unexpected(TurnError{error::kPeerAddressFamilyMismatch});
    }
    if (!deps_.policy->isAddressAllowed(peer->address)) {
      stats_.peer_denied.add();
      return std::unexpected(TurnError{error::kForbidden});
    }
    const bool repeated = std::ranges::find(std::span(peers).first(count), peer->address) !=
                          std::span(peers).first(count).end();
    if (!repeated && !hasPermissionEntry(allocation, peer->address)) {
      ++new_peers;
    }
    peers[count++] = peer->address;
  }
  if (count == 0) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  if (allocation.permissions.size() + new_peers > config_.max_permissions) {
    stats_.permission_limit_rejected.add();
    return std::unexpected(TurnError{error::kInsufficientCapacity});
  }
  for (const IpAddress& peer : std::span(peers).first(count)) {
    (void)installPermission(allocation, peer, request.now);
  }
  return {};
}

std::expected<void, TurnError> Core::channelBind(Request& request, Allocation& allocation) {
  const Message& message = request.message;
  const MonotonicTime now = request.now;
  // RFC 8656 section 12.2. A TCP allocation (RFC 6062) relays no ChannelData: 400.
  if (allocation.tcp) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  const RawAttribute* number_attribute = message.find(attr::kChannelNumber);
  const RawAttribute* peer_attribute = message.find(attr::kXorPeerAddress);
  if (number_attribute == nullptr || peer_attribute == nullptr) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  auto number = decodeChannelNumber(message.value(*number_attribute));
  auto peer = decodeXorAddress(message.value(*peer_attribute), message.transactionId());
  if (!number || !isValidChannelNumber(*number) || !peer) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  if (allocation.legFor(peer->address.family()) == nullptr) {
    return std::unexpected(TurnError{error::kPeerAddressFamilyMismatch});
  }
  if (!peerAllowed(*peer)) {
    return std::unexpected(TurnError{error::kForbidden});
  }
  // A number stays tied to its peer (and the peer to its number) while bound and for the
  // cooldown after: rebinding either to something else is 400 (sections 12 and 12.2). Cooled-down
  // entries are forgotten here too, not only when the timer runs.
  const ExpiryCounts expired = allocation.expire(now);
  stats_.permissions_active.sub(expired.permissions);
  stats_.channels_active.sub(expired.channels);
  auto same_number = std::ranges::find(allocation.channels, *number, &ChannelBinding::number);
  auto same_peer = std::ranges::find(allocation.channels, *peer, &ChannelBinding::peer);
  if ((same_number != allocation.channels.end() && same_number->peer != *peer) ||
      (same_peer != allocation.channels.end() && same_peer->number != *number)) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  const bool new_channel = same_number == allocation.channels.end();
  const bool new_permission = !hasPermissionEntry(allocation, peer->address);
  if (new_channel && allocation.channels.size() >= config_.max_channels) {
    stats_.channel_limit_rejected.add();
    return std::unexpected(TurnError{error::kInsufficientCapacity});
  }
  if (new_permission && allocation.permissions.size() >= config_.max_permissions) {
    stats_.permission_limit_rejected.add();
    return std::unexpected(TurnError{error::kInsufficientCapacity});
  }
  if (new_channel) {
    allocation.channels.push_back(ChannelBinding{*number, *peer, now + kChannelLifetime, true});
    stats_.channels_active.add();
  } else {
    if (!same_number->active) {
      same_number->active = true;
      stats_.channels_active.add();
    }
    same_number->expires = now + kChannelLifetime;
  }
  // The binding also installs or refreshes a permission for the peer's address.
  (void)installPermission(allocation, peer->address, now);
  return {};
}

}  // namespace turnpike::protocol

// The data path (RFC 8656 sections 11-12): Send and Data indications, ChannelData both ways.
// Relayed payloads are never copied: outbox entries point into the caller's buffer.
#include <algorithm>

#include "protocol/stun/integrity.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/core.hpp"

namespace turnpike::protocol {
namespace {

std::size_t transportIndex(ClientTransport transport) {
  return static_cast<std::size_t>(transport);
}

}  // namespace

TransactionId Core::newTransactionId() {
  TransactionId id{};
  const std::uint64_t high = deps_.random.next();
  const std::uint64_t low = deps_.random.next();
  for (std::size_t i = 0; i < id.size(); ++i) {
    id[i] = static_cast<std::byte>((i < 8 ? high : low) >> (8U * (i % 8)));
  }
  return id;
}

bool Core::admitBandwidth(Allocation& allocation, std::size_t bytes, MonotonicTime now) {
  const auto size = static_cast<double>(bytes);
  const std::uint64_t rate = config_.bandwidth_bytes_per_second;
  if (rate != 0) {
    // The bucket holds one second's worth. Taken from only once the user's budget allowed it.
    allocation.bandwidth.refill(static_cast<double>(rate), static_cast<double>(rate), now);
    if (allocation.bandwidth.tokens < size) {
      stats_.relay_drops[static_cast<std::size_t>(RelayDrop::kBandwidth)].add();
      return false;
    }
  }
  UserLease* lease = allocation.user_lease.get();
  const std::uint64_t user_rate = config_.user_bandwidth_bytes_per_second;
  if (lease != nullptr && user_rate != 0 && deps_.user_bandwidth != nullptr) {
    if (lease->credit < size) {
      // 20 ms of the user's rate at a time, and at least this packet.
      const std::uint64_t want = std::max<std::uint64_t>(bytes, user_rate / 50);
      lease->credit += static_cast<double>(deps_.user_bandwidth->lease(lease->user, want, now));
    }
    if (lease->credit < size) {
      stats_.relay_drops[static_cast<std::size_t>(RelayDrop::kUserBandwidth)].add();
      return false;
    }
    lease->credit -= size;
  }
  if (rate != 0) {
    allocation.bandwidth.tokens -= size;
  }
  return true;
}

void Core::relayToPeer(Allocation& allocation, const Endpoint& peer, ConstBytes payload,
                       MonotonicTime now, Outbox& outbox) {
  if (!admitBandwidth(allocation, payload.size(), now)) {
    return;
  }
  const RelayLeg* leg = allocation.legFor(peer.address.family());
  OutboxEntry* entry = leg == nullptr ? nullptr : outbox.add(leg->socket, peer);
  if (entry == nullptr) {
    stats_.relay_drops[static_cast<std::size_t>(RelayDrop::kSendFailed)].add();
    return;
  }
  entry->payload = payload;
  allocation.bytes_to_peer += payload.size();
  ++allocation.packets_to_peer;
  const std::size_t transport = transportIndex(allocation.source.transport);
  stats_.relayed_bytes[0][transport].add(payload.size());
  stats_.relayed_packets[0][transport].add();
}

void Core::handleSendIndication(const Message& message, Allocation* found, MonotonicTime now,
                                Outbox& outbox) {
  auto drop = [&](RelayDrop reason) { stats_.relay_drops[static_cast<std::size_t>(reason)].add(); };
  // RFC 8656 section 11.2: no allocation, no XOR-PEER-ADDRESS or DATA, no permission: discard.
  if (found == nullptr) {
    drop(RelayDrop::kNoAllocation);
    return;
  }
  Allocation& allocation = *found;
  const RawAttribute* peer_attribute = message.find(attr::kXorPeerAddress);
  const RawAttribute* data = message.find(attr::kData);
  const std::expected<Endpoint, AttributeError> peer =
      peer_attribute == nullptr
          ? std::expected<Endpoint, AttributeError>(std::unexpected(AttributeError::kBadLength))
          : decodeXorAddress(message.value(*peer_attribute), message.transactionId());
  if (!peer || data == nullptr || allocation.tcp) {  // RFC 6062: no Send on a TCP allocation
    drop(RelayDrop::kMalformed);
    return;
  }
  if (!allocation.hasPermission(peer->address, now)) {
    drop(RelayDrop::kNoPermission);
    return;
  }
  // The permission checked the address; the port may still be one of the server's own.
  if (!deps_.policy->isAllowed(*peer)) {
    stats_.peer_denied.add();
    drop(RelayDrop::kDenied);
    return;
  }
  relayToPeer(allocation, *peer, message.value(*data), now, outbox);
}

void Core::handleChannelData(const ClientSource& source, ConstBytes bytes, MonotonicTime now,
                             Outbox& outbox) {
  auto drop = [&](RelayDrop reason) { stats_.relay_drops[static_cast<std::size_t>(reason)].add(); };
  auto channel_data = parseChannelData(bytes);
  if (!channel_data) {
    drop(RelayDrop::kMalformed);
    return;
  }
  Allocation* found = allocationFor(source);
  if (found == nullptr) {
    drop(RelayDrop::kNoAllocation);
    return;
  }
  Allocation& allocation = *found;
  // RFC 8656 section 12.6: an unbound channel, or a peer whose permission lapsed: discard.
  const ChannelBinding* channel = allocation.channelByNumber(channel_data->channel, now);
  if (channel == nullptr) {
    drop(RelayDrop::kNoChannel);
    return;
  }
  if (!allocation.hasPermission(channel->peer.address, now)) {
    drop(RelayDrop::kNoPermission);
    return;
  }
  relayToPeer(allocation, channel->peer, channel_data->data, now, outbox);
}

void Core::onPeerDatagram(std::uint64_t tag, const Endpoint& peer, ConstBytes bytes,
                          MonotonicTime now, Outbox& outbox) {
  const auto found = allocations_.find(tag);
  if (found == allocations_.end()) {
    return;  // a reserved port not yet claimed
  }
  Allocation& allocation = *found->second;
  // RFC 8656 sections 11.3 and 12.6: only peers with a permission get through.
  if (!allocation.hasPermission(peer.address, now)) {
    stats_.relay_drops[static_cast<std::size_t>(RelayDrop::kNoPermission)].add();
    return;
  }
  if (!admitBandwidth(allocation, bytes.size(), now)) {
    return;
  }
  OutboxEntry* entry = bytes.size() > 0xFFFF
                           ? nullptr
                           : outbox.add(allocation.source.socket, allocation.source.client);
  if (entry == nullptr) {
    stats_.relay_drops[static_cast<std::size_t>(RelayDrop::kSendFailed)].add();
    return;
  }
  // DTLS carries one message per record, as UDP does: no padding (RFC 7350 section 4).
  const bool stream = isStream(allocation.source.transport);
  if (const ChannelBinding* channel = allocation.channelByPeer(peer, now)) {
    // ChannelData: 4-byte header, payload, and padding to 4 bytes on streams (section 12.5).
    writeChannelDataHeader(entry->head_buffer, channel->number,
                           static_cast<std::uint16_t>(bytes.size()));
    entry->head_size = kChannelDataHeaderSize;
    entry->padding = static_cast<std::uint8_t>(channelDataSize(bytes.size(), stream) -
                                               kChannelDataHeaderSize - bytes.size());
  } else {
    // Data indication (section 11.3): XOR-PEER-ADDRESS, then DATA whose value is the payload.
    MessageBuilder builder(entry->head_buffer,
                           messageType(Method::kData, MessageClass::kIndication),
                           newTransactionId());
    builder.addXorAddress(attr::kXorPeerAddress, peer);
    entry->padding = static_cast<std::uint8_t>(builder.addExternalValue(attr::kData, bytes.size()));
    auto head = builder.finish();
    if (!head) {
      outbox.removeLast();
      stats_.relay_drops[static_cast<std::size_t>(RelayDrop::kSendFailed)].add();
      return;
    }
    entry->head_size = head->size();
  }
  entry->payload = bytes;
  allocation.bytes_to_client += bytes.size();
  ++allocation.packets_to_client;
  const std::size_t transport = transportIndex(allocation.source.transport);
  stats_.relayed_bytes[1][transport].add(bytes.size());
  stats_.relayed_packets[1][transport].add();
}

}  // namespace turnpike::protocol

#include "tests/reliability/relay_load.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <sstream>
#include <thread>

#include "protocol/stun/byte_io.hpp"
#include "tests/reliability/reliability_support.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;

enum Direction : std::uint8_t { kToPeer = 0, kToClient = 1 };

// [pair u32][sequence u32][direction u8][pattern]: every byte is checkable.
Bytes payloadFor(std::uint32_t pair, std::uint32_t sequence, Direction direction) {
  Bytes payload = patternPayload(RelayLoad::kPayloadSize, static_cast<std::uint8_t>(sequence));
  protocol::store32(payload, 0, pair);
  protocol::store32(payload, 4, sequence);
  payload[8] = static_cast<std::byte>(direction);
  return payload;
}

// Records a packet on `leg`; false when it is not the expected one.
bool record(RelayLoad::Leg& leg, std::uint32_t pair, Direction direction, const Bytes& payload) {
  if (payload.size() != RelayLoad::kPayloadSize || protocol::load32(payload, 0) != pair) {
    ++leg.corrupt;
    return false;
  }
  const std::uint32_t sequence = protocol::load32(payload, 4);
  if (sequence >= leg.seen.size() || payload != payloadFor(pair, sequence, direction)) {
    ++leg.corrupt;
    return false;
  }
  if (leg.seen[sequence]) {
    ++leg.duplicates;
    return true;
  }
  leg.seen[sequence] = true;
  ++leg.received;
  return true;
}

bool readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 0) > 0 && (entry.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

}  // namespace

bool RelayLoad::add(std::unique_ptr<TurnClient> client) {
  Pair pair;
  pair.client = std::move(client);
  pair.peer = udpSocketOn(loopback(false).address);
  if (!pair.peer.valid() || !pair.client->connected()) {
    ADD_FAILURE() << "no client or peer socket";
    return false;
  }
  pair.peer_endpoint = localEndpointOf(pair.peer.get());
  const auto allocated = pair.client->allocate();
  if (!allocated || !allocated->isSuccess() || !pair.client->relayed()) {
    ADD_FAILURE() << "Allocate failed: " << (allocated ? allocated->code : 0);
    return false;
  }
  const auto bound = pair.client->channelBind(kLoadChannel, pair.peer_endpoint);
  if (!bound || !bound->isSuccess()) {
    ADD_FAILURE() << "ChannelBind failed: " << (bound ? bound->code : 0);
    return false;
  }
  pairs_.push_back(std::move(pair));
  // One round trip proves the path before the load starts; its packets count like the rest.
  send();
  drain(200ms, 3000ms);
  const Pair& added = pairs_.back();
  if (added.to_peer.received != 1 || added.to_client.received != 1) {
    ADD_FAILURE() << "the first round trip failed: " << summary();
    return false;
  }
  return true;
}

void RelayLoad::send() {
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    Pair& pair = pairs_[i];
    const auto sequence = static_cast<std::uint32_t>(pair.to_peer.sent);
    if (pair.client->sendChannelData(
            kLoadChannel, payloadFor(static_cast<std::uint32_t>(i), sequence, kToPeer))) {
      ++pair.to_peer.sent;
      pair.to_peer.seen.push_back(false);
    }
  }
}

void RelayLoad::receiveAtPeer(std::size_t index) {
  Pair& pair = pairs_[index];
  const auto pair_id = static_cast<std::uint32_t>(index);
  for (int i = 0; i < 1024; ++i) {
    auto datagram = recvUdpFrom(pair.peer.get(), 0ms);
    if (!datagram) {
      return;
    }
    if (datagram->source != *pair.client->relayed() ||
        !record(pair.to_peer, pair_id, kToPeer, datagram->data)) {
      continue;
    }
    // The echo: the same sequence number the other way.
    const std::uint32_t sequence = protocol::load32(datagram->data, 4);
    if (sequence >= pair.to_client.seen.size()) {
      pair.to_client.seen.resize(sequence + 1, false);
    }
    if (sendUdpTo(pair.peer.get(), *pair.client->relayed(),
                  payloadFor(pair_id, sequence, kToClient))) {
      ++pair.to_client.sent;
    }
  }
}

void RelayLoad::receiveAtClient(std::size_t index) {
  Pair& pair = pairs_[index];
  for (int i = 0; i < 1024 && readable(pair.client->fd()); ++i) {
    auto frame = pair.client->receiveData(200ms);
    if (!frame) {
      return;
    }
    if (frame->kind != DataFrame::Kind::kChannelData || frame->channel != kLoadChannel) {
      ++pair.other_frames;
      continue;
    }
    (void)record(pair.to_client, static_cast<std::uint32_t>(index), kToClient, frame->payload);
  }
}

void RelayLoad::receive() {
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    receiveAtPeer(i);
    receiveAtClient(i);
  }
}

void RelayLoad::run(Clock::time_point until, Millis interval, const std::atomic<bool>& stop) {
  auto next_send = Clock::now();
  while (Clock::now() < until && !stop.load()) {
    if (Clock::now() >= next_send) {
      send();
      next_send += interval;
    }
    receive();
    std::this_thread::sleep_for(1ms);
  }
}

void RelayLoad::drain(Millis quiet, Millis limit) {
  const auto end = Clock::now() + limit;
  auto last_progress = Clock::now();
  std::uint64_t seen = 0;
  while (Clock::now() < end && Clock::now() - last_progress < quiet) {
    receive();
    std::uint64_t now_seen = 0;
    for (const Pair& pair : pairs_) {
      now_seen += pair.to_peer.received + pair.to_client.received + pair.other_frames;
    }
    if (now_seen != seen) {
      seen = now_seen;
      last_progress = Clock::now();
    }
    std::this_thread::sleep_for(2ms);
  }
}

std::uint64_t RelayLoad::sent() const {
  std::uint64_t total = 0;
  for (const Pair& pair : pairs_) {
    total += pair.to_peer.sent + pair.to_client.sent;
  }
  return total;
}

std::uint64_t RelayLoad::lost() const {
  return lost(TurnTransport::kUdp) + lost(TurnTransport::kTcp);
}

std::uint64_t RelayLoad::lost(TurnTransport transport) const {
  std::uint64_t total = 0;
  for (const Pair& pair : pairs_) {
    if (pair.client->transport() == transport) {
      total += (pair.to_peer.sent - pair.to_peer.received) +
               (pair.to_client.sent - pair.to_client.received);
    }
  }
  return total;
}

std::uint64_t RelayLoad::corrupt() const {
  std::uint64_t total = 0;
  for (const Pair& pair : pairs_) {
    total += pair.to_peer.corrupt + pair.to_client.corrupt;
  }
  return total;
}

std::uint64_t RelayLoad::duplicates() const {
  std::uint64_t total = 0;
  for (const Pair& pair : pairs_) {
    total += pair.to_peer.duplicates + pair.to_client.duplicates;
  }
  return total;
}

std::string RelayLoad::summary() const {
  std::ostringstream out;
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    const Pair& pair = pairs_[i];
    out << "pair " << i << (pair.client->transport() == TurnTransport::kUdp ? " udp" : " tcp")
        << ": to_peer " << pair.to_peer.received << "/" << pair.to_peer.sent << ", to_client "
        << pair.to_client.received << "/" << pair.to_client.sent << ", other " << pair.other_frames
        << "\n";
  }
  return out.str();
}

}  // namespace turnpike::test

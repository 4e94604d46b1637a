#include "tests/reliability/udp_swarm.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/turn/channel_data.hpp"
#include "tests/reliability/reliability_support.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Endpoint;
using protocol::Message;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::Method;
namespace attr = protocol::attr;

// A response as TurnResponse (type, ERROR-CODE), or nullopt when `bytes` is not a response.
std::optional<TurnResponse> asResponse(Bytes bytes) {
  const auto message = Message::parse(bytes);
  if (!message) {
    return std::nullopt;
  }
  const MessageClass cls = message->messageClass();
  if (cls != MessageClass::kSuccessResponse && cls != MessageClass::kErrorResponse) {
    return std::nullopt;
  }
  TurnResponse response;
  response.type = message->type();
  if (cls == MessageClass::kErrorResponse) {
    const auto code = attributeValue(*message, attr::kErrorCode);
    const auto decoded = code ? protocol::decodeErrorCode(*code)
                              : std::unexpected(protocol::AttributeError::kBadLength);
    response.code = decoded ? decoded->code : 0;
  }
  response.bytes = std::move(bytes);
  return response;
}

std::optional<Bytes> receiveOne(int fd) {
  Bytes buffer(protocol::kMaxMessageSize);
  const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0) {
    return std::nullopt;
  }
  buffer.resize(static_cast<std::size_t>(n));
  return buffer;
}

int pollMs(Clock::time_point until) {
  const auto left = std::chrono::duration_cast<Millis>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 50));
}

// The payload a swarm client sends in roundTrips(): "swarm", its index, a pattern.
Bytes tagged(std::size_t index) {
  Bytes payload = patternPayload(48, static_cast<std::uint8_t>(index));
  for (int i = 0; i < 4; ++i) {
    payload[i] = static_cast<std::byte>((index >> (8 * i)) & 0xFFU);
  }
  return payload;
}

}  // namespace

UdpSwarm::UdpSwarm(const Endpoint& server, TurnCredentials credentials, protocol::IpAddress source)
    : server_(server), credentials_(std::move(credentials)), source_(source) {}

bool UdpSwarm::open(std::size_t count) {
  clients_.reserve(clients_.size() + count);
  for (std::size_t i = 0; i < count; ++i) {
    UniqueFd fd = udpConnectFrom(source_, server_);
    if (!fd.valid()) {
      return false;
    }
    clients_.push_back(Client{std::move(fd), std::nullopt});
  }
  return true;
}

std::vector<std::size_t> UdpSwarm::indices(std::size_t begin, std::size_t end) {
  std::vector<std::size_t> out;
  for (std::size_t i = begin; i < end; ++i) {
    out.push_back(i);
  }
  return out;
}

bool UdpSwarm::challenge(Millis timeout) {
  if (clients_.empty() && !open(1)) {
    return false;
  }
  const int fd = clients_.front().fd.get();
  const auto deadline = Clock::now() + timeout;
  const Bytes request = buildMessage(
      randomTransactionId(), [](MessageBuilder& b) { b.addRequestedTransport(17); },
      protocol::messageType(Method::kAllocate, MessageClass::kRequest));
  const auto id = Message::parse(request)->transactionId();
  while (Clock::now() < deadline) {
    (void)::send(fd, request.data(), request.size(), 0);
    const auto retry = std::min(deadline, Clock::now() + kInitialRto * 2);
    while (Clock::now() < retry) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, pollMs(retry)) <= 0) {
        continue;
      }
      auto bytes = receiveOne(fd);
      auto response = bytes ? asResponse(std::move(*bytes)) : std::nullopt;
      if (response && response->message()->transactionId() == id &&
          response->code == protocol::error::kUnauthenticated) {
        realm_ = response->text(attr::kRealm).value_or("");
        nonce_ = response->text(attr::kNonce).value_or("");
        return !realm_.empty() && !nonce_.empty();
      }
    }
  }
  return false;
}

Bytes UdpSwarm::request(std::size_t index, Method method, const Adder& add,
                        protocol::TransactionId& id) const {
  id = randomTransactionId();
  const auth::Md5Key key =
      auth::longTermKeyMd5(credentials_.username, realm_, credentials_.password);
  return buildMessage(
      id,
      [&](MessageBuilder& b) {
        if (add) {
          add(index, b);
        }
        b.addText(attr::kUsername, credentials_.username);
        b.addText(attr::kRealm, realm_);
        b.addText(attr::kNonce, nonce_);
        b.addMessageIntegrity(key);
      },
      protocol::messageType(method, MessageClass::kRequest));
}

std::vector<std::optional<TurnResponse>> UdpSwarm::transact(std::span<const std::size_t> which,
                                                            Method method, const Adder& add,
                                                            Millis timeout) {
  struct Flight {
    std::size_t position;  // in `which`
    Bytes bytes;
    protocol::TransactionId id{};
    int transmissions = 0;
    int renewals = 0;
    Clock::time_point retransmit_at;
    bool done = false;
  };
  std::vector<std::optional<TurnResponse>> results(which.size());
  std::vector<Flight> flights;
  const auto deadline = Clock::now() + timeout;
  std::size_t next = 0;
  const auto transmit = [&](Flight& flight) {
    const int fd = clients_[which[flight.position]].fd.get();
    (void)::send(fd, flight.bytes.data(), flight.bytes.size(), 0);
    retransmissions_ += flight.transmissions > 0 ? 1 : 0;
    flight.retransmit_at = Clock::now() + kInitialRto * (1 << std::min(flight.transmissions, 4));
    ++flight.transmissions;
  };
  std::vector<pollfd> polled;
  while ((next < which.size() || !flights.empty()) && Clock::now() < deadline) {
    while (flights.size() < kWindow && next < which.size()) {
      Flight flight{next++, {}, {}, 0, 0, {}, false};
      flight.bytes = request(which[flight.position], method, add, flight.id);
      transmit(flight);
      flights.push_back(std::move(flight));
    }
    polled.clear();
    auto wake = deadline;
    for (const Flight& flight : flights) {
      polled.push_back({clients_[which[flight.position]].fd.get(), POLLIN, 0});
      wake = std::min(wake, flight.retransmit_at);
    }
    (void)::poll(polled.data(), polled.size(), pollMs(wake));
    for (std::size_t i = 0; i < flights.size(); ++i) {
      Flight& flight = flights[i];
      if ((polled[i].revents & POLLIN) == 0) {
        continue;
      }
      while (auto bytes = receiveOne(polled[i].fd)) {
        auto response = asResponse(std::move(*bytes));
        if (!response || response->message()->transactionId() != flight.id) {
          continue;  // relayed data, or an answer to an earlier transmission
        }
        if (response->code == protocol::error::kStaleNonce && flight.renewals < 2) {
          nonce_ = response->text(attr::kNonce).value_or(nonce_);
          ++flight.renewals;
          flight.transmissions = 0;
          flight.bytes = request(which[flight.position], method, add, flight.id);
          transmit(flight);
          break;
        }
        results[flight.position] = std::move(*response);
        flight.done = true;
        break;
      }
    }
    const auto now = Clock::now();
    for (Flight& flight : flights) {
      if (!flight.done && flight.retransmit_at <= now) {
        if (flight.transmissions >= kMaxTransmissions) {
          flight.done = true;  // no answer: results stays nullopt
        } else {
          transmit(flight);
        }
      }
    }
    std::erase_if(flights, [](const Flight& flight) { return flight.done; });
  }
  std::map<std::string, std::size_t> outcomes;
  for (const auto& result : results) {
    ++outcomes[!result               ? "no answer"
               : result->isSuccess() ? "ok"
                                     : "error " + std::to_string(result->code)];
  }
  last_outcome_.clear();
  for (const auto& [outcome, count] : outcomes) {
    last_outcome_ += (last_outcome_.empty() ? "" : ", ") + std::to_string(count) + " " + outcome;
  }
  return results;
}

std::size_t UdpSwarm::allocate(std::span<const std::size_t> which, std::uint32_t lifetime,
                               Millis timeout) {
  const auto responses = transact(
      which, Method::kAllocate,
      [lifetime](std::size_t, MessageBuilder& b) {
        b.addRequestedTransport(17);
        if (lifetime != 0) {
          b.addU32(attr::kLifetime, lifetime);
        }
      },
      timeout);
  std::size_t ok = 0;
  for (std::size_t i = 0; i < which.size(); ++i) {
    if (responses[i] && responses[i]->isSuccess()) {
      clients_[which[i]].relayed = responses[i]->xorAddress(attr::kXorRelayedAddress);
      ok += clients_[which[i]].relayed ? 1 : 0;
    }
  }
  return ok;
}

std::size_t UdpSwarm::release(std::span<const std::size_t> which, Millis timeout) {
  const auto responses = transact(
      which, Method::kRefresh, [](std::size_t, MessageBuilder& b) { b.addU32(attr::kLifetime, 0); },
      timeout);
  std::size_t ok = 0;
  for (std::size_t i = 0; i < which.size(); ++i) {
    // A 437 means the allocation is gone: an earlier transmission of this Refresh deleted it.
    if (responses[i] &&
        (responses[i]->isSuccess() || responses[i]->code == protocol::error::kAllocationMismatch)) {
      clients_[which[i]].relayed.reset();
      ++ok;
    }
  }
  return ok;
}

std::size_t UdpSwarm::channelBind(std::span<const std::size_t> which, std::uint16_t channel,
                                  const Endpoint& peer, Millis timeout) {
  const auto responses = transact(
      which, Method::kChannelBind,
      [&](std::size_t, MessageBuilder& b) {
        b.addChannelNumber(channel);
        b.addXorAddress(attr::kXorPeerAddress, peer);
      },
      timeout);
  return static_cast<std::size_t>(std::ranges::count_if(
      responses, [](const auto& response) { return response && response->isSuccess(); }));
}

std::size_t UdpSwarm::roundTrips(std::span<const std::size_t> which, std::uint16_t channel,
                                 int peer_fd, Millis timeout) {
  constexpr std::size_t kGroup = 64;
  const auto deadline = Clock::now() + timeout;
  std::size_t complete = 0;
  for (std::size_t begin = 0; begin < which.size(); begin += kGroup) {
    const auto group = which.subspan(begin, std::min(kGroup, which.size() - begin));
    std::vector<std::pair<Endpoint, std::size_t>> by_relay;  // relayed address -> client
    for (const std::size_t index : group) {
      const auto& relayed = clients_[index].relayed;
      if (!relayed) {
        continue;
      }
      by_relay.emplace_back(*relayed, index);
      const Bytes payload = tagged(index);
      Bytes frame(protocol::channelDataSize(payload.size(), false));
      if (auto built = protocol::buildChannelData(frame, channel, payload, false)) {
        (void)::send(clients_[index].fd.get(), built->data(), built->size(), 0);
      }
    }
    // The peer: each datagram must come from the relayed address of the client it names.
    std::vector<std::size_t> echoed;
    while (echoed.size() < by_relay.size() && Clock::now() < deadline) {
      auto datagram =
          recvUdpFrom(peer_fd, std::chrono::duration_cast<Millis>(deadline - Clock::now()));
      if (!datagram) {
        break;
      }
      const auto it = std::ranges::find_if(
          by_relay, [&](const auto& entry) { return entry.first == datagram->source; });
      if (it == by_relay.end() || datagram->data != tagged(it->second)) {
        ADD_FAILURE() << "the peer got an unexpected datagram from " << datagram->source.toString();
        continue;
      }
      if (sendUdpTo(peer_fd, datagram->source, datagram->data)) {
        echoed.push_back(it->second);
      }
    }
    for (const std::size_t index : echoed) {
      const int fd = clients_[index].fd.get();
      pollfd entry{fd, POLLIN, 0};
      while (Clock::now() < deadline && ::poll(&entry, 1, pollMs(deadline)) >= 0) {
        if ((entry.revents & POLLIN) == 0) {
          continue;
        }
        auto bytes = receiveOne(fd);
        if (!bytes) {
          continue;
        }
        auto data = protocol::parseChannelData(*bytes);
        if (data && data->channel == channel && std::ranges::equal(data->data, tagged(index))) {
          ++complete;
          break;
        }
      }
    }
  }
  return complete;
}

}  // namespace turnpike::test

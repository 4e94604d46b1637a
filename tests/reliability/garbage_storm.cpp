#include "tests/reliability/garbage_storm.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/turn/channel_data.hpp"
#include "tests/reliability/reliability_support.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::Method;
namespace attr = protocol::attr;

constexpr int kListenerSockets = 32;
constexpr int kRelaySockets = 8;  // per source address
// A connection that ends in silence is RST after this if the server has not closed it.
constexpr Millis kSilenceCap{5000};

std::uint16_t request(Method method) {
  return protocol::messageType(method, MessageClass::kRequest);
}

// Valid messages of every kind the server parses, to be cut, flipped and stretched.
std::vector<Bytes> makeTemplates() {
  const Endpoint peer{protocol::IpAddress::v4({192, 0, 2, 1}), 5000};
  const Bytes key(16, std::byte{0x5a});
  auto signed_by_nobody = [&](MessageBuilder& b) {
    b.addText(attr::kUsername, "nobody");
    b.addText(attr::kRealm, "turnpike.test");
    b.addText(attr::kNonce, "not-a-nonce-of-this-server");
    b.addMessageIntegrity(key);
    b.addFingerprint();
  };
  std::vector<Bytes> out;
  out.push_back(buildMessage(randomTransactionId()));
  out.push_back(buildMessage(randomTransactionId(), [](MessageBuilder& b) { b.addFingerprint(); }));
  out.push_back(buildMessage(
      randomTransactionId(), [](MessageBuilder& b) { b.addRequestedTransport(17); },
      request(Method::kAllocate)));
  out.push_back(buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        b.addRequestedTransport(17);
        b.addU32(attr::kLifetime, 600);
        signed_by_nobody(b);
      },
      request(Method::kAllocate)));
  out.push_back(buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        b.addU32(attr::kLifetime, 0);
        signed_by_nobody(b);
      },
      request(Method::kRefresh)));
  out.push_back(buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        b.addXorAddress(attr::kXorPeerAddress, peer);
        signed_by_nobody(b);
      },
      request(Method::kCreatePermission)));
  out.push_back(buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        b.addChannelNumber(0x4001);
        b.addXorAddress(attr::kXorPeerAddress, peer);
        signed_by_nobody(b);
      },
      request(Method::kChannelBind)));
  out.push_back(buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        b.addXorAddress(attr::kXorPeerAddress, peer);
        b.addBytes(attr::kData, patternPayload(100));
      },
      protocol::messageType(Method::kSend, MessageClass::kIndication)));
  // A comprehension-required attribute the server does not know (420).
  out.push_back(buildMessage(randomTransactionId(),
                             [](MessageBuilder& b) { b.addBytes(0x0031, patternPayload(8)); }));
  Bytes channel_data(protocol::channelDataSize(100, true));
  if (auto built = protocol::buildChannelData(channel_data, 0x4000, patternPayload(100), true)) {
    out.emplace_back(built->begin(), built->end());
  }
  return out;
}

}  // namespace

GarbageStorm::GarbageStorm(StormTargets targets, StormRates rates, std::uint64_t seed)
    : targets_(std::move(targets)),
      rates_(rates),
      random_(seed),
      templates_(makeTemplates()),
      client_hello_(tlsClientHello()) {
  for (int i = 0; i < kListenerSockets; ++i) {
    udp_.push_back(udpConnectFrom(loopback(false).address, targets_.udp));
  }
  for (int i = 0; i < 2 * kRelaySockets; ++i) {
    relay_udp_.push_back(udpSocketOn(i % 2 == 0 ? targets_.permitted : targets_.stranger));
  }
}

Bytes GarbageStorm::randomBytes(std::size_t min, std::size_t max) {
  Bytes out(std::uniform_int_distribution<std::size_t>(min, max)(random_));
  for (std::byte& b : out) {
    b = static_cast<std::byte>(random_() & 0xFFU);
  }
  return out;
}

Bytes GarbageStorm::datagram() {
  const Bytes& base = templates_[random_() % templates_.size()];
  switch (random_() % 8) {
    case 0:  // noise
      return randomBytes(0, 1400);
    case 1: {  // STUN-shaped: a request type, the cookie, then noise (length field included)
      Bytes out = randomBytes(20, 600);
      out[0] = static_cast<std::byte>(random_() & 0x3FU);
      protocol::store32(out, 4, protocol::kMagicCookie);
      return out;
    }
    case 2: {  // cut short
      return Bytes(base.begin(),
                   base.begin() + static_cast<std::ptrdiff_t>(random_() % base.size()));
    }
    case 3: {  // a few bytes flipped
      Bytes out = base;
      for (int i = 0; i < 1 + static_cast<int>(random_() % 3); ++i) {
        out[random_() % out.size()] ^= static_cast<std::byte>(1U << (random_() % 8));
      }
      return out;
    }
    case 4: {  // a lying length field
      Bytes out = base;
      protocol::store16(out, 2, static_cast<std::uint16_t>(random_() & 0xFFFFU));
      return out;
    }
    case 5: {  // ChannelData-shaped: any channel, any length
      Bytes out = randomBytes(4, 800);
      out[0] = static_cast<std::byte>(0x40U | (random_() & 0x3FU));
      return out;
    }
    case 6:  // valid as it is
      return base;
    default: {  // valid, then trailing junk
      Bytes out = base;
      const Bytes tail = randomBytes(1, 64);
      out.insert(out.end(), tail.begin(), tail.end());
      return out;
    }
  }
}

Bytes GarbageStorm::streamFor(std::size_t kind) {
  Bytes out;
  if (kind == 0) {  // TCP: some valid frames (answered), then one of the datagram mutations
    for (int i = static_cast<int>(random_() % 3); i > 0; --i) {
      const Bytes& frame = templates_[random_() % 2];  // Binding requests: answered
      out.insert(out.end(), frame.begin(), frame.end());
    }
    const Bytes junk = random_() % 4 == 0 ? randomBytes(1, 4000) : datagram();
    out.insert(out.end(), junk.begin(), junk.end());
  } else if (kind == 1) {  // TLS: noise, or a ClientHello cut short, or one followed by noise
    switch (random_() % 3) {
      case 0:
        out = randomBytes(1, 2000);
        break;
      case 1:
        out.assign(
            client_hello_.begin(),
            client_hello_.begin() + static_cast<std::ptrdiff_t>(random_() % client_hello_.size()));
        break;
      default: {
        out = client_hello_;
        const Bytes noise = randomBytes(1, 500);
        out.insert(out.end(), noise.begin(), noise.end());
      }
    }
  } else {  // HTTP: noise, or a request line that never ends
    out = random_() % 2 == 0
              ? randomBytes(1, 2000)
              : Bytes(reinterpret_cast<const std::byte*>("GET /metrics HTTP/1.1\r\nX: "),  // NOLINT
                      reinterpret_cast<const std::byte*>("GET /metrics HTTP/1.1\r\nX: ") +
                          26);  // NOLINT
  }
  return out;
}

void GarbageStorm::openConnection() {
  // TCP, TLS and HTTP in turn (TCP twice as often: it is the STUN/TURN transport).
  const std::array<const std::vector<Endpoint>*, 4> kinds{&targets_.tcp, &targets_.tls,
                                                          &targets_.http, &targets_.tcp};
  const std::size_t slot = next_stream_++ % kinds.size();
  const std::vector<Endpoint>& endpoints = *kinds[slot];
  if (endpoints.empty()) {
    return;
  }
  Connection connection;
  connection.fd = tcpConnect(endpoints[random_() % endpoints.size()], 500ms);
  if (!connection.fd.valid()) {
    ++counters_.connect_failures;
    return;
  }
  ++counters_.connections;
  connection.pending = streamFor(slot == 3 ? 0 : slot);
  connection.end = Clock::now() + Millis(random_() % 1500);
  connection.ending = static_cast<Connection::Ending>(random_() % 3);
  connections_.push_back(std::move(connection));
}

void GarbageStorm::serviceConnections(Clock::time_point now) {
  std::array<std::byte, 4096> sink{};
  for (Connection& connection : connections_) {
    const int fd = connection.fd.get();
    if (connection.sent < connection.pending.size()) {
      const ssize_t n =
          ::send(fd, connection.pending.data() + connection.sent,
                 connection.pending.size() - connection.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        connection.sent += static_cast<std::size_t>(n);
        counters_.stream_bytes += static_cast<std::size_t>(n);
      }
    }
    bool closed = false;
    for (int i = 0; i < 64; ++i) {
      const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        closed = true;
        break;
      }
      if (n < 0) {
        break;
      }
    }
    if (closed) {
      ++counters_.closed_by_server;
      connection.fd.reset();
      continue;
    }
    const bool silent = connection.ending == Connection::Ending::kSilence;
    if (now < connection.end + (silent ? kSilenceCap : Millis(0))) {
      continue;
    }
    if (connection.ending == Connection::Ending::kFin) {
      ++counters_.fins;
    } else {
      setAbortiveClose(fd);
      ++counters_.resets;
    }
    connection.fd.reset();
  }
  std::erase_if(connections_, [](const Connection& c) { return !c.fd.valid(); });
}

void GarbageStorm::drainAnswers() {
  std::array<std::byte, 2048> sink{};
  for (const UniqueFd& fd : udp_) {
    while (::recv(fd.get(), sink.data(), sink.size(), MSG_DONTWAIT) >= 0) {
      ++counters_.answers;
    }
  }
  for (const UniqueFd& fd : relay_udp_) {
    discardPending(fd.get());
  }
}

void GarbageStorm::run(Clock::time_point until, const std::atomic<bool>& stop) {
  const auto start = Clock::now();
  while (!stop.load() && Clock::now() < until) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    for (const auto due = static_cast<std::uint64_t>(elapsed * rates_.datagrams_per_second);
         counters_.datagrams < due; ++counters_.datagrams) {
      const Bytes bytes = datagram();
      (void)::send(udp_[counters_.datagrams % udp_.size()].get(), bytes.data(), bytes.size(), 0);
    }
    if (!targets_.relays.empty()) {
      for (const auto due = static_cast<std::uint64_t>(elapsed * rates_.relay_datagrams_per_second);
           counters_.relay_datagrams < due; ++counters_.relay_datagrams) {
        const Bytes bytes = random_() % 2 == 0 ? randomBytes(0, 1200) : datagram();
        const Endpoint& to = targets_.relays[random_() % targets_.relays.size()];
        const int fd = relay_udp_[counters_.relay_datagrams % relay_udp_.size()].get();
        sockaddr_storage address{};
        auto* in = reinterpret_cast<sockaddr_in*>(&address);  // NOLINT
        in->sin_family = AF_INET;
        in->sin_port = htons(to.port);
        std::memcpy(&in->sin_addr, to.address.bytes().data(), 4);
        (void)::sendto(fd, bytes.data(), bytes.size(), 0,
                       reinterpret_cast<const sockaddr*>(&address), sizeof(sockaddr_in));  // NOLINT
      }
    }
    const auto due_connections =
        static_cast<std::uint64_t>(elapsed * rates_.connections_per_second);
    while (counters_.connections + counters_.connect_failures < due_connections &&
           static_cast<int>(connections_.size()) < rates_.max_connections) {
      openConnection();
    }
    serviceConnections(Clock::now());
    drainAnswers();
    std::this_thread::sleep_for(1ms);
  }
  for (Connection& connection : connections_) {
    setAbortiveClose(connection.fd.get());
    ++counters_.resets;
  }
  connections_.clear();
}

}  // namespace turnpike::test

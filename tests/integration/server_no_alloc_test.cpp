// The server's relay path allocates nothing (issue 7, style.md section 9). The real server runs
// in this process; a TURN client and a peer relay thousands of packets through it with system
// calls only, on buffers allocated beforehand, and the counting operator new
// (tests/support/counting_new.hpp) sees every allocation of every thread, the workers' included:
// UDP listener (recvmmsg into the loop's receive slots, sendmmsg batches from the end-of-iteration
// flush), relay sockets, the TCP connection's framer and writes, and the TURN core in between.
// Counts operator new, so it is its own executable.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/stun/types.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/stream_framer.hpp"
#include "server/config/config.hpp"
#include "server/log.hpp"
#include "server/server.hpp"
#include "server/uv/handles.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/turn_client.hpp"

#include "tests/support/counting_new.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Endpoint;

constexpr std::size_t kPayloadSize = 161;  // not a multiple of 4: stream frames carry padding
constexpr int kWarmUpPackets = 200;        // each way
constexpr int kMeasuredPackets = 2000;     // each way
constexpr int kBurst = 16;                 // packets each way in flight at a time
constexpr int kWaitMs = 2000;              // the longest a single wait may take
constexpr std::uint32_t kToClient = 0x80000000U;  // sequence number flag: peer -> client
constexpr std::uint16_t kChannel = 0x4000;
constexpr std::size_t kReceiveBufferSize = 65536;
const TurnCredentials kAlice{"alice", "wonderland"};

enum class Framing : std::uint8_t { kChannelData, kIndications };

// What one run relayed; plain counters, filled in the measured window without allocating.
struct Results {
  int sent_to_peer = 0;
  int sent_to_client = 0;
  int arrived_at_peer = 0;    // intact and not seen before
  int arrived_at_client = 0;  // the same
  int malformed = 0;          // wrong size, framing, source or payload bytes
  int duplicates = 0;
  int send_errors = 0;
  int timeouts = 0;
};

// The test's two ends of one allocation: the client's socket (a connected UDP socket or a TCP
// connection) and the peer's UDP socket. Each payload carries a sequence number (its first four
// bytes, the top bit set for peer -> client) and fixed pattern bytes after it; every arrival is
// checked against both. Only system calls on buffers allocated in the constructor, so that the
// test thread allocates nothing while it relays and every allocation counted is the server's.
class RawRelay {
 public:
  RawRelay(int client_fd, bool stream, Framing framing, int peer_fd, const Endpoint& relayed,
           const Endpoint& peer)
      : client_fd_(client_fd),
        stream_(stream),
        framing_(framing),
        peer_fd_(peer_fd),
        relayed_(relayed),
        relayed_address_length_(server::uv::writeSockaddr(relayed, relayed_address_)),
        payload_(patternPayload(kPayloadSize)),
        from_peer_(payload_),
        receive_buffer_(kReceiveBufferSize),
        seen_at_peer_(kMeasuredPackets),
        seen_at_client_(kMeasuredPackets) {
    if (framing == Framing::kChannelData) {
      to_peer_.resize(protocol::channelDataSize(kPayloadSize, stream));
      const auto built = protocol::buildChannelData(to_peer_, kChannel, payload_, stream);
      EXPECT_TRUE(built.has_value());
      sequence_at_ = protocol::kChannelDataHeaderSize;
    } else {
      to_peer_ = buildMessage(
          randomTransactionId(),
          [&](protocol::MessageBuilder& b) {
            b.addXorAddress(protocol::attr::kXorPeerAddress, peer);
            b.addBytes(protocol::attr::kData, payload_);
          },
          protocol::messageType(protocol::Method::kSend, protocol::MessageClass::kIndication));
      const auto message = protocol::Message::parse(to_peer_);
      const protocol::RawAttribute* data = message ? message->find(protocol::attr::kData) : nullptr;
      EXPECT_EQ(data == nullptr ? 0U : data->length, kPayloadSize);
      sequence_at_ = data == nullptr ? 0 : data->offset;
    }
  }

  // Relays `count` payloads each way (at most kMeasuredPackets), kBurst at a time: sends a burst
  // both ways and reads until all of it has arrived. Gives up at the first wait that times out.
  void run(int count) {
    results_ = {};
    std::ranges::fill(seen_at_peer_, 0);
    std::ranges::fill(seen_at_client_, 0);
    for (int next = 0; next < count;) {
      const int burst = std::min(kBurst, count - next);
      for (int i = next; i < next + burst; ++i) {
        sendToPeer(static_cast<std::uint32_t>(i));
        sendToClient(static_cast<std::uint32_t>(i));
      }
      next += burst;
      while (results_.arrived_at_peer < next || results_.arrived_at_client < next) {
        std::array<pollfd, 2> fds{pollfd{client_fd_, POLLIN, 0}, pollfd{peer_fd_, POLLIN, 0}};
        const int rc = ::poll(fds.data(), fds.size(), kWaitMs);
        if (rc < 0 && errno == EINTR) {
          continue;
        }
        if (rc <= 0) {
          ++results_.timeouts;
          return;
        }
        if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0 && !readClient()) {
          return;
        }
        if ((fds[1].revents & (POLLIN | POLLERR)) != 0) {
          readPeer();
        }
      }
    }
  }

  [[nodiscard]] const Results& results() const { return results_; }

 private:
  void sendToPeer(std::uint32_t sequence) {
    protocol::store32(to_peer_, sequence_at_, sequence);
    if (sendAllOnClient(to_peer_.data(), to_peer_.size())) {
      ++results_.sent_to_peer;
    } else {
      ++results_.send_errors;
    }
  }

  void sendToClient(std::uint32_t sequence) {
    protocol::store32(from_peer_, 0, sequence | kToClient);
    const ssize_t sent = ::sendto(peer_fd_, from_peer_.data(), from_peer_.size(), 0,
                                  reinterpret_cast<const sockaddr*>(&relayed_address_),  // NOLINT
                                  relayed_address_length_);
    if (sent == static_cast<ssize_t>(from_peer_.size())) {
      ++results_.sent_to_client;
    } else {
      ++results_.send_errors;
    }
  }

  // The whole message: one datagram, or all of it on the stream (waiting, bounded, for room).
  bool sendAllOnClient(const std::byte* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t sent = ::send(client_fd_, data + done, size - done, MSG_NOSIGNAL);
      if (sent > 0) {
        done += static_cast<std::size_t>(sent);
        if (!stream_) {
          return done == size;
        }
        continue;
      }
      if (sent < 0 && errno == EINTR) {
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd writable{client_fd_, POLLOUT, 0};
        if (::poll(&writable, 1, kWaitMs) > 0) {
          continue;
        }
      }
      return false;
    }
    return true;
  }

  // A payload that arrived: the right size, the pattern bytes intact, a sequence number of this
  // direction that was sent and not seen yet.
  void takePayload(protocol::ConstBytes payload, bool to_client) {
    if (payload.size() != kPayloadSize ||
        std::memcmp(payload.data() + 4, payload_.data() + 4, kPayloadSize - 4) != 0) {
      ++results_.malformed;
      return;
    }
    const std::uint32_t sequence = protocol::load32(payload, 0);
    const std::uint32_t index = sequence & ~kToClient;
    const int sent = to_client ? results_.sent_to_client : results_.sent_to_peer;
    if (((sequence & kToClient) != 0) != to_client || index >= static_cast<std::uint32_t>(sent)) {
      ++results_.malformed;
      return;
    }
    std::vector<std::uint8_t>& seen = to_client ? seen_at_client_ : seen_at_peer_;
    if (seen[index] != 0) {
      ++results_.duplicates;
      return;
    }
    seen[index] = 1;
    ++(to_client ? results_.arrived_at_client : results_.arrived_at_peer);
  }

  void readPeer() {
    while (true) {
      sockaddr_storage source{};
      socklen_t length = sizeof(source);
      const ssize_t n = ::recvfrom(peer_fd_, receive_buffer_.data(), receive_buffer_.size(),
                                   MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&source),  // NOLINT
                                   &length);
      if (n < 0) {
        return;  // EAGAIN: all read
      }
      if (server::uv::fromSockaddr(reinterpret_cast<const sockaddr*>(&source)) !=  // NOLINT
          relayed_) {
        ++results_.malformed;  // not from the relayed address
        continue;
      }
      takePayload({receive_buffer_.data(), static_cast<std::size_t>(n)}, false);
    }
  }

  // Reads everything waiting on the client's socket. False when the stream ended or failed.
  bool readClient() {
    while (true) {
      const protocol::MutableBytes into =
          stream_ ? framer_.writableSpace() : protocol::MutableBytes(receive_buffer_);
      const ssize_t n = ::recv(client_fd_, into.data(), into.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return true;
      }
      if (n <= 0) {
        ++results_.malformed;  // the server closed the connection, or an error (ICMP)
        return false;
      }
      if (!stream_) {
        takeClientFrame(into.first(static_cast<std::size_t>(n)));
        continue;
      }
      framer_.commit(static_cast<std::size_t>(n));
      if (!takeStreamFrames()) {
        return false;
      }
    }
  }

  // Takes the whole frames the framer has; it keeps the rest for later.
  bool takeStreamFrames() {
    for (;;) {
      const auto frame = framer_.next();
      if (!frame) {
        ++results_.malformed;  // neither STUN nor ChannelData: the stream is lost
        return false;
      }
      if (!*frame) {
        return true;
      }
      takeClientFrame((*frame)->bytes);
    }
  }

  // One datagram or stream frame from the server: ChannelData on our channel, or a Data
  // indication, whichever this relay expects.
  void takeClientFrame(protocol::ConstBytes frame) {
    if (framing_ == Framing::kChannelData) {
      // Exactly the header and Length bytes: no padding on a datagram; on the stream the framer
      // has taken the padding off.
      const auto channel_data = protocol::parseChannelData(frame);
      if (!channel_data || channel_data->channel != kChannel ||
          frame.size() != protocol::kChannelDataHeaderSize + channel_data->data.size()) {
        ++results_.malformed;
        return;
      }
      takePayload(channel_data->data, true);
      return;
    }
    const std::uint16_t data_indication =
        protocol::messageType(protocol::Method::kData, protocol::MessageClass::kIndication);
    const auto message = protocol::Message::parse(frame);
    const protocol::RawAttribute* data = message ? message->find(protocol::attr::kData) : nullptr;
    if (!message || message->type() != data_indication ||
        !message->has(protocol::attr::kXorPeerAddress) || data == nullptr) {
      ++results_.malformed;
      return;
    }
    takePayload(message->value(*data), true);
  }

  int client_fd_;
  bool stream_;
  Framing framing_;
  int peer_fd_;
  Endpoint relayed_;                    // where the peer sends, and what it must hear from
  sockaddr_storage relayed_address_{};  // the same, for sendto
  socklen_t relayed_address_length_;
  Bytes payload_;                // the pattern; copies carry sequence numbers in bytes 0-3
  Bytes to_peer_;                // ChannelData or a Send indication, sent again and again
  std::size_t sequence_at_ = 0;  // where the payload starts in to_peer_
  Bytes from_peer_;
  Bytes receive_buffer_;  // UDP: one datagram
  // TCP: 64 KiB from the start, so it never grows (allocates) in the measured window.
  protocol::StreamFramer framer_{protocol::StreamFramer::kMaxFrameSize, kReceiveBufferSize};
  std::vector<std::uint8_t> seen_at_peer_;
  std::vector<std::uint8_t> seen_at_client_;
  Results results_;
};

// An in-process server on 127.0.0.1 (UDP and TCP listeners, a relay port range, the static user
// alice, peers on 127.0.0.0/8), with as many workers as the parameter says.
class ServerNoAllocationTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::mt19937 random(std::random_device{}());
    for (int attempt = 0; attempt < 3 && server_ == nullptr; ++attempt) {
      const auto port = pickFreePort(loopback(false).address);
      ASSERT_TRUE(port.has_value()) << "no free port on 127.0.0.1";
      const auto relay_min = static_cast<std::uint16_t>(30000 + 50 * (random() % 200));
      const std::string yaml =
          "listeners:\n"
          "  - {transport: udp, address: 127.0.0.1, port: " +
          std::to_string(*port) +
          "}\n"
          "  - {transport: tcp, address: 127.0.0.1, port: " +
          std::to_string(*port) +
          "}\n"
          "realm: turnpike.test\n"
          "threads: " +
          std::to_string(GetParam()) +
          "\n"
          "log: {level: warn}\n"
          "http: {port: 0}\n"
          "drain: {timeout: 0}\n"
          "relay: {addresses: [\"127.0.0.1\"], port_range: [" +
          std::to_string(relay_min) + ", " + std::to_string(relay_min + 49) +
          "]}\n"
          "auth: {users: {\"" +
          kAlice.username + "\": \"" + kAlice.password +
          "\"}}\n"
          "peers: {allow: [\"127.0.0.0/8\"]}\n"
          "limits: {unauthenticated_per_ip_per_second: 0, connections_per_ip: 0}\n";
      auto config = server::loadConfigText(yaml);
      ASSERT_TRUE(config.has_value()) << server::toString(config.error());
      server::setLogConfig(config->log);
      auto server = std::make_unique<server::Server>(std::move(*config));
      if (auto started = server->start(); started) {
        server_ = std::move(server);
        endpoint_ = loopback(false, *port);
      } else {
        ADD_FAILURE() << "start (attempt " << attempt + 1 << "): " << started.error();
      }
    }
    ASSERT_NE(server_, nullptr);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->stop()) << "a worker loop had handles left open";
    }
  }

  // Sets up an allocation for a client over `transport` with a peer on 127.0.0.1 (a channel to
  // it, or only a permission for Send and Data indications), warms the path up with
  // kWarmUpPackets each way, then relays kMeasuredPackets each way while counting allocations.
  void expectRelayAllocatesNothing(TurnTransport transport, Framing framing) {
    TurnClient client(endpoint_, transport, kAlice);
    ASSERT_TRUE(client.connected());
    const auto allocated = client.allocate();
    ASSERT_TRUE(allocated && allocated->isSuccess()) << "Allocate failed";
    ASSERT_TRUE(client.relayed().has_value());
    const UniqueFd peer = boundSocket(SOCK_DGRAM, loopback(false));
    ASSERT_TRUE(peer.valid());
    const Endpoint peer_endpoint = localEndpointOf(peer.get());
    const auto bound = framing == Framing::kChannelData
                           ? client.channelBind(kChannel, peer_endpoint)
                           : client.createPermission(peer_endpoint);
    ASSERT_TRUE(bound && bound->isSuccess()) << "ChannelBind or CreatePermission failed";

    RawRelay relay(client.fd(), transport == TurnTransport::kTcp, framing, peer.get(),
                   *client.relayed(), peer_endpoint);
    // Every buffer on the way grows to what this traffic needs (outbox, send batches, the TCP
    // write scratch buffer, the relay slot table, ...).
    relay.run(kWarmUpPackets);
    ASSERT_EQ(relay.results().arrived_at_peer, kWarmUpPackets);
    ASSERT_EQ(relay.results().arrived_at_client, kWarmUpPackets);

    const auto start = Clock::now();
    const std::size_t allocations = allocationsDuring([&] { relay.run(kMeasuredPackets); });
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    const Results& r = relay.results();
    std::printf("[   INFO   ] %d + %d packets relayed in %lld us, %zu allocations\n",
                r.arrived_at_peer, r.arrived_at_client, static_cast<long long>(elapsed.count()),
                allocations);
    EXPECT_EQ(allocations, 0U);
    EXPECT_EQ(r.sent_to_peer, kMeasuredPackets);
    EXPECT_EQ(r.sent_to_client, kMeasuredPackets);
    EXPECT_EQ(r.arrived_at_peer, kMeasuredPackets);
    EXPECT_EQ(r.arrived_at_client, kMeasuredPackets);
    EXPECT_EQ(r.malformed, 0);
    EXPECT_EQ(r.duplicates, 0);
    EXPECT_EQ(r.send_errors, 0);
    EXPECT_EQ(r.timeouts, 0);
  }

  std::unique_ptr<server::Server> server_;
  Endpoint endpoint_;
};

// The counter sees the workers' threads: a TCP connection accepted by a worker allocates there
// (the libuv handle, the TcpConnection), and nothing else runs in the window.
TEST_P(ServerNoAllocationTest, CounterSeesTheWorkersAllocations) {
  const Bytes binding = buildMessage(randomTransactionId());
  sockaddr_storage server{};
  const socklen_t server_length = server::uv::writeSockaddr(endpoint_, server);
  std::array<std::byte, 512> answer{};
  ssize_t answered = -1;
  const UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  const std::size_t allocations = allocationsDuring([&] {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server),  // NOLINT
                  server_length) != 0 ||
        ::send(fd.get(), binding.data(), binding.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(binding.size())) {
      return;
    }
    pollfd readable{fd.get(), POLLIN, 0};
    if (::poll(&readable, 1, kWaitMs) > 0) {
      answered = ::recv(fd.get(), answer.data(), answer.size(), 0);
    }
  });
  ASSERT_GE(answered, static_cast<ssize_t>(protocol::kHeaderSize)) << "no Binding response";
  EXPECT_GE(allocations, 1U);
}

// The heartbeat timer (every 250 ms) and the core's deadline timer run on an idle server.
TEST_P(ServerNoAllocationTest, IdleServerAllocatesNothing) {
  TurnClient client(endpoint_, TurnTransport::kUdp, kAlice);
  const auto allocated = client.allocate();
  ASSERT_TRUE(allocated && allocated->isSuccess()) << "Allocate failed";
  EXPECT_EQ(allocationsDuring([] { std::this_thread::sleep_for(std::chrono::milliseconds(600)); }),
            0U);
}

TEST_P(ServerNoAllocationTest, UdpChannelDataBothWaysAllocatesNothing) {
  expectRelayAllocatesNothing(TurnTransport::kUdp, Framing::kChannelData);
}

TEST_P(ServerNoAllocationTest, UdpSendAndDataIndicationsAllocateNothing) {
  expectRelayAllocatesNothing(TurnTransport::kUdp, Framing::kIndications);
}

// ChannelData padded to 4 bytes both ways (RFC 8656 section 12.5): 161-byte payloads.
TEST_P(ServerNoAllocationTest, TcpChannelDataBothWaysAllocatesNothing) {
  expectRelayAllocatesNothing(TurnTransport::kTcp, Framing::kChannelData);
}

TEST_P(ServerNoAllocationTest, TcpSendAndDataIndicationsAllocateNothing) {
  expectRelayAllocatesNothing(TurnTransport::kTcp, Framing::kIndications);
}

INSTANTIATE_TEST_SUITE_P(Workers, ServerNoAllocationTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "Threads";
                         });

}  // namespace
}  // namespace turnpike::test

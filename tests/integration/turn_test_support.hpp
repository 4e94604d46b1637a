// Shared by the TURN integration tests (turn_test.cpp, ops_test.cpp): assertion helpers, the
// metrics and HTTP helpers, and the TurnTest fixture (relay on 127.0.0.1, the static user alice,
// the REST secret, peers on 127.0.0.0/8).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/turn/channel_data.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/turn_client.hpp"

namespace turnpike::test {

using TurnClock = std::chrono::steady_clock;
using protocol::ConstBytes;
using protocol::Endpoint;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::messageType;
using protocol::Method;
using testing::AssertionFailure;
using testing::AssertionResult;
using testing::AssertionSuccess;
namespace attr = protocol::attr;
namespace error = protocol::error;

inline constexpr const char* kRealm = "turnpike.test";
inline constexpr const char* kSecret = "s3cret";
inline constexpr std::uint16_t kChannel = 0x4000;
inline constexpr std::uint16_t kRelayPortCount = 1000;
inline constexpr std::uint32_t kDefaultLifetime = 600;
inline const TurnCredentials kAlice{"alice", "wonderland"};

// ---- Helpers ----

inline AssertionResult succeeded(const std::optional<TurnResponse>& response,
                                 std::string_view what) {
  if (!response) {
    return AssertionFailure() << what << ": no response";
  }
  if (!response->isSuccess()) {
    return AssertionFailure() << what << ": error " << response->code;
  }
  return AssertionSuccess();
}

inline AssertionResult failedWith(const std::optional<TurnResponse>& response, std::uint16_t code,
                                  std::string_view what) {
  if (!response) {
    return AssertionFailure() << what << ": no response";
  }
  if (protocol::classOf(response->type) != MessageClass::kErrorResponse) {
    return AssertionFailure() << what << ": success, expected error " << code;
  }
  if (response->code != code) {
    return AssertionFailure() << what << ": error " << response->code << ", expected " << code;
  }
  return AssertionSuccess();
}

// A success response must carry a MESSAGE-INTEGRITY made with the client's long-term key.
inline AssertionResult signedWith(const TurnResponse& response, const TurnClient& client) {
  const auto message = response.message();
  if (!message) {
    return AssertionFailure() << "the response does not parse";
  }
  const auth::Md5Key key = client.key();
  if (protocol::verifyMessageIntegrity(*message, key) != protocol::IntegrityResult::kOk) {
    return AssertionFailure() << "MESSAGE-INTEGRITY does not verify with the long-term key";
  }
  return AssertionSuccess();
}

inline AssertionResult sameBytes(const Bytes& got, const Bytes& expected) {
  if (got == expected) {
    return AssertionSuccess();
  }
  return AssertionFailure() << "got " << got.size() << " bytes, expected " << expected.size()
                            << (got.size() == expected.size() ? " (contents differ)" : "");
}

// A 401 challenge: REALM is ours and a NONCE is offered.
inline AssertionResult isChallenge(const std::optional<TurnResponse>& response,
                                   std::string_view what) {
  if (AssertionResult failed = failedWith(response, error::kUnauthenticated, what); !failed) {
    return failed;
  }
  if (response->text(attr::kRealm) != std::optional<std::string>(kRealm)) {
    return AssertionFailure() << what << ": REALM is not " << kRealm;
  }
  if (response->text(attr::kNonce).value_or("").empty()) {
    return AssertionFailure() << what << ": no NONCE";
  }
  return AssertionSuccess();
}

// Sends `payload` from the client over the channel and checks that the peer gets exactly it from
// the relayed address; then the peer answers with `answer` and the client must get it as
// ChannelData on the channel.
inline void channelRoundTrip(TurnClient& client, const UdpPeer& peer, std::uint16_t channel,
                             const Bytes& payload, const Bytes& answer) {
  SCOPED_TRACE("payload of " + std::to_string(payload.size()) + " bytes");
  ASSERT_TRUE(client.sendChannelData(channel, payload));
  const auto at_peer = peer.receive();
  ASSERT_TRUE(at_peer) << "the peer got nothing";
  EXPECT_EQ(at_peer->source, *client.relayed());
  EXPECT_TRUE(sameBytes(at_peer->data, payload));

  ASSERT_TRUE(peer.sendTo(*client.relayed(), answer));
  const auto at_client = client.receiveData();
  ASSERT_TRUE(at_client) << "the client got nothing";
  EXPECT_EQ(at_client->kind, DataFrame::Kind::kChannelData);
  EXPECT_EQ(at_client->channel, channel);
  EXPECT_TRUE(sameBytes(at_client->payload, answer));
  const bool stream = client.transport() == TurnTransport::kTcp;
  EXPECT_EQ(at_client->wire_size, protocol::channelDataSize(answer.size(), stream));
  if (stream) {
    EXPECT_EQ(at_client->wire_size % 4, 0U) << "ChannelData over TCP is not padded";
  }
}

// The value of the first sample of `name` whose labels include every one of `labels`
// (`key="value"` strings), from Prometheus text exposition.
inline std::optional<double> metricValue(const std::string& text, std::string_view name,
                                         const std::vector<std::string>& labels) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() == '#' || !line.starts_with(name)) {
      continue;
    }
    const char after = line.size() > name.size() ? line[name.size()] : '\0';
    if (after != '{' && after != ' ') {
      continue;  // a longer name with this prefix
    }
    const std::size_t close = line.rfind('}');
    const std::string label_part =
        after == '{' && close != std::string::npos ? line.substr(name.size(), close) : "";
    const bool match = std::ranges::all_of(labels, [&](const std::string& label) {
      return label_part.find(label) != std::string::npos;
    });
    if (!match) {
      continue;
    }
    const std::size_t space = line.rfind(' ');
    try {
      return std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// GET over HTTP/1.0 on a fresh connection: the whole answer (status line, headers, body).
inline std::optional<std::string> httpGet(const Endpoint& server, const std::string& path) {
  const UniqueFd fd = tcpConnect(server);
  if (!fd.valid()) {
    return std::nullopt;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (!sendAll(fd.get(), protocol::asBytes(request))) {
    return std::nullopt;
  }
  const auto answer = recvUntilClose(fd.get());
  if (!answer) {
    return std::nullopt;
  }
  return std::string(protocol::asText(*answer));
}

// One sample of a metric from a fresh GET /metrics (see metricValue), or nullopt.
inline std::optional<double> scrapeMetric(const Endpoint& http, std::string_view name,
                                          const std::vector<std::string>& labels = {}) {
  const auto text = httpGet(http, "/metrics");
  return text ? metricValue(*text, name, labels) : std::nullopt;
}

inline std::size_t countLinesWith(const std::string& text,
                                  const std::vector<std::string>& needles) {
  std::istringstream lines(text);
  std::string line;
  std::size_t count = 0;
  while (std::getline(lines, line)) {
    if (std::ranges::all_of(needles, [&](const std::string& needle) {
          return line.find(needle) != std::string::npos;
        })) {
      ++count;
    }
  }
  return count;
}

// Runs `check` until it holds or `timeout` passes (for state the server updates after it has
// answered: the log, the metrics).
template <typename Check>
bool eventually(Check check, Millis timeout = kReplyTimeout) {
  const auto deadline = TurnClock::now() + timeout;
  while (true) {
    if (check()) {
      return true;
    }
    if (TurnClock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
}

// ---- The fixture ----

// relay.addresses [127.0.0.1] with a port window below the ephemeral range (so that client
// sockets rarely sit in it), the static user alice, the REST secret, peers on 127.0.0.0/8
// allowed (the built-in list denies loopback), two workers.
class TurnTest : public ServerFixture {
 protected:
  TurnTest() {
    std::random_device device;
    relay_port_min_ = static_cast<std::uint16_t>(20000 + kRelayPortCount * (device() % 10));
  }

  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.realm = kRealm;
    options.relay_addresses = {"127.0.0.1"};
    options.relay_port_min = relay_port_min_;
    options.relay_port_max = relayPortMax();
    options.users = {{kAlice.username, kAlice.password}};
    options.secrets = {kSecret};
    options.peers_allow = {"127.0.0.0/8"};
    options.threads = 2;
    return options;
  }

  [[nodiscard]] std::uint16_t relayPortMin() const { return relay_port_min_; }
  [[nodiscard]] std::uint16_t relayPortMax() const {
    return static_cast<std::uint16_t>(relay_port_min_ + kRelayPortCount - 1);
  }

  [[nodiscard]] TurnClient client(TurnTransport transport = TurnTransport::kUdp,
                                  TurnCredentials credentials = kAlice) const {
    return TurnClient(server(), transport, std::move(credentials));
  }

  // Allocates and checks the relayed address: 127.0.0.1 and a port in the configured window.
  AssertionResult allocated(TurnClient& turn) const {
    if (!turn.connected()) {
      return AssertionFailure() << "not connected to the server";
    }
    const auto response = turn.allocate();
    if (AssertionResult ok = succeeded(response, "Allocate"); !ok) {
      return ok;
    }
    if (!turn.relayed()) {
      return AssertionFailure() << "no XOR-RELAYED-ADDRESS";
    }
    const Endpoint& relayed = *turn.relayed();
    if (relayed.address != loopback(false).address || relayed.port < relayPortMin() ||
        relayed.port > relayPortMax()) {
      return AssertionFailure() << "relayed address " << relayed.toString()
                                << " is not in 127.0.0.1:" << relayPortMin() << "-"
                                << relayPortMax();
    }
    return AssertionSuccess();
  }

 private:
  std::uint16_t relay_port_min_ = 20000;
};

}  // namespace turnpike::test

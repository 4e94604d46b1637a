// Steady relayed traffic with sequence numbers, for the storm and reload tests: TURN clients
// (TurnClient over UDP or TCP), each with a channel to its own peer socket; every peer echoes
// what it gets back through the relay. Both directions are counted per pair, so loss,
// duplication and corruption each show.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/turn_client.hpp"

namespace turnpike::test {

class RelayLoad {
 public:
  struct Leg {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;  // distinct sequence numbers that arrived byte-identical
    std::uint64_t duplicates = 0;
    std::uint64_t corrupt = 0;
    std::vector<bool> seen;
  };
  struct Pair {
    std::unique_ptr<TurnClient> client;
    UniqueFd peer;
    protocol::Endpoint peer_endpoint;
    Leg to_peer;
    Leg to_client;
    std::uint64_t other_frames = 0;  // relayed frames that are not this pair's echo
  };

  static constexpr std::size_t kPayloadSize = 160;
  static constexpr std::uint16_t kLoadChannel = 0x4000;

  // Allocates with `client`, binds the channel to a fresh peer socket and checks one round trip.
  // False (with a test failure) on any error.
  bool add(std::unique_ptr<TurnClient> client);
  // One packet from every client to its peer.
  void send();
  // Everything queued: the peers echo, the clients count.
  void receive();
  // send() every `interval`, receive() in between, until `until` or `stop`.
  void run(std::chrono::steady_clock::time_point until, Millis interval,
           const std::atomic<bool>& stop);
  // receive() until nothing arrives for `quiet`, at most `limit`.
  void drain(Millis quiet, Millis limit);

  [[nodiscard]] const std::vector<Pair>& pairs() const { return pairs_; }
  [[nodiscard]] TurnClient& client(std::size_t index) { return *pairs_[index].client; }
  // Totals over the pairs, both directions.
  [[nodiscard]] std::uint64_t sent() const;
  [[nodiscard]] std::uint64_t lost() const;
  [[nodiscard]] std::uint64_t corrupt() const;
  [[nodiscard]] std::uint64_t duplicates() const;
  // Lost packets of pairs whose client uses `transport`, both directions.
  [[nodiscard]] std::uint64_t lost(TurnTransport transport) const;
  // One line per pair: sent/received each way.
  [[nodiscard]] std::string summary() const;

 private:
  void receiveAtPeer(std::size_t index);
  void receiveAtClient(std::size_t index);

  std::vector<Pair> pairs_;
};

}  // namespace turnpike::test

// Garbage for the storm test (issue 1): random and malformed datagrams to the UDP listener and
// to open relay ports, and random or cut-off byte streams on TCP, TLS and HTTP connections that
// end with a FIN, a RST or silence. Paced at fixed rates so that the load is the same on a fast
// and a slow machine; run() sends from the calling thread until its deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {

struct StormTargets {
  protocol::Endpoint udp;                  // the UDP listener
  std::vector<protocol::Endpoint> tcp;     // TCP listeners: STUN framing
  std::vector<protocol::Endpoint> tls;     // TLS listeners: ClientHello-shaped junk
  std::vector<protocol::Endpoint> http;    // HTTP endpoints: request-shaped junk
  std::vector<protocol::Endpoint> relays;  // open relay ports
  protocol::IpAddress permitted;           // the peers' address: relay junk from it is relayed
  protocol::IpAddress stranger;            // an address with no permission anywhere
};

struct StormRates {
  int datagrams_per_second = 3000;       // to the UDP listener
  int relay_datagrams_per_second = 300;  // to relay ports, half from each source address
  int connections_per_second = 60;       // TCP, TLS and HTTP in turn
  int max_connections = 48;              // open at once
};

struct StormCounters {
  std::uint64_t datagrams = 0;
  std::uint64_t relay_datagrams = 0;
  std::uint64_t answers = 0;  // datagrams the server sent back to the storm's sockets
  std::uint64_t connections = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t stream_bytes = 0;
  std::uint64_t closed_by_server = 0;
  std::uint64_t fins = 0;
  std::uint64_t resets = 0;
};

class GarbageStorm {
 public:
  GarbageStorm(StormTargets targets, StormRates rates, std::uint64_t seed);

  // Sends until `until` or `stop`, then closes every connection with a RST.
  void run(std::chrono::steady_clock::time_point until, const std::atomic<bool>& stop);
  [[nodiscard]] const StormCounters& counters() const { return counters_; }

 private:
  struct Connection {
    UniqueFd fd;
    Bytes pending;
    std::size_t sent = 0;
    std::chrono::steady_clock::time_point end;
    enum class Ending : std::uint8_t { kFin, kRst, kSilence } ending = Ending::kFin;
  };

  [[nodiscard]] Bytes datagram();
  [[nodiscard]] Bytes randomBytes(std::size_t min, std::size_t max);
  [[nodiscard]] Bytes streamFor(std::size_t kind);
  void openConnection();
  void serviceConnections(std::chrono::steady_clock::time_point now);
  void drainAnswers();

  StormTargets targets_;
  StormRates rates_;
  std::mt19937_64 random_;
  std::vector<Bytes> templates_;  // valid messages to cut, flip and stretch
  Bytes client_hello_;
  std::vector<UniqueFd> udp_;        // to the listener, from the loopback
  std::vector<UniqueFd> relay_udp_;  // to relay ports, from `permitted` and `stranger`
  std::vector<Connection> connections_;
  std::size_t next_stream_ = 0;
  StormCounters counters_;
};

}  // namespace turnpike::test

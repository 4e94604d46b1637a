// TURN client state for the load generator (turn_load): one Flow per allocation, driven by
// responses and timeouts, with RFC 8656 long-term authentication as a strict client does it
// (RFC 8489 section 9.2): an unauthenticated Allocate, REALM and NONCE from the 401, key =
// MD5(username ":" realm ":" password), a new NONCE on 438. Nothing here touches sockets except
// through the Flow's Conn; the driver in turn_load.cpp owns the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "auth/long_term_key.hpp"
#include "benchmarks/bare_setup.hpp"
#include "benchmarks/load_conn.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::bench {

using Clock = std::chrono::steady_clock;

// Where a flow is. Each request step waits for its response.
enum class Step : std::uint8_t {
  kIdle,
  kChallenge,  // unauthenticated Allocate sent, expecting 401
  kAllocate,   // authenticated Allocate sent
  kBind,       // ChannelBind sent
  kBareSetup,  // bare_forwarder setup datagram sent
  kReady,      // allocated (and bound): relaying or held
  kRefresh,    // Refresh (keep-alive) sent
  kDelete,     // Refresh with LIFETIME 0 sent
  kDone,       // deleted
  kFailed,
};

// What a flow does once allocated.
enum class Plan : std::uint8_t {
  kBind,    // relay: ChannelBind to the peer socket, then ready
  kHold,    // hold: ready at once
  kDelete,  // churn: delete at once
};

struct Credentials {
  std::string username;
  std::string password;
  std::string realm;  // learned from the first 401
  auth::Md5Key key{};
};

// Counts of everything that went wrong, by kind.
struct Errors {
  std::map<std::uint16_t, std::uint64_t> codes;  // error responses by ERROR-CODE
  std::uint64_t timeouts = 0;
  std::uint64_t broken = 0;   // connection closed, write failed, bad frames
  std::uint64_t invalid = 0;  // unparseable or unexpected messages
  [[nodiscard]] std::uint64_t total() const;
  [[nodiscard]] std::uint64_t code(std::uint16_t c) const;
  // "401:3,508:10" or "none"
  [[nodiscard]] std::string summary() const;
};

struct Flow {
  Conn conn;
  int peer_fd = -1;  // relay mode: the generator's own peer socket
  Endpoint peer;
  Endpoint relayed;
  Plan plan = Plan::kHold;
  Step step = Step::kIdle;
  std::string nonce;
  protocol::TransactionId tid{};
  std::vector<std::byte> request;  // the last request, resent over UDP
  Clock::time_point sent_at{};
  int transmissions = 0;
  int stale_nonces = 0;
  std::uint32_t lifetime = 0;         // granted
  Clock::time_point refresh_at{};     // hold: when to refresh
  std::uint64_t next_seq = 0;         // relay: ChannelData sequence
  std::uint32_t in_flight = 0;        // relay: sent, not yet echoed
  Clock::time_point last_progress{};  // relay: last echo (flat-out window recovery)
};

// Builds and sends requests for a flow and advances it on responses.
class TurnSteps {
 public:
  struct Settings {
    std::uint32_t lifetime = 0;  // LIFETIME to ask for in Allocate (0: none)
    std::chrono::milliseconds rto{500};
    int max_transmissions = 5;  // UDP; streams send once
    std::chrono::milliseconds stream_timeout{5000};
  };

  TurnSteps(Credentials& credentials, Errors& errors, Settings settings);

  // Starts a flow: unauthenticated Allocate (or the bare setup datagram).
  void begin(Flow& flow, bool bare, Clock::time_point now);
  // Refresh: LIFETIME lifetime (0 deletes).
  void refresh(Flow& flow, std::uint32_t lifetime, Clock::time_point now);
  // A STUN message (or bare answer) that arrived on the flow's connection. Returns true if
  // it moved the flow to kReady, kDone or kFailed.
  bool onMessage(Flow& flow, ConstBytes message, Clock::time_point now);
  // Retransmits or fails a flow whose request is overdue.
  void checkTimeout(Flow& flow, Clock::time_point now);
  void fail(Flow& flow);

  std::uint64_t allocated = 0;  // successful Allocates
  std::uint64_t deleted = 0;    // successful Refresh 0
  std::uint64_t retransmissions = 0;

 private:
  void sendNew(Flow& flow, Clock::time_point now);
  void transmit(Flow& flow, Clock::time_point now);
  // A new transaction ID in flow.tid and a builder for the request in buffer_.
  [[nodiscard]] protocol::MessageBuilder startRequest(Flow& flow, protocol::Method method);
  // The finished request into flow.request, for sending and resending.
  static void keepRequest(Flow& flow, const protocol::MessageBuilder& builder);
  void buildAllocate(Flow& flow, bool authenticated);
  void buildChannelBind(Flow& flow);
  void buildRefresh(Flow& flow, std::uint32_t lifetime);
  void addAuth(protocol::MessageBuilder& builder, const Flow& flow);
  void resendCurrent(Flow& flow, Clock::time_point now);
  void onSuccess(Flow& flow, const protocol::Message& message, Clock::time_point now);
  void onError(Flow& flow, const protocol::Message& message, Clock::time_point now);
  bool onBareAnswer(Flow& flow, ConstBytes message);
  [[nodiscard]] bool isPending(const Flow& flow) const;

  Credentials& credentials_;
  Errors& errors_;
  Settings settings_;
  std::mt19937_64 random_;
  std::array<std::byte, 1024> buffer_{};
};

}  // namespace turnpike::bench

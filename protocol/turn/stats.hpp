// Counters kept by one TURN core (one worker thread) and read by the metrics thread. Single
// writer: an increment is a relaxed load and store, never a locked read-modify-write.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "protocol/stun/binding.hpp"
#include "protocol/turn/core_types.hpp"

namespace turnpike::protocol {

class StatCounter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Requests by method and by result.
enum class RequestMethod : std::uint8_t {
  kAllocate,
  kRefresh,
  kCreatePermission,
  kChannelBind,
  kConnect,         // RFC 6062
  kConnectionBind,  // RFC 6062
};
inline constexpr std::size_t kRequestMethodCount = 6;
[[nodiscard]] std::string_view toString(RequestMethod method);

// Request results: 0 is success, then the error codes TURN uses, then "other".
inline constexpr std::array<std::uint16_t, 14> kResultCodes{0,   300, 400, 401, 403, 420, 437,
                                                            438, 440, 441, 442, 443, 486, 508};
inline constexpr std::size_t kRequestResultCount = kResultCodes.size() + 1;
[[nodiscard]] std::size_t requestResultIndex(std::uint16_t code);
// "success", "400", ..., "other".
[[nodiscard]] std::string_view requestResultLabel(std::size_t index);

enum class AuthFailure : std::uint8_t {
  kNoCredentials,  // the first 401 challenge: no MESSAGE-INTEGRITY
  kBadRequest,     // integrity without USERNAME, REALM or NONCE
  kStaleNonce,
  kUnknownUser,
  kExpired,           // REST credential past its expiry
  kBadIntegrity,      // wrong password
  kWrongCredentials,  // another username than the allocation's (441)
};
inline constexpr std::size_t kAuthFailureCount = 7;
[[nodiscard]] std::string_view toString(AuthFailure failure);

enum class RelayDrop : std::uint8_t {
  kNoAllocation,   // ChannelData or Send indication from a 5-tuple without an allocation
  kNoPermission,   // to or from a peer without a permission
  kNoChannel,      // ChannelData on an unbound channel
  kDenied,         // Send indication to a peer the policy denies
  kMalformed,      // a Send indication without XOR-PEER-ADDRESS or DATA, bad ChannelData
  kSendFailed,     // outbox full
  kBandwidth,      // over limits.bandwidth_per_allocation_bps
  kUserBandwidth,  // over limits.bandwidth_per_user_bps
};
inline constexpr std::size_t kRelayDropCount = 8;
[[nodiscard]] std::string_view toString(RelayDrop drop);

enum class Direction : std::uint8_t { kToPeer, kToClient };

// Why an Allocate was answered 300 Try Alternate: SIGTERM, or cluster.redirect_above.
enum class RedirectReason : std::uint8_t { kDraining, kLoad };
inline constexpr std::size_t kRedirectReasonCount = 2;
[[nodiscard]] std::string_view toString(RedirectReason reason);

struct CoreStats {
  std::array<StatCounter, kStunOutcomeCount> stun_outcomes;
  std::array<std::array<StatCounter, kRequestResultCount>, kRequestMethodCount> requests;
  std::array<StatCounter, kAuthFailureCount> auth_failures;
  // [transport][family: 0 = IPv4, 1 = IPv6]
  std::array<std::array<StatCounter, 2>, kClientTransportCount> allocations_active;
  StatCounter allocations_created;
  StatCounter allocations_deleted;
  StatCounter permissions_active;
  StatCounter channels_active;
  StatCounter peer_denied;
  StatCounter quota_rejected;
  // Allocations refused per limit (the 486s and 508s of limits.*).
  StatCounter allocations_per_client_ip_rejected;
  StatCounter permission_limit_rejected;
  StatCounter channel_limit_rejected;
  // STUN messages dropped by the unauthenticated per-address rate limit.
  StatCounter unauthenticated_dropped;
  StatCounter mobility_moves;  // RFC 8016: allocations moved to a new 5-tuple by ticket
  // RFC 5780 Binding answers sent from the other address, from the other port, and to the
  // client's RESPONSE-PORT.
  StatCounter nat_changed_address;
  StatCounter nat_changed_port;
  StatCounter nat_response_port;
  StatCounter relay_ports_in_use;
  std::array<StatCounter, kRelayDropCount> relay_drops;
  // Allocate requests answered 300 Try Alternate, by RedirectReason.
  std::array<StatCounter, kRedirectReasonCount> redirects;
  // RFC 6062 TCP allocations: active ones (also counted in allocations_active), peer
  // connections open (connecting, waiting for ConnectionBind, or bound), and how peer
  // connections ended early.
  StatCounter tcp_allocations_active;
  StatCounter tcp_peer_connections_active;
  StatCounter tcp_connect_failed;             // Connect answered 447
  StatCounter tcp_bind_timeouts;              // no ConnectionBind within 30 s
  StatCounter tcp_peer_rejected;              // incoming peer connections without a permission
  StatCounter tcp_connection_limit_rejected;  // over limits.tcp_connections_per_allocation
  // Times a TCP allocation's splice found the bandwidth budget spent and stopped reading
  // (reported with its counts, RelaySockets::takePeerCounts).
  StatCounter tcp_throttled;
  // [direction][transport]
  std::array<std::array<StatCounter, kClientTransportCount>, 2> relayed_bytes;
  std::array<std::array<StatCounter, kClientTransportCount>, 2> relayed_packets;
};

// The sum of a table of counters (e.g. allocations_active, relayed_bytes).
template <std::size_t Rows, std::size_t Columns>
[[nodiscard]] std::uint64_t total(const std::array<std::array<StatCounter, Columns>, Rows>& table) {
  std::uint64_t sum = 0;
  for (const auto& row : table) {
    for (const StatCounter& counter : row) {
      sum += counter.get();
    }
  }
  return sum;
}

}  // namespace turnpike::protocol

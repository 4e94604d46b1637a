// An allocation and what hangs off it (RFC 8656 sections 2.2, 2.3, 2.5): relayed transport
// addresses, permissions (by peer IP, 300 s) and channel bindings (number <-> peer, 600 s).
// Small vectors scanned linearly: an allocation has a handful of each (capped by the core).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/long_term_key.hpp"
#include "protocol/stun/types.hpp"
#include "protocol/turn/core_types.hpp"
#include "protocol/turn/token_bucket.hpp"

namespace turnpike::protocol {

inline constexpr Seconds kPermissionLifetime{300};  // RFC 8656 section 9
inline constexpr Seconds kChannelLifetime{600};     // RFC 8656 section 12
// RFC 8656 section 12: after a binding expires, neither its number nor its peer may be bound
// to anything else for 5 more minutes.
inline constexpr Seconds kChannelCooldown{300};
// RFC 8489 section 6.3.4 (Ti = 39.5 s): how long a response is kept for retransmissions.
inline constexpr Seconds kResponseCacheLifetime{40};

struct Permission {
  IpAddress peer;
  MonotonicTime expires;
};

struct ChannelBinding {
  std::uint16_t number = 0;
  Endpoint peer;
  MonotonicTime expires;  // relaying stops here; the entry stays until expires + cooldown
  bool active = true;     // false once its expiry has been processed (cooling down)
  bool routed = false;    // announced with CoreEvents::onRouteUp and not yet taken down
};

// What Allocation::expire removed or deactivated, for the event sink.
struct ExpiryCounts {
  std::size_t permissions = 0;
  std::size_t channels = 0;
};

// One relayed transport address: the relay socket and what is advertised for it.
struct RelayLeg {
  SocketRef socket;
  Endpoint local;    // where the relay socket is bound
  Endpoint relayed;  // XOR-RELAYED-ADDRESS (external address when configured)
};

// A response kept so that a retransmitted request gets the same answer (RFC 8656 section 7.2).
struct CachedResponse {
  TransactionId transaction_id{};
  MonotonicTime expires;
  std::vector<std::byte> bytes;
};

// Which key and integrity attribute a client authenticated with (RFC 8489 section 9.2).
struct SessionKey {
  auth::Md5Key md5{};
  std::optional<auth::Sha256Key> sha256;  // set when the client chose PASSWORD-ALGORITHM SHA-256
};

// The part of a user's bandwidth budget (limits.bandwidth_per_user_bps) one core holds.
struct UserLease {
  std::string user;
  double credit = 0;  // bytes
};

// RFC 6062: a TCP connection between a TCP allocation's relay address and a peer.
inline constexpr Seconds kConnectionBindTimeout{30};  // RFC 6062 sections 5.2 and 5.3
struct TcpPeerConnection {
  enum class State : std::uint8_t {
    kConnecting,   // Connect sent to the adapter; its answer waits for the result
    kWaitingBind,  // connected or accepted; closed unless a ConnectionBind comes by bind_deadline
    kBound,        // spliced with data_connection
  };
  std::uint32_t id = 0;  // CONNECTION-ID
  Endpoint peer;
  State state = State::kConnecting;
  MonotonicTime bind_deadline;
  // kConnecting: what the deferred Connect answer needs to be signed as the Connect was (the
  // allocation's key: SHA-256 when the Connect chose PASSWORD-ALGORITHM SHA-256 and the
  // allocation has that key, else MD5).
  TransactionId transaction{};
  bool sha256_key = false;
  bool sha256_mac = false;
  bool fingerprint = false;
  std::uint64_t data_connection = 0;  // kBound: the client's data connection (SocketRef id)
};

struct Allocation {
  std::uint64_t id = 0;
  ClientSource source;
  std::vector<RelayLeg> legs;  // one per address family (two for dual allocations)
  MonotonicTime created;
  MonotonicTime expires;
  MonotonicTime scheduled;  // the earliest deadline already queued in the core's timer heap
  // Authentication state: later requests must use the same username (else 441).
  std::string username;
  std::string user;
  std::optional<std::int64_t> credential_expires_at;
  SessionKey key;
  std::vector<Permission> permissions;
  std::vector<ChannelBinding> channels;
  std::vector<CachedResponse> responses;
  bool tcp = false;  // RFC 6062: REQUESTED-TRANSPORT TCP, a listening TCP relay socket
  std::vector<TcpPeerConnection> tcp_connections;
  TokenBucket bandwidth;                  // limits.bandwidth_per_allocation_bps, in bytes
  std::shared_ptr<UserLease> user_lease;  // set when a per-user limit is on
  // Accounting.
  std::uint64_t bytes_to_peer = 0;
  std::uint64_t packets_to_peer = 0;
  std::uint64_t bytes_to_client = 0;
  std::uint64_t packets_to_client = 0;

  [[nodiscard]] const RelayLeg* legFor(AddressFamily family) const;
  [[nodiscard]] bool hasPermission(const IpAddress& peer, MonotonicTime now) const;
  // The active (not expired) binding for a number or a peer.
  [[nodiscard]] const ChannelBinding* channelByNumber(std::uint16_t number,
                                                      MonotonicTime now) const;
  [[nodiscard]] const ChannelBinding* channelByPeer(const Endpoint& peer, MonotonicTime now) const;
  // The earliest time something about this allocation changes on its own.
  [[nodiscard]] MonotonicTime nextDeadline() const;
  // Drops expired permissions, deactivates expired channels, forgets cooled-down ones, and drops
  // stale cached responses.
  ExpiryCounts expire(MonotonicTime now);
};

}  // namespace turnpike::protocol

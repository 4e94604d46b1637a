// The TURN server core (RFC 8656 with RFC 8489 long-term authentication), sans I/O: it takes a
// message, where it came from and `now`, changes its allocation table, and appends what to send
// to an outbox. One core per worker thread; nothing in it is shared.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/binding.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/turn/allocation.hpp"
#include "protocol/turn/core_types.hpp"
#include "protocol/turn/load_redirect.hpp"
#include "protocol/turn/peer_policy.hpp"
#include "protocol/turn/port_pool.hpp"
#include "protocol/turn/stats.hpp"
#include "protocol/turn/token_bucket.hpp"

namespace turnpike::protocol {

// Where 300 Try Alternate sends clients (cluster.alternate_servers, cluster.alternate_domain).
struct AlternateServers {
  std::vector<Endpoint> servers;
  std::string domain;  // ALTERNATE-DOMAIN for TLS clients (RFC 8489 section 14.16); empty: none
};

// A relay address and what clients are told it is (1:1 NAT: external_addresses).
struct RelayAddress {
  IpAddress local;
  IpAddress advertised;
};

// The four UDP listener sockets of a server with two addresses and two ports (RFC 5780): by
// [address][port], 0 the primary and 1 the alternate one, their endpoints and SocketRef ids.
// Binding requests that arrive on one of them get RFC 5780 answers; others are answered as
// without it.
struct NatDiscoveryConfig {
  std::array<std::array<Endpoint, 2>, 2> endpoints{};
  std::array<std::array<std::uint64_t, 2>, 2> listeners{};
};

struct CoreConfig {
  std::string realm = "turnpike";
  std::string software;  // SOFTWARE on success responses; empty omits it
  Seconds default_lifetime{600};
  Seconds max_lifetime{3600};
  std::vector<RelayAddress> relay_addresses;
  std::uint16_t port_min = 49152;
  std::uint16_t port_max = 65535;
  std::size_t max_permissions = 64;  // per allocation; one more gets 508
  std::size_t max_channels = 64;     // per allocation; one more gets 508
  // RFC 5780 NAT behaviour discovery (off without it: CHANGE-REQUEST gets 420, and Binding
  // answers carry no RESPONSE-ORIGIN or OTHER-ADDRESS).
  std::optional<NatDiscoveryConfig> nat_discovery;
  // Relayed payload per allocation, both directions, in bytes per second (0: unlimited); the
  // bucket holds one second's worth. Excess packets are dropped (RelayDrop::kBandwidth).
  std::uint64_t bandwidth_bytes_per_second = 0;
  // limits.bandwidth_per_user_bps in bytes per second (0: unlimited), shared by all of a user's
  // allocations on every worker through CoreDependencies::user_bandwidth. A lease is 20 ms of it.
  std::uint64_t user_bandwidth_bytes_per_second = 0;
  // STUN messages from a source address (IPv6: its /64) that has no allocation here: a token
  // bucket per address (0 per second: off). Over it they are dropped unanswered
  // (StunOutcome-independent counter CoreStats::unauthenticated_dropped).
  std::uint32_t unauthenticated_per_second = 0;
  std::uint32_t unauthenticated_burst = 1;
  // Report channels that may bypass the core (CoreEvents::onRouteUp/onRouteDown): fast_path on.
  bool announce_routes = false;
  // RFC 8016 mobility, on with a key: an Allocate with MOBILITY-TICKET gets a ticket, and a
  // Refresh carrying it from another UDP 5-tuple, by the same user, moves the allocation there.
  // Off (nullopt): an Allocate with the attribute gets 405 (Mobility Forbidden) and a Refresh
  // ignores it. The key is the tickets' HMAC-SHA256 key, random bytes from a CSPRNG (the server
  // draws it once at start, for every worker). A ticket names its allocation's id, whose top byte
  // is `worker` (ticketWorker): the server hands a Refresh that reaches another worker to the
  // one that holds the allocation.
  std::optional<std::array<std::byte, 32>> mobility_key;
  // This core's worker index, the top byte of its allocation ids (0 to 255).
  std::uint8_t worker = 0;
  // How many workers there are: this core's RFC 6062 CONNECTION-IDs are `worker` modulo it
  // (connectionIdWorker), so that a ConnectionBind reaching another worker is handed here.
  std::size_t workers = 1;
  // Fleet: where new allocations go when CoreDependencies::load says this node is overloaded
  // (and where draining sends them when it is given no list of its own).
  AlternateServers cluster;
  // RFC 6062 (tcp_allocations): an Allocate with REQUESTED-TRANSPORT TCP over a TCP control
  // connection gets a TCP relay (off: 442). Peer connections per allocation are capped (508).
  bool tcp_allocations = false;
  std::size_t max_tcp_connections = 32;
};

// Allocation limits that span workers (allocations_total, allocations_per_user,
// allocations_per_client_ip).
enum class QuotaVerdict : std::uint8_t { kOk, kUserLimit, kTotalLimit, kClientIpLimit };
class AllocationQuota {
 public:
  virtual ~AllocationQuota() = default;
  [[nodiscard]] virtual QuotaVerdict acquire(std::string_view user, const IpAddress& client) = 0;
  virtual void release(std::string_view user, const IpAddress& client) = 0;
  // RFC 8016: one of `user`'s allocations moves from client address `from` to `to`; only the
  // per-address count changes (kClientIpLimit when `to` is full, and nothing moves). This
  // default releases and acquires, which is atomic only with one thread; the server's
  // implementation holds its lock across both.
  [[nodiscard]] virtual QuotaVerdict move(std::string_view user, const IpAddress& from,
                                          const IpAddress& to) {
    release(user, from);
    const QuotaVerdict verdict = acquire(user, to);
    if (verdict != QuotaVerdict::kOk) {
      (void)acquire(user, from);
    }
    return verdict;
  }
};

enum class AllocationEnd : std::uint8_t { kExpired, kDeleted, kConnectionClosed, kShutdown };
[[nodiscard]] std::string_view toString(AllocationEnd end);

// Allocation lifecycle events (accounting records, logs).
class CoreEvents {
 public:
  virtual void onAllocationCreated(const Allocation& allocation) = 0;
  virtual void onAllocationEnded(const Allocation& allocation, AllocationEnd end,
                                 MonotonicTime now) = 0;
  // With CoreConfig::announce_routes: a channel of a UDP client whose data the adapter may relay
  // without the core (a kernel fast path) -- bound, with a live permission for its peer, and no
  // bandwidth limit to apply. Down comes when either expires, or before the allocation ends.
  virtual void onRouteUp(const Allocation& /*allocation*/, const ChannelBinding& /*channel*/) {}
  virtual void onRouteDown(const Allocation& /*allocation*/, const ChannelBinding& /*channel*/) {}
  // RFC 8016: the allocation now belongs to allocation.source; `from` was its client before.
  virtual void onAllocationMoved(const Allocation& /*allocation*/, const Endpoint& /*from*/) {}

 protected:
  ~CoreEvents() = default;
};

// limits.bandwidth_per_user_bps across workers: each user's budget, handed out in leases (a
// core asks only when the lease it holds runs out, about 50 times a second per busy user, so no
// lock is taken per packet).
class UserBandwidth {
 public:
  virtual ~UserBandwidth() = default;
  // Up to `want` bytes of `user`'s budget, taken now (0 when it is spent).
  [[nodiscard]] virtual std::uint64_t lease(std::string_view user, std::uint64_t want,
                                            MonotonicTime now) = 0;
};

struct CoreDependencies {
  RelaySockets& relays;
  RandomSource& random;
  const WallClock& clock;
  const CredentialSource& credentials;
  const NonceSource& nonces;
  AllocationQuota& quota;
  ReservationStore& reservations;
  const PeerPolicy* policy;                 // never null; setPolicy() replaces it
  CoreEvents* events = nullptr;             // optional
  UserBandwidth* user_bandwidth = nullptr;  // optional: without it there is no per-user limit
  LoadSignal* load = nullptr;               // optional: without it there is no load redirect
  // The relay ports, shared by every worker's core (it must cover config.relay_addresses' local
  // addresses and the port range, in that order). Optional: without it the core has its own.
  PortPool* ports = nullptr;
};

// An error answer: the code, for 420 the attributes to list in UNKNOWN-ATTRIBUTES, and for 300
// the ALTERNATE-SERVER (and ALTERNATE-DOMAIN: a view into the core's config).
struct TurnError {
  std::uint16_t code = error::kBadRequest;
  std::array<std::uint16_t, 8> unknown{};
  std::size_t unknown_count = 0;
  std::optional<Endpoint> alternate = std::nullopt;
  std::string_view alternate_domain = {};
};

class Core {
 public:
  Core(CoreConfig config, CoreDependencies dependencies);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // A STUN message or ChannelData from a client (one UDP datagram or one stream frame).
  void onClientMessage(const ClientSource& source, ConstBytes bytes, MonotonicTime now,
                       Outbox& outbox);
  // A datagram from a peer on the relay socket opened with `tag`.
  void onPeerDatagram(std::uint64_t tag, const Endpoint& peer, ConstBytes bytes, MonotonicTime now,
                      Outbox& outbox);
  // A TCP/TLS client connection closed: its allocation ends with it (RFC 8656 section 3.1).
  void onConnectionClosed(const SocketRef& connection, MonotonicTime now);
  // RFC 6062 (core_tcp.cpp). The adapter's outgoing peer connection `connection` (started by
  // RelaySockets::connectPeer) connected, or failed or timed out: the Connect is answered.
  void onPeerConnected(std::uint32_t connection, bool connected, MonotonicTime now, Outbox& outbox);
  // A peer connected to the TCP relay socket opened with `tag`: its CONNECTION-ID (the client
  // is sent a ConnectionAttempt), or nullopt when the adapter must close it (no permission for
  // the peer, the policy, the cap).
  [[nodiscard]] std::optional<std::uint32_t> onPeerAccepted(std::uint64_t tag, const Endpoint& peer,
                                                            MonotonicTime now, Outbox& outbox);
  // A peer connection not yet bound closed (the peer left): it is forgotten.
  void onPeerClosed(std::uint32_t connection);
  // What the adapter's splices relayed for bound peer connections (RelaySockets::takePeerCounts)
  // goes into their allocations' accounting and the relayed-bytes counters. The adapter calls
  // this now and then (the load redirect and /metrics see TCP relay bytes that late); the core
  // also collects a connection's counts before forgetting it and before reporting an end.
  void collectTcpRelayed();
  // limits.bandwidth_per_allocation_bps and bandwidth_per_user_bps for the splice of bound peer
  // connection `connection`: up to `want` more bytes it may read (both ways together), taken
  // from the allocation's bucket and the user's lease, possibly less, 0 when they are spent
  // (the splice stops reading and asks again later: TCP is throttled, not dropped, and the
  // splice reports how often with its counts). Without a limit,
  // kUnlimitedTcpGrant, so that an unlimited splice asks rarely.
  static constexpr std::uint64_t kUnlimitedTcpGrant = 4U << 20U;
  [[nodiscard]] std::uint64_t grantTcpBandwidth(std::uint32_t connection, std::uint64_t want,
                                                MonotonicTime now);
  // Expires what is due. Call at nextDeadline().
  void onTimer(MonotonicTime now);
  [[nodiscard]] std::optional<MonotonicTime> nextDeadline() const;
  // Entries in the timer heap, live or stale (for tests: it must stay bounded under churn).
  [[nodiscard]] std::size_t queuedDeadlines() const { return deadlines_.size(); }
  // Ends every allocation (clean shutdown).
  void shutdown(MonotonicTime now);
  // Draining: authenticated Allocate requests get 300 Try Alternate naming one of `alternates`
  // of the client's address family (in turn), or 403 when there is none. Everything else,
  // existing allocations included, carries on.
  void startDraining(std::vector<Endpoint> alternates);
  [[nodiscard]] bool draining() const { return draining_; }
  // New cluster alternates (reload): used by the next redirect.
  void setCluster(AlternateServers cluster) { config_.cluster = std::move(cluster); }
  // New limits from a config reload: max_permissions, max_channels, bandwidth and the
  // unauthenticated rate are taken from `limits`; the rest of it is ignored.
  void setLimits(const CoreConfig& limits) {
    config_.max_permissions = limits.max_permissions;
    config_.max_channels = limits.max_channels;
    config_.max_tcp_connections = limits.max_tcp_connections;
    config_.bandwidth_bytes_per_second = limits.bandwidth_bytes_per_second;
    config_.user_bandwidth_bytes_per_second = limits.user_bandwidth_bytes_per_second;
    config_.unauthenticated_per_second = limits.unauthenticated_per_second;
    config_.unauthenticated_burst = limits.unauthenticated_burst;
    if (config_.bandwidth_bytes_per_second != 0 || config_.user_bandwidth_bytes_per_second != 0) {
      // Routes bypass the token buckets: a limit that is on now takes them all down.
      for (auto& [id, allocation] : allocations_) {
        dropRoutes(*allocation);
      }
    }
  }
  // Replaces the peer policy (config reload). Existing permissions stay.
  void setPolicy(const PeerPolicy& policy) { deps_.policy = &policy; }
  // Whether the TCP/TLS connection `id` carries an allocation (idle-connection timeouts).
  [[nodiscard]] bool hasAllocationOnConnection(std::uint64_t id) const {
    return by_connection_.contains(id);
  }

  [[nodiscard]] const CoreStats& stats() const { return stats_; }
  [[nodiscard]] std::size_t allocationCount() const { return allocations_.size(); }
  [[nodiscard]] const Allocation* findAllocation(const ClientSource& source) const {
    return allocationFor(source);
  }

  // The worker (CoreConfig::worker) whose core issued a MOBILITY-TICKET, read from the allocation
  // id it carries; nullopt when it is not a ticket's size. Unauthenticated: the owner checks it.
  [[nodiscard]] static std::optional<std::size_t> ticketWorker(ConstBytes ticket);
  // The worker (CoreConfig::worker) whose core issued an RFC 6062 CONNECTION-ID, out of
  // `workers`. Unauthenticated: that core checks the ConnectionBind.
  [[nodiscard]] static std::size_t connectionIdWorker(std::uint32_t id, std::size_t workers) {
    return workers <= 1 ? 0 : id % workers;
  }

  struct SourceHash {
    std::size_t operator()(const ClientSource& source) const;
  };

  // Result of authenticating a request (RFC 8489 section 9.2.4).
  struct AuthResult {
    std::string username;
    UserCredential credential;
    SessionKey key;
    PasswordAlgorithm algorithm = PasswordAlgorithm::kMd5;
    bool sha256_mac = false;  // answer with MESSAGE-INTEGRITY-SHA256
    // The key bytes for response integrity: the MD5 or the SHA-256 long-term key.
    [[nodiscard]] ConstBytes keyBytes() const;
  };
  struct AuthError {
    TurnError error;
    bool challenge = false;  // include REALM and NONCE (401, 438)
    AuthFailure failure = AuthFailure::kNoCredentials;
  };

 private:
  // One request being handled.
  struct Request {
    const Message& message;
    const ClientSource& source;
    MonotonicTime now;
    std::int64_t unix_now;
    AuthResult auth;
  };

  [[nodiscard]] Allocation* allocationFor(const ClientSource& source) const {
    const auto it = by_source_.find(source);
    return it == by_source_.end() ? nullptr : it->second;
  }

  // Dispatch.
  void handleStun(const ClientSource& source, ConstBytes bytes, MonotonicTime now, Outbox& outbox);
  // A Binding request, a malformed message or an RFC 3489 one: the STUN responder answers.
  void handleBinding(const ClientSource& source, ConstBytes bytes, Outbox& outbox);
  // `allocation` is this 5-tuple's (handleStun looked it up), or null.
  void handleRequest(const Message& message, const ClientSource& source, Allocation* allocation,
                     MonotonicTime now, Outbox& outbox);
  void handleChannelData(const ClientSource& source, ConstBytes bytes, MonotonicTime now,
                         Outbox& outbox);
  void handleSendIndication(const Message& message, Allocation* allocation, MonotonicTime now,
                            Outbox& outbox);

  // Authentication.
  [[nodiscard]] std::expected<AuthResult, AuthError> authenticate(const Message& message,
                                                                  const ClientSource& source,
                                                                  const Allocation* allocation,
                                                                  std::int64_t unix_now) const;

  // Method handlers: each returns the attributes of its success response, or an error.
  struct AllocateReply {
    Allocation* allocation = nullptr;
    Seconds lifetime{0};
    std::optional<std::uint64_t> reservation_token;
    std::optional<std::uint16_t> ipv6_error;  // ADDRESS-ERROR-CODE for a failed IPv6 leg
  };
  [[nodiscard]] std::expected<AllocateReply, TurnError> allocate(Request& request);
  // 300 naming the next of `servers` of the client's family (with ALTERNATE-DOMAIN for TLS
  // clients), counted under `reason`; nullopt when there is none.
  [[nodiscard]] std::optional<TurnError> redirect(RedirectReason reason,
                                                  const std::vector<Endpoint>& servers,
                                                  const ClientSource& source);
  void respondToAllocate(const Request& request, const AllocateReply& reply, Outbox& outbox);
  [[nodiscard]] std::expected<Seconds, TurnError> refresh(Request& request, Allocation& allocation);
  // A Refresh's REQUESTED-ADDRESS-FAMILY, if any, names a family the allocation has (443 if not).
  [[nodiscard]] static bool refreshFitsAllocation(const Message& message,
                                                  const Allocation& allocation);
  // RFC 8016 (core_mobility.cpp): a MOBILITY-TICKET for the allocation, and moving the
  // allocation a Refresh's ticket names to the request's 5-tuple (or the error to answer).
  static constexpr std::size_t kTicketSize = 48;
  static constexpr unsigned kWorkerShift = 56;  // allocation ids: worker << 56 | a counter
  [[nodiscard]] std::array<std::byte, kTicketSize> mintTicket(const Allocation& allocation,
                                                              std::int64_t unix_now) const;
  [[nodiscard]] std::expected<Allocation*, TurnError> moveByTicket(Request& request,
                                                                   ConstBytes ticket);
  [[nodiscard]] std::expected<void, TurnError> createPermission(Request& request,
                                                                Allocation& allocation);
  [[nodiscard]] std::expected<void, TurnError> channelBind(Request& request,
                                                           Allocation& allocation);
  // Installs or refreshes a permission (300 s); false when a new one would pass the cap.
  [[nodiscard]] bool installPermission(Allocation& allocation, const IpAddress& peer,
                                       MonotonicTime now);
  // RFC 6062 (core_tcp.cpp): Connect starts a peer connection whose answer comes with
  // onPeerConnected; ConnectionBind binds this (new) connection to a peer connection.
  [[nodiscard]] std::expected<void, TurnError> connect(Request& request, Allocation& allocation);
  [[nodiscard]] std::expected<std::uint32_t, TurnError> connectionBind(Request& request);
  [[nodiscard]] std::uint32_t newConnectionId();
  // Forgets a peer connection (the adapter closes it when `close`).
  void dropTcpConnection(Allocation& allocation, std::uint32_t connection, bool close);
  // Closes peer connections whose ConnectionBind did not come in time.
  void expireTcpConnections(Allocation& allocation, MonotonicTime now);
  // Adds what a bound connection's splice relayed to its allocation and the counters.
  void takeTcpRelayed(Allocation& allocation, std::uint32_t connection);

  // Responses.
  // RFC 8489 section 9.2.4: MESSAGE-INTEGRITY-SHA256 or MESSAGE-INTEGRITY with `key` (the
  // request's, AuthResult::keyBytes), then FINGERPRINT when the request had one.
  static void sign(MessageBuilder& builder, ConstBytes key, bool sha256_mac, bool fingerprint);
  void sendSuccess(const Request& request, Outbox& outbox,
                   const std::function<void(MessageBuilder&)>& add_attributes);
  void sendError(const Message& message, const ClientSource& source, const TurnError& error,
                 const AuthResult* auth, bool challenge, Outbox& outbox);
  void cacheResponse(Allocation& allocation, const Message& message, ConstBytes response,
                     MonotonicTime now);
  [[nodiscard]] bool replayCached(const Allocation& allocation, const Message& message,
                                  Outbox& outbox) const;

  // Relay ports and allocation lifetime.
  // A relay socket on a random free port of the family (an even one, and with reserve_next
  // also N + 1 held as a reserved port), or the error code to answer.
  struct OpenedLegs {
    RelayLeg leg;
    std::optional<ReservedPort> reserved;
  };
  [[nodiscard]] std::expected<OpenedLegs, std::uint16_t> openLeg(AddressFamily family,
                                                                 std::uint64_t tag, bool even,
                                                                 bool dont_fragment,
                                                                 bool reserve_next,
                                                                 bool tcp = false);
  [[nodiscard]] std::expected<SocketRef, RelayOpenError> bindRelay(std::size_t address_index,
                                                                   std::uint16_t port,
                                                                   std::uint64_t tag,
                                                                   bool dont_fragment,
                                                                   bool tcp = false);
  void closeLeg(const RelayLeg& leg);
  void endAllocation(std::uint64_t id, AllocationEnd end, MonotonicTime now);
  void schedule(Allocation& allocation);
  [[nodiscard]] Seconds grantedLifetime(const Message& message) const;
  [[nodiscard]] bool peerAllowed(const Endpoint& peer);
  // A random transaction id for the indications the server sends (Data, ConnectionAttempt).
  [[nodiscard]] TransactionId newTransactionId();
  void relayToPeer(Allocation& allocation, const Endpoint& peer, ConstBytes payload,
                   MonotonicTime now, Outbox& outbox);

  CoreConfig config_;
  BindingOptions binding_options_;  // views into config_
  CoreDependencies deps_;
  bool draining_ = false;
  std::vector<Endpoint> alternates_;
  std::size_t next_alternate_ = 0;
  // The unauthenticated rate limit: a fixed table of buckets indexed by a hash of the source
  // address (no allocation per packet; colliding addresses share a bucket, which errs on the
  // side of dropping).
  struct SourceBucket {
    TokenBucket bucket;
    bool used = false;
  };
  std::vector<SourceBucket> source_buckets_;
  // Per-user bandwidth leases held by this core, shared by the user's allocations here.
  std::unordered_map<std::string, std::weak_ptr<UserLease>> user_leases_;
  // Long-term keys by username, for the username's lifetime (a REST credential's expiry, or
  // until the credentials change): a client's further allocations with the same credential (a
  // browser gathers several) cost no REST HMAC and no MD5. At most kKeyCacheSize entries;
  // emptied when full and when CredentialSource::generation() changes.
  struct CachedKey {
    SessionKey key;
    std::string user;
    std::optional<std::int64_t> expires_at;
  };
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };
  static constexpr std::size_t kKeyCacheSize = 4096;
  mutable std::unordered_map<std::string, CachedKey, TextHash, std::equal_to<>> key_cache_;
  mutable std::uint64_t key_cache_generation_ = 0;
  [[nodiscard]] std::shared_ptr<UserLease> userLease(const std::string& user);
  [[nodiscard]] bool admitUnauthenticated(const IpAddress& source, MonotonicTime now);
  // Takes `bytes` from the allocation's bandwidth bucket; false when it is empty.
  [[nodiscard]] bool admitBandwidth(Allocation& allocation, std::size_t bytes, MonotonicTime now);
  CoreStats stats_;
  std::uint64_t next_id_ = 1;  // from (worker << 56) | 1: see CoreConfig::worker
  std::unordered_map<std::uint64_t, std::unique_ptr<Allocation>> allocations_;
  // The 5-tuple index points straight at the allocation: one hash look-up per client packet.
  std::unordered_map<ClientSource, Allocation*, SourceHash> by_source_;
  std::unordered_map<std::uint64_t, std::uint64_t> by_connection_;  // TCP/TLS connection id
  // RFC 6062: peer connections by CONNECTION-ID (to their allocation's id), and bound ones by
  // their client data connection's id.
  std::unordered_map<std::uint32_t, std::uint64_t> tcp_connections_;
  std::unordered_map<std::uint64_t, std::uint32_t> by_data_connection_;
  // Ports this core holds, per relay address (skipped without a bind attempt).
  std::unique_ptr<PortPool> own_ports_;  // when CoreDependencies::ports is null
  PortPool* ports_;
  // A min-heap (std::push_heap with std::greater) of (deadline, allocation id). Entries whose
  // allocation moved on are skipped when popped; compactDeadlines() drops them in bulk once
  // they outnumber the live ones, so churn cannot grow the heap past ~2 entries per allocation.
  using Deadline = std::pair<MonotonicTime, std::uint64_t>;
  std::vector<Deadline> deadlines_;
  // The allocation an entry is for, when the entry is still its live one.
  [[nodiscard]] Allocation* liveAllocation(const Deadline& entry) const;
  void compactDeadlines();
  // Brings each channel's `routed` in line with whether it may bypass the core now, announcing
  // each change (CoreConfig::announce_routes).
  void syncRoutes(Allocation& allocation, MonotonicTime now);
  void dropRoutes(Allocation& allocation);
};

}  // namespace turnpike::protocol

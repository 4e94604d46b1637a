// What the TURN core exchanges with its adapters (style.md section 2): where a message came
// from, what to send where (the outbox), and the interfaces for relay sockets, randomness, the
// wall clock, credentials and events. The core itself does no I/O and reads no clock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"

namespace turnpike::protocol {

using MonotonicTime = std::chrono::steady_clock::time_point;
using Seconds = std::chrono::seconds;

// kDtls: DTLS over UDP (RFC 7350), one message per record, like kUdp without the stream framing.
enum class ClientTransport : std::uint8_t { kUdp, kTcp, kTls, kDtls };
inline constexpr std::size_t kClientTransportCount = 4;
[[nodiscard]] std::string_view toString(ClientTransport transport);
// TCP or TLS: a connection of the client's own (RFC 6062 allows TCP allocations over both).
[[nodiscard]] constexpr bool isStream(ClientTransport transport) {
  return transport == ClientTransport::kTcp || transport == ClientTransport::kTls;
}

// A socket the adapter owns, named by the adapter: a UDP listener, a TCP/TLS connection (or a
// DTLS session), or a relay socket. The core only hands these back in outbox entries.
struct SocketRef {
  enum class Kind : std::uint8_t { kListener, kConnection, kRelay };
  Kind kind = Kind::kListener;
  std::uint64_t id = 0;
  friend bool operator==(const SocketRef&, const SocketRef&) = default;
};

// The client side of a 5-tuple (RFC 8656 section 2): how a client message arrived.
struct ClientSource {
  ClientTransport transport = ClientTransport::kUdp;
  SocketRef socket;  // UDP listener, or the TCP/TLS connection
  Endpoint client;   // the client's address as seen by the server
  Endpoint server;   // the listener address the client sent to
  friend bool operator==(const ClientSource&, const ClientSource&) = default;
};

// One thing to send. `head` is built by the core; `payload` points into the input the core was
// called with (relayed data is never copied): the adapter keeps that input valid until it has
// sent the entry.
struct OutboxEntry {
  static constexpr std::size_t kMaxHead = 2048;
  SocketRef socket;
  Endpoint destination;  // for connections, informational
  std::array<std::byte, kMaxHead> head_buffer{};
  std::size_t head_size = 0;
  ConstBytes payload;
  std::uint8_t padding = 0;  // zero bytes after the payload (ChannelData over streams)

  [[nodiscard]] ConstBytes head() const { return ConstBytes(head_buffer).first(head_size); }
  [[nodiscard]] std::size_t size() const { return head_size + payload.size() + padding; }
};

// What the core produced and the adapter has not sent yet. One core call adds at most kPerCall
// entries; an adapter that sends after every call needs no more room than that, one that gathers
// the entries of many calls (to send them in batches) sends when room() < kPerCall.
class Outbox {
 public:
  static constexpr std::size_t kPerCall = 2;
  static constexpr std::size_t kCapacity = 4;
  // Allocates every entry now: adding never allocates.
  explicit Outbox(std::size_t capacity = kCapacity) : entries_(capacity) {}
  // A new entry, or nullptr when full.
  [[nodiscard]] OutboxEntry* add(const SocketRef& socket, const Endpoint& destination);
  [[nodiscard]] std::span<const OutboxEntry> entries() const {
    return std::span(entries_).first(count_);
  }
  [[nodiscard]] std::size_t room() const { return entries_.size() - count_; }
  void clear() { count_ = 0; }
  void removeLast() {
    if (count_ > 0) {
      --count_;
    }
  }

 private:
  std::vector<OutboxEntry> entries_;
  std::size_t count_ = 0;
};

// Opens and closes relay sockets (UDP, bound to a relay address and port). The adapter tags each
// socket with the allocation's id and reports its datagrams with that tag.
enum class RelayOpenError : std::uint8_t { kAddressInUse, kNoResources, kOther };
// RFC 6062: what a bound peer connection's splice relayed, each way. TCP has no packets: a
// "packet" is one read from the socket (at most the splice's buffer).
struct TcpRelayCounts {
  std::uint64_t to_peer_bytes = 0;
  std::uint64_t to_peer_reads = 0;
  std::uint64_t to_client_bytes = 0;
  std::uint64_t to_client_reads = 0;
  std::uint64_t throttled = 0;  // times it stopped reading for want of bandwidth budget
};

class RelaySockets {
 public:
  virtual ~RelaySockets() = default;
  [[nodiscard]] virtual std::expected<SocketRef, RelayOpenError> open(const Endpoint& local,
                                                                      std::uint64_t tag,
                                                                      bool dont_fragment) = 0;
  virtual void close(const SocketRef& socket) = 0;
  // A port held for a later Allocate (EVEN-PORT with R): bound, not read. The handle can be
  // adopted by any worker's core, or released, from any thread.
  [[nodiscard]] virtual std::expected<std::uint64_t, RelayOpenError> reserve(
      const Endpoint& local) = 0;
  [[nodiscard]] virtual std::expected<SocketRef, RelayOpenError> adopt(std::uint64_t reserved,
                                                                       std::uint64_t tag) = 0;

  // RFC 6062 TCP allocations; an adapter without them keeps the defaults (no TCP relaying).
  // A listening TCP relay socket: peers that connect to it are reported with Core::onPeerAccepted
  // and `tag`; close() closes it.
  [[nodiscard]] virtual std::expected<SocketRef, RelayOpenError> openTcp(const Endpoint& /*local*/,
                                                                         std::uint64_t /*tag*/) {
    return std::unexpected(RelayOpenError::kOther);
  }
  // Starts a TCP connection from `local` (the relay address) to `peer`, named `connection`. The
  // result comes later (never inside this call) through Core::onPeerConnected; false: it could
  // not even be started.
  [[nodiscard]] virtual bool connectPeer(std::uint32_t /*connection*/, const Endpoint& /*local*/,
                                         const Endpoint& /*peer*/) {
    return false;
  }
  // Splices the peer connection with the client's data connection, once the ConnectionBind
  // success response has been sent on it.
  virtual void bindPeer(std::uint32_t /*connection*/, const SocketRef& /*data_connection*/) {}
  // Closes a peer connection, and its data connection when bound. The core has forgotten it.
  virtual void closePeer(std::uint32_t /*connection*/) {}
  // What a bound peer connection's splice relayed since the last call (Core::collectTcpRelayed,
  // and before the core forgets the connection or reports its allocation's end).
  [[nodiscard]] virtual TcpRelayCounts takePeerCounts(std::uint32_t /*connection*/) { return {}; }
};

// Reserved ports by RESERVATION-TOKEN, shared by every worker's core: the Allocate that claims
// a token may arrive on another worker (another 5-tuple). Expired entries are released by the
// store itself.
struct ReservedPort {
  std::uint64_t handle = 0;  // from RelaySockets::reserve
  Endpoint local;
  Endpoint relayed;
  MonotonicTime expires;
};
class ReservationStore {
 public:
  virtual ~ReservationStore() = default;
  virtual void put(std::uint64_t token, const ReservedPort& port, MonotonicTime now) = 0;
  [[nodiscard]] virtual std::optional<ReservedPort> take(std::uint64_t token,
                                                         MonotonicTime now) = 0;
};

// Random numbers for port choice, reservation tokens and IDs.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  [[nodiscard]] virtual std::uint64_t next() = 0;
};

// Unix time in seconds, for credential expiry and nonces (which other nodes must agree on).
class WallClock {
 public:
  virtual ~WallClock() = default;
  [[nodiscard]] virtual std::int64_t unixNow() const = 0;
};

// Passwords for a username: one for a static user, one per shared secret for REST credentials.
struct UserCredential {
  std::string user;                        // the account: static name or the REST user part
  std::vector<std::string> passwords;      // candidates, tried in order
  std::optional<std::int64_t> expires_at;  // REST credentials: unix expiry
};
enum class CredentialLookupError : std::uint8_t { kUnknownUser, kExpired };
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  [[nodiscard]] virtual std::expected<UserCredential, CredentialLookupError> lookup(
      std::string_view username, std::int64_t now_unix) const = 0;
  // Changes whenever the users or secrets do (a reload): keys derived before are not reused.
  [[nodiscard]] virtual std::uint64_t generation() const { return 0; }
};

enum class NonceCheck : std::uint8_t { kValid, kStale, kInvalid };
class NonceSource {
 public:
  virtual ~NonceSource() = default;
  [[nodiscard]] virtual std::string mint(const IpAddress& client, std::int64_t now_unix) const = 0;
  [[nodiscard]] virtual NonceCheck verify(std::string_view nonce, const IpAddress& client,
                                          std::int64_t now_unix) const = 0;
};

}  // namespace turnpike::protocol

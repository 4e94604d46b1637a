// Fakes and a fixture for the TURN core tests (style.md sections 2, 3 and 9): the core runs against
// fake relay sockets, randomness, wall clock, credentials, nonces and quotas, answers into a
// captured outbox, and sees a monotonic `now` that only the test moves (never a sleep).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/long_term_key.hpp"
#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/core.hpp"
#include "tests/unit/protocol/turn/test_util.hpp"

namespace turnpike::protocol {
inline void PrintTo(AllocationEnd value, std::ostream* os) { *os << toString(value); }
inline void PrintTo(IntegrityResult value, std::ostream* os) {
  constexpr std::array<const char*, 3> kNames{"kOk", "kMissing", "kMismatch"};
  *os << kNames.at(static_cast<std::size_t>(value));
}
inline void PrintTo(const SocketRef& socket, std::ostream* os) {
  *os << "socket{" << static_cast<int>(socket.kind) << ", " << socket.id << "}";
}
}  // namespace turnpike::protocol

namespace turnpike::protocol::core_test {

using test::Bytes;
using Attrs = std::function<void(MessageBuilder&)>;

inline constexpr std::int64_t kUnixStart = 1'700'000'000;
inline constexpr std::uint16_t kPortMin = 50000;
inline constexpr std::uint16_t kPortMax = 50099;
inline constexpr std::string_view kRealm = "turnpike";
inline constexpr std::uint16_t kMd5 = static_cast<std::uint16_t>(PasswordAlgorithm::kMd5);
inline constexpr std::uint16_t kSha256 = static_cast<std::uint16_t>(PasswordAlgorithm::kSha256);

inline IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }
inline Endpoint ep(std::string_view address, std::uint16_t port) { return {ip(address), port}; }
inline AddressPrefix prefix(std::string_view text) { return AddressPrefix::parse(text).value(); }

// Relay sockets: records every open() and close(). Ports "held by another process" (or all of
// them) answer kAddressInUse, as does an address the fake already has open.
class FakeRelaySockets final : public RelaySockets {
 public:
  struct Opened {
    Endpoint local;
    std::uint64_t tag = 0;
    bool dont_fragment = false;
    SocketRef socket;
    bool tcp = false;  // RFC 6062: a listening TCP relay socket (openTcp)
  };
  // RFC 6062: outgoing peer connections started, and bindings made.
  struct PeerConnect {
    std::uint32_t connection = 0;
    Endpoint local;
    Endpoint peer;
  };
  struct PeerBind {
    std::uint32_t connection = 0;
    SocketRef data_connection;
  };

  std::expected<SocketRef, RelayOpenError> open(const Endpoint& local, std::uint64_t tag,
                                                bool dont_fragment) override {
    ++attempts;
    if (no_resources) {
      return std::unexpected(RelayOpenError::kNoResources);
    }
    const bool taken = std::ranges::any_of(open_, [&](const auto& s) { return s.second == local; });
    if (all_busy || busy_ports.contains(local.port) || taken) {
      return std::unexpected(RelayOpenError::kAddressInUse);
    }
    const SocketRef socket{SocketRef::Kind::kRelay, next_id_++};
    opened.push_back({local, tag, dont_fragment, socket});
    open_.emplace(socket.id, local);
    return socket;
  }
  void close(const SocketRef& socket) override {
    closed.push_back(socket);
    open_.erase(socket.id);
  }
  std::expected<SocketRef, RelayOpenError> openTcp(const Endpoint& local,
                                                   std::uint64_t tag) override {
    auto socket = open(local, tag, false);
    if (socket) {
      opened.back().tcp = true;
    }
    return socket;
  }
  bool connectPeer(std::uint32_t connection, const Endpoint& local, const Endpoint& peer) override {
    if (refuse_connect) {
      return false;
    }
    connects.push_back({connection, local, peer});
    return true;
  }
  void bindPeer(std::uint32_t connection, const SocketRef& data_connection) override {
    binds.push_back({connection, data_connection});
  }
  void closePeer(std::uint32_t connection) override { closed_peers.push_back(connection); }
  // What the "splice" of a bound connection relayed: handed over once, then zero.
  TcpRelayCounts takePeerCounts(std::uint32_t connection) override {
    ++count_takes;
    return std::exchange(peer_counts[connection], {});
  }
  // A reserved port is an open socket with tag 0 until adopted (the handle is its id).
  std::expected<std::uint64_t, RelayOpenError> reserve(const Endpoint& local) override {
    auto socket = open(local, 0, false);
    if (!socket) {
      return std::unexpected(socket.error());
    }
    return socket->id;
  }
  std::expected<SocketRef, RelayOpenError> adopt(std::uint64_t reserved,
                                                 std::uint64_t tag) override {
    for (Opened& o : opened) {
      if (o.socket.id == reserved) {
        o.tag = tag;
      }
    }
    return SocketRef{SocketRef::Kind::kRelay, reserved};
  }

  [[nodiscard]] bool isOpen(const SocketRef& socket) const { return open_.contains(socket.id); }
  [[nodiscard]] std::size_t openCount() const { return open_.size(); }

  std::set<std::uint16_t> busy_ports;  // held by another process
  bool all_busy = false;
  bool no_resources = false;
  std::size_t attempts = 0;
  std::vector<Opened> opened;
  std::vector<SocketRef> closed;
  bool refuse_connect = false;
  std::vector<PeerConnect> connects;
  std::vector<PeerBind> binds;
  std::vector<std::uint32_t> closed_peers;
  std::map<std::uint32_t, TcpRelayCounts> peer_counts;
  int count_takes = 0;

 private:
  std::map<std::uint64_t, Endpoint> open_;
  std::uint64_t next_id_ = 1;
};

// Queued values first (e.g. an exact port pick), then a fixed splitmix64 sequence.
class FakeRandom final : public RandomSource {
 public:
  std::uint64_t next() override {
    if (!queued.empty()) {
      const std::uint64_t value = queued.front();
      queued.pop_front();
      return value;
    }
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
  }
  std::deque<std::uint64_t> queued;
  std::uint64_t state = 7;
};

// Reservations: a plain map; expired entries are closed through the fake relays.
class FakeReservations final : public ReservationStore {
 public:
  explicit FakeReservations(FakeRelaySockets& sockets) : relays(sockets) {}
  void put(std::uint64_t token, const ReservedPort& port, MonotonicTime now) override {
    expire(now);
    ports[token] = port;
  }
  std::optional<ReservedPort> take(std::uint64_t token, MonotonicTime now) override {
    expire(now);
    const auto it = ports.find(token);
    if (it == ports.end()) {
      return std::nullopt;
    }
    ReservedPort port = it->second;
    ports.erase(it);
    return port;
  }
  void expire(MonotonicTime now) {
    std::erase_if(ports, [&](const auto& entry) {
      if (entry.second.expires > now) {
        return false;
      }
      relays.close(SocketRef{SocketRef::Kind::kRelay, entry.second.handle});
      if (pool != nullptr) {
        pool->give(entry.second.local);  // as SharedReservations does
      }
      return true;
    });
  }
  FakeRelaySockets& relays;
  PortPool* pool = nullptr;
  std::map<std::uint64_t, ReservedPort> ports;
};

// Makes PortPool's shuffle keep the ports in order, so tests know which port comes next:
// Fisher-Yates asks for an index in [0, i] for i from range - 1 down to 1, per address, and the
// answer i swaps nothing.
class InOrder final : public RandomSource {
 public:
  explicit InOrder(std::uint64_t range) : range_(range), i_(range - 1) {}
  std::uint64_t next() override {
    const std::uint64_t value = i_;
    i_ = i_ > 1 ? i_ - 1 : range_ - 1;
    return value;
  }

 private:
  std::uint64_t range_;
  std::uint64_t i_;
};

class FakeClock final : public WallClock {
 public:
  [[nodiscard]] std::int64_t unixNow() const override { return unix_now; }
  std::int64_t unix_now = kUnixStart;
};

// username -> credential. A credential with expires_at < now is kExpired (as REST credentials).
class FakeCredentials final : public CredentialSource {
 public:
  [[nodiscard]] std::expected<UserCredential, CredentialLookupError> lookup(
      std::string_view username, std::int64_t now_unix) const override {
    ++lookups;
    const auto it = users.find(username);
    if (it == users.end()) {
      return std::unexpected(CredentialLookupError::kUnknownUser);
    }
    if (it->second.expires_at && *it->second.expires_at < now_unix) {
      return std::unexpected(CredentialLookupError::kExpired);
    }
    return it->second;
  }
  // Every change is a new generation, as a reload is.
  [[nodiscard]] std::uint64_t generation() const override { return generation_; }
  void add(const std::string& username, std::vector<std::string> passwords,
           std::optional<std::int64_t> expires_at = std::nullopt, std::string user = {}) {
    users[username] =
        UserCredential{user.empty() ? username : user, std::move(passwords), expires_at};
    ++generation_;
  }
  void remove(const std::string& username) {
    users.erase(username);
    ++generation_;
  }

  std::map<std::string, UserCredential, std::less<>> users;
  mutable std::size_t lookups = 0;

 private:
  std::uint64_t generation_ = 0;
};

// Mints "nonce-1", "nonce-2", ...; every nonce is valid unless listed as stale.
class FakeNonces final : public NonceSource {
 public:
  [[nodiscard]] std::string mint(const IpAddress& /*client*/, std::int64_t /*now*/) const override {
    return "nonce-" + std::to_string(++minted);
  }
  [[nodiscard]] NonceCheck verify(std::string_view nonce, const IpAddress& /*client*/,
                                  std::int64_t /*now*/) const override {
    return stale.contains(nonce) ? NonceCheck::kStale : NonceCheck::kValid;
  }

  std::set<std::string, std::less<>> stale;
  mutable int minted = 0;
};

class FakeQuota final : public AllocationQuota {
 public:
  [[nodiscard]] QuotaVerdict acquire(std::string_view user, const IpAddress& client) override {
    if (total_limit && total >= *total_limit) {
      return QuotaVerdict::kTotalLimit;
    }
    std::size_t& held = per_user[std::string(user)];
    if (per_user_limit && held >= *per_user_limit) {
      return QuotaVerdict::kUserLimit;
    }
    std::size_t& from_ip = per_ip[client];
    if (per_ip_limit && from_ip >= *per_ip_limit) {
      return QuotaVerdict::kClientIpLimit;
    }
    ++held;
    ++from_ip;
    ++total;
    return QuotaVerdict::kOk;
  }
  void release(std::string_view user, const IpAddress& client) override {
    --per_user[std::string(user)];
    --per_ip[client];
    --total;
  }

  std::optional<std::size_t> per_user_limit;
  std::optional<std::size_t> total_limit;
  std::optional<std::size_t> per_ip_limit;
  std::map<std::string, std::size_t, std::less<>> per_user;
  std::map<IpAddress, std::size_t> per_ip;
  std::size_t total = 0;
};

// A per-user budget without time: each user has `budget` bytes; leases take from it.
class FakeUserBandwidth final : public UserBandwidth {
 public:
  [[nodiscard]] std::uint64_t lease(std::string_view user, std::uint64_t want,
                                    MonotonicTime /*now*/) override {
    ++leases;
    std::uint64_t& left = budget.try_emplace(std::string(user), initial).first->second;
    const std::uint64_t granted = std::min(want, left);
    left -= granted;
    return granted;
  }

  std::uint64_t initial = 0;
  std::map<std::string, std::uint64_t, std::less<>> budget;
  int leases = 0;
};

class FakeEvents final : public CoreEvents {
 public:
  struct Ended {
    std::uint64_t id = 0;
    AllocationEnd end = AllocationEnd::kExpired;
    MonotonicTime at;
    // The accounting line's figures.
    std::uint64_t bytes_to_peer = 0;
    std::uint64_t packets_to_peer = 0;
    std::uint64_t bytes_to_client = 0;
    std::uint64_t packets_to_client = 0;
  };
  void onAllocationCreated(const Allocation& allocation) override {
    created.push_back(allocation.id);
  }
  void onAllocationEnded(const Allocation& allocation, AllocationEnd end,
                         MonotonicTime now) override {
    ended.push_back({allocation.id, end, now, allocation.bytes_to_peer, allocation.packets_to_peer,
                     allocation.bytes_to_client, allocation.packets_to_client});
  }
  void onRouteUp(const Allocation& allocation, const ChannelBinding& channel) override {
    routes.push_back("up " + std::to_string(allocation.id) + " " + std::to_string(channel.number) +
                     " " + channel.peer.toString());
  }
  void onRouteDown(const Allocation& allocation, const ChannelBinding& channel) override {
    routes.push_back("down " + std::to_string(allocation.id) + " " +
                     std::to_string(channel.number) + " " + channel.peer.toString());
  }

  std::vector<std::uint64_t> created;
  std::vector<Ended> ended;
  void onAllocationMoved(const Allocation& allocation, const Endpoint& from) override {
    moves.push_back(std::to_string(allocation.id) + " " + from.toString() + " -> " +
                    allocation.source.client.toString());
  }
  std::vector<std::string> routes;  // "up|down <allocation id> <channel> <peer>"
  std::vector<std::string> moves;   // "<allocation id> <old client> -> <new client>"
};

// How a request authenticates (RFC 8489 section 9.2.3). The defaults give a valid MD5 request
// from "alice"; tests switch parts off or change them.
struct Auth {
  enum class Mac : std::uint8_t { kNone, kSha1, kSha256 };
  std::string username = "alice";
  std::string password = "alice-password";
  std::string realm{kRealm};
  std::string nonce = "nonce-0";
  bool with_username = true;
  bool with_realm = true;
  bool with_nonce = true;
  std::optional<std::vector<std::uint16_t>> algorithms;  // PASSWORD-ALGORITHMS
  std::optional<std::uint16_t> algorithm;                // PASSWORD-ALGORITHM
  std::optional<std::uint16_t> key_algorithm;  // the key to sign with; default: from `algorithm`
  Mac mac = Mac::kSha1;
  bool fingerprint = false;
};
inline Auth noAuth() {
  Auth auth;
  auth.with_username = auth.with_realm = auth.with_nonce = false;
  auth.mac = Auth::Mac::kNone;
  return auth;
}
// A valid request lacking one of USERNAME, REALM or NONCE (e.g. &Auth::with_realm).
inline Auth without(bool Auth::*part) {
  Auth auth;
  auth.*part = false;
  return auth;
}
// What an RFC 8489 client sends after the challenge: echo the offered list, pick SHA-256.
inline Auth sha256Auth() {
  Auth auth;
  auth.algorithms = std::vector<std::uint16_t>{kSha256, kMd5};
  auth.algorithm = kSha256;
  auth.mac = Auth::Mac::kSha256;
  return auth;
}
inline Auth as(std::string username, std::string password) {
  Auth auth;
  auth.username = std::move(username);
  auth.password = std::move(password);
  return auth;
}

inline Bytes md5Key(std::string_view username, std::string_view password) {
  return test::toBytes(auth::longTermKeyMd5(username, kRealm, password));
}
inline Bytes sha256Key(std::string_view username, std::string_view password) {
  return test::toBytes(auth::longTermKeySha256(username, kRealm, password));
}

// Response inspection. All take the complete message bytes.
inline std::uint16_t errorCodeOf(const Bytes& bytes) {
  const auto message = Message::parse(bytes);
  if (message && message->messageClass() == MessageClass::kSuccessResponse) return 0;
  const RawAttribute* code = message ? message->find(attr::kErrorCode) : nullptr;
  const auto decoded = code == nullptr ? std::unexpected(AttributeError::kBadLength)
                                       : decodeErrorCode(message->value(*code));
  if (!message || message->messageClass() != MessageClass::kErrorResponse || !decoded) {
    ADD_FAILURE() << "neither a success nor an error response: " << test::toHex(bytes);
    return 0xFFFF;
  }
  return decoded->code;
}
// A copy of the first value of an attribute type.
inline std::optional<Bytes> attributeOf(const Bytes& bytes, std::uint16_t type) {
  const auto message = Message::parse(bytes);
  const RawAttribute* attribute = message ? message->find(type) : nullptr;
  if (attribute == nullptr) return std::nullopt;
  const ConstBytes value = message->value(*attribute);
  return Bytes(value.begin(), value.end());
}
inline bool hasAttribute(const Bytes& bytes, std::uint16_t type) {
  return attributeOf(bytes, type).has_value();
}
inline std::optional<std::uint32_t> u32Of(const Bytes& bytes, std::uint16_t type) {
  const auto value = attributeOf(bytes, type);
  const auto decoded = value ? decodeU32(*value) : std::unexpected(AttributeError::kBadLength);
  return decoded ? std::optional(*decoded) : std::nullopt;
}
inline std::string textOf(const Bytes& bytes, std::uint16_t type) {
  const auto value = attributeOf(bytes, type);
  return value ? std::string(decodeText(*value)) : std::string();
}
// Every XOR-encoded address of a type, in wire order.
inline std::vector<Endpoint> xorAddressesOf(const Bytes& bytes, std::uint16_t type) {
  std::vector<Endpoint> out;
  const auto message = Message::parse(bytes);
  for (const RawAttribute& a : message ? message->attributes() : std::span<const RawAttribute>{}) {
    if (a.type != type) continue;
    if (auto decoded = decodeXorAddress(message->value(a), message->transactionId())) {
      out.push_back(*decoded);
    }
  }
  return out;
}
inline IntegrityResult integrityOf(const Bytes& bytes, const Bytes& key, bool sha256 = false) {
  const auto message = Message::parse(bytes);
  if (!message) return IntegrityResult::kMissing;
  return sha256 ? verifyMessageIntegritySha256(*message, key)
                : verifyMessageIntegrity(*message, key);
}

// What the adapter would put on the wire for an entry: head, payload, zero padding.
inline Bytes wireBytes(const OutboxEntry& entry) {
  Bytes out(entry.head().begin(), entry.head().end());
  out.insert(out.end(), entry.payload.begin(), entry.payload.end());
  out.insert(out.end(), entry.padding, std::byte{0});
  return out;
}

inline Bytes channelData(std::uint16_t channel, const Bytes& payload, bool stream = false) {
  Bytes buffer(channelDataSize(payload.size(), stream));
  const auto built = buildChannelData(buffer, channel, payload, stream);
  EXPECT_TRUE(built.has_value());
  return buffer;
}

class CoreFixture : public ::testing::Test {
 protected:
  CoreFixture() {
    credentials.add("alice", {"alice-password"});
    credentials.add("bob", {"bob-password"});
    makeCore(baseConfig());
  }

  // One IPv4 relay address, 127.0.0.1, and 100 relay ports.
  static CoreConfig baseConfig() {
    CoreConfig config;
    config.realm = std::string(kRealm);
    config.relay_addresses = {RelayAddress{ip("127.0.0.1"), ip("127.0.0.1")}};
    config.port_min = kPortMin;
    config.port_max = kPortMax;
    return config;
  }
  // 127.0.0.1 and ::1, for IPv6 and dual allocations.
  static CoreConfig dualConfig() {
    CoreConfig config = baseConfig();
    config.relay_addresses.push_back(RelayAddress{ip("::1"), ip("::1")});
    return config;
  }
  // The core's relay ports come from `ports`, in port order: the first Allocate gets kPortMin
  // (PortPoolTest checks the shuffle).
  void makeCore(CoreConfig config) {
    core.reset();
    std::vector<IpAddress> locals;
    for (const RelayAddress& address : config.relay_addresses) {
      locals.push_back(address.local);
    }
    InOrder in_order(config.port_max - config.port_min + 1U);
    ports =
        std::make_unique<PortPool>(std::move(locals), config.port_min, config.port_max, in_order);
    reservations.pool = ports.get();
    core = std::make_unique<Core>(
        std::move(config),
        CoreDependencies{relays, random, clock, credentials, nonces, quota, reservations, &policy,
                         &events, &user_bandwidth, nullptr, ports.get()});
  }

  // Time: `at` moves both clocks without running timers; `tick` runs them at `now`, and
  // `advanceTo` wakes at every nextDeadline() on the way, as the adapter's timer does.
  void at(int seconds) {
    now = kStart + Seconds{seconds};
    clock.unix_now = kUnixStart + seconds;
  }
  void tick() { core->onTimer(now); }
  void advanceTo(int seconds) {
    const MonotonicTime target = kStart + Seconds{seconds};
    for (auto deadline = core->nextDeadline(); deadline && *deadline <= target;
         deadline = core->nextDeadline()) {
      now = std::max(now, *deadline);
      clock.unix_now = kUnixStart + std::chrono::duration_cast<Seconds>(now - kStart).count();
      core->onTimer(now);
    }
    at(seconds);
  }
  [[nodiscard]] MonotonicTime time(int seconds) const { return kStart + Seconds{seconds}; }

  // Clients: UDP 5-tuples differ by port; TCP ones by connection.
  [[nodiscard]] ClientSource udpClient(std::uint16_t port = 40000) const {
    return {ClientTransport::kUdp, kListener, ep("198.51.100.7", port), server};
  }
  [[nodiscard]] ClientSource tcpClient(std::uint64_t connection, std::uint16_t port = 41000) const {
    return {ClientTransport::kTcp, SocketRef{SocketRef::Kind::kConnection, connection},
            ep("198.51.100.7", port), server};
  }

  TransactionId nextTransactionId() {
    TransactionId id{std::byte{0x7A}};
    store32(id, 8, ++transactions_);
    return id;
  }
  Bytes request(Method method, const Attrs& attrs = {}, const Auth& auth = {}) {
    return requestWithId(method, nextTransactionId(), attrs, auth);
  }
  static Bytes requestWithId(Method method, const TransactionId& id, const Attrs& attrs,
                             const Auth& auth) {
    Bytes buffer(4096);
    MessageBuilder builder(buffer, messageType(method, MessageClass::kRequest), id);
    if (attrs) attrs(builder);
    if (auth.with_username) builder.addText(attr::kUsername, auth.username);
    if (auth.with_realm) builder.addText(attr::kRealm, auth.realm);
    if (auth.with_nonce) builder.addText(attr::kNonce, auth.nonce);
    if (auth.algorithms) {
      std::vector<PasswordAlgorithmValue> list;
      for (const std::uint16_t a : *auth.algorithms) list.push_back({a, {}});
      builder.addPasswordAlgorithms(list);
    }
    if (auth.algorithm) builder.addPasswordAlgorithm({*auth.algorithm, {}});
    const bool sha256_key = auth.key_algorithm.value_or(auth.algorithm.value_or(kMd5)) == kSha256;
    const Bytes key =
        sha256_key ? sha256Key(auth.username, auth.password) : md5Key(auth.username, auth.password);
    if (auth.mac == Auth::Mac::kSha1) builder.addMessageIntegrity(key);
    if (auth.mac == Auth::Mac::kSha256) builder.addMessageIntegritySha256(key);
    if (auth.fingerprint) builder.addFingerprint();
    const auto built = builder.finish();
    EXPECT_TRUE(built.has_value());
    buffer.resize(built ? built->size() : 0);
    return buffer;
  }
  Bytes indication(Method method, const Attrs& attrs) {
    return test::build(attrs, messageType(method, MessageClass::kIndication), nextTransactionId());
  }
  Bytes sendIndication(const Endpoint& peer, const Bytes& data) {
    return indication(Method::kSend, [&](MessageBuilder& b) {
      b.addXorAddress(attr::kXorPeerAddress, peer);
      b.addBytes(attr::kData, data);
    });
  }

  // Hands a message to the core; the outbox holds what it sent.
  const Outbox& send(const ClientSource& source, const Bytes& bytes) {
    outbox.clear();
    core->onClientMessage(source, bytes, now, outbox);
    return outbox;
  }
  const Outbox& fromPeer(std::uint64_t tag, const Endpoint& peer, const Bytes& bytes) {
    outbox.clear();
    core->onPeerDatagram(tag, peer, bytes, now, outbox);
    return outbox;
  }
  // Sends a request and returns the one response, which must go back on the 5-tuple.
  Bytes exchange(const ClientSource& source, const Bytes& bytes) {
    send(source, bytes);
    if (outbox.entries().size() != 1) {
      ADD_FAILURE() << "expected one response, got " << outbox.entries().size();
      return {};
    }
    const OutboxEntry& entry = outbox.entries().front();
    EXPECT_EQ(entry.socket, source.socket);
    EXPECT_EQ(entry.destination, source.client);
    return wireBytes(entry);
  }

  Bytes allocate(const ClientSource& source, const Attrs& extra = {}, const Auth& auth = {}) {
    const Attrs attrs = [&](MessageBuilder& b) {
      b.addRequestedTransport(kProtocolUdp);
      if (extra) extra(b);
    };
    return exchange(source, request(Method::kAllocate, attrs, auth));
  }
  // The (first) relayed address of a successful Allocate.
  Endpoint allocateOk(const ClientSource& source, const Attrs& extra = {}, const Auth& auth = {}) {
    const Bytes response = allocate(source, extra, auth);
    EXPECT_EQ(errorCodeOf(response), 0);
    const auto relayed = xorAddressesOf(response, attr::kXorRelayedAddress);
    return relayed.empty() ? Endpoint{} : relayed.front();
  }
  Bytes refresh(const ClientSource& source, std::optional<std::uint32_t> lifetime,
                const Attrs& extra = {}, const Auth& auth = {}) {
    const Attrs attrs = [&](MessageBuilder& b) {
      if (lifetime) b.addU32(attr::kLifetime, *lifetime);
      if (extra) extra(b);
    };
    return exchange(source, request(Method::kRefresh, attrs, auth));
  }
  Bytes createPermission(const ClientSource& source, const std::vector<Endpoint>& peers,
                         const Auth& auth = {}) {
    const Attrs attrs = [&](MessageBuilder& b) {
      for (const Endpoint& p : peers) b.addXorAddress(attr::kXorPeerAddress, p);
    };
    return exchange(source, request(Method::kCreatePermission, attrs, auth));
  }
  Bytes channelBind(const ClientSource& source, std::uint16_t number, const Endpoint& peer,
                    const Auth& auth = {}) {
    const Attrs attrs = [&](MessageBuilder& b) {
      b.addChannelNumber(number);
      b.addXorAddress(attr::kXorPeerAddress, peer);
    };
    return exchange(source, request(Method::kChannelBind, attrs, auth));
  }

  [[nodiscard]] const Allocation* allocationOf(const ClientSource& source) const {
    return core->findAllocation(source);
  }
  [[nodiscard]] std::uint64_t tagOf(const ClientSource& source) const {
    const Allocation* allocation = allocationOf(source);
    EXPECT_NE(allocation, nullptr);
    return allocation == nullptr ? 0 : allocation->id;
  }
  [[nodiscard]] SocketRef relaySocketOf(const ClientSource& source) const {
    const Allocation* allocation = allocationOf(source);
    const bool found = allocation != nullptr && !allocation->legs.empty();
    EXPECT_TRUE(found);
    return found ? allocation->legs.front().socket : SocketRef{};
  }

  [[nodiscard]] std::uint64_t authFailures(AuthFailure failure) const {
    return core->stats().auth_failures[static_cast<std::size_t>(failure)].get();
  }
  [[nodiscard]] std::uint64_t relayDrops(RelayDrop drop) const {
    return core->stats().relay_drops[static_cast<std::size_t>(drop)].get();
  }
  [[nodiscard]] std::uint64_t requests(RequestMethod method, std::uint16_t code) const {
    return core->stats().requests[static_cast<std::size_t>(method)][requestResultIndex(code)].get();
  }

  static constexpr SocketRef kListener{SocketRef::Kind::kListener, 1};
  static constexpr MonotonicTime kStart = MonotonicTime{} + std::chrono::hours(1000);

  const Endpoint server = ep("192.0.2.1", 3478);
  // Peers: allowed (192.0.2.0/24 and 127.0.0.0/8 are opened by `allow`), and denied ones.
  const Endpoint peer = ep("192.0.2.5", 6000);
  const Endpoint peer2 = ep("127.0.0.2", 7000);
  const Endpoint peer6 = ep("2001:db8::5", 6000);
  const Endpoint private_peer = ep("10.0.0.1", 6000);          // built-in deny (RFC 1918)
  const Endpoint test_net_peer = ep("203.0.113.9", 6000);      // built-in deny (TEST-NET-3)
  const Endpoint config_denied_peer = ep("192.0.2.66", 6000);  // `deny` beats `allow`

  FakeRelaySockets relays;
  FakeReservations reservations{relays};
  std::unique_ptr<PortPool> ports;
  FakeRandom random;
  FakeClock clock;
  FakeCredentials credentials;
  FakeNonces nonces;
  FakeQuota quota;
  FakeEvents events;
  FakeUserBandwidth user_bandwidth;
  PeerPolicy policy{{prefix("127.0.0.0/8"), prefix("192.0.2.0/24"), prefix("2001:db8::/48")},
                    {prefix("192.0.2.66/32")},
                    {ep("192.0.2.1", 3478), ep("127.0.0.1", 0), ep("::1", 0)}};
  std::unique_ptr<Core> core;
  Outbox outbox;
  MonotonicTime now = kStart;
  const ClientSource client = udpClient();

 private:
  std::uint32_t transactions_ = 0;
};

}  // namespace turnpike::protocol::core_test

// libFuzzer target: the whole sans-I/O TURN core, driven by a fake clock and fake sockets. The
// input is a script of operations from several 5-tuples, so state machines are explored, not only
// parsers. Requests can be sent authenticated (the harness adds USERNAME, REALM, NONCE and a valid
// MESSAGE-INTEGRITY), which gets the fuzzer past the 401 into every handler.
//
// Script: repeated [op][source][length (2 bytes)][payload], ops:
//   0 raw client message   1 authenticated request (payload[0..1] method/class, rest attributes)
//   2 peer datagram        3 advance time (payload[0] seconds) and run timers
//   4 TCP connection closed
// RFC 6062 TCP allocations (tcp_allocations is on unless the first byte is 0xC0 or more; its
// low bits turn the per-allocation and per-user bandwidth limits on):
//   5 an outgoing peer connection's result (payload[0] picks one, payload[1] & 1: connected)
//   6 a peer connects to a TCP relay socket (payload[0] the tag, payload[1] the peer's port)
//   7 splices: payload[0] picks a bound connection, then what it relayed (4 bytes each way)
//     and either a collection (payload[1] & 1) or a bandwidth grant for it
//   Sources 0-2 are UDP clients, 3-5 TCP connections (ConnectionBind needs a second one),
//   6 a TLS connection and 7 a DTLS session.
#include <array>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/long_term_key.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/turn/core.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
using turnpike::fuzz::check;

class Relays final : public RelaySockets {
 public:
  std::expected<SocketRef, RelayOpenError> open(const Endpoint& local, std::uint64_t /*tag*/,
                                                bool /*df*/) override {
    // Ports held elsewhere, and ports already bound (a reservation held by the shared store), are
    // refused as the kernel would: EADDRINUSE.
    if (local.port % 7 == 0 || open_.contains(local)) {
      return std::unexpected(RelayOpenError::kAddressInUse);
    }
    open_.insert(local);
    sockets_[next_] = local;
    return SocketRef{SocketRef::Kind::kRelay, next_++};
  }
  void close(const SocketRef& socket) override {
    const auto it = sockets_.find(socket.id);
    check(it != sockets_.end());  // never closed twice, never an unknown socket
    open_.erase(it->second);
    sockets_.erase(it);
  }
  std::expected<std::uint64_t, RelayOpenError> reserve(const Endpoint& local) override {
    auto socket = open(local, 0, false);
    if (!socket) {
      return std::unexpected(socket.error());
    }
    return socket->id;
  }
  std::expected<SocketRef, RelayOpenError> adopt(std::uint64_t reserved,
                                                 std::uint64_t /*tag*/) override {
    check(sockets_.contains(reserved));
    return SocketRef{SocketRef::Kind::kRelay, reserved};
  }
  [[nodiscard]] bool isOpen(std::uint64_t id) const { return sockets_.contains(id); }

  // RFC 6062: TCP relay sockets are sockets like the others; peer connections live from
  // connectPeer (or an accepted peer) until closePeer or the adapter's own report of their end.
  std::expected<SocketRef, RelayOpenError> openTcp(const Endpoint& local,
                                                   std::uint64_t tag) override {
    return open(local, tag, false);
  }
  bool connectPeer(std::uint32_t connection, const Endpoint& /*local*/,
                   const Endpoint& peer) override {
    if (peer.port % 5 == 0) {
      return false;  // could not even start
    }
    check(peers.insert(connection).second);
    connecting.push_back(connection);
    return true;
  }
  void bindPeer(std::uint32_t connection, const SocketRef& /*data*/) override {
    check(peers.contains(connection));
    bound.push_back(connection);
  }
  void closePeer(std::uint32_t connection) override {
    check(peers.erase(connection) == 1);  // never closed twice, never an unknown connection
    std::erase(bound, connection);
    std::erase(connecting, connection);
  }
  TcpRelayCounts takePeerCounts(std::uint32_t connection) override {
    check(peers.contains(connection));
    return std::exchange(counts[connection], {});
  }
  std::set<std::uint32_t> peers;          // open peer connections
  std::vector<std::uint32_t> connecting;  // started, not yet reported
  std::vector<std::uint32_t> bound;
  std::map<std::uint32_t, TcpRelayCounts> counts;

 private:
  std::map<std::uint64_t, Endpoint> sockets_;
  std::set<Endpoint> open_;
  std::uint64_t next_ = 1;
};

class Reservations final : public ReservationStore {
 public:
  Reservations() = default;
  void put(std::uint64_t token, const ReservedPort& port, MonotonicTime /*now*/) override {
    ports_[token] = port;
  }
  std::optional<ReservedPort> take(std::uint64_t token, MonotonicTime now) override {
    const auto it = ports_.find(token);
    if (it == ports_.end() || it->second.expires <= now) {
      return std::nullopt;
    }
    ReservedPort port = it->second;
    ports_.erase(it);
    return port;
  }

 private:
  std::map<std::uint64_t, ReservedPort> ports_;
};

struct Random final : RandomSource {
  std::uint64_t next() override {
    return state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  }
  std::uint64_t state = 1;
};
struct Clock final : WallClock {
  std::int64_t unixNow() const override { return now; }
  std::int64_t now = 1'800'000'000;
};
struct Credentials final : CredentialSource {
  std::expected<UserCredential, CredentialLookupError> lookup(std::string_view username,
                                                              std::int64_t) const override {
    if (username != "u") {
      return std::unexpected(CredentialLookupError::kUnknownUser);
    }
    return UserCredential{"u", {"p"}, std::nullopt};
  }
};
struct Nonces final : NonceSource {
  std::string mint(const IpAddress&, std::int64_t) const override { return "nonce"; }
  NonceCheck verify(std::string_view nonce, const IpAddress&, std::int64_t) const override {
    return nonce == "nonce" ? NonceCheck::kValid : NonceCheck::kStale;
  }
};
struct Quota final : AllocationQuota {
  QuotaVerdict acquire(std::string_view, const IpAddress&) override {
    return ++held > 8 ? (--held, QuotaVerdict::kTotalLimit) : QuotaVerdict::kOk;
  }
  void release(std::string_view, const IpAddress&) override {
    check(held > 0);
    --held;
  }
  int held = 0;
};

struct Budget final : UserBandwidth {
  std::uint64_t lease(std::string_view, std::uint64_t want, MonotonicTime) override {
    const std::uint64_t granted = std::min(want, left);
    left -= granted;
    return granted;
  }
  std::uint64_t left = 100'000;
};

ClientSource sourceFor(std::uint8_t index) {
  const auto i = static_cast<std::uint8_t>(index % 8);
  const ClientTransport transport = i < 3    ? ClientTransport::kUdp
                                    : i < 6  ? ClientTransport::kTcp
                                    : i == 6 ? ClientTransport::kTls
                                             : ClientTransport::kDtls;
  const bool connection = transport != ClientTransport::kUdp;
  return ClientSource{
      transport,
      SocketRef{connection ? SocketRef::Kind::kConnection : SocketRef::Kind::kListener,
                connection ? 6U + i : 0U},
      Endpoint{IpAddress::v4({127, 0, 0, 1}), static_cast<std::uint16_t>(40000 + i)},
      Endpoint{IpAddress::v4({127, 0, 0, 1}), 3478}};
}

// A request with the fuzzer's attributes (TLVs), then valid long-term credentials. A one-byte
// CONNECTION-ID picks one of the open peer connections' ids (random, so that ConnectionBind
// can succeed).
std::vector<std::byte> authenticated(ConstBytes payload, std::uint64_t& counter,
                                     const std::set<std::uint32_t>& peers) {
  std::vector<std::byte> buffer(4096);
  const std::uint16_t type =
      payload.size() >= 2 ? static_cast<std::uint16_t>(load16(payload, 0) & 0x3FFFU) : 0x0003;
  TransactionId id{};
  id[0] = static_cast<std::byte>(counter++);
  MessageBuilder builder(buffer, type, id);
  std::size_t pos = 2;
  while (pos + 4 <= payload.size()) {
    const std::uint16_t attribute = load16(payload, pos);
    const std::size_t length =
        std::min<std::size_t>(load16(payload, pos + 2) % 64, payload.size() - pos - 4);
    if (attribute == attr::kConnectionId && length == 1 && !peers.empty()) {
      auto peer = peers.begin();
      std::advance(peer, load8(payload, pos + 4) % peers.size());
      builder.addU32(attribute, *peer);
    } else {
      builder.addBytes(attribute, payload.subspan(pos + 4, length));
    }
    pos += 4 + length;
  }
  builder.addText(attr::kUsername, "u");
  builder.addText(attr::kRealm, "turnpike");
  builder.addText(attr::kNonce, "nonce");
  builder.addMessageIntegrity(turnpike::auth::longTermKeyMd5("u", "turnpike", "p"));
  auto built = builder.finish();
  buffer.resize(built ? built->size() : 0);
  return buffer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ConstBytes input(reinterpret_cast<const std::byte*>(data), size);  // NOLINT
  Relays relays;
  Reservations reservations;
  Random random;
  Clock clock;
  Credentials credentials;
  Nonces nonces;
  Quota quota;
  const PeerPolicy policy({*AddressPrefix::parse("127.0.0.0/8")}, {},
                          {Endpoint{IpAddress::v4({127, 0, 0, 1}), 3478}});
  CoreConfig config;
  config.relay_addresses = {{IpAddress::v4({127, 0, 0, 1}), IpAddress::v4({198, 51, 100, 1})}};
  config.port_min = 50000;
  config.port_max = 50031;  // small: exhaustion and reuse are reachable
  config.max_permissions = 4;
  config.max_channels = 4;
  const std::uint8_t first = input.empty() ? 0 : load8(input, 0);
  config.tcp_allocations = first < 0xC0;
  config.max_tcp_connections = 3;
  config.bandwidth_bytes_per_second = (first & 1U) != 0 ? 4096 : 0;
  config.user_bandwidth_bytes_per_second = (first & 2U) != 0 ? 50'000 : 0;
  Budget budget;
  Core core(config, CoreDependencies{relays, random, clock, credentials, nonces, quota,
                                     reservations, &policy, nullptr, &budget});
  MonotonicTime now{};
  Outbox outbox;
  std::uint64_t counter = 0;
  std::size_t pos = 0;
  while (pos + 4 <= input.size()) {
    const std::uint8_t op = load8(input, pos) % 8;
    const ClientSource source = sourceFor(load8(input, pos + 1));
    const std::size_t length =
        std::min<std::size_t>(load16(input, pos + 2), input.size() - pos - 4);
    const ConstBytes payload = input.subspan(pos + 4, length);
    pos += 4 + length;
    switch (op) {
      case 0:
        core.onClientMessage(source, payload, now, outbox);
        break;
      case 1: {
        const auto request = authenticated(payload, counter, relays.peers);
        core.onClientMessage(source, request, now, outbox);
        break;
      }
      case 2: {
        const std::uint64_t tag = payload.empty() ? 1 : load8(payload, 0) % 8;
        const Endpoint peer{IpAddress::v4({127, 0, 0, 2}),
                            static_cast<std::uint16_t>(5000 + (payload.size() % 3))};
        core.onPeerDatagram(tag, peer, payload, now, outbox);
        break;
      }
      case 3:
        now += Seconds{payload.empty() ? 1 : load8(payload, 0) * 8};
        clock.now += payload.empty() ? 1 : load8(payload, 0) * 8;
        core.onTimer(now);
        if (const auto next = core.nextDeadline()) {
          check(*next > now);  // nothing due is left behind
        }
        break;
      case 4:
        core.onConnectionClosed(source.socket, now);
        break;
      case 5: {
        if (relays.connecting.empty()) {
          break;
        }
        const std::size_t pick =
            (payload.empty() ? 0 : load8(payload, 0)) % relays.connecting.size();
        const std::uint32_t id = relays.connecting[pick];
        relays.connecting.erase(relays.connecting.begin() + static_cast<std::ptrdiff_t>(pick));
        const bool connected = payload.size() >= 2 && (load8(payload, 1) & 1U) != 0;
        if (!connected) {
          relays.peers.erase(id);  // the adapter closes a failed connection itself
        }
        core.onPeerConnected(id, connected, now, outbox);
        break;
      }
      case 6: {
        const std::uint64_t tag = payload.empty() ? 1 : load8(payload, 0) % 8;
        const Endpoint peer{
            IpAddress::v4({127, 0, 0, 2}),
            static_cast<std::uint16_t>(5000 + (payload.size() >= 2 ? load8(payload, 1) % 4 : 0))};
        if (const auto id = core.onPeerAccepted(tag, peer, now, outbox)) {
          check(relays.peers.insert(*id).second);
        }
        break;
      }
      default: {
        if (relays.bound.empty() || payload.size() < 10) {
          core.collectTcpRelayed();
          break;
        }
        const std::uint32_t id = relays.bound[load8(payload, 0) % relays.bound.size()];
        const std::uint64_t up = load32(payload, 2) % 1'000'000;
        const std::uint64_t down = load32(payload, 6) % 1'000'000;
        TcpRelayCounts& counts = relays.counts[id];
        counts.to_peer_bytes += up;
        counts.to_peer_reads += up == 0 ? 0 : 1;
        counts.to_client_bytes += down;
        counts.to_client_reads += down == 0 ? 0 : 1;
        if ((load8(payload, 1) & 1U) != 0) {
          core.collectTcpRelayed();
        } else {
          const std::uint64_t want = 1 + up;
          const std::uint64_t granted = core.grantTcpBandwidth(id, want, now);
          check(granted <= want || granted == Core::kUnlimitedTcpGrant);
        }
        break;
      }
    }
    for (const OutboxEntry& entry : outbox.entries()) {
      check(entry.head_size <= OutboxEntry::kMaxHead && entry.padding < 4);
      check(entry.socket.kind != SocketRef::Kind::kRelay || relays.isOpen(entry.socket.id));
    }
    outbox.clear();
  }
  core.shutdown(now);
  check(core.allocationCount() == 0 && quota.held == 0);
  // RFC 6062: every peer connection the core knew of was closed with its allocation (those the
  // adapter still connects are answered later, or forgotten by then).
  for (const std::uint32_t id : relays.connecting) {
    relays.peers.erase(id);
  }
  check(relays.peers.empty());
  check(core.stats().tcp_peer_connections_active.get() == 0);
  check(core.stats().tcp_allocations_active.get() == 0);
  return 0;
}

// libFuzzer target: the whole sans-I/O TURN core, driven by a fake clock and fake sockets. The
// input is a script of operations from several 5-tuples, so state machines are explored, not only
// parsers. Requests can be sent authenticated (the harness adds USERNAME, REALM, NONCE and a valid
// MESSAGE-INTEGRITY), which gets the fuzzer past the 401 into every handler.
//
// Script: repeated [op][source][length (2 bytes)][payload], ops:
//   0 raw client message   1 authenticated request (payload[0..1] method/class, rest attributes)
//   2 peer datagram        3 advance time (payload[0] seconds) and run timers
//   4 TCP connection closed
#include <array>
#include <cstdint>
#include <map>
#include <set>
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

ClientSource sourceFor(std::uint8_t index) {
  const auto i = static_cast<std::uint8_t>(index % 4);
  const bool tcp = i == 3;
  return ClientSource{
      tcp ? ClientTransport::kTcp : ClientTransport::kUdp,
      SocketRef{tcp ? SocketRef::Kind::kConnection : SocketRef::Kind::kListener, tcp ? 9U : 0U},
      Endpoint{IpAddress::v4({127, 0, 0, 1}), static_cast<std::uint16_t>(40000 + i)},
      Endpoint{IpAddress::v4({127, 0, 0, 1}), 3478}};
}

// A request with the fuzzer's attributes (TLVs), then valid long-term credentials.
std::vector<std::byte> authenticated(ConstBytes payload, std::uint64_t& counter) {
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
    builder.addBytes(attribute, payload.subspan(pos + 4, length));
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
  Core core(config, CoreDependencies{relays, random, clock, credentials, nonces, quota,
                                     reservations, &policy, nullptr, nullptr});
  MonotonicTime now{};
  Outbox outbox;
  std::uint64_t counter = 0;
  std::size_t pos = 0;
  while (pos + 4 <= input.size()) {
    const std::uint8_t op = load8(input, pos) % 5;
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
        const auto request = authenticated(payload, counter);
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
      default:
        core.onConnectionClosed(source.socket, now);
        break;
    }
    for (const OutboxEntry& entry : outbox.entries()) {
      check(entry.head_size <= OutboxEntry::kMaxHead && entry.padding < 4);
      check(entry.socket.kind != SocketRef::Kind::kRelay || relays.isOpen(entry.socket.id));
    }
    outbox.clear();
  }
  core.shutdown(now);
  check(core.allocationCount() == 0 && quota.held == 0);
  return 0;
}

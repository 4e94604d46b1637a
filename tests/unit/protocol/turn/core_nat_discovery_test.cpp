// RFC 5780 NAT behaviour discovery in the core: Binding requests on the four UDP sockets of
// (primary, alternate) address x (primary, alternate) port get RESPONSE-ORIGIN and
// OTHER-ADDRESS, CHANGE-REQUEST picks the socket the answer leaves from, RESPONSE-PORT the port
// of the client's address it goes to, PADDING is echoed at the request's length, and answers
// stay within kNatDiscoveryMaxRatio times the request. Without it (or on another socket),
// CHANGE-REQUEST gets 420 as before.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

// [address][port]: the fixture's listener (id 1, 192.0.2.1:3478) is the primary one.
const std::array<std::array<Endpoint, 2>, 2> kEndpoints{
    {{ep("192.0.2.1", 3478), ep("192.0.2.1", 3479)},
     {ep("192.0.2.2", 3478), ep("192.0.2.2", 3479)}}};
constexpr std::array<std::array<std::uint64_t, 2>, 2> kListeners{{{1, 2}, {3, 4}}};
constexpr std::uint64_t kOtherListener = 0;  // a udp listener that is not one of the four

std::optional<Endpoint> addressOf(const Bytes& bytes, std::uint16_t type) {
  const auto message = Message::parse(bytes);
  const RawAttribute* attribute = message ? message->find(type) : nullptr;
  if (attribute == nullptr) {
    return std::nullopt;
  }
  auto decoded = decodeAddress(message->value(*attribute));
  return decoded ? std::optional<Endpoint>(*decoded) : std::nullopt;
}

bool has(const Bytes& bytes, std::uint16_t type) {
  const auto message = Message::parse(bytes);
  return message && message->has(type);
}

class CoreNatDiscoveryTest : public CoreFixture {
 protected:
  CoreNatDiscoveryTest() { makeNatCore(""); }

  void makeNatCore(std::string software) {
    CoreConfig config = baseConfig();
    config.software = std::move(software);
    config.nat_discovery = NatDiscoveryConfig{kEndpoints, kListeners};
    makeCore(std::move(config));
  }

  // A UDP client of the socket [address][port].
  static ClientSource on(std::size_t address, std::size_t port, std::uint16_t client_port = 40000) {
    return {ClientTransport::kUdp, SocketRef{SocketRef::Kind::kListener, kListeners[address][port]},
            ep("198.51.100.7", client_port), kEndpoints[address][port]};
  }

  Bytes binding(const Attrs& attrs = {}) { return request(Method::kBinding, attrs, noAuth()); }

  // A Binding from `source` is answered as without RFC 5780: no RESPONSE-ORIGIN or
  // OTHER-ADDRESS, and (RFC 5780 section 7.2: no alternate address here) CHANGE-REQUEST is not
  // understood.
  void expectAnsweredAsWithout(const ClientSource& source, ChangeRequestValue change) {
    const Bytes plain = exchange(source, binding());
    EXPECT_EQ(errorCodeOf(plain), 0);
    EXPECT_FALSE(has(plain, attr::kResponseOrigin));
    EXPECT_FALSE(has(plain, attr::kOtherAddress));
    const Bytes changed =
        exchange(source, binding([&](MessageBuilder& b) { b.addChangeRequest(change); }));
    EXPECT_EQ(errorCodeOf(changed), error::kUnknownAttribute);
  }

  // Sends and returns the one answer; where it goes is checked by the caller.
  const OutboxEntry& answer(const ClientSource& source, const Bytes& bytes) {
    send(source, bytes);
    EXPECT_EQ(outbox.entries().size(), 1U);
    return outbox.entries().front();
  }
};

TEST_F(CoreNatDiscoveryTest, EverySocketAnswersWithResponseOriginAndOtherAddress) {
  for (std::size_t address = 0; address < 2; ++address) {
    for (std::size_t port = 0; port < 2; ++port) {
      SCOPED_TRACE(kEndpoints[address][port].toString());
      const ClientSource source = on(address, port);
      const OutboxEntry& entry = answer(source, binding());
      EXPECT_EQ(entry.socket, source.socket);
      EXPECT_EQ(entry.destination, source.client);
      const Bytes response = wireBytes(entry);
      EXPECT_EQ(xorAddressesOf(response, attr::kXorMappedAddress),
                std::vector<Endpoint>{source.client});
      EXPECT_EQ(addressOf(response, attr::kResponseOrigin), kEndpoints[address][port]);
      // RFC 5780 section 7.4: the other address with the other port.
      EXPECT_EQ(addressOf(response, attr::kOtherAddress), kEndpoints[1 - address][1 - port]);
    }
  }
}

TEST_F(CoreNatDiscoveryTest, ChangeRequestPicksTheSocketTheAnswerLeavesFrom) {
  struct Case {
    bool change_ip;
    bool change_port;
  };
  for (const Case c :
       {Case{false, false}, Case{false, true}, Case{true, false}, Case{true, true}}) {
    for (std::size_t address = 0; address < 2; ++address) {
      for (std::size_t port = 0; port < 2; ++port) {
        SCOPED_TRACE(::testing::Message() << "ip " << c.change_ip << " port " << c.change_port
                                          << " on " << kEndpoints[address][port].toString());
        const std::size_t from_address = c.change_ip ? 1 - address : address;
        const std::size_t from_port = c.change_port ? 1 - port : port;
        const ClientSource source = on(address, port);
        const OutboxEntry& entry = answer(source, binding([&](MessageBuilder& b) {
                                            b.addChangeRequest({c.change_ip, c.change_port});
                                          }));
        EXPECT_EQ(entry.socket,
                  (SocketRef{SocketRef::Kind::kListener, kListeners[from_address][from_port]}));
        EXPECT_EQ(entry.destination, source.client);
        const Bytes response = wireBytes(entry);
        EXPECT_EQ(errorCodeOf(response), 0);
        EXPECT_EQ(addressOf(response, attr::kResponseOrigin), kEndpoints[from_address][from_port]);
        EXPECT_EQ(addressOf(response, attr::kOtherAddress), kEndpoints[1 - address][1 - port]);
      }
    }
  }
  // 4 arrival sockets x the two cases with each flag.
  EXPECT_EQ(core->stats().nat_changed_address.get(), 8U);
  EXPECT_EQ(core->stats().nat_changed_port.get(), 8U);
}

TEST_F(CoreNatDiscoveryTest, ResponsePortSendsToTheClientsOwnAddressAtThatPort) {
  const ClientSource source = on(0, 0);
  const OutboxEntry& entry = answer(source, binding([](MessageBuilder& b) {
                                      b.addResponsePort(45678);
                                      b.addChangeRequest({true, false});
                                    }));
  EXPECT_EQ(entry.destination, ep("198.51.100.7", 45678));
  EXPECT_EQ(entry.socket, (SocketRef{SocketRef::Kind::kListener, kListeners[1][0]}));
  // XOR-MAPPED-ADDRESS is still where the request came from.
  EXPECT_EQ(xorAddressesOf(wireBytes(entry), attr::kXorMappedAddress),
            std::vector<Endpoint>{source.client});
  EXPECT_EQ(core->stats().nat_response_port.get(), 1U);
}

TEST_F(CoreNatDiscoveryTest, ResponsePortZeroOrWithPaddingIsBadRequest) {
  const Attrs zero = [](MessageBuilder& b) { b.addResponsePort(0); };
  const Attrs with_padding = [](MessageBuilder& b) {
    b.addResponsePort(45678);
    b.addPadding(64);
  };
  for (const Attrs& attrs : {zero, with_padding}) {
    const ClientSource source = on(0, 0);
    const OutboxEntry& entry = answer(source, binding(attrs));
    EXPECT_EQ(entry.socket, source.socket);
    EXPECT_EQ(entry.destination, source.client);  // never to the port asked for
    EXPECT_EQ(errorCodeOf(wireBytes(entry)), error::kBadRequest);
  }
  EXPECT_EQ(core->stats().nat_response_port.get(), 0U);
  EXPECT_EQ(core->stats().stun_outcomes[static_cast<std::size_t>(StunOutcome::kBadRequest)].get(),
            2U);
}

TEST_F(CoreNatDiscoveryTest, PaddingIsEchoedAtTheRequestsLength) {
  for (const std::size_t length : {std::size_t{0}, std::size_t{5}, std::size_t{1500}}) {
    SCOPED_TRACE(length);
    const Bytes request = binding([&](MessageBuilder& b) { b.addPadding(length); });
    const Bytes response = wireBytes(answer(on(0, 0), request));
    const auto message = Message::parse(response);
    ASSERT_TRUE(message);
    const RawAttribute* padding = message->find(attr::kPadding);
    ASSERT_NE(padding, nullptr);
    EXPECT_EQ(padding->length, length);
    EXPECT_TRUE(message->has(attr::kOtherAddress));
    EXPECT_LE(response.size(), request.size() + 3 * 12 + 20);
  }
}

// Amplification: an answer is at most kNatDiscoveryMaxRatio times its request. What is left out
// to get there: SOFTWARE first, then RESPONSE-ORIGIN, then OTHER-ADDRESS.
TEST_F(CoreNatDiscoveryTest, AnswersStayWithinTheRatioLeavingOutSoftwareFirst) {
  makeNatCore("turnpike");
  struct Case {
    const char* name;
    Attrs attrs;
    bool v6;
    bool software, response_origin, other_address;
  };
  const Attrs none;
  const Attrs change = [](MessageBuilder& b) { b.addChangeRequest({false, false}); };
  const Attrs fingerprint = [](MessageBuilder& b) { b.addFingerprint(); };
  const Attrs change_fingerprint = [](MessageBuilder& b) {
    b.addChangeRequest({true, true});
    b.addFingerprint();
  };
  const Case cases[] = {
      // 20 bytes: 20 + 3 x 12 = 56 <= 60, SOFTWARE (12) would make 68.
      {"v4 header only", none, false, false, true, true},
      // 28: 84 allows all: 20 + 36 + 12 = 68.
      {"v4 change-request", change, false, true, true, true},
      {"v4 fingerprint", fingerprint, false, true, true, true},
      // IPv6: 20 + 24 = 44; OTHER-ADDRESS would make 68 > 60.
      {"v6 header only", none, true, false, false, false},
      // 28: 84 allows 44 + 24 for OTHER-ADDRESS, not RESPONSE-ORIGIN too (92).
      {"v6 change-request", change, true, false, false, true},
      // 36: 108 allows 20 + 72 + 8 = 100, not SOFTWARE (112).
      {"v6 change-request fingerprint", change_fingerprint, true, false, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CoreConfig config = baseConfig();
    config.software = "turnpike";
    NatDiscoveryConfig nat{kEndpoints, kListeners};
    if (c.v6) {
      nat.endpoints = {{{ep("2001:db8::1", 3478), ep("2001:db8::1", 3479)},
                        {ep("2001:db8::2", 3478), ep("2001:db8::2", 3479)}}};
    }
    config.nat_discovery = nat;
    makeCore(std::move(config));
    ClientSource source = on(0, 0);
    source.server = nat.endpoints[0][0];
    if (c.v6) {
      source.client = ep("2001:db8:ffff::7", 40000);
    }
    const Bytes request = binding(c.attrs);
    const Bytes response = wireBytes(answer(source, request));
    EXPECT_LE(response.size(), kNatDiscoveryMaxRatio * request.size());
    EXPECT_EQ(errorCodeOf(response), 0);
    EXPECT_EQ(has(response, attr::kSoftware), c.software);
    EXPECT_EQ(has(response, attr::kResponseOrigin), c.response_origin);
    EXPECT_EQ(has(response, attr::kOtherAddress), c.other_address);
    EXPECT_EQ(has(response, attr::kFingerprint), has(request, attr::kFingerprint));
  }
}

TEST_F(CoreNatDiscoveryTest, OtherSocketsAndTcpAnswerAsWithoutIt) {
  ClientSource other = on(0, 0);
  other.socket.id = kOtherListener;
  const ClientSource tcp = tcpClient(7);
  for (const ClientSource& source : {other, tcp}) {
    SCOPED_TRACE(toString(source.transport));
    expectAnsweredAsWithout(source, {true, true});
  }
}

TEST_F(CoreNatDiscoveryTest, WhenOffChangeRequestGets420AndNoNewAttributes) {
  makeCore(baseConfig());
  expectAnsweredAsWithout(on(0, 0), {true, false});
}

TEST_F(CoreNatDiscoveryTest, ClassicClientsChangeRequestStillGets420) {
  Bytes classic = binding([](MessageBuilder& b) { b.addChangeRequest({true, true}); });
  classic[4] = std::byte{0x01};  // RFC 3489: no magic cookie
  const ClientSource source = on(0, 0);
  send(source, classic);
  ASSERT_EQ(outbox.entries().size(), 1U);
  EXPECT_EQ(outbox.entries().front().socket, source.socket);
  const Bytes response = wireBytes(outbox.entries().front());
  EXPECT_EQ(load16(ConstBytes(response), 0),
            messageType(Method::kBinding, MessageClass::kErrorResponse));
}

}  // namespace
}  // namespace turnpike::protocol::core_test

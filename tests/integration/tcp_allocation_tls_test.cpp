// RFC 6062 TCP allocations over TLS against the real server (a tls listener, tcp_allocations:
// true, threads: 1, and 2 for the handover of a TLS data connection between workers): the control
// connection and the data connections are TLS. Connect reaches a TCP peer on the loopback and a
// ConnectionBind'ed TLS connection carries the peer's bytes both ways (decrypted for the peer, TLS
// records for the client), 100 KiB in one go included; a peer that connects in is announced with
// ConnectionAttempt over TLS; closing either side is passed on (the peer's FIN as close_notify, the
// client's close_notify as a FIN).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <memory>
#include <thread>

#include "tests/integration/server_fixture.hpp"
#include "tests/integration/tcp_allocation_support.hpp"
#include "tests/integration/tls_client_support.hpp"
#include "tests/integration/turn_client.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

// A TurnClient over its own TLS connection.
struct TlsTurn {
  std::unique_ptr<TlsClient> tls;
  std::unique_ptr<TurnClient> turn;
};

class TcpAllocationTlsTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.threads = 1;  // every connection on one worker (TcpAllocationTlsAcrossWorkersTest: 2)
    options.tls = true;
    options.extra_yaml += "tcp_allocations: true\n";
    options.http = true;
    return options;
  }

  void SetUp() override {
    TurnTest::SetUp();
    if (!HasFatalFailure() && !IsSkipped()) {
      context_ = clientContext(tlsCertificate());
    }
  }

  // A new TLS connection to the tls listener, handshaken, with a TurnClient on it that has
  // learned a nonce (challenge()).
  [[nodiscard]] TlsTurn tlsTurn() const {
    TlsTurn client;
    client.tls = std::make_unique<TlsClient>(tlsServer(), context_.get());
    EXPECT_TRUE(client.tls->handshake()) << client.tls->error();
    client.turn = std::make_unique<TurnClient>(tlsServer(), client.tls->io(), kAlice);
    EXPECT_TRUE(client.turn->challenge().has_value()) << "no challenge over TLS";
    return client;
  }

  static std::optional<TurnResponse> allocateTcp(TurnClient& turn) {
    return turn.authenticatedRequest(Method::kAllocate, [](protocol::MessageBuilder& b) {
      b.addRequestedTransport(protocol::kProtocolTcp);
    });
  }
  static std::optional<std::uint32_t> connectTo(TurnClient& turn, const Endpoint& peer) {
    const auto connected = turn.authenticatedRequest(
        Method::kConnect,
        [&](protocol::MessageBuilder& b) { b.addXorAddress(attr::kXorPeerAddress, peer); });
    if (!succeeded(connected, "Connect")) {
      ADD_FAILURE() << "Connect over TLS failed";
      return std::nullopt;
    }
    return connected->u32(attr::kConnectionId);
  }
  // ConnectionBind for `id` on a new TLS connection: the data connection.
  [[nodiscard]] TlsTurn bind(std::uint32_t id) const {
    TlsTurn data = tlsTurn();
    const auto bound = data.turn->authenticatedRequest(
        Method::kConnectionBind,
        [&](protocol::MessageBuilder& b) { b.addU32(attr::kConnectionId, id); });
    EXPECT_TRUE(succeeded(bound, "ConnectionBind over TLS"));
    return data;
  }
  // A TLS control connection with a TCP allocation, Connected to `peer`: the control connection,
  // the CONNECTION-ID and the peer's end of the relay's connection.
  struct Connected {
    TlsTurn control;
    std::uint32_t id = 0;
    UniqueFd from_relay;
  };
  [[nodiscard]] Connected allocateAndConnect(const TcpPeer& peer) const {
    Connected connected{tlsTurn(), 0, {}};
    EXPECT_TRUE(succeeded(allocateTcp(*connected.control.turn), "Allocate TCP over TLS"));
    connected.id = connectTo(*connected.control.turn, peer.endpoint()).value_or(0);
    connected.from_relay = peer.accept();
    EXPECT_TRUE(connected.from_relay.valid()) << "the peer saw no connection";
    return connected;
  }

  // allocateAndConnect, then ConnectionBind on a new TLS connection: a bound pair to relay over.
  struct Bound {
    Connected connected;
    TlsTurn data;
  };
  [[nodiscard]] Bound allocateConnectAndBind(const TcpPeer& peer) const {
    Bound bound{allocateAndConnect(peer), {}};
    EXPECT_NE(bound.connected.id, 0U);
    if (bound.connected.id != 0 && bound.connected.from_relay.valid()) {
      bound.data = bind(bound.connected.id);
    }
    return bound;
  }
  // ConnectionBind for `id` on a new TLS connection, with bytes right behind it in the same TLS
  // record and in the next record, sent in one segment (corked) so the server reads them at
  // once: they must reach `peer` after the answer, first and in order.
  [[nodiscard]] TlsTurn pipelinedBind(std::uint32_t id, int peer) const {
    TlsTurn data = tlsTurn();
    const TurnClient& turn = *data.turn;
    const auth::Md5Key key = turn.key();
    Bytes first = buildMessage(
        randomTransactionId(),
        [&](MessageBuilder& b) {
          b.addU32(attr::kConnectionId, id);
          b.addText(attr::kUsername, kAlice.username);
          b.addText(attr::kRealm, turn.realm());
          b.addText(attr::kNonce, turn.nonce());
          b.addMessageIntegrity(key);
        },
        messageType(Method::kConnectionBind, MessageClass::kRequest));
    const Bytes same_record = text("in the ConnectionBind's record;");
    const Bytes next_record = text("in the record after it");
    first.insert(first.end(), same_record.begin(), same_record.end());
    const int on = 1;
    const int off = 0;
    EXPECT_EQ(::setsockopt(data.tls->fd(), IPPROTO_TCP, TCP_CORK, &on, sizeof(on)), 0);
    EXPECT_TRUE(data.tls->write(first));        // one record
    EXPECT_TRUE(data.tls->write(next_record));  // another
    EXPECT_EQ(::setsockopt(data.tls->fd(), IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), 0);
    const auto answer = data.tls->readStun();
    const auto message = answer ? parseReply(*answer) : std::nullopt;
    EXPECT_TRUE(message.has_value()) << data.tls->error();
    EXPECT_EQ(message ? message->type() : 0,
              messageType(Method::kConnectionBind, MessageClass::kSuccessResponse));
    Bytes expected = same_record;
    expected.insert(expected.end(), next_record.begin(), next_record.end());
    EXPECT_EQ(recvExactly(peer, expected.size()), expected);
    return data;
  }

  // Bytes both ways between a TLS data connection and the peer's connection.
  static void roundTrip(TlsClient& data, int peer, const Bytes& up, const Bytes& down) {
    ASSERT_TRUE(data.write(up)) << data.error();
    EXPECT_EQ(recvExactly(peer, up.size()), up);
    // The peer writes from a thread: the relay may hold a large write until the client reads.
    bool sent = false;
    std::thread writer([&] { sent = sendAll(peer, down); });
    EXPECT_EQ(data.readExactly(down.size()), down) << data.error();
    writer.join();
    EXPECT_TRUE(sent);
  }

  [[nodiscard]] bool metricReaches(std::string_view name, double value) const {
    return eventually([&] { return scrapeMetric(httpServer(), name, {}) == value; });
  }

  ClientContext context_;
};

TEST_F(TcpAllocationTlsTest, ConnectAndConnectionBindOverTlsRelayBytesBothWays) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  auto [connected, data] = allocateConnectAndBind(peer);
  ASSERT_FALSE(HasFailure());
  roundTrip(*data.tls, connected.from_relay.get(), text("hello peer, over TLS"),
            text("hello client, in a TLS record"));
  // 100 KiB in one write each way: several TLS records of at most 16 KiB towards the client
  // (tls_splice_codec_test.cpp checks the record sizes), through the relay's backpressure.
  roundTrip(*data.tls, connected.from_relay.get(), patternPayload(100 * 1024, 1),
            patternPayload(100 * 1024, 2));
  // More than the relay queues before it stops reading the peer (256 KiB).
  roundTrip(*data.tls, connected.from_relay.get(), text("!"), patternPayload(1024 * 1024, 3));
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", 1));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", 1));
}

// Bytes the client sends right behind its ConnectionBind (in the same TLS record, and in the
// next record of the same read: the session holds it when the splice starts) reach the peer
// first, in order.
TEST_F(TcpAllocationTlsTest, BytesRightBehindTheConnectionBindGoToThePeerFirst) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  Connected connected = allocateAndConnect(peer);
  ASSERT_NE(connected.id, 0U);
  ASSERT_TRUE(connected.from_relay.valid());
  TlsTurn data = pipelinedBind(connected.id, connected.from_relay.get());
  ASSERT_FALSE(HasFailure());
  roundTrip(*data.tls, connected.from_relay.get(), text("then"), text("as usual"));
}

TEST_F(TcpAllocationTlsTest, APeerThatConnectsInIsAnnouncedOverTls) {
  TlsTurn control = tlsTurn();
  const auto allocated = allocateTcp(*control.turn);
  ASSERT_TRUE(succeeded(allocated, "Allocate TCP over TLS"));
  const auto relayed = allocated->xorAddress(attr::kXorRelayedAddress);
  ASSERT_TRUE(relayed.has_value());
  ASSERT_TRUE(succeeded(control.turn->createPermission(loopback(false, 9)), "CreatePermission"));

  const UniqueFd peer = tcpConnect(*relayed);
  ASSERT_TRUE(peer.valid());
  const auto attempt = control.tls->readStun();
  ASSERT_TRUE(attempt.has_value()) << control.tls->error();
  const auto message = parseReply(*attempt);
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->isMethod(Method::kConnectionAttempt));
  const TurnResponse indication{*attempt, message->type(), 0};
  EXPECT_EQ(indication.xorAddress(attr::kXorPeerAddress), localEndpointOf(peer.get()));
  const auto id = indication.u32(attr::kConnectionId);
  ASSERT_TRUE(id.has_value());

  const Bytes early = text("sent before the ConnectionBind");
  ASSERT_TRUE(sendAll(peer.get(), early));
  TlsTurn data = bind(*id);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(data.tls->readExactly(early.size()), early) << data.tls->error();
  roundTrip(*data.tls, peer.get(), text("up"), text("down"));
  // The control connection closing ends the allocation, and its data connections.
  ::shutdown(control.tls->fd(), SHUT_RDWR);
  EXPECT_TRUE(waitForPeerClose(data.tls->fd()));
  EXPECT_TRUE(waitForPeerClose(peer.get()));
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", 0));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", 0));
}

// The peer's FIN reaches the client as close_notify (then a FIN); the client can still send
// until it closes too, which ends the peer connection.
TEST_F(TcpAllocationTlsTest, ThePeerClosingSendsTheClientACloseNotify) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  auto [connected, data] = allocateConnectAndBind(peer);
  ASSERT_FALSE(HasFailure());
  roundTrip(*data.tls, connected.from_relay.get(), text("up"), text("last words"));

  ::shutdown(connected.from_relay.get(), SHUT_WR);
  EXPECT_FALSE(data.tls->readExactly(1).has_value());
  EXPECT_EQ(data.tls->lastError(), SSL_ERROR_ZERO_RETURN) << data.tls->error();
  EXPECT_TRUE(waitForPeerClose(data.tls->fd()));  // the FIN behind the close_notify
  // A half close: the client's bytes still reach the peer.
  const Bytes late = text("after the peer's FIN");
  ASSERT_TRUE(data.tls->write(late));
  EXPECT_EQ(recvExactly(connected.from_relay.get(), late.size()), late);
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", 1));
  ::shutdown(data.tls->fd(), SHUT_RDWR);
  EXPECT_TRUE(waitForPeerClose(connected.from_relay.get()));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", 0));
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", 1));
}

// The client's close_notify reaches the peer as a FIN; the peer's bytes still reach the client
// (TLS 1.3 half close) until the peer closes too.
TEST_F(TcpAllocationTlsTest, TheClientsCloseNotifyIsAFinForThePeer) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  auto [connected, data] = allocateConnectAndBind(peer);
  ASSERT_FALSE(HasFailure());
  roundTrip(*data.tls, connected.from_relay.get(), text("up"), text("down"));

  ASSERT_EQ(SSL_shutdown(data.tls->ssl()), 0);  // our close_notify; theirs not yet seen
  const int peer_fd = connected.from_relay.get();
  EXPECT_EQ(recvUntilClose(peer_fd), Bytes{});  // the FIN, no bytes
  const Bytes late = text("after the client's close_notify");
  ASSERT_TRUE(sendAll(peer_fd, late));
  EXPECT_EQ(data.tls->readExactly(late.size()), late) << data.tls->error();
  ::shutdown(peer_fd, SHUT_WR);
  EXPECT_FALSE(data.tls->readExactly(1).has_value());
  EXPECT_EQ(data.tls->lastError(), SSL_ERROR_ZERO_RETURN) << data.tls->error();
  EXPECT_TRUE(waitForPeerClose(data.tls->fd()));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", 0));
}

// An auto listener (TCP and TLS on one port): its TLS connections are TLS control and data
// connections like a tls listener's.
// Two workers: SO_REUSEPORT hands about every second data connection to the worker that does not
// hold the allocation, which hands it over with its TLS session (and the records the session
// already holds) before the ConnectionBind is answered. Pairs are made until one was handed over
// and two more were made (bounded: 20, each 1 in 2); each gets bytes right behind its
// ConnectionBind, and every pair relays both ways afterwards.
class TcpAllocationTlsAcrossWorkersTest : public TcpAllocationTlsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTlsTest::options();
    options.threads = 2;
    return options;
  }
};

TEST_F(TcpAllocationTlsAcrossWorkersTest, ATlsConnectionBindOnTheOtherWorkerIsHandedOver) {
  TlsTurn control = tlsTurn();
  ASSERT_TRUE(succeeded(allocateTcp(*control.turn), "Allocate TCP over TLS"));
  struct Pair {
    TcpPeer listener;
    UniqueFd peer;
    TlsTurn data;
  };
  const auto handoffs = [&] {
    return scrapeMetric(httpServer(), "turnpike_tcp_connection_handoffs_total").value_or(0.0);
  };
  std::vector<std::unique_ptr<Pair>> pairs;
  int after_first_handoff = 0;
  while (pairs.size() < 20 && after_first_handoff < 3) {
    Pair& pair = *pairs.emplace_back(std::make_unique<Pair>());
    ASSERT_TRUE(pair.listener.valid());
    const auto id = connectTo(*control.turn, pair.listener.endpoint());
    ASSERT_TRUE(id.has_value());
    pair.peer = pair.listener.accept();
    ASSERT_TRUE(pair.peer.valid());
    pair.data = pipelinedBind(*id, pair.peer.get());
    ASSERT_FALSE(HasFailure()) << "data connection " << pairs.size();
    if (after_first_handoff > 0 || handoffs() > 0) {
      ++after_first_handoff;
    }
  }
  EXPECT_GT(handoffs(), 0) << "no ConnectionBind reached the other worker in " << pairs.size()
                           << " connections";
  for (const auto& pair : pairs) {
    roundTrip(*pair->data.tls, pair->peer.get(), text("up, over TLS"), text("down, in a record"));
  }
  EXPECT_TRUE(
      metricReaches("turnpike_tcp_peer_connections_active", static_cast<double>(pairs.size())));
}

class TcpAllocationAutoTest : public TcpAllocationTlsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTlsTest::options();
    options.tls_transport = "auto";
    return options;
  }
};

TEST_F(TcpAllocationAutoTest, TlsConnectionsOnAnAutoListenerRelayBytesBothWays) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  auto [connected, data] = allocateConnectAndBind(peer);
  ASSERT_FALSE(HasFailure());
  roundTrip(*data.tls, connected.from_relay.get(), patternPayload(100 * 1024, 4),
            patternPayload(100 * 1024, 5));
}

// A tls listener with tcp_allocations off: TCP still gets 442 over TLS.
class TcpAllocationTlsOffTest : public TcpAllocationTlsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTlsTest::options();
    const std::string key = "tcp_allocations: true\n";
    options.extra_yaml.erase(options.extra_yaml.find(key), key.size());
    return options;
  }
};

TEST_F(TcpAllocationTlsOffTest, TcpOverTlsIs442WhenTheFeatureIsOff) {
  TlsTurn control = tlsTurn();
  const auto allocated = allocateTcp(*control.turn);
  ASSERT_TRUE(allocated.has_value());
  EXPECT_EQ(allocated->code, 442);
}

}  // namespace
}  // namespace turnpike::test

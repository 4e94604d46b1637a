// RFC 6062 TCP allocations against the real server (tcp_allocations: true, threads: 1; 2 for the
// handover between workers): a TCP control connection allocates with REQUESTED-TRANSPORT TCP;
// Connect reaches a TCP peer on the loopback and ConnectionBind on a second connection carries
// raw bytes both ways; a peer that connects to the relayed address is announced with
// ConnectionAttempt; the peer policy and connection failures get their error codes.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "protocol/proxy/proxy_header.hpp"
#include "protocol/stun/byte_io.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/tcp_allocation_support.hpp"
#include "tests/integration/turn_client.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

using protocol::Method;

class TcpAllocationTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.threads = 1;  // every connection on one worker (TcpAllocationAcrossWorkersTest: 2)
    options.extra_yaml += "tcp_allocations: true\n";
    options.http = true;  // the turnpike_tcp_* metrics
    return options;
  }

  // The README's turnpike_tcp_* metrics (and turnpike_requests_total's RFC 6062 methods) reach
  // `value` (they are flushed once per loop).
  [[nodiscard]] bool metricReaches(std::string_view name, const std::vector<std::string>& labels,
                                   double value) const {
    return eventually([&] { return scrapeMetric(httpServer(), name, labels) == value; });
  }

  // Allocate with REQUESTED-TRANSPORT TCP on a TCP control connection.
  static std::optional<TurnResponse> allocateTcp(TurnClient& turn) {
    if (!turn.challenge()) {
      return std::nullopt;
    }
    return turn.authenticatedRequest(Method::kAllocate, [](protocol::MessageBuilder& b) {
      b.addRequestedTransport(protocol::kProtocolTcp);
    });
  }
  static std::optional<TurnResponse> connect(TurnClient& turn, const Endpoint& peer) {
    return turn.authenticatedRequest(Method::kConnect, [&](protocol::MessageBuilder& b) {
      b.addXorAddress(attr::kXorPeerAddress, peer);
    });
  }
  // A new connection, authenticated (it learns a nonce first), bound to `id`: the data
  // connection, or nullopt when the ConnectionBind failed.
  std::optional<TurnClient> bind(std::uint32_t id) const {
    TurnClient data = client(TurnTransport::kTcp);
    if (!data.challenge()) {
      ADD_FAILURE() << "no challenge on the data connection";
      return std::nullopt;
    }
    const auto bound = data.authenticatedRequest(
        Method::kConnectionBind,
        [&](protocol::MessageBuilder& b) { b.addU32(attr::kConnectionId, id); });
    if (const auto ok = succeeded(bound, "ConnectionBind"); !ok) {
      ADD_FAILURE() << ok.message();  // the error code, when it came
      return std::nullopt;
    }
    return data;
  }
  // A TCP control connection with a TCP allocation, Connected to `peer`, and the data connection
  // ConnectionBind'ed to it: a bound pair to relay over (nullopt, with a failure, when a step
  // failed).
  struct Bound {
    TurnClient control;
    UniqueFd from_relay;  // the peer's end of the relay's connection
    TurnClient data;
  };
  [[nodiscard]] std::optional<Bound> allocateConnectAndBind(const TcpPeer& peer) const {
    TurnClient control = client(TurnTransport::kTcp);
    const auto connected = succeeded(allocateTcp(control), "Allocate TCP")
                               ? connect(control, peer.endpoint())
                               : std::nullopt;
    const auto id = connected ? connected->u32(attr::kConnectionId) : std::nullopt;
    if (!succeeded(connected, "Connect") || !id) {
      ADD_FAILURE() << "no TCP allocation connected to " << peer.endpoint().toString();
      return std::nullopt;
    }
    UniqueFd from_relay = peer.accept();
    if (!from_relay.valid()) {
      ADD_FAILURE() << "the peer saw no connection";
      return std::nullopt;
    }
    auto data = bind(*id);
    if (!data) {
      return std::nullopt;
    }
    return Bound{std::move(control), std::move(from_relay), std::move(*data)};
  }
  // Raw bytes both ways between the data connection and the peer's connection.
  static void roundTrip(int data, int peer) {
    const Bytes up = text("hello peer, from the client");
    ASSERT_TRUE(sendAll(data, up));
    EXPECT_EQ(recvExactly(peer, up.size()), up);
    const Bytes down = text("and hello back");
    ASSERT_TRUE(sendAll(peer, down));
    EXPECT_EQ(recvExactly(data, down.size()), down);
  }
};

TEST_F(TcpAllocationTest, ConnectThenConnectionBindRelaysBytesBothWays) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  TurnClient control = client(TurnTransport::kTcp);
  const auto allocated = allocateTcp(control);
  ASSERT_TRUE(succeeded(allocated, "Allocate TCP"));
  const auto relayed = allocated->xorAddress(attr::kXorRelayedAddress);
  ASSERT_TRUE(relayed.has_value());

  const auto connected = connect(control, peer.endpoint());
  ASSERT_TRUE(succeeded(connected, "Connect"));
  const auto id = connected->u32(attr::kConnectionId);
  ASSERT_TRUE(id.has_value());
  UniqueFd from_relay = peer.accept();
  ASSERT_TRUE(from_relay.valid());
  // RFC 6062 section 5.2: the connection comes from the relayed transport address.
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getpeername(from_relay.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  ASSERT_EQ(address.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port), relayed->port);

  auto data = bind(*id);
  ASSERT_TRUE(data.has_value());
  roundTrip(data->fd(), from_relay.get());
  roundTrip(data->fd(), from_relay.get());
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", {}, 1));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", {}, 1));
  EXPECT_TRUE(
      metricReaches("turnpike_requests_total", {R"(method="connect")", R"(result="success")"}, 1));
  EXPECT_TRUE(metricReaches("turnpike_requests_total",
                            {R"(method="connection_bind")", R"(result="success")"}, 1));
  // A second bind of the same CONNECTION-ID: 400.
  TurnClient again = client(TurnTransport::kTcp);
  ASSERT_TRUE(again.challenge());
  const auto rebound = again.authenticatedRequest(
      Method::kConnectionBind,
      [&](protocol::MessageBuilder& b) { b.addU32(attr::kConnectionId, *id); });
  ASSERT_TRUE(rebound.has_value());
  EXPECT_EQ(rebound->code, 400);
  // The peer closing ends the data connection (a half close: the splice ends, and the peer
  // connection is forgotten, once the client closes too).
  from_relay.reset();
  EXPECT_TRUE(waitForPeerClose(data->fd()));
  ::shutdown(data->fd(), SHUT_RDWR);
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", {}, 0));
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", {}, 1));
}

TEST_F(TcpAllocationTest, APeerConnectsToTheRelayedAddressAfterCreatePermission) {
  TurnClient control = client(TurnTransport::kTcp);
  const auto allocated = allocateTcp(control);
  ASSERT_TRUE(succeeded(allocated, "Allocate TCP"));
  const auto relayed = allocated->xorAddress(attr::kXorRelayedAddress);
  ASSERT_TRUE(relayed.has_value());

  // Without a permission the relay closes the peer's connection and says nothing.
  {
    const UniqueFd refused = tcpConnect(*relayed);
    ASSERT_TRUE(refused.valid());
    EXPECT_TRUE(waitForPeerClose(refused.get()));
    EXPECT_TRUE(tcpStaysQuiet(control.fd()));
    EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_failed_total",
                              {R"(reason="no_permission")"}, 1));
  }
  ASSERT_TRUE(succeeded(control.createPermission(loopback(false, 9)), "CreatePermission"));
  const UniqueFd peer = tcpConnect(*relayed);
  ASSERT_TRUE(peer.valid());
  const auto attempt = recvStun(control.fd());
  ASSERT_TRUE(attempt.has_value());
  const auto message = parseReply(*attempt);
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->isMethod(Method::kConnectionAttempt));
  EXPECT_EQ(message->messageClass(), protocol::MessageClass::kIndication);
  const TurnResponse indication{*attempt, message->type(), 0};
  EXPECT_EQ(indication.xorAddress(attr::kXorPeerAddress), localEndpointOf(peer.get()));
  const auto id = indication.u32(attr::kConnectionId);
  ASSERT_TRUE(id.has_value());

  // Until it is bound the peer connection is not read: what the peer sends meanwhile waits in
  // the kernel and comes first on the data connection.
  const Bytes early = text("sent before the ConnectionBind");
  ASSERT_TRUE(sendAll(peer.get(), early));
  auto data = bind(*id);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(recvExactly(data->fd(), early.size()), early);
  roundTrip(data->fd(), peer.get());
  // The control connection closing ends the allocation, and its data connections.
  ::shutdown(control.fd(), SHUT_RDWR);
  EXPECT_TRUE(waitForPeerClose(data->fd()));
  EXPECT_TRUE(waitForPeerClose(peer.get()));
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", {}, 0));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", {}, 0));
}

TEST_F(TcpAllocationTest, ErrorsFromConnectAndConnectionBind) {
  TurnClient control = client(TurnTransport::kTcp);
  ASSERT_TRUE(succeeded(allocateTcp(control), "Allocate TCP"));
  // A port with no listener: the peer resets, 447.
  const auto port = pickFreePort(loopback(false).address);
  ASSERT_TRUE(port.has_value());
  const auto refused = connect(control, loopback(false, *port));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, 447);
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_failed_total",
                            {R"(reason="connect_failed")"}, 1));
  // An unknown CONNECTION-ID: 400.
  TurnClient data = client(TurnTransport::kTcp);
  ASSERT_TRUE(data.challenge());
  const auto unknown = data.authenticatedRequest(
      Method::kConnectionBind,
      [](protocol::MessageBuilder& b) { b.addU32(attr::kConnectionId, 12345); });
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->code, 400);
  // RFC 6062 section 5.1: over UDP, REQUESTED-TRANSPORT TCP is 400; Connect on a UDP
  // allocation is 400.
  TurnClient udp = client();
  ASSERT_TRUE(udp.challenge());
  const auto over_udp = udp.authenticatedRequest(
      Method::kAllocate,
      [](protocol::MessageBuilder& b) { b.addRequestedTransport(protocol::kProtocolTcp); });
  ASSERT_TRUE(over_udp.has_value());
  EXPECT_EQ(over_udp->code, 400);
  ASSERT_TRUE(allocated(udp));
  const auto on_udp = connect(udp, loopback(false, 9));
  ASSERT_TRUE(on_udp.has_value());
  EXPECT_EQ(on_udp->code, 400);
}

// Connect to `peer` and bind a data connection to it: the data connection and the peer's end.
struct Spliced {
  TurnClient data;
  UniqueFd peer;
};

// Bytes that show where they were cut or reordered.
Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::byte>((i * 31 + seed + i / 251) & 0xFFU);
  }
  return bytes;
}

// Sends `bytes` on `from` (from a thread, as the relay may be slower than the socket buffers)
// while reading them on `to`; true when they all arrived intact within `timeout`.
bool pipeThrough(int from, int to, const Bytes& bytes, Millis timeout) {
  bool sent = false;
  std::thread writer([&] { sent = sendAll(from, bytes, timeout); });
  const auto received = recvExactly(to, bytes.size(), timeout);
  writer.join();
  return sent && received == bytes;
}

// What TCP allocations relay is counted like UDP relaying: turnpike_relayed_bytes_total and
// turnpike_relayed_packets_total under transport "tcp" (a read is a packet), and the
// allocation's accounting line.
TEST_F(TcpAllocationTest, SplicedBytesAreCountedInTheMetricsAndTheAccountingLine) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  auto bound = allocateConnectAndBind(peer);
  ASSERT_TRUE(bound.has_value());
  auto& [control, from_relay, data] = *bound;

  constexpr std::size_t kUp = 300'000;
  constexpr std::size_t kDown = 123'457;
  ASSERT_TRUE(pipeThrough(data.fd(), from_relay.get(), pattern(kUp, 1), 10'000ms));
  ASSERT_TRUE(pipeThrough(from_relay.get(), data.fd(), pattern(kDown, 2), 10'000ms));
  // Collected every 250 ms while the splice runs.
  EXPECT_TRUE(metricReaches("turnpike_relayed_bytes_total",
                            {R"(direction="to_peer")", R"(transport="tcp")"}, kUp));
  EXPECT_TRUE(metricReaches("turnpike_relayed_bytes_total",
                            {R"(direction="to_client")", R"(transport="tcp")"}, kDown));
  const auto packets = scrapeMetric(httpServer(), "turnpike_relayed_packets_total",
                                    {R"(direction="to_client")", R"(transport="tcp")"});
  ASSERT_TRUE(packets.has_value());
  EXPECT_GE(*packets, static_cast<double>(kDown / 16384));  // a read is at most 16 KiB
  EXPECT_LE(*packets, static_cast<double>(kDown));

  // Some more, then the allocation ends at once (the control connection closes): the last
  // bytes are in the accounting line too.
  ASSERT_TRUE(pipeThrough(data.fd(), from_relay.get(), pattern(1000, 3), 5000ms));
  ::shutdown(control.fd(), SHUT_RDWR);
  const std::string line = "to_peer_bytes=" + std::to_string(kUp + 1000) + " ";
  const std::string down = "to_client_bytes=" + std::to_string(kDown) + " ";
  EXPECT_TRUE(eventually([&] {
    return countLinesWith(serverLog(), {"allocation ended user=alice client=tcp", line, down,
                                        "reason=connection_closed"}) == 1;
  })) << serverLog();
  EXPECT_TRUE(metricReaches("turnpike_relayed_bytes_total",
                            {R"(direction="to_peer")", R"(transport="tcp")"}, kUp + 1000));
}

// limits.bandwidth_per_allocation_bps applies to TCP relay bytes: the splice is throttled (it
// stops reading while the bucket is empty), nothing is dropped. 64 KiB/s, the bucket starting
// with one second's worth: 256 KiB take about 3 s and arrive intact.
class TcpAllocationBandwidthTest : public TcpAllocationTest {
 protected:
  static constexpr std::uint64_t kBytesPerSecond = 64 * 1024;
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTest::options();
    options.limits["bandwidth_per_allocation_bps"] = kBytesPerSecond * 8;
    return options;
  }
};

TEST_F(TcpAllocationBandwidthTest, SplicedBytesAreThrottledNotDropped) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  auto bound = allocateConnectAndBind(peer);
  ASSERT_TRUE(bound.has_value());
  auto& [control, from_relay, data] = *bound;

  const Bytes bytes = pattern(4 * kBytesPerSecond, 7);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(pipeThrough(data.fd(), from_relay.get(), bytes, 15'000ms));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // (256 - 64) KiB at 64 KiB/s; a read of up to 16 KiB may run ahead of the budget.
  EXPECT_GE(elapsed, 2500ms);
  EXPECT_LE(elapsed, 8000ms);
  EXPECT_TRUE(eventually([&] {
    return scrapeMetric(httpServer(), "turnpike_tcp_relay_throttled_total", {}).value_or(0) >= 1;
  }));
  EXPECT_EQ(scrapeMetric(httpServer(), "turnpike_relay_dropped_total", {R"(reason="bandwidth")"})
                .value_or(0),
            0);
  // The other way shares the bucket, which is empty now: it is slowed too.
  const auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(pipeThrough(from_relay.get(), data.fd(), pattern(kBytesPerSecond, 8), 15'000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - back, 700ms);
}

// Peer connections hold file descriptors: they count toward limits.connections_total (not
// connections_per_ip: a peer is not a client). Here 3: the control connection, one peer
// connection and its data connection; a second Connect then gets 447, and a peer connecting
// to the relayed address is closed, until a connection frees.
class TcpAllocationConnectionsTotalTest : public TcpAllocationTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTest::options();
    options.limits["connections_total"] = 3;
    return options;
  }
};

TEST_F(TcpAllocationConnectionsTotalTest, PeerConnectionsCountTowardConnectionsTotal) {
  TcpPeer peer;
  TcpPeer second_peer;
  ASSERT_TRUE(peer.valid() && second_peer.valid());
  TurnClient control = client(TurnTransport::kTcp);
  const auto allocated = allocateTcp(control);
  ASSERT_TRUE(succeeded(allocated, "Allocate TCP"));
  const auto relayed = allocated->xorAddress(attr::kXorRelayedAddress);
  ASSERT_TRUE(relayed.has_value());
  const auto connected = connect(control, peer.endpoint());
  ASSERT_TRUE(succeeded(connected, "Connect"));
  UniqueFd from_relay = peer.accept();
  ASSERT_TRUE(from_relay.valid());
  auto data = bind(*connected->u32(attr::kConnectionId));
  ASSERT_TRUE(data.has_value());
  roundTrip(data->fd(), from_relay.get());

  // Three connections held: no fourth, made or accepted.
  const auto refused = connect(control, second_peer.endpoint());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, 447);
  EXPECT_FALSE(second_peer.accept(kNoReplyWindow).valid());
  ASSERT_TRUE(succeeded(control.createPermission(loopback(false, 9)), "CreatePermission"));
  {
    const UniqueFd incoming = tcpConnect(*relayed);
    ASSERT_TRUE(incoming.valid());
    EXPECT_TRUE(waitForPeerClose(incoming.get()));
    EXPECT_TRUE(tcpStaysQuiet(control.fd()));  // no ConnectionAttempt
  }
  EXPECT_TRUE(
      metricReaches("turnpike_limit_rejections_total", {R"(limit="connections_total")"}, 2));

  // The splice ending (both sides close) frees two, the data connection and its peer
  // connection: Connect works again.
  data.reset();
  from_relay.reset();
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", {}, 0));
  EXPECT_TRUE(eventually([&] {
    const auto again = connect(control, second_peer.endpoint());
    return again.has_value() && again->code == 0;
  }));
  EXPECT_TRUE(second_peer.accept().valid());
}

// The README: tcp_allocations needs a restart; a reload that turns it off says so and keeps it.
TEST_F(TcpAllocationTest, AReloadThatTurnsItOffSaysItNeedsARestart) {
  ServerOptions next = options();
  const std::string key = "tcp_allocations: true\n";
  next.extra_yaml.erase(next.extra_yaml.find(key), key.size());
  rewriteConfig(next);
  const std::string line = reload();
  ASSERT_NE(line.find("reloaded "), std::string::npos) << line << "\n" << serverLog();
  EXPECT_NE(serverLog().find("changes to tcp_allocations (needs a restart) were not applied"),
            std::string::npos)
      << serverLog();
  TurnClient control = client(TurnTransport::kTcp);
  EXPECT_TRUE(succeeded(allocateTcp(control), "Allocate TCP after the reload"));
}

// Two workers: SO_REUSEPORT picks one per new connection, so about every second data
// connection reaches the worker that does not hold the allocation, which hands it over before
// the ConnectionBind is answered (turnpike_tcp_connection_handoffs_total). Data connections are
// made in turn by Connect and by a peer connecting to the relayed address (ConnectionAttempt),
// each to its own peer port, until one was handed over and two more were made (bounded: 20,
// each 1 in 2); every pair then carries bytes both ways, the connection count stays right, and
// closing ends them all.
class TcpAllocationAcrossWorkersTest : public TcpAllocationTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTest::options();
    options.threads = 2;
    return options;
  }
  [[nodiscard]] double handoffs() const {
    return scrapeMetric(httpServer(), "turnpike_tcp_connection_handoffs_total").value_or(0.0);
  }
  // A bound pair: the client's data connection and the peer's end of the peer connection.
  struct Pair {
    TcpPeer listener;  // Connect: the peer's listening socket (kept for its port)
    UniqueFd peer;
    std::optional<TurnClient> data;
    UniqueFd raw;  // a data connection the test writes itself
  };
  // Connect to a new peer, then ConnectionBind.
  void connectAndBind(TurnClient& control, Pair& pair) const {
    ASSERT_TRUE(pair.listener.valid());
    const auto connected = connect(control, pair.listener.endpoint());
    ASSERT_TRUE(succeeded(connected, "Connect"));
    const auto id = connected->u32(attr::kConnectionId);
    ASSERT_TRUE(id.has_value());
    pair.peer = pair.listener.accept();
    ASSERT_TRUE(pair.peer.valid());
    pair.data = bind(*id);
  }
  // A peer connects to the relayed address; the ConnectionAttempt's id, then ConnectionBind.
  void acceptAndBind(TurnClient& control, const Endpoint& relayed, Pair& pair) const {
    pair.peer = tcpConnect(relayed);
    ASSERT_TRUE(pair.peer.valid());
    const auto attempt = recvStun(control.fd());
    ASSERT_TRUE(attempt.has_value());
    const auto message = parseReply(*attempt);
    ASSERT_TRUE(message.has_value());
    ASSERT_TRUE(message->isMethod(Method::kConnectionAttempt));
    const auto id = TurnResponse{*attempt, message->type(), 0}.u32(attr::kConnectionId);
    ASSERT_TRUE(id.has_value());
    pair.data = bind(*id);
  }
};

TEST_F(TcpAllocationAcrossWorkersTest, AConnectionBindOnTheOtherWorkerIsHandedOver) {
  TurnClient control = client(TurnTransport::kTcp);
  const auto allocated = allocateTcp(control);
  ASSERT_TRUE(succeeded(allocated, "Allocate TCP"));
  const auto relayed = allocated->xorAddress(attr::kXorRelayedAddress);
  ASSERT_TRUE(relayed.has_value());
  ASSERT_TRUE(succeeded(control.createPermission(loopback(false, 9)), "CreatePermission"));
  std::vector<std::unique_ptr<Pair>> pairs;
  int after_first_handoff = 0;
  while (pairs.size() < 20 && after_first_handoff < 3) {
    auto& pair = *pairs.emplace_back(std::make_unique<Pair>());
    if (pairs.size() % 2 == 1) {
      connectAndBind(control, pair);
    } else {
      acceptAndBind(control, *relayed, pair);
    }
    ASSERT_TRUE(pair.data.has_value()) << "data connection " << pairs.size();
    roundTrip(pair.data->fd(), pair.peer.get());
    if (after_first_handoff > 0 || handoffs() > 0) {
      ++after_first_handoff;
    }
  }
  EXPECT_GT(handoffs(), 0) << "no ConnectionBind reached the other worker in " << pairs.size()
                           << " connections";
  // Every pair still relays, whichever worker read its ConnectionBind.
  for (const auto& pair : pairs) {
    roundTrip(pair->data->fd(), pair->peer.get());
  }
  // A handed-over connection is counted once: the control and the data connections.
  const auto count = static_cast<double>(pairs.size());
  EXPECT_TRUE(metricReaches("turnpike_tcp_connections_active", {R"(transport="tcp")"}, 1 + count));
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", {}, count));
  EXPECT_TRUE(metricReaches("turnpike_requests_total",
                            {R"(method="connection_bind")", R"(result="success")"}, count));
  // The client's FIN reaches the peer (a half close), and once the peer closes too the peer
  // connection ends, on either worker.
  for (const auto& pair : pairs) {
    ::shutdown(pair->data->fd(), SHUT_RDWR);
    EXPECT_TRUE(waitForPeerClose(pair->peer.get()));
    pair->peer.reset();
  }
  EXPECT_TRUE(metricReaches("turnpike_tcp_peer_connections_active", {}, 0));
  ::shutdown(control.fd(), SHUT_RDWR);
  EXPECT_TRUE(metricReaches("turnpike_tcp_allocations_active", {}, 0));
  EXPECT_TRUE(metricReaches("turnpike_tcp_connections_active", {R"(transport="tcp")"}, 0));
}

// Behind a proxy (proxy_protocol: true) with two workers: every connection starts with a PROXY
// header naming the same client, and each data connection sends its header and an
// authenticated ConnectionBind in one write (with the nonce the control connection learned,
// which is bound to the client's address), so the worker that reads it hands the connection
// over from the end of its preamble. The owner must see the header's client: with the socket's
// address the nonce would not match.
class TcpAllocationAcrossWorkersProxyTest : public TcpAllocationAcrossWorkersTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationAcrossWorkersTest::options();
    options.proxy_protocol = true;
    return options;
  }
  [[nodiscard]] Bytes proxyHeader() const {
    std::array<std::byte, 64> buffer{};
    const auto n = protocol::writeProxyHeader(buffer, kClient, server());
    EXPECT_TRUE(n.has_value());
    return Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n.value_or(0)));
  }
  const Endpoint kClient{*protocol::IpAddress::parse("203.0.113.7"), 40000};
};

TEST_F(TcpAllocationAcrossWorkersProxyTest, TheHandedOverConnectionKeepsTheProxiedClient) {
  const UniqueFd control_fd = tcpConnect(server());
  ASSERT_TRUE(control_fd.valid());
  ASSERT_TRUE(sendAll(control_fd.get(), proxyHeader()));
  const int socket = control_fd.get();
  TurnClient control(
      server(),
      StreamIo{[socket](ConstBytes data) { return sendAll(socket, data); },
               [socket](std::size_t n, Millis timeout) { return recvExactly(socket, n, timeout); }},
      kAlice);
  ASSERT_TRUE(succeeded(allocateTcp(control), "Allocate TCP"));
  std::vector<std::unique_ptr<Pair>> pairs;
  int after_first_handoff = 0;
  while (pairs.size() < 20 && after_first_handoff < 2) {
    auto& pair = *pairs.emplace_back(std::make_unique<Pair>());
    ASSERT_TRUE(pair.listener.valid());
    const auto connected = connect(control, pair.listener.endpoint());
    ASSERT_TRUE(succeeded(connected, "Connect"));
    const auto id = connected->u32(attr::kConnectionId);
    ASSERT_TRUE(id.has_value());
    pair.peer = pair.listener.accept();
    ASSERT_TRUE(pair.peer.valid());
    pair.raw = tcpConnect(server());
    ASSERT_TRUE(pair.raw.valid());
    Bytes first = proxyHeader();
    const Bytes bind = buildMessage(
        randomTransactionId(),
        [&](protocol::MessageBuilder& b) {
          b.addU32(attr::kConnectionId, *id);
          b.addText(attr::kUsername, kAlice.username);
          b.addText(attr::kRealm, control.realm());
          b.addText(attr::kNonce, control.nonce());
          b.addMessageIntegrity(control.key());
        },
        protocol::messageType(Method::kConnectionBind, protocol::MessageClass::kRequest));
    first.insert(first.end(), bind.begin(), bind.end());
    ASSERT_TRUE(sendAll(pair.raw.get(), first));
    const auto answer = recvStun(pair.raw.get());
    ASSERT_TRUE(answer.has_value()) << "no answer to ConnectionBind " << pairs.size();
    const auto message = parseReply(*answer);
    ASSERT_TRUE(message.has_value());
    const protocol::RawAttribute* error = message->find(attr::kErrorCode);
    ASSERT_EQ(error, nullptr) << "ConnectionBind " << pairs.size() << ": error "
                              << protocol::decodeErrorCode(message->value(*error))->code;
    ASSERT_EQ(message->messageClass(), protocol::MessageClass::kSuccessResponse);
    roundTrip(pair.raw.get(), pair.peer.get());
    if (after_first_handoff > 0 || handoffs() > 0) {
      ++after_first_handoff;
    }
  }
  EXPECT_GT(handoffs(), 0) << "no ConnectionBind reached the other worker in " << pairs.size()
                           << " connections";
  for (const auto& pair : pairs) {
    roundTrip(pair->raw.get(), pair->peer.get());
  }
}

// Without peers.allow, loopback peers are denied (the built-in deny list): Connect gets 403.
class TcpAllocationPolicyTest : public TcpAllocationTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TcpAllocationTest::options();
    options.peers_allow.clear();
    return options;
  }
};

TEST_F(TcpAllocationPolicyTest, ALoopbackPeerIsDeniedUnlessAllowed) {
  TcpPeer peer;
  ASSERT_TRUE(peer.valid());
  TurnClient control = client(TurnTransport::kTcp);
  ASSERT_TRUE(succeeded(allocateTcp(control), "Allocate TCP"));
  const auto denied = connect(control, peer.endpoint());
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->code, 403);
  EXPECT_FALSE(peer.accept(kNoReplyWindow).valid());  // no connection was even tried
}

}  // namespace
}  // namespace turnpike::test

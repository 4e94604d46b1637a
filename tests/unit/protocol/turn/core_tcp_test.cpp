// RFC 6062 TCP allocations: Allocate with REQUESTED-TRANSPORT TCP, Connect, ConnectionBind,
// ConnectionAttempt, the 30 s bind timeout, the cap and the peer policy, and what ends with the
// allocation. The fake relay sockets record what the adapter is asked to do.
#include <gtest/gtest.h>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreTcpTest : public CoreFixture {
 protected:
  CoreTcpTest() {
    CoreConfig config = baseConfig();
    config.tcp_allocations = true;
    config.max_tcp_connections = 2;
    makeCore(std::move(config));
  }

  Bytes allocateTcp(const ClientSource& source, const Attrs& extra = {}) {
    const Attrs attrs = [&](MessageBuilder& b) {
      b.addRequestedTransport(kProtocolTcp);
      if (extra) extra(b);
    };
    return exchange(source, request(Method::kAllocate, attrs));
  }
  // Sends a Connect; the answer waits for onPeerConnected (nothing in the outbox).
  const Outbox& connect(const ClientSource& source, const Endpoint& to, const Auth& auth = {}) {
    return send(source,
                request(
                    Method::kConnect,
                    [&](MessageBuilder& b) { b.addXorAddress(attr::kXorPeerAddress, to); }, auth));
  }
  Bytes connectionBind(const ClientSource& source, std::uint32_t id, const Auth& auth = {}) {
    return exchange(source,
                    request(
                        Method::kConnectionBind,
                        [&](MessageBuilder& b) { b.addU32(attr::kConnectionId, id); }, auth));
  }
  // The Connect's answer once the adapter reports the connection.
  Bytes connected(std::uint32_t id, bool ok) {
    outbox.clear();
    core->onPeerConnected(id, ok, now, outbox);
    if (outbox.entries().size() != 1) {
      ADD_FAILURE() << "expected one answer, got " << outbox.entries().size();
      return {};
    }
    EXPECT_EQ(outbox.entries().front().socket, control.socket);
    return wireBytes(outbox.entries().front());
  }
  // Allocate, Connect to `to` and its success: the CONNECTION-ID.
  std::uint32_t connectOk(const Endpoint& to) {
    EXPECT_TRUE(connect(control, to).entries().empty());
    if (relays.connects.empty()) {
      ADD_FAILURE() << "no connection started";
      return 0;
    }
    const std::uint32_t id = relays.connects.back().connection;
    const Bytes answer = connected(id, true);
    EXPECT_EQ(errorCodeOf(answer), 0);
    EXPECT_EQ(u32Of(answer, attr::kConnectionId), id);
    return id;
  }
  [[nodiscard]] std::uint64_t activePeerConnections() const {
    return core->stats().tcp_peer_connections_active.get();
  }

  const ClientSource control = tcpClient(1, 41000);
  const ClientSource data = tcpClient(2, 41001);
};

TEST_F(CoreTcpTest, TcpAllocateNeedsATcpControlConnectionAndTheFeature) {
  // RFC 6062 section 5.1: a control connection that is not TCP or TLS (UDP, DTLS) gets 400.
  EXPECT_EQ(errorCodeOf(allocateTcp(client)), error::kBadRequest);
  const ClientSource dtls{ClientTransport::kDtls, SocketRef{SocketRef::Kind::kConnection, 8},
                          ep("198.51.100.7", 41008), server};
  EXPECT_EQ(errorCodeOf(allocateTcp(dtls)), error::kBadRequest);
  EXPECT_EQ(requests(RequestMethod::kAllocate, error::kBadRequest), 2U);
  // RFC 6062 section 5.1: no DONT-FRAGMENT, EVEN-PORT or RESERVATION-TOKEN.
  EXPECT_EQ(errorCodeOf(allocateTcp(
                control, [](MessageBuilder& b) { b.addBytes(attr::kDontFragment, {}); })),
            error::kBadRequest);
  EXPECT_EQ(errorCodeOf(allocateTcp(control, [](MessageBuilder& b) { b.addEvenPort(false); })),
            error::kBadRequest);
  EXPECT_EQ(errorCodeOf(allocateTcp(
                control, [](MessageBuilder& b) { b.addBytes(attr::kReservationToken, Bytes(8)); })),
            error::kBadRequest);
  EXPECT_EQ(errorCodeOf(allocateTcp(control,
                                    [](MessageBuilder& b) {
                                      b.addAddressFamily(attr::kAdditionalAddressFamily,
                                                         AddressFamily::kIpv6);
                                    })),
            error::kBadRequest);
  EXPECT_TRUE(relays.opened.empty());

  const Bytes response = allocateTcp(control);
  ASSERT_EQ(errorCodeOf(response), 0);
  ASSERT_EQ(relays.opened.size(), 1U);
  EXPECT_TRUE(relays.opened[0].tcp);
  EXPECT_EQ(xorAddressesOf(response, attr::kXorRelayedAddress),
            std::vector{relays.opened[0].local});
  ASSERT_NE(allocationOf(control), nullptr);
  EXPECT_TRUE(allocationOf(control)->tcp);
  EXPECT_EQ(core->stats().tcp_allocations_active.get(), 1U);

  // Off (the default), the server does not relay TCP at all: 442 on a TCP connection and
  // over UDP.
  makeCore(baseConfig());
  EXPECT_EQ(errorCodeOf(allocateTcp(tcpClient(3))), error::kUnsupportedTransportProtocol);
  EXPECT_EQ(errorCodeOf(allocateTcp(udpClient(40001))), error::kUnsupportedTransportProtocol);
}

// The README: TCP allocations take relay ports and quotas as UDP ones do.
TEST_F(CoreTcpTest, TcpAllocationsCountInTheQuotas) {
  quota.per_user_limit = 1;
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  EXPECT_EQ(quota.per_user["alice"], 1U);
  EXPECT_EQ(errorCodeOf(allocateTcp(tcpClient(3, 41003))), error::kAllocationQuotaReached);
  core->onConnectionClosed(control.socket, now);
  EXPECT_EQ(quota.per_user["alice"], 0U);
  EXPECT_EQ(errorCodeOf(allocateTcp(tcpClient(3, 41003))), 0);
}

TEST_F(CoreTcpTest, ConnectThenConnectionBindSplicesTheDataConnection) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint32_t id = connectOk(peer);
  // The connection leaves from the relayed address, and the peer got a permission.
  ASSERT_EQ(relays.connects.size(), 1U);
  EXPECT_EQ(relays.connects[0].local, relays.opened[0].local);
  EXPECT_EQ(relays.connects[0].peer, peer);
  EXPECT_TRUE(allocationOf(control)->hasPermission(peer.address, now));
  EXPECT_EQ(requests(RequestMethod::kConnect, 0), 1U);

  // ConnectionBind on a new connection (authenticated as the allocation's user).
  const Bytes bound = connectionBind(data, id);
  EXPECT_EQ(errorCodeOf(bound), 0);
  EXPECT_EQ(integrityOf(bound, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  ASSERT_EQ(relays.binds.size(), 1U);
  EXPECT_EQ(relays.binds[0].connection, id);
  EXPECT_EQ(relays.binds[0].data_connection, data.socket);
  EXPECT_EQ(requests(RequestMethod::kConnectionBind, 0), 1U);
  // Bound: no timeout closes it, and it cannot be bound twice.
  at(60);
  tick();
  EXPECT_TRUE(relays.closed_peers.empty());
  EXPECT_EQ(errorCodeOf(connectionBind(tcpClient(3, 41003), id)), error::kBadRequest);
  EXPECT_EQ(activePeerConnections(), 1U);
  // The data connection closing closes the peer connection.
  core->onConnectionClosed(data.socket, now);
  EXPECT_EQ(activePeerConnections(), 0U);
  EXPECT_EQ(relays.closed_peers, std::vector{id});
}

TEST_F(CoreTcpTest, ConnectFailureIs447) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  ASSERT_TRUE(connect(control, peer).entries().empty());
  const Bytes answer = connected(relays.connects.at(0).connection, false);
  EXPECT_EQ(errorCodeOf(answer), error::kConnectionTimeoutOrFailure);
  EXPECT_EQ(integrityOf(answer, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  EXPECT_EQ(core->stats().tcp_connect_failed.get(), 1U);
  EXPECT_EQ(activePeerConnections(), 0U);
  // A connection that could not even start: 447 at once.
  relays.refuse_connect = true;
  const Outbox& refused = connect(control, peer2);
  ASSERT_EQ(refused.entries().size(), 1U);
  EXPECT_EQ(errorCodeOf(wireBytes(refused.entries().front())), error::kConnectionTimeoutOrFailure);
}

// The deferred Connect answer is signed as an immediate answer would be (RFC 8489 section
// 9.2.4): a client that used MESSAGE-INTEGRITY-SHA256 with the MD5 key gets it back.
TEST_F(CoreTcpTest, TheConnectAnswerIsSignedAsTheConnectWas) {
  Auth mac256;
  mac256.mac = Auth::Mac::kSha256;
  mac256.fingerprint = true;
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  ASSERT_TRUE(connect(control, peer, mac256).entries().empty());
  const Bytes answer = connected(relays.connects.at(0).connection, true);
  ASSERT_EQ(errorCodeOf(answer), 0);
  EXPECT_FALSE(hasAttribute(answer, attr::kMessageIntegrity));
  EXPECT_EQ(integrityOf(answer, md5Key("alice", "alice-password"), true), IntegrityResult::kOk);
  const auto message = Message::parse(answer);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(verifyFingerprint(*message), IntegrityResult::kOk);
}

TEST_F(CoreTcpTest, ConnectErrors) {
  // No allocation on this connection: 437.
  const Outbox& none = connect(control, peer);
  ASSERT_EQ(none.entries().size(), 1U);
  EXPECT_EQ(errorCodeOf(wireBytes(none.entries().front())), error::kAllocationMismatch);
  // Over UDP, Connect and ConnectionBind are methods not served (400, unauthenticated).
  ASSERT_EQ(errorCodeOf(allocate(client)), 0);
  const Outbox& udp = connect(client, peer);
  ASSERT_EQ(udp.entries().size(), 1U);
  EXPECT_EQ(errorCodeOf(wireBytes(udp.entries().front())), error::kBadRequest);
  EXPECT_EQ(errorCodeOf(connectionBind(udpClient(40001), 1, noAuth())), error::kBadRequest);
  EXPECT_EQ(
      core->stats().stun_outcomes[static_cast<std::size_t>(StunOutcome::kMethodNotAllowed)].get(),
      2U);
  // A UDP allocation reached over TCP takes no Connect either: 400.
  const ClientSource tcp_udp_allocation = tcpClient(7, 41007);
  ASSERT_EQ(errorCodeOf(allocate(tcp_udp_allocation)), 0);
  const Outbox& udp_relay = connect(tcp_udp_allocation, peer);
  ASSERT_EQ(udp_relay.entries().size(), 1U);
  EXPECT_EQ(errorCodeOf(wireBytes(udp_relay.entries().front())), error::kBadRequest);

  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  auto code = [&](const Endpoint& to) {
    const Outbox& out = connect(control, to);
    return out.entries().size() == 1 ? errorCodeOf(wireBytes(out.entries().front())) : 0;
  };
  // The peer policy first, as for CreatePermission: 403, and no connection started.
  EXPECT_EQ(code(private_peer), error::kForbidden);
  EXPECT_EQ(code(config_denied_peer), error::kForbidden);
  EXPECT_EQ(code(ep("127.0.0.1", 3478)), error::kForbidden);  // the server's own port
  EXPECT_TRUE(relays.connects.empty());
  // A second Connect to the same peer address: 446, even while the first is under way.
  EXPECT_EQ(code(peer), 0);
  EXPECT_EQ(code(peer), error::kConnectionAlreadyExists);
  // The cap (2 here): 508.
  EXPECT_EQ(code(peer2), 0);
  EXPECT_EQ(code(ep("192.0.2.7", 80)), error::kInsufficientCapacity);
  EXPECT_EQ(core->stats().tcp_connection_limit_rejected.get(), 1U);
  // No XOR-PEER-ADDRESS: 400.
  const Outbox& bare = send(control, request(Method::kConnect));
  ASSERT_EQ(bare.entries().size(), 1U);
  EXPECT_EQ(errorCodeOf(wireBytes(bare.entries().front())), error::kBadRequest);
}

// RFC 6062 section 5.1: the control connection may be TCP or TLS, and so may data connections
// (either kind for either control connection).
TEST_F(CoreTcpTest, TlsControlAndDataConnectionsWorkLikeTcpOnes) {
  const ClientSource tls_control{ClientTransport::kTls, SocketRef{SocketRef::Kind::kConnection, 9},
                                 ep("198.51.100.7", 41009), server};
  const ClientSource tls_data{ClientTransport::kTls, SocketRef{SocketRef::Kind::kConnection, 10},
                              ep("198.51.100.7", 41010), server};
  ASSERT_EQ(errorCodeOf(allocateTcp(tls_control)), 0);
  ASSERT_NE(allocationOf(tls_control), nullptr);
  EXPECT_TRUE(allocationOf(tls_control)->tcp);
  // Connect answers on the TLS control connection once the peer connection is up.
  const auto connect_ok = [&](const Endpoint& to) {
    EXPECT_TRUE(connect(tls_control, to).entries().empty());
    const std::uint32_t id = relays.connects.empty() ? 0 : relays.connects.back().connection;
    outbox.clear();
    core->onPeerConnected(id, true, now, outbox);
    EXPECT_EQ(outbox.entries().size(), 1U);
    if (!outbox.entries().empty()) {
      EXPECT_EQ(outbox.entries().front().socket, tls_control.socket);
      EXPECT_EQ(errorCodeOf(wireBytes(outbox.entries().front())), 0);
    }
    return id;
  };
  const std::uint32_t id = connect_ok(peer);
  EXPECT_EQ(errorCodeOf(connectionBind(tls_data, id)), 0);
  ASSERT_EQ(relays.binds.size(), 1U);
  EXPECT_EQ(relays.binds[0].data_connection, tls_data.socket);
  // A plain TCP data connection for a TLS control connection's peer connection too.
  const std::uint32_t second = connect_ok(peer2);
  EXPECT_EQ(errorCodeOf(connectionBind(data, second)), 0);
  EXPECT_EQ(relays.binds.size(), 2U);
}

TEST_F(CoreTcpTest, ConnectionBindErrors) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint32_t id = connectOk(peer);
  // Unauthenticated: a challenge (not 437, though the connection has no allocation).
  EXPECT_EQ(errorCodeOf(connectionBind(data, id, noAuth())), error::kUnauthenticated);
  // An unknown CONNECTION-ID, or none: 400.
  EXPECT_EQ(errorCodeOf(connectionBind(data, id + 1)), error::kBadRequest);
  EXPECT_EQ(errorCodeOf(exchange(data, request(Method::kConnectionBind))), error::kBadRequest);
  // On the control connection (it has an allocation): 400.
  EXPECT_EQ(errorCodeOf(connectionBind(control, id)), error::kBadRequest);
  // Another user: 441.
  EXPECT_EQ(errorCodeOf(connectionBind(data, id, as("bob", "bob-password"))),
            error::kWrongCredentials);
  EXPECT_TRUE(relays.binds.empty());
  // A connection still connecting cannot be bound yet: 400.
  ASSERT_TRUE(connect(control, peer2).entries().empty());
  EXPECT_EQ(errorCodeOf(connectionBind(data, relays.connects.back().connection)),
            error::kBadRequest);
  EXPECT_EQ(errorCodeOf(connectionBind(data, id)), 0);
}

TEST_F(CoreTcpTest, PeerConnectionNeedsAPermissionThenGetsAConnectionAttempt) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint64_t tag = tagOf(control);
  const Endpoint caller = ep("192.0.2.5", 45000);
  outbox.clear();
  // RFC 6062 section 5.3: no permission for the peer's address, the connection is closed.
  EXPECT_EQ(core->onPeerAccepted(tag, caller, now, outbox), std::nullopt);
  EXPECT_TRUE(outbox.entries().empty());
  EXPECT_EQ(core->stats().tcp_peer_rejected.get(), 1U);

  ASSERT_EQ(errorCodeOf(createPermission(control, {peer})), 0);
  outbox.clear();
  const auto id = core->onPeerAccepted(tag, caller, now, outbox);
  ASSERT_TRUE(id.has_value());
  ASSERT_EQ(outbox.entries().size(), 1U);
  EXPECT_EQ(outbox.entries().front().socket, control.socket);
  const Bytes attempt = wireBytes(outbox.entries().front());
  const auto message = Message::parse(attempt);
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->isMethod(Method::kConnectionAttempt));
  EXPECT_EQ(message->messageClass(), MessageClass::kIndication);
  EXPECT_EQ(xorAddressesOf(attempt, attr::kXorPeerAddress), std::vector{caller});
  EXPECT_EQ(u32Of(attempt, attr::kConnectionId), *id);
  // Unknown tags (a UDP allocation's, or none) are refused.
  EXPECT_EQ(core->onPeerAccepted(tag + 100, caller, now, outbox), std::nullopt);

  EXPECT_EQ(errorCodeOf(connectionBind(data, *id)), 0);
  ASSERT_EQ(relays.binds.size(), 1U);
  EXPECT_EQ(relays.binds[0].connection, *id);
}

// With several workers a CONNECTION-ID names the one that issued it (the id modulo the worker
// count, connectionIdWorker): the server hands a ConnectionBind that reaches another worker
// there. The ids stay random otherwise; the ones random draws would give past 2^32 are redrawn.
TEST_F(CoreTcpTest, ConnectionIdsNameTheirWorker) {
  struct Case {
    std::uint8_t worker;
    std::size_t workers;
    std::uint64_t draw;  // the random value behind the first id
  };
  for (const Case& c : {Case{0, 1, 0x12345678}, Case{1, 2, 0x12345678}, Case{2, 3, 0x10},
                        Case{5, 7, 0xFFFFFFFF}, Case{0, 4, 0}}) {
    SCOPED_TRACE(testing::Message() << "worker " << int{c.worker} << " of " << c.workers);
    CoreConfig config = baseConfig();
    config.tcp_allocations = true;
    config.worker = c.worker;
    config.workers = c.workers;
    makeCore(std::move(config));
    relays.connects.clear();
    ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
    const Endpoint caller = ep("192.0.2.5", 45000);
    ASSERT_EQ(errorCodeOf(createPermission(control, {caller})), 0);
    std::vector<std::uint32_t> ids;
    random.queued = {c.draw};  // the Connect's id
    ids.push_back(connectOk(peer));
    for (std::uint16_t port = 45000; port < 45004; ++port) {  // ConnectionAttempts
      outbox.clear();
      const auto id = core->onPeerAccepted(tagOf(control), ep("192.0.2.5", port), now, outbox);
      ASSERT_TRUE(id.has_value());
      ids.push_back(*id);
    }
    if (c.workers == 1) {
      EXPECT_EQ(ids.front(), 0x12345678U);  // one worker: the random draw as it is
    }
    for (const std::uint32_t id : ids) {
      EXPECT_NE(id, 0U);
      EXPECT_EQ(Core::connectionIdWorker(id, c.workers), c.worker) << id;
    }
    std::ranges::sort(ids);
    EXPECT_EQ(std::ranges::adjacent_find(ids), ids.end());
  }
}

// limits.tcp_connections_per_allocation counts accepted peer connections too (a peer over it is
// closed), and a reload (setLimits) changes it for allocations that exist.
TEST_F(CoreTcpTest, ThePeerConnectionCapRefusesPeersThatConnectAndIsReloadable) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  ASSERT_EQ(errorCodeOf(createPermission(control, {peer})), 0);
  const std::uint64_t tag = tagOf(control);
  (void)connectOk(peer2);
  outbox.clear();
  ASSERT_TRUE(core->onPeerAccepted(tag, peer, now, outbox).has_value());
  // The cap (2 here) is reached: the next peer is refused, and the client hears nothing.
  outbox.clear();
  const Endpoint another{peer.address, static_cast<std::uint16_t>(peer.port + 1)};
  EXPECT_EQ(core->onPeerAccepted(tag, another, now, outbox), std::nullopt);
  EXPECT_TRUE(outbox.entries().empty());
  EXPECT_EQ(core->stats().tcp_connection_limit_rejected.get(), 1U);
  EXPECT_EQ(activePeerConnections(), 2U);

  CoreConfig limits = baseConfig();
  limits.max_tcp_connections = 3;
  core->setLimits(limits);
  EXPECT_TRUE(core->onPeerAccepted(tag, another, now, outbox).has_value());
  EXPECT_EQ(activePeerConnections(), 3U);
}

TEST_F(CoreTcpTest, UnboundPeerConnectionsCloseAfter30Seconds) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  ASSERT_EQ(errorCodeOf(createPermission(control, {peer})), 0);
  const std::uint32_t connected_id = connectOk(peer2);
  outbox.clear();
  const auto accepted_id = core->onPeerAccepted(tagOf(control), peer, now, outbox);
  ASSERT_TRUE(accepted_id.has_value());
  // Single timer runs (not advanceTo, which would spin on a deadline that never passes).
  at(29);
  tick();
  EXPECT_TRUE(relays.closed_peers.empty());
  at(31);
  tick();
  EXPECT_EQ(relays.closed_peers.size(), 2U);
  EXPECT_EQ(core->stats().tcp_bind_timeouts.get(), 2U);
  EXPECT_EQ(activePeerConnections(), 0U);
  EXPECT_EQ(errorCodeOf(connectionBind(data, connected_id)), error::kBadRequest);
}

TEST_F(CoreTcpTest, PeerConnectionsEndWithTheAllocation) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint32_t bound = connectOk(peer);
  ASSERT_EQ(errorCodeOf(connectionBind(data, bound)), 0);
  ASSERT_TRUE(connect(control, peer2).entries().empty());  // still connecting
  const std::uint32_t connecting = relays.connects.back().connection;
  core->onConnectionClosed(control.socket, now);
  EXPECT_EQ(allocationOf(control), nullptr);
  std::vector<std::uint32_t> closed = relays.closed_peers;
  std::ranges::sort(closed);
  std::vector<std::uint32_t> expected{bound, connecting};
  std::ranges::sort(expected);
  EXPECT_EQ(closed, expected);
  EXPECT_EQ(activePeerConnections(), 0U);
  EXPECT_EQ(core->stats().tcp_allocations_active.get(), 0U);
  // A late result for the connecting one is ignored.
  outbox.clear();
  core->onPeerConnected(connecting, true, now, outbox);
  EXPECT_TRUE(outbox.entries().empty());
}

// What the adapter's splices relayed reaches the allocation's accounting (a read is a
// "packet") and the relayed counters under the client's transport: when the adapter asks the
// core to collect, when a data connection closes, and before the end is reported.
TEST_F(CoreTcpTest, SplicedBytesCountInTheAccountingAndTheRelayedCounters) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint32_t first = connectOk(peer);
  ASSERT_EQ(errorCodeOf(connectionBind(data, first)), 0);
  const std::uint32_t second = connectOk(peer2);
  const ClientSource data2 = tcpClient(3, 41003);
  ASSERT_EQ(errorCodeOf(connectionBind(data2, second)), 0);
  const auto tcp = static_cast<std::size_t>(ClientTransport::kTcp);
  auto relayed = [&](std::size_t direction) {
    return std::pair{core->stats().relayed_bytes[direction][tcp].get(),
                     core->stats().relayed_packets[direction][tcp].get()};
  };

  relays.peer_counts[first] = {1000, 3, 400, 2, 1};
  relays.peer_counts[second] = {10, 1, 0, 0, 0};
  core->collectTcpRelayed();
  EXPECT_EQ(core->stats().tcp_throttled.get(), 1U);  // the splice stopped reading once
  const Allocation* allocation = allocationOf(control);
  ASSERT_NE(allocation, nullptr);
  EXPECT_EQ(allocation->bytes_to_peer, 1010U);
  EXPECT_EQ(allocation->packets_to_peer, 4U);
  EXPECT_EQ(allocation->bytes_to_client, 400U);
  EXPECT_EQ(allocation->packets_to_client, 2U);
  EXPECT_EQ(relayed(0), (std::pair<std::uint64_t, std::uint64_t>{1010, 4}));
  EXPECT_EQ(relayed(1), (std::pair<std::uint64_t, std::uint64_t>{400, 2}));

  // A data connection closing: its splice's last bytes are taken before it is forgotten.
  relays.peer_counts[second] = {0, 0, 5, 1};
  core->onConnectionClosed(data2.socket, now);
  EXPECT_EQ(allocation->bytes_to_client, 405U);
  EXPECT_EQ(relayed(1), (std::pair<std::uint64_t, std::uint64_t>{405, 3}));

  // The allocation ending: the accounting line has the rest.
  relays.peer_counts[first] = {24, 1, 600, 4};
  core->onConnectionClosed(control.socket, now);
  ASSERT_EQ(events.ended.size(), 1U);
  EXPECT_EQ(events.ended[0].bytes_to_peer, 1034U);
  EXPECT_EQ(events.ended[0].packets_to_peer, 5U);
  EXPECT_EQ(events.ended[0].bytes_to_client, 1005U);
  EXPECT_EQ(events.ended[0].packets_to_client, 7U);
  EXPECT_EQ(relayed(0), (std::pair<std::uint64_t, std::uint64_t>{1034, 5}));
  EXPECT_EQ(relayed(1), (std::pair<std::uint64_t, std::uint64_t>{1005, 7}));
}

// limits.bandwidth_per_allocation_bps on a TCP allocation: its splices get credit from the
// allocation's bucket (both ways together); when it is empty the grant is 0 (the splice stops
// reading: throttled, nothing dropped) until time refills it. No limit: a large grant.
TEST_F(CoreTcpTest, SplicesReadOnCreditFromTheBandwidthBucket) {
  CoreConfig config = baseConfig();
  config.tcp_allocations = true;
  config.bandwidth_bytes_per_second = 1000;
  makeCore(std::move(config));
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint32_t id = connectOk(peer);
  ASSERT_EQ(errorCodeOf(connectionBind(data, id)), 0);
  // The bucket starts full: one second's worth.
  EXPECT_EQ(core->grantTcpBandwidth(id, 600, now), 600U);
  EXPECT_EQ(core->grantTcpBandwidth(id, 600, now), 400U);
  EXPECT_EQ(core->grantTcpBandwidth(id, 600, now), 0U);
  EXPECT_EQ(relayDrops(RelayDrop::kBandwidth), 0U);  // throttled, not dropped
  now += std::chrono::milliseconds(250);
  EXPECT_EQ(core->grantTcpBandwidth(id, 600, now), 250U);
  // A connection the core forgot (its splice is closing) is not held back.
  EXPECT_EQ(core->grantTcpBandwidth(id + 1, 600, now), Core::kUnlimitedTcpGrant);
  // Without a limit (a reload took it away), a large grant: the splice rarely asks.
  core->setLimits(baseConfig());
  EXPECT_EQ(core->grantTcpBandwidth(id, 600, now), Core::kUnlimitedTcpGrant);
}

TEST_F(CoreTcpTest, SplicesReadOnCreditFromTheUsersBudget) {
  CoreConfig config = baseConfig();
  config.tcp_allocations = true;
  config.user_bandwidth_bytes_per_second = 50000;  // leases of 1000 bytes (20 ms)
  makeCore(std::move(config));
  user_bandwidth.initial = 2500;  // alice's budget here, not refilled
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  const std::uint32_t id = connectOk(peer);
  ASSERT_EQ(errorCodeOf(connectionBind(data, id)), 0);
  std::uint64_t granted = 0;
  for (int i = 0; i < 10; ++i) {
    granted += core->grantTcpBandwidth(id, 600, now);
  }
  EXPECT_EQ(granted, 2500U);
  EXPECT_EQ(user_bandwidth.budget["alice"], 0U);
}

TEST_F(CoreTcpTest, NoChannelsOrSendOnATcpAllocation) {
  ASSERT_EQ(errorCodeOf(allocateTcp(control)), 0);
  EXPECT_EQ(errorCodeOf(channelBind(control, 0x4000, peer)), error::kBadRequest);
  ASSERT_EQ(errorCodeOf(createPermission(control, {peer})), 0);
  EXPECT_TRUE(send(control, sendIndication(peer, Bytes(4))).entries().empty());
  EXPECT_EQ(relayDrops(RelayDrop::kMalformed), 1U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

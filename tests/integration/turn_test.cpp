// TURN (RFC 8656) against the real server on 127.0.0.1: long-term authentication with static and
// REST credentials, Allocate, CreatePermission, ChannelBind, Send/Data indications, ChannelData
// over UDP and TCP, Refresh with LIFETIME 0, the peer policy, two worker threads, /metrics and
// shutdown with live allocations. Peers are UDP sockets the test owns on 127.0.0.1; traffic is
// never sent toward the denied addresses.
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <latch>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/nonce.hpp"
#include "auth/rest_credentials.hpp"
#include "protocol/stun/attributes.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/turn/channel_data.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/turn_client.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

// ---- UDP: Allocate, permissions, Send and Data indications ----

using TurnUdpTest = TurnTest;

TEST_F(TurnUdpTest, AllocateThenSendAndDataIndicationsRoundTrip) {
  TurnClient turn = client();
  ASSERT_TRUE(turn.connected());
  const auto response = turn.allocate();
  ASSERT_TRUE(succeeded(response, "Allocate"));
  EXPECT_EQ(response->type, messageType(Method::kAllocate, MessageClass::kSuccessResponse));
  EXPECT_TRUE(signedWith(*response, turn));
  EXPECT_EQ(turn.realm(), kRealm);
  const auto relayed = response->xorAddress(attr::kXorRelayedAddress);
  ASSERT_TRUE(relayed) << "no XOR-RELAYED-ADDRESS";
  EXPECT_EQ(relayed->address, loopback(false).address);
  EXPECT_GE(relayed->port, relayPortMin());
  EXPECT_LE(relayed->port, relayPortMax());
  EXPECT_EQ(response->xorAddress(attr::kXorMappedAddress), localEndpointOf(turn.fd()));
  EXPECT_EQ(response->u32(attr::kLifetime), kDefaultLifetime);

  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  const auto permission = turn.createPermission(peer.endpoint());
  ASSERT_TRUE(succeeded(permission, "CreatePermission"));
  EXPECT_TRUE(signedWith(*permission, turn));

  const Bytes payload = patternPayload(37);
  ASSERT_TRUE(turn.sendIndication(peer.endpoint(), payload));
  const auto at_peer = peer.receive();
  ASSERT_TRUE(at_peer) << "the peer got nothing";
  EXPECT_EQ(at_peer->source, *relayed);
  EXPECT_TRUE(sameBytes(at_peer->data, payload));
  EXPECT_TRUE(peer.nothingArrives()) << "the peer got more than the one datagram";

  const Bytes answer = patternPayload(501, 7);
  ASSERT_TRUE(peer.sendTo(*relayed, answer));
  const auto at_client = turn.receiveData();
  ASSERT_TRUE(at_client) << "no Data indication";
  EXPECT_EQ(at_client->kind, DataFrame::Kind::kDataIndication);
  EXPECT_EQ(at_client->peer, peer.endpoint());
  EXPECT_TRUE(sameBytes(at_client->payload, answer));
  EXPECT_TRUE(turn.noData()) << "more than one Data indication";
}

TEST_F(TurnUdpTest, NothingIsRelayedWithoutAPermission) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());

  // Both directions are dropped before the permission exists...
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), patternPayload(20)));
  EXPECT_TRUE(turn.noData()) << "a peer without a permission reached the client";
  ASSERT_TRUE(turn.sendIndication(peer.endpoint(), patternPayload(20)));
  EXPECT_TRUE(peer.nothingArrives()) << "a Send indication went out without a permission";

  // ...and pass once it does, so the silence was the permission's doing.
  ASSERT_TRUE(succeeded(turn.createPermission(peer.endpoint()), "CreatePermission"));
  const Bytes payload = patternPayload(20, 1);
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), payload));
  const auto at_client = turn.receiveData();
  ASSERT_TRUE(at_client) << "nothing relayed after CreatePermission";
  EXPECT_TRUE(sameBytes(at_client->payload, payload));
}

// ---- ChannelData ----

TEST_F(TurnUdpTest, ChannelDataBothWaysIsByteIdentical) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());

  // No permission yet: the peer's datagram is not delivered.
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), patternPayload(8)));
  EXPECT_TRUE(turn.noData()) << "a peer without a permission reached the client";

  const auto bound = turn.channelBind(kChannel, peer.endpoint());
  ASSERT_TRUE(succeeded(bound, "ChannelBind"));
  EXPECT_TRUE(signedWith(*bound, turn));
  for (const std::size_t size : {1U, 3U, 1000U}) {
    channelRoundTrip(turn, peer, kChannel, patternPayload(size, 3),
                     patternPayload(size, static_cast<std::uint8_t>(size)));
  }

  // Another port of the same address has the permission (it is per IP address) but no channel:
  // its data comes as a Data indication.
  const UdpPeer other;
  ASSERT_TRUE(other.valid());
  const Bytes payload = patternPayload(12, 9);
  ASSERT_TRUE(other.sendTo(*turn.relayed(), payload));
  const auto at_client = turn.receiveData();
  ASSERT_TRUE(at_client);
  EXPECT_EQ(at_client->kind, DataFrame::Kind::kDataIndication);
  EXPECT_EQ(at_client->peer, other.endpoint());
  EXPECT_TRUE(sameBytes(at_client->payload, payload));
}

// Zero-length ChannelData is valid (RFC 8656 section 12.4: Length may be 0). Each direction is
// its own test: the first failure must not hide the other.
TEST_F(TurnUdpTest, EmptyDatagramFromThePeerArrivesAsEmptyChannelData) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), {}));
  const auto at_client = turn.receiveData();
  ASSERT_TRUE(at_client) << "the empty datagram was not relayed";
  EXPECT_EQ(at_client->kind, DataFrame::Kind::kChannelData);
  EXPECT_EQ(at_client->channel, kChannel);
  EXPECT_TRUE(at_client->payload.empty());
  EXPECT_EQ(at_client->wire_size, protocol::kChannelDataHeaderSize);
}

TEST_F(TurnUdpTest, EmptyChannelDataFromTheClientArrivesAsAnEmptyDatagram) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  ASSERT_TRUE(turn.sendChannelData(kChannel, {}));
  const auto at_peer = peer.receive();
  EXPECT_TRUE(at_peer) << "the peer got nothing";
  if (at_peer) {
    EXPECT_EQ(at_peer->source, *turn.relayed());
    EXPECT_TRUE(at_peer->data.empty());
  }
  // Whatever happened, the server must still serve this allocation.
  ASSERT_TRUE(serverRunning()) << serverLog();
  channelRoundTrip(turn, peer, kChannel, patternPayload(4), patternPayload(4, 1));
}

// ---- TCP client transport ----

using TurnTcpTest = TurnTest;

TEST_F(TurnTcpTest, ChannelDataRoundTripIsPaddedOnTheStream) {
  TurnClient turn = client(TurnTransport::kTcp);
  ASSERT_TRUE(turn.connected());
  const auto response = turn.allocate();
  ASSERT_TRUE(succeeded(response, "Allocate over TCP"));
  EXPECT_TRUE(signedWith(*response, turn));
  EXPECT_EQ(response->xorAddress(attr::kXorMappedAddress), localEndpointOf(turn.fd()));
  ASSERT_TRUE(turn.relayed());
  EXPECT_EQ(turn.relayed()->address, loopback(false).address);

  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  for (const std::size_t size : {1U, 2U, 3U, 4U, 5U, 1000U}) {
    channelRoundTrip(turn, peer, kChannel, patternPayload(size, 5),
                     patternPayload(size, static_cast<std::uint8_t>(size + 1)));
  }
  // The stream is still aligned: a request after the padded frames gets its answer.
  const auto refreshed = turn.refresh(std::nullopt);
  ASSERT_TRUE(succeeded(refreshed, "Refresh after ChannelData"));
  EXPECT_EQ(refreshed->u32(attr::kLifetime), kDefaultLifetime);
  EXPECT_TRUE(tcpStaysQuiet(turn.fd())) << "stray bytes on the stream";
}

TEST_F(TurnTcpTest, EmptyChannelDataBothWays) {
  TurnClient turn = client(TurnTransport::kTcp);
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  // Peer to client first: the other direction may take the server down.
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), {}));
  const auto at_client = turn.receiveData();
  EXPECT_TRUE(at_client) << "the empty datagram was not relayed";
  if (at_client) {
    EXPECT_EQ(at_client->channel, kChannel);
    EXPECT_TRUE(at_client->payload.empty());
    EXPECT_EQ(at_client->wire_size, protocol::kChannelDataHeaderSize);
  }
  ASSERT_TRUE(turn.sendChannelData(kChannel, {}));
  const auto at_peer = peer.receive();
  EXPECT_TRUE(at_peer) << "the peer got nothing";
  if (at_peer) {
    EXPECT_TRUE(at_peer->data.empty());
  }
  EXPECT_TRUE(serverRunning()) << serverLog();
}

TEST_F(TurnTcpTest, ClosingTheConnectionEndsTheAllocation) {
  std::optional<Endpoint> relayed;
  {
    TurnClient turn = client(TurnTransport::kTcp);
    ASSERT_TRUE(allocated(turn));
    relayed = turn.relayed();
  }
  EXPECT_TRUE(eventually([&] {
    return countLinesWith(serverLog(), {"allocation ended", "relay=" + relayed->toString(),
                                        "reason=connection_closed"}) == 1;
  })) << serverLog();
}

// ---- REST credentials and nonces ----

using TurnAuthTest = TurnTest;

// "username=..." and "password=..." lines of `turnpike credentials`.
std::optional<TurnCredentials> parseCredentialsOutput(const std::string& out) {
  TurnCredentials credentials;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("username=")) {
      credentials.username = line.substr(9);
    } else if (line.starts_with("password=")) {
      credentials.password = line.substr(9);
    }
  }
  if (credentials.username.empty() || credentials.password.empty()) {
    return std::nullopt;
  }
  return credentials;
}

TEST_F(TurnAuthTest, RestCredentialMintedByTheCliAllocates) {
  const ProcessResult minted =
      runTurnpike({"credentials", "--secret", kSecret, "--user", "bob", "--ttl", "600"});
  ASSERT_TRUE(minted.exited && minted.exit_code == 0) << minted.err;
  const auto credentials = parseCredentialsOutput(minted.out);
  ASSERT_TRUE(credentials) << "unexpected output: " << minted.out;
  EXPECT_TRUE(credentials->username.ends_with(":bob")) << credentials->username;

  TurnClient turn = client(TurnTransport::kUdp, *credentials);
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  const auto permission = turn.createPermission(peer.endpoint());
  ASSERT_TRUE(succeeded(permission, "CreatePermission with a REST credential"));
  EXPECT_TRUE(signedWith(*permission, turn));
}

TEST_F(TurnAuthTest, RestCredentialFromTheLibraryAllocates) {
  const auth::RestCredential minted = auth::mintRestCredential(
      kSecret, "carol", 600, static_cast<std::int64_t>(std::time(nullptr)));
  TurnClient turn = client(TurnTransport::kUdp, {minted.username, minted.password});
  ASSERT_TRUE(allocated(turn));
}

TEST_F(TurnAuthTest, ExpiredRestCredentialGets401) {
  const std::string username =
      std::to_string(static_cast<std::int64_t>(std::time(nullptr)) - 60) + ":bob";
  TurnClient turn = client(TurnTransport::kUdp, {username, auth::restPassword(kSecret, username)});
  ASSERT_TRUE(turn.connected());
  EXPECT_TRUE(isChallenge(turn.allocate(), "Allocate with an expired credential"));
  EXPECT_FALSE(turn.relayed());
}

TEST_F(TurnAuthTest, WrongPasswordGets401) {
  TurnClient static_user = client(TurnTransport::kUdp, {kAlice.username, "not-wonderland"});
  ASSERT_TRUE(static_user.connected());
  EXPECT_TRUE(isChallenge(static_user.allocate(), "static user, wrong password"));

  const auth::RestCredential other_secret = auth::mintRestCredential(
      "not-the-secret", "bob", 600, static_cast<std::int64_t>(std::time(nullptr)));
  TurnClient rest_user =
      client(TurnTransport::kUdp, {other_secret.username, other_secret.password});
  ASSERT_TRUE(rest_user.connected());
  EXPECT_TRUE(isChallenge(rest_user.allocate(), "REST credential from another secret"));

  TurnClient unknown = client(TurnTransport::kUdp, {"mallory", "wonderland"});
  ASSERT_TRUE(unknown.connected());
  EXPECT_TRUE(isChallenge(unknown.allocate(), "unknown user"));
}

TEST_F(TurnAuthTest, StaleOrGarbageNonceGets438WithANewNonce) {
  // A nonce in the server's format but made with another key, one already expired, and garbage.
  const auto other_key = auth::NonceCodec::randomKey();
  ASSERT_TRUE(other_key);
  const auth::NonceCodec other(*other_key, 600);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const std::vector<std::pair<std::string, std::string>> nonces{
      {"garbage", "not-a-nonce-at-all"},
      {"another server's", other.mint(loopback(false).address, now)},
      {"expired", other.mint(loopback(false).address, now - 3600)},
  };
  for (const auto& [name, bad_nonce] : nonces) {
    SCOPED_TRACE(name + " nonce");
    TurnClient turn = client();
    ASSERT_TRUE(turn.connected());
    ASSERT_TRUE(isChallenge(turn.challenge(), "unauthenticated Allocate"));
    turn.setNonce(bad_nonce);
    const auto stale = turn.authenticatedRequest(Method::kAllocate, [](MessageBuilder& b) {
      b.addRequestedTransport(protocol::kProtocolUdp);
    });
    ASSERT_TRUE(failedWith(stale, error::kStaleNonce, "Allocate with a bad nonce"));
    const auto fresh = stale->text(attr::kNonce);
    ASSERT_TRUE(fresh) << "438 without a NONCE";
    EXPECT_FALSE(fresh->empty());
    EXPECT_NE(*fresh, bad_nonce);
    EXPECT_EQ(stale->text(attr::kRealm), std::optional<std::string>(kRealm));

    turn.setNonce(*fresh);
    const auto retried = turn.authenticatedRequest(Method::kAllocate, [](MessageBuilder& b) {
      b.addRequestedTransport(protocol::kProtocolUdp);
    });
    ASSERT_TRUE(succeeded(retried, "Allocate with the new nonce"));
    EXPECT_TRUE(signedWith(*retried, turn));
    // Freed: the next client may get this one's local port from the kernel, and an allocation
    // left on that 5-tuple would answer its Allocate with 437 (seen once in a fresh-clone run).
    ASSERT_TRUE(succeeded(turn.refresh(0), "Refresh 0"));
  }
}

// ---- Peer policy ----

using TurnPeerPolicyTest = TurnTest;

TEST_F(TurnPeerPolicyTest, DeniedPeersGet403) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  // Only the responses are looked at: nothing is ever sent toward these addresses.
  const std::vector<std::pair<std::string, Endpoint>> denied{
      {"10.0.0.1 (private, not in peers.allow)", {protocol::IpAddress::v4({10, 0, 0, 1}), 5000}},
      {"169.254.169.254 (cloud metadata)", {protocol::IpAddress::v4({169, 254, 169, 254}), 80}},
  };
  for (const auto& [name, peer] : denied) {
    SCOPED_TRACE(name);
    const auto permission = turn.createPermission(peer);
    EXPECT_TRUE(failedWith(permission, error::kForbidden, "CreatePermission"));
    if (permission) {
      EXPECT_TRUE(signedWith(*permission, turn)) << "an authenticated 403 must be signed";
    }
    EXPECT_TRUE(failedWith(turn.channelBind(kChannel, peer), error::kForbidden, "ChannelBind"));
  }
  // An allowed peer still works on the same allocation.
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  EXPECT_TRUE(succeeded(turn.createPermission(peer.endpoint()), "CreatePermission 127.0.0.1"));
}

// ---- Refresh with LIFETIME 0 ----

using TurnRefreshTest = TurnTest;

TEST_F(TurnRefreshTest, LifetimeZeroDeletesTheAllocationAndClosesTheRelayPort) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const Endpoint relayed = *turn.relayed();
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.createPermission(peer.endpoint()), "CreatePermission"));
  // The permission works before the delete.
  ASSERT_TRUE(peer.sendTo(relayed, patternPayload(10)));
  ASSERT_TRUE(turn.receiveData()) << "nothing relayed before the delete";

  const auto deleted = turn.refresh(0);
  ASSERT_TRUE(succeeded(deleted, "Refresh with LIFETIME 0"));
  EXPECT_TRUE(signedWith(*deleted, turn));
  EXPECT_EQ(deleted->u32(attr::kLifetime), 0U);

  EXPECT_TRUE(failedWith(turn.createPermission(peer.endpoint()), error::kAllocationMismatch,
                         "CreatePermission after the delete"));
  EXPECT_TRUE(
      failedWith(turn.refresh(std::nullopt), error::kAllocationMismatch, "Refresh after delete"));

  ASSERT_TRUE(peer.sendTo(relayed, patternPayload(10, 2)));
  EXPECT_TRUE(turn.noData()) << "data reached the client through a deleted allocation";

  // The relay socket is gone: its port can be bound again.
  EXPECT_TRUE(eventually([&] { return boundSocket(SOCK_DGRAM, relayed).valid(); }))
      << relayed.toString() << " is still bound";
  EXPECT_TRUE(eventually([&] {
    return countLinesWith(serverLog(), {"allocation ended", "relay=" + relayed.toString(),
                                        "reason=deleted"}) == 1;
  })) << serverLog();

  // The 5-tuple is free for a new allocation.
  ASSERT_TRUE(allocated(turn));
}

// ---- Lifetimes and quotas ----

class TurnLimitsTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.default_lifetime = 300;
    options.max_lifetime = 900;
    options.allocations_per_user = 1;
    options.allocations_total = 2;
    return options;
  }
};

TEST_F(TurnLimitsTest, LifetimesAreClampedToTheConfiguredRange) {
  TurnClient turn = client();
  const auto response = turn.allocate(5000);
  ASSERT_TRUE(succeeded(response, "Allocate with LIFETIME 5000"));
  EXPECT_EQ(response->u32(attr::kLifetime), 900U);
  const auto short_refresh = turn.refresh(10);
  ASSERT_TRUE(succeeded(short_refresh, "Refresh with LIFETIME 10"));
  EXPECT_EQ(short_refresh->u32(attr::kLifetime), 300U);
  const auto plain_refresh = turn.refresh(std::nullopt);
  ASSERT_TRUE(succeeded(plain_refresh, "Refresh without LIFETIME"));
  EXPECT_EQ(plain_refresh->u32(attr::kLifetime), 300U);
}

TEST_F(TurnLimitsTest, PerUserAndTotalQuotas) {
  TurnClient first = client();
  ASSERT_TRUE(allocated(first));
  TurnClient second = client();
  EXPECT_TRUE(failedWith(second.allocate(), error::kAllocationQuotaReached, "alice's second"));

  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const auth::RestCredential bob = auth::mintRestCredential(kSecret, "bob", 600, now);
  TurnClient bobs = client(TurnTransport::kUdp, {bob.username, bob.password});
  ASSERT_TRUE(allocated(bobs));
  const auth::RestCredential carol = auth::mintRestCredential(kSecret, "carol", 600, now);
  TurnClient carols = client(TurnTransport::kUdp, {carol.username, carol.password});
  EXPECT_TRUE(
      failedWith(carols.allocate(), error::kInsufficientCapacity, "third allocation in all"));

  // Deleting alice's allocation gives her quota back.
  ASSERT_TRUE(succeeded(first.refresh(0), "Refresh with LIFETIME 0"));
  EXPECT_TRUE(succeeded(second.allocate(), "alice's allocation after the delete"));
}

// ---- Two workers, many clients ----

using TurnThreadsTest = TurnTest;

TEST_F(TurnThreadsTest, TwentyUdpClientsAllocateAndEchoAtOnce) {
  constexpr std::size_t kClients = 20;
  std::vector<std::string> failures(kClients);
  std::vector<std::optional<Endpoint>> relayed(kClients);
  std::latch start(kClients);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::string& failure = failures[i];
      TurnClient turn = client();
      const UdpPeer peer;
      start.arrive_and_wait();
      if (!turn.connected() || !peer.valid()) {
        failure = "no sockets";
        return;
      }
      if (auto ok = allocated(turn); !ok) {
        failure = ok.message();
        return;
      }
      relayed[i] = turn.relayed();
      const auto channel = static_cast<std::uint16_t>(kChannel + i);
      if (auto ok = succeeded(turn.channelBind(channel, peer.endpoint()), "ChannelBind"); !ok) {
        failure = ok.message();
        return;
      }
      const Bytes payload = patternPayload(100 + i, static_cast<std::uint8_t>(i));
      if (!turn.sendChannelData(channel, payload)) {
        failure = "send failed";
        return;
      }
      const auto at_peer = peer.receive();
      if (!at_peer || at_peer->data != payload || at_peer->source != *turn.relayed()) {
        failure = "the peer did not get the payload from the relayed address";
        return;
      }
      if (!peer.sendTo(at_peer->source, at_peer->data)) {  // echo
        failure = "echo failed";
        return;
      }
      const auto echoed = turn.receiveData();
      if (!echoed || echoed->kind != DataFrame::Kind::kChannelData || echoed->channel != channel ||
          echoed->payload != payload) {
        failure = "the echo did not come back as ChannelData";
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (std::size_t i = 0; i < kClients; ++i) {
    EXPECT_EQ(failures[i], "") << "client " << i;
  }
  std::vector<Endpoint> distinct;
  for (const auto& endpoint : relayed) {
    if (endpoint && std::ranges::find(distinct, *endpoint) == distinct.end()) {
      distinct.push_back(*endpoint);
    }
  }
  EXPECT_EQ(distinct.size(), kClients) << "relayed addresses are not all distinct";
}

// ---- /metrics ----

class TurnMetricsTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.http = true;
    return options;
  }
};

TEST_F(TurnMetricsTest, RelayedBytesAndActiveAllocationsAreExported) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.createPermission(peer.endpoint()), "CreatePermission"));
  const Bytes payload = patternPayload(64);
  ASSERT_TRUE(turn.sendIndication(peer.endpoint(), payload));
  ASSERT_TRUE(peer.receive());
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), payload));
  ASSERT_TRUE(turn.receiveData());

  std::string last;
  const bool exported = eventually([&] {
    const auto answer = httpGet(httpServer(), "/metrics");
    if (!answer) {
      return false;
    }
    last = *answer;
    const auto to_peer = metricValue(last, "turnpike_relayed_bytes_total",
                                     {"direction=\"to_peer\"", "transport=\"udp\""});
    const auto to_client = metricValue(last, "turnpike_relayed_bytes_total",
                                       {"direction=\"to_client\"", "transport=\"udp\""});
    const auto active =
        metricValue(last, "turnpike_allocations_active", {"transport=\"udp\"", "family=\"ipv4\""});
    return to_peer && *to_peer >= static_cast<double>(payload.size()) && to_client &&
           *to_client >= static_cast<double>(payload.size()) && active && *active > 0;
  });
  EXPECT_TRUE(last.starts_with("HTTP/1.")) << last.substr(0, 200);
  EXPECT_TRUE(exported) << "--- /metrics ---\n" << last;
}

// The README promises /healthz; anything else on the HTTP port is 404.
TEST_F(TurnMetricsTest, HealthzAnswersOkAndUnknownPathsAre404) {
  const auto health = httpGet(httpServer(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_TRUE(health->starts_with("HTTP/1.1 200") || health->starts_with("HTTP/1.0 200"))
      << health->substr(0, 200);
  EXPECT_TRUE(health->ends_with("ok\n")) << *health;
  const auto missing = httpGet(httpServer(), "/nope");
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find(" 404 "), std::string::npos) << missing->substr(0, 200);
}

// ---- Shutdown ----

using TurnShutdownTest = TurnTest;

TEST_F(TurnShutdownTest, SigtermWithLiveAllocationsExitsCleanly) {
  TurnClient udp = client();
  TurnClient tcp = client(TurnTransport::kTcp);
  ASSERT_TRUE(allocated(udp));
  ASSERT_TRUE(allocated(tcp));
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(udp.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  ASSERT_TRUE(succeeded(tcp.createPermission(peer.endpoint()), "CreatePermission"));

  stopServer(SIGTERM);  // checks exit code 0 and "stopped"
  const std::string log = serverLog();
  EXPECT_EQ(countLinesWith(log, {"allocation ended", "reason=shutdown"}), 2U) << log;
  EXPECT_EQ(countLinesWith(
                log, {"allocation ended", "relay=" + udp.relayed()->toString(), "reason=shutdown"}),
            1U)
      << log;
  EXPECT_EQ(countLinesWith(
                log, {"allocation ended", "relay=" + tcp.relayed()->toString(), "reason=shutdown"}),
            1U)
      << log;
  EXPECT_TRUE(waitForPeerClose(tcp.fd())) << "the TCP client connection was left open";
}

}  // namespace
}  // namespace turnpike::test

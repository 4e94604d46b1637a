// RFC 8016 mobility against the real server (mobility: true): a UDP client allocates with a
// MOBILITY-TICKET, relays over a channel, then carries on from a new local port and from a new
// address (127.0.0.2) with Refresh + ticket, without a new Allocate. With two worker threads the
// new 5-tuple may reach the worker that does not hold the allocation: it must work all the same.
#include <string>

#include "protocol/stun/byte_io.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/integration/turn_client.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

const TurnCredentials kBob{"bob", "builder"};

class MobilityTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.threads = 1;  // MobilityAcrossWorkersTest has two
    options.users[kBob.username] = kBob.password;
    options.http = true;
    options.extra_yaml += "mobility: true\n";
    return options;
  }
};

std::string ticketOf(const std::optional<TurnResponse>& response) {
  const auto ticket = response ? response->text(attr::kMobilityTicket) : std::nullopt;
  EXPECT_TRUE(ticket.has_value()) << "no MOBILITY-TICKET";
  return ticket.value_or(std::string());
}

TEST_F(MobilityTest, TheClientMovesToANewPortThenANewAddressAndRelayingGoesOn) {
  TurnClient turn = client();
  const auto allocated = turn.allocateWithTicket();
  ASSERT_TRUE(succeeded(allocated, "Allocate"));
  std::string ticket = ticketOf(allocated);
  ASSERT_EQ(ticket.size(), 48U);
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  channelRoundTrip(turn, peer, kChannel, patternPayload(20, 1), patternPayload(30, 2));

  // A new local port on the same address.
  const Endpoint old_local = localEndpointOf(turn.fd());
  ASSERT_TRUE(turn.moveTo(loopback(false)));
  ASSERT_NE(localEndpointOf(turn.fd()), old_local);
  const auto moved = turn.refreshWithTicket(protocol::asBytes(ticket));
  ASSERT_TRUE(succeeded(moved, "Refresh with the ticket from a new port"));
  ticket = ticketOf(moved);
  channelRoundTrip(turn, peer, kChannel, patternPayload(21, 3), patternPayload(31, 4));

  // A new address: 127.0.0.2 (the nonce is bound to the address: one 438 on the way).
  ASSERT_TRUE(turn.moveTo(Endpoint{protocol::IpAddress::parse("127.0.0.2").value(), 0}));
  const auto moved_again = turn.refreshWithTicket(protocol::asBytes(ticket));
  ASSERT_TRUE(succeeded(moved_again, "Refresh with the ticket from 127.0.0.2"));
  channelRoundTrip(turn, peer, kChannel, patternPayload(22, 5), patternPayload(32, 6));

  std::string last;
  EXPECT_TRUE(eventually([&] {
    last = httpGet(httpServer(), "/metrics").value_or("");
    return metricValue(last, "turnpike_mobility_moves_total", {}) == 2.0;
  })) << last;
}

TEST_F(MobilityTest, AnotherUsersRefreshWithTheTicketGets441) {
  TurnClient turn = client();
  const auto allocated = turn.allocateWithTicket();
  ASSERT_TRUE(succeeded(allocated, "Allocate"));
  const std::string ticket = ticketOf(allocated);
  TurnClient bob = client(TurnTransport::kUdp, kBob);
  ASSERT_TRUE(bob.challenge());
  const auto stolen = bob.refreshWithTicket(protocol::asBytes(ticket));
  ASSERT_TRUE(stolen) << "no answer";
  EXPECT_EQ(stolen->code, protocol::error::kWrongCredentials);
  // The allocation stayed with its client.
  EXPECT_TRUE(succeeded(turn.refresh(std::nullopt), "Refresh"));
}

// Two workers: SO_REUSEPORT picks one per 5-tuple, so a client that moves from port to port
// lands on the other worker about every second move. It moves until the server says a message
// was handed across (turnpike_mobility_forwarded_total; bounded: 40 moves, each 1 in 2), then
// twice more, relaying both ways after every move, and ends the allocation from where it is.
class MobilityAcrossWorkersTest : public MobilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = MobilityTest::options();
    options.threads = 2;
    return options;
  }
  [[nodiscard]] double forwarded() const {
    return scrapeMetric(httpServer(), "turnpike_mobility_forwarded_total").value_or(0.0);
  }
};

TEST_F(MobilityAcrossWorkersTest, TheAllocationFollowsTheClientToTheOtherWorker) {
  TurnClient turn = client();
  const auto allocated = turn.allocateWithTicket();
  ASSERT_TRUE(succeeded(allocated, "Allocate"));
  std::string ticket = ticketOf(allocated);
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  channelRoundTrip(turn, peer, kChannel, patternPayload(20, 1), patternPayload(30, 2));
  int moves = 0;
  int after_first_forward = 0;
  while (moves < 40 && after_first_forward < 3) {
    ASSERT_TRUE(turn.moveTo(loopback(false)));
    ++moves;
    const auto moved = turn.refreshWithTicket(protocol::asBytes(ticket));
    ASSERT_TRUE(succeeded(moved, "Refresh with the ticket, move " + std::to_string(moves)));
    ticket = ticketOf(moved);
    channelRoundTrip(turn, peer, kChannel, patternPayload(21, moves), patternPayload(31, moves));
    if (after_first_forward > 0 || forwarded() > 0) {
      ++after_first_forward;
    }
  }
  EXPECT_GT(forwarded(), 0) << "no move reached the other worker in " << moves << " moves";
  // Ended from wherever the client is now: no allocation is left.
  ASSERT_TRUE(succeeded(turn.refresh(0), "Refresh 0"));
  std::string last;
  EXPECT_TRUE(eventually([&] {
    last = httpGet(httpServer(), "/metrics").value_or("");
    return metricValue(last, "turnpike_relay_ports_in_use", {}) == 0.0 &&
           metricValue(last, "turnpike_mobility_moves_total", {}) == moves;
  })) << last;
}

}  // namespace
}  // namespace turnpike::test

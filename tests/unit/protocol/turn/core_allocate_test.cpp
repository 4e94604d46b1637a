// Allocate (RFC 8656 section 7.2): relayed addresses, lifetimes, address families, EVEN-PORT and
// RESERVATION-TOKEN, quotas, relay port choice, retransmissions.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

class CoreAllocateTest : public CoreFixture {
 protected:
  // EVEN-PORT with R from `source`, with the token value fixed; returns the response. The
  // core draws a relay address, then the token.
  Bytes reserve(const ClientSource& source, std::uint64_t token) {
    random.queued.push_back(0);
    random.queued.push_back(token);
    return allocate(source, [](MessageBuilder& b) { b.addEvenPort(true); });
  }
  static Attrs withToken(const Bytes& token) {
    return [token](MessageBuilder& b) { b.addBytes(attr::kReservationToken, token); };
  }
  static Bytes tokenOf(const Bytes& response) {
    const auto message = Message::parse(response);
    if (!message || !message->has(attr::kReservationToken)) {
      ADD_FAILURE() << "no RESERVATION-TOKEN";
      return {};
    }
    const ConstBytes value = test::valueOf(*message, attr::kReservationToken);
    return {value.begin(), value.end()};
  }
};

constexpr std::uint64_t kToken = 0x0102030405060708ULL;

TEST_F(CoreAllocateTest, SuccessCarriesRelayedLifetimeAndMappedAddresses) {
  const Bytes response = allocate(client);
  ASSERT_EQ(errorCodeOf(response), 0);
  const auto relayed = xorAddressesOf(response, attr::kXorRelayedAddress);
  ASSERT_EQ(relayed.size(), 1U);
  EXPECT_EQ(relayed[0].address, ip("127.0.0.1"));
  EXPECT_GE(relayed[0].port, kPortMin);
  EXPECT_LE(relayed[0].port, kPortMax);
  EXPECT_EQ(u32Of(response, attr::kLifetime), 600U);
  EXPECT_EQ(xorAddressesOf(response, attr::kXorMappedAddress), std::vector{client.client});

  // One relay socket, bound to the relayed address and tagged with the allocation's id.
  const Allocation* allocation = allocationOf(client);
  ASSERT_NE(allocation, nullptr);
  ASSERT_EQ(relays.opened.size(), 1U);
  EXPECT_EQ(relays.opened[0].local, relayed[0]);
  EXPECT_EQ(relays.opened[0].tag, allocation->id);
  EXPECT_FALSE(relays.opened[0].dont_fragment);
  EXPECT_EQ(allocation->expires, now + Seconds{600});
  EXPECT_EQ(events.created, std::vector{allocation->id});
  EXPECT_EQ(quota.per_user["alice"], 1U);
  const CoreStats& stats = core->stats();
  EXPECT_EQ(stats.allocations_created.get(), 1U);
  EXPECT_EQ(stats.allocations_active[0][0].get(), 1U);
  EXPECT_EQ(stats.relay_ports_in_use.get(), 1U);
  EXPECT_EQ(requests(RequestMethod::kAllocate, 0), 1U);
}

TEST_F(CoreAllocateTest, LifetimeIsBetweenTheDefaultAndTheMaximum) {
  struct Case {
    std::optional<std::uint32_t> requested;
    std::uint32_t granted;
  };
  const Case cases[] = {{std::nullopt, 600}, {1200, 1200}, {99999, 3600}, {10, 600}, {0, 600}};
  std::uint16_t port = 40100;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.requested ? std::to_string(*c.requested) : "none");
    const ClientSource source = udpClient(port++);
    const Bytes response = allocate(source, [&](MessageBuilder& b) {
      if (c.requested) b.addU32(attr::kLifetime, *c.requested);
    });
    EXPECT_EQ(u32Of(response, attr::kLifetime), c.granted);
    ASSERT_NE(allocationOf(source), nullptr);
    EXPECT_EQ(allocationOf(source)->expires, now + Seconds{c.granted});
  }
}

TEST_F(CoreAllocateTest, InvalidAllocateIsRejectedWithoutSideEffects) {
  const Bytes some_token(8, std::byte{0x5A});
  const auto udp = [](MessageBuilder& b) { b.addRequestedTransport(kProtocolUdp); };
  struct Case {
    const char* name;
    Attrs attrs;
    std::uint16_t code;
  };
  const Case cases[] = {
      {"no REQUESTED-TRANSPORT", [](MessageBuilder&) {}, error::kBadRequest},
      {"TCP relaying", [](MessageBuilder& b) { b.addRequestedTransport(kProtocolTcp); },
       error::kUnsupportedTransportProtocol},
      {"REQUESTED- and ADDITIONAL-ADDRESS-FAMILY",
       [&](MessageBuilder& b) {
         udp(b);
         b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv4);
         b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
       },
       error::kBadRequest},
      {"ADDITIONAL-ADDRESS-FAMILY IPv4",
       [&](MessageBuilder& b) {
         udp(b);
         b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv4);
       },
       error::kBadRequest},
      {"RESERVATION-TOKEN and EVEN-PORT",
       [&](MessageBuilder& b) {
         udp(b);
         b.addBytes(attr::kReservationToken, some_token);
         b.addEvenPort(false);
       },
       error::kBadRequest},
      {"RESERVATION-TOKEN and REQUESTED-ADDRESS-FAMILY",
       [&](MessageBuilder& b) {
         udp(b);
         b.addBytes(attr::kReservationToken, some_token);
         b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv4);
       },
       error::kBadRequest},
      {"IPv6 without an IPv6 relay address",
       [&](MessageBuilder& b) {
         udp(b);
         b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv6);
       },
       error::kAddressFamilyNotSupported},
      {"unknown RESERVATION-TOKEN",
       [&](MessageBuilder& b) {
         udp(b);
         b.addBytes(attr::kReservationToken, some_token);
       },
       error::kInsufficientCapacity},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes response = exchange(client, request(Method::kAllocate, c.attrs));
    EXPECT_EQ(errorCodeOf(response), c.code);
    EXPECT_EQ(integrityOf(response, md5Key("alice", "alice-password")), IntegrityResult::kOk);
    EXPECT_EQ(allocationOf(client), nullptr);
    EXPECT_EQ(relays.openCount(), 0U);
    EXPECT_EQ(quota.total, 0U);
  }
  EXPECT_EQ(core->stats().allocations_created.get(), 0U);
}

TEST_F(CoreAllocateTest, SecondAllocateOnTheSameFiveTupleIs437) {
  const Endpoint first = allocateOk(client);
  EXPECT_EQ(errorCodeOf(allocate(client)), error::kAllocationMismatch);
  EXPECT_EQ(relays.opened.size(), 1U);
  EXPECT_EQ(allocationOf(client)->legs.front().relayed, first);
  EXPECT_EQ(quota.total, 1U);
}

TEST_F(CoreAllocateTest, RetransmissionGetsTheSameResponseAndOpensNoSocket) {
  const TransactionId id = nextTransactionId();
  const Bytes request = requestWithId(
      Method::kAllocate, id, [](MessageBuilder& b) { b.addRequestedTransport(17); }, Auth{});
  const Bytes first = exchange(client, request);
  ASSERT_EQ(errorCodeOf(first), 0);
  at(5);
  const Bytes again = exchange(client, request);
  EXPECT_EQ(test::toHex(again), test::toHex(first));
  EXPECT_EQ(relays.attempts, 1U);
  EXPECT_EQ(core->stats().allocations_created.get(), 1U);
}

TEST_F(CoreAllocateTest, RequestedIpv6GetsAnIpv6Relay) {
  makeCore(dualConfig());
  const Bytes response = allocate(client, [](MessageBuilder& b) {
    b.addAddressFamily(attr::kRequestedAddressFamily, AddressFamily::kIpv6);
  });
  ASSERT_EQ(errorCodeOf(response), 0);
  const auto relayed = xorAddressesOf(response, attr::kXorRelayedAddress);
  ASSERT_EQ(relayed.size(), 1U);
  EXPECT_EQ(relayed[0].address, ip("::1"));
  EXPECT_EQ(core->stats().allocations_active[0][1].get(), 1U);
}

TEST_F(CoreAllocateTest, AdditionalIpv6GivesTwoRelayedAddresses) {
  makeCore(dualConfig());
  const Bytes response = allocate(client, [](MessageBuilder& b) {
    b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
  });
  ASSERT_EQ(errorCodeOf(response), 0);
  const auto relayed = xorAddressesOf(response, attr::kXorRelayedAddress);
  ASSERT_EQ(relayed.size(), 2U);
  EXPECT_EQ(relayed[0].address, ip("127.0.0.1"));
  EXPECT_EQ(relayed[1].address, ip("::1"));
  EXPECT_FALSE(hasAttribute(response, attr::kAddressErrorCode));
  ASSERT_EQ(relays.opened.size(), 2U);
  EXPECT_EQ(relays.opened[0].tag, relays.opened[1].tag);  // one allocation, two sockets
}

TEST_F(CoreAllocateTest, AdditionalIpv6WithoutIpv6RelayReportsAddressErrorCode) {
  const Bytes response = allocate(client, [](MessageBuilder& b) {
    b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
  });
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(xorAddressesOf(response, attr::kXorRelayedAddress).size(), 1U);
  const auto message = Message::parse(response);
  ASSERT_TRUE(message);
  const auto address_error =
      decodeAddressErrorCode(test::valueOf(*message, attr::kAddressErrorCode));
  ASSERT_TRUE(address_error);
  EXPECT_EQ(address_error->family, AddressFamily::kIpv6);
  EXPECT_EQ(address_error->code, error::kAddressFamilyNotSupported);
}

TEST_F(CoreAllocateTest, EvenPortGetsAnEvenPort) {
  std::uint16_t client_port = 40100;
  allocateOk(udpClient(client_port++));  // takes kPortMin: the next free even one is + 2
  for (const std::uint16_t expected : {50002, 50004, 50006}) {
    SCOPED_TRACE(expected);
    const Endpoint relayed =
        allocateOk(udpClient(client_port++), [](MessageBuilder& b) { b.addEvenPort(false); });
    EXPECT_EQ(relayed.port, expected);
  }
  EXPECT_EQ(allocateOk(udpClient(client_port++)).port, 50001) << "the odd ones are still free";
  EXPECT_EQ(relays.opened.size(), 5U);  // no reservation without R
}

TEST_F(CoreAllocateTest, EvenPortWithReserveHoldsTheNextPort) {
  const Bytes response = reserve(client, kToken);
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(xorAddressesOf(response, attr::kXorRelayedAddress),
            std::vector{ep("127.0.0.1", 50000)});
  EXPECT_EQ(test::toHex(tokenOf(response)), "0102030405060708");
  ASSERT_EQ(relays.opened.size(), 2U);
  EXPECT_EQ(relays.opened[1].local, ep("127.0.0.1", 50001));
  EXPECT_NE(relays.opened[1].tag, tagOf(client));
  EXPECT_TRUE(relays.isOpen(relays.opened[1].socket));
}

TEST_F(CoreAllocateTest, ReservationTokenClaimsTheReservedPort) {
  const Bytes token = tokenOf(reserve(client, kToken));
  const ClientSource other = udpClient(40001);
  const Bytes response = allocate(other, withToken(token), as("bob", "bob-password"));
  ASSERT_EQ(errorCodeOf(response), 0);
  EXPECT_EQ(xorAddressesOf(response, attr::kXorRelayedAddress),
            std::vector{ep("127.0.0.1", 50001)});
  // The reserved socket becomes the allocation's: nothing new is opened, and its tag names it.
  EXPECT_EQ(relays.opened.size(), 2U);
  const FakeRelaySockets::Opened& reserved = relays.opened[1];
  ASSERT_EQ(reserved.local, ep("127.0.0.1", 50001));
  EXPECT_EQ(relaySocketOf(other), reserved.socket);
  EXPECT_EQ(tagOf(other), reserved.tag);
}

TEST_F(CoreAllocateTest, ReservationTokenIsSingleUseAndExpires) {
  struct Case {
    const char* name;
    bool claim_first;
    int wait;
  };
  const Case cases[] = {{"second use", true, 0}, {"after 30 s", false, 30}};
  std::uint16_t port = 40100;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    core->shutdown(now);
    makeCore(baseConfig());
    at(0);
    const std::size_t before = relays.opened.size();
    const Bytes token = tokenOf(reserve(udpClient(port++), kToken));
    ASSERT_EQ(relays.opened.size(), before + 2);
    const SocketRef reserved = relays.opened[before + 1].socket;
    if (c.claim_first) {
      EXPECT_EQ(errorCodeOf(allocate(udpClient(port++), withToken(token))), 0);
    }
    advanceTo(c.wait);
    EXPECT_EQ(errorCodeOf(allocate(udpClient(port++), withToken(token))),
              error::kInsufficientCapacity);
    // A claimed reservation stays open with its allocation; an unclaimed one is closed by the
    // timer after 30 s (RFC 8656 section 7.2: "at least 30 seconds").
    EXPECT_EQ(relays.isOpen(reserved), c.claim_first);
  }
}

TEST_F(CoreAllocateTest, QuotasAreEnforced) {
  struct Case {
    const char* name;
    std::optional<std::size_t> per_user;
    std::optional<std::size_t> total;
    Auth second;
    std::uint16_t code;
  };
  const Case cases[] = {
      {"per user", 1, std::nullopt, Auth{}, error::kAllocationQuotaReached},
      {"per user, other user", 1, std::nullopt, as("bob", "bob-password"), 0},
      {"total", std::nullopt, 1, as("bob", "bob-password"), error::kInsufficientCapacity},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    core->shutdown(now);
    quota.per_user_limit = c.per_user;
    quota.total_limit = c.total;
    const std::uint64_t rejected = core->stats().quota_rejected.get();
    allocateOk(udpClient(40100));
    const std::size_t opened = relays.opened.size();
    EXPECT_EQ(errorCodeOf(allocate(udpClient(40101), {}, c.second)), c.code);
    EXPECT_EQ(core->stats().quota_rejected.get(), rejected + (c.code == 0 ? 0 : 1));
    EXPECT_EQ(relays.opened.size(), opened + (c.code == 0 ? 1 : 0));
  }
}

TEST_F(CoreAllocateTest, PortsHeldByOtherProcessesAreSkipped) {
  for (std::uint16_t port = kPortMin; port <= kPortMax; ++port) {
    if (port != 50042) relays.busy_ports.insert(port);
  }
  EXPECT_EQ(allocateOk(client), ep("127.0.0.1", 50042));
  EXPECT_EQ(relays.attempts, 43U) << "50000 to 50041 failed to bind";
  // They went back to the end of the pool: the next Allocate tries the rest first.
  relays.busy_ports.clear();
  EXPECT_EQ(allocateOk(udpClient(40100)), ep("127.0.0.1", 50043));
}

// Issue 7: "flat-out churn gets no 508 while the range has free ports". Every port of the range
// is handed out before a 508, and a released port is handed out again (after the others).
TEST_F(CoreAllocateTest, EveryPortOfTheRangeIsUsedBeforeA508) {
  std::uint16_t client_port = 40100;
  std::vector<ClientSource> clients;
  for (int i = kPortMin; i <= kPortMax; ++i) {
    clients.push_back(udpClient(client_port++));
    ASSERT_EQ(errorCodeOf(allocate(clients.back())), 0) << "allocation " << clients.size();
  }
  EXPECT_EQ(core->stats().relay_ports_in_use.get(), kPortMax - kPortMin + 1U);
  EXPECT_EQ(errorCodeOf(allocate(udpClient(client_port++))), error::kInsufficientCapacity);
  const Endpoint freed = allocationOf(clients[7])->legs.front().local;
  EXPECT_EQ(errorCodeOf(refresh(clients[7], 0)), 0);
  EXPECT_EQ(allocateOk(udpClient(client_port++)), freed);
}

TEST_F(CoreAllocateTest, NoUsableRelayPortIs508) {
  struct Case {
    const char* name;
    bool all_busy;
    bool no_resources;
  };
  for (const Case& c :
       {Case{"every port in use", true, false}, Case{"out of sockets", false, true}}) {
    SCOPED_TRACE(c.name);
    relays.all_busy = c.all_busy;
    relays.no_resources = c.no_resources;
    EXPECT_EQ(errorCodeOf(allocate(client)), error::kInsufficientCapacity);
    EXPECT_EQ(allocationOf(client), nullptr);
    EXPECT_EQ(quota.total, 0U);
    EXPECT_EQ(core->stats().relay_ports_in_use.get(), 0U);
  }
}

TEST_F(CoreAllocateTest, DontFragmentReachesTheRelaySocket) {
  std::uint16_t port = 40100;
  for (const bool dont_fragment : {false, true}) {
    SCOPED_TRACE(dont_fragment);
    allocateOk(udpClient(port++), [&](MessageBuilder& b) {
      if (dont_fragment) b.addBytes(attr::kDontFragment, {});
    });
    ASSERT_FALSE(relays.opened.empty());
    EXPECT_EQ(relays.opened.back().dont_fragment, dont_fragment);
  }
}

TEST_F(CoreAllocateTest, RelayPortsComeShuffledFromTheRandomSourceNotInSequence) {
  // A core without a shared pool shuffles its own with its random source.
  core.reset();
  CoreConfig config = baseConfig();
  core = std::make_unique<Core>(std::move(config),
                                CoreDependencies{relays, random, clock, credentials, nonces, quota,
                                                 reservations, &policy, &events, &user_bandwidth});
  std::vector<std::uint16_t> handed_out;
  for (std::uint16_t port = 40102; port < 40106; ++port) {
    handed_out.push_back(allocateOk(udpClient(port)).port);
  }
  EXPECT_EQ(std::set(handed_out.begin(), handed_out.end()).size(), handed_out.size());
  bool sequential = true;
  for (std::size_t i = 1; i < handed_out.size(); ++i) {
    sequential = sequential && handed_out[i] == handed_out[i - 1] + 1;
  }
  EXPECT_FALSE(sequential);
}

// Fixed bug, kept as a regression test (the core once): only rejects RESERVATION-TOKEN together
// with EVEN-PORT or REQUESTED-ADDRESS-FAMILY. RFC 8656 section 7.2 step 5 also rejects it with
// ADDITIONAL-ADDRESS-FAMILY (400); the core claims the token and answers success.
TEST_F(CoreAllocateTest, ReservationTokenWithAdditionalFamilyIs400) {
  const Bytes token = tokenOf(reserve(client, kToken));
  const Bytes response = allocate(udpClient(40001), [&](MessageBuilder& b) {
    b.addBytes(attr::kReservationToken, token);
    b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
  });
  EXPECT_EQ(errorCodeOf(response), error::kBadRequest);
}

// Fixed bug, kept as a regression test (the core once): does not reject EVEN-PORT with R=1 together
// with ADDITIONAL-ADDRESS-FAMILY; RFC 8656 section 7.2 step 8 requires 400. The core makes a dual
// allocation and a reservation.
TEST_F(CoreAllocateTest, EvenPortReserveWithAdditionalFamilyIs400) {
  makeCore(dualConfig());
  const Bytes response = allocate(client, [](MessageBuilder& b) {
    b.addEvenPort(true);
    b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
  });
  EXPECT_EQ(errorCodeOf(response), error::kBadRequest);
  EXPECT_EQ(relays.openCount(), 0U);
}

// Fixed bug, kept as a regression test (the core once): with EVEN-PORT R=1 the core picks an even
// port N without checking N+1, then answers 508 when N+1 cannot be opened. RFC 8656 section 7.2:
// the server "looks for a pair of port numbers N and N+1"; other pairs are free here.
TEST_F(CoreAllocateTest, EvenPortReserveLooksForAFreePair) {
  relays.busy_ports.insert(50001);  // another process holds N+1 of the first pair
  const Bytes response = allocate(client, [](MessageBuilder& b) { b.addEvenPort(true); });
  ASSERT_EQ(errorCodeOf(response), 0);
  const auto relayed = xorAddressesOf(response, attr::kXorRelayedAddress);
  ASSERT_EQ(relayed.size(), 1U);
  EXPECT_EQ(relayed[0].port % 2, 0);
  EXPECT_EQ(relayed[0].port, 50002);
  EXPECT_TRUE(hasAttribute(response, attr::kReservationToken));
}

// Fixed bug, kept as a regression test (the core once): opens the reserved port N+1 outside
// openLeg(), so neither it nor a later allocation that claims it with RESERVATION-TOKEN (line 178)
// is counted in stats().relay_ports_in_use (nor in ports_in_use_): two allocations hold two relay
// ports here and the gauge says 1.
// The reserved N+1 belongs to the shared reservation store until an Allocate claims it; then the
// claiming core counts it.
TEST_F(CoreAllocateTest, ClaimedReservedPortIsCountedInUse) {
  const Bytes token = tokenOf(reserve(client, kToken));
  EXPECT_EQ(core->stats().relay_ports_in_use.get(), 1U);  // N; N+1 is held by the store
  EXPECT_EQ(reservations.ports.size(), 1U);
  allocateOk(udpClient(40001), withToken(token));
  EXPECT_EQ(core->stats().relay_ports_in_use.get(), 2U);
  EXPECT_TRUE(reservations.ports.empty());
  core->shutdown(now);
  EXPECT_EQ(core->stats().relay_ports_in_use.get(), 0U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

// ---- Draining (SIGTERM) ----

namespace turnpike::protocol::core_test {
namespace {

std::optional<Endpoint> alternateServerOf(const Bytes& response) {
  const auto message = Message::parse(response);
  if (!message || !message->has(attr::kAlternateServer)) {
    return std::nullopt;
  }
  auto decoded = decodeAddress(test::valueOf(*message, attr::kAlternateServer));
  return decoded ? std::optional<Endpoint>(*decoded) : std::nullopt;
}

TEST_F(CoreAllocateTest, DrainingAnswers300WithAnAlternateOfTheClientsFamilySigned) {
  const Endpoint before = allocateOk(client);
  core->startDraining({ep("2001:db8::7", 3478), ep("192.0.2.7", 3478), ep("192.0.2.8", 3479)});
  EXPECT_TRUE(core->draining());
  const ClientSource late = udpClient(40001);
  const Bytes first = allocate(late);
  ASSERT_EQ(errorCodeOf(first), error::kTryAlternate);
  EXPECT_EQ(alternateServerOf(first), ep("192.0.2.7", 3478));
  // RFC 8489 section 6.3.4: a 300 is protected with MESSAGE-INTEGRITY.
  EXPECT_EQ(integrityOf(first, md5Key("alice", "alice-password")), IntegrityResult::kOk);
  // The IPv4 alternates are used in turn; the IPv6 one never for an IPv4 client.
  EXPECT_EQ(alternateServerOf(allocate(udpClient(40002))), ep("192.0.2.8", 3479));
  EXPECT_EQ(alternateServerOf(allocate(udpClient(40003))), ep("192.0.2.7", 3478));
  // No socket, no quota: nothing was allocated.
  EXPECT_EQ(relays.opened.size(), 1U);
  EXPECT_EQ(quota.total, 1U);
  EXPECT_EQ(requests(RequestMethod::kAllocate, error::kTryAlternate), 3U);
  // The existing allocation goes on.
  EXPECT_EQ(errorCodeOf(refresh(client, 600)), 0);
  EXPECT_EQ(allocationOf(client)->legs.front().relayed, before);
}

TEST_F(CoreAllocateTest, DrainingWithoutAnAlternateOfTheFamilyAnswers403) {
  core->startDraining({ep("2001:db8::7", 3478)});
  const Bytes response = allocate(client);
  EXPECT_EQ(errorCodeOf(response), error::kForbidden);
  EXPECT_FALSE(alternateServerOf(response));
  core->startDraining({});
  EXPECT_EQ(errorCodeOf(allocate(udpClient(40001))), error::kForbidden);
  EXPECT_TRUE(relays.opened.empty());
}

TEST_F(CoreAllocateTest, DrainingStillChallengesUnauthenticatedAllocates) {
  core->startDraining({ep("192.0.2.7", 3478)});
  const Bytes response = allocate(client, {}, noAuth());
  EXPECT_EQ(errorCodeOf(response), error::kUnauthenticated);
  EXPECT_FALSE(alternateServerOf(response));
}

}  // namespace
}  // namespace turnpike::protocol::core_test

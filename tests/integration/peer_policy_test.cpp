// Issue 6, "peer policy, proven": the real server with the default peer policy (no peers.allow;
// only relay addresses, a user and HTTP configured) refuses every bypass form with 403 on
// CreatePermission and ChannelBind, and relays nothing to the loopback forms.
//
// Safety: the responses are all that is looked at for the non-loopback forms; no datagram is
// ever sent towards them. Send indications go only to loopback forms, whose real targets are UDP
// sockets this test owns on 127.0.0.1, 127.0.0.2, 127.255.255.254 and ::1. A bug can then only
// put packets on loopback.
//
// IPv6 forms need an allocation with an IPv6 relay (a peer of a family the allocation has no
// relay for gets 443, RFC 8656 section 10.2): the relay addresses are 127.0.0.1 and ::1, and the
// IPv6 tests skip, saying so, where ::1 cannot be bound.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

using protocol::AddressFamily;
using protocol::IpAddress;

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }
Endpoint at(std::string_view address, std::uint16_t port) { return {ip(address), port}; }

bool ipv6Loopback() { return pickFreePort(ip("::1")).has_value(); }

enum class Relay : std::uint8_t { kIpv4, kDual };

struct Form {
  std::string name;
  Endpoint peer;
};

// Forms that are fixed addresses. Ports are arbitrary: only responses are looked at.
std::vector<Form> ipv4Forms() {
  return {
      {"0.0.0.0", at("0.0.0.0", 5000)},
      {"127.0.0.2", at("127.0.0.2", 5000)},
      {"127.255.255.254", at("127.255.255.254", 5000)},
      {"169.254.169.254 (cloud metadata)", at("169.254.169.254", 80)},
      {"100.64.0.1 (CGNAT)", at("100.64.0.1", 5000)},
      {"192.168.1.1", at("192.168.1.1", 5000)},
      {"172.16.0.1", at("172.16.0.1", 5000)},
      {"10.0.0.1", at("10.0.0.1", 5000)},
      {"224.0.0.1 (multicast)", at("224.0.0.1", 5000)},
      {"255.255.255.255 (broadcast)", at("255.255.255.255", 5000)},
  };
}

std::vector<Form> ipv6Forms() {
  return {
      {"::ffff:127.0.0.1 (IPv4-mapped)", at("::ffff:127.0.0.1", 5000)},
      {"::ffff:10.0.0.1 (IPv4-mapped)", at("::ffff:10.0.0.1", 5000)},
      {":: (unspecified)", at("::", 5000)},
      {"::1", at("::1", 5000)},
      {"::127.0.0.1 (IPv4-compatible)", at("::127.0.0.1", 5000)},
      {"64:ff9b::a00:1 (NAT64 of 10.0.0.1)", at("64:ff9b::a00:1", 5000)},
      {"2002:7f00:1:: (6to4 of 127.0.0.1)", at("2002:7f00:1::", 5000)},
      {"fe80::1 (link local)", at("fe80::1", 5000)},
      {"fc00::1 (unique local)", at("fc00::1", 5000)},
      {"ff02::1 (multicast)", at("ff02::1", 5000)},
  };
}

// The default config, apart from relay.addresses (and its port window), the user alice and the
// HTTP endpoint for /metrics. No peers.allow: loopback is denied like everything above.
class PeerPolicyProofTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.realm.clear();
    options.secrets.clear();
    options.peers_allow.clear();
    options.http = true;
    if (ipv6Loopback()) {
      options.relay_addresses.emplace_back("::1");
    }
    return options;
  }

  [[nodiscard]] double metric(std::string_view name,
                              const std::vector<std::string>& labels = {}) const {
    const auto answer = httpGet(httpServer(), "/metrics");
    EXPECT_TRUE(answer) << "GET /metrics failed";
    return answer ? metricValue(*answer, name, labels).value_or(0) : -1;
  }

  // Allocate with the 401 dance; a dual allocation asks for ADDITIONAL-ADDRESS-FAMILY IPv6.
  // The relayed endpoints of the success response, in wire order (empty on failure).
  static std::vector<Endpoint> allocateRelay(TurnClient& turn, Relay relay) {
    EXPECT_TRUE(turn.connected());
    const auto challenge = turn.challenge();
    EXPECT_TRUE(failedWith(challenge, error::kUnauthenticated, "unauthenticated Allocate"));
    const auto response = turn.authenticatedRequest(Method::kAllocate, [relay](MessageBuilder& b) {
      b.addRequestedTransport(protocol::kProtocolUdp);
      if (relay == Relay::kDual) {
        b.addAddressFamily(attr::kAdditionalAddressFamily, AddressFamily::kIpv6);
      }
    });
    EXPECT_TRUE(succeeded(response, "Allocate"));
    std::vector<Endpoint> relayed;
    const auto message = response ? response->message() : std::nullopt;
    if (!message || !response->isSuccess()) {
      return relayed;
    }
    for (const protocol::RawAttribute& attribute : message->attributes()) {
      if (attribute.type != attr::kXorRelayedAddress) {
        continue;
      }
      if (auto decoded =
              protocol::decodeXorAddress(message->value(attribute), message->transactionId())) {
        relayed.push_back(*decoded);
      }
    }
    EXPECT_EQ(relayed.size(), relay == Relay::kDual ? 2U : 1U);
    return relayed;
  }

  // The server's own endpoints: the UDP/TCP listener, the HTTP endpoint, each relayed address
  // and another port of it, in plain and (for IPv4) IPv4-mapped form.
  [[nodiscard]] std::vector<Form> ownForms(const std::vector<Endpoint>& relayed,
                                           Relay relay) const {
    std::vector<Form> forms{{"the udp/tcp listener", server()},
                            {"the http endpoint", httpServer()}};
    for (const Endpoint& relay_endpoint : relayed) {
      const auto other_port = static_cast<std::uint16_t>(relay_endpoint.port + 1);
      forms.push_back({"a relayed address", relay_endpoint});
      forms.push_back({"a relay address, another port", {relay_endpoint.address, other_port}});
    }
    if (relay == Relay::kDual) {
      const std::string mapped = "::ffff:" + server().address.toString();
      forms.push_back({"the listener, IPv4-mapped", at(mapped, server().port)});
      forms.push_back({"the relayed address, IPv4-mapped", at(mapped, relayed.front().port)});
    }
    return forms;
  }

  // CreatePermission and ChannelBind for each form must get a signed `code`. Returns how many
  // requests were answered that way.
  static int expectRefused(TurnClient& turn, const std::vector<Form>& forms, std::uint16_t code) {
    int refused = 0;
    for (const Form& form : forms) {
      SCOPED_TRACE(form.name + " " + form.peer.toString());
      const auto permission = turn.createPermission(form.peer);
      EXPECT_TRUE(failedWith(permission, code, "CreatePermission"));
      if (permission && permission->code == code) {
        EXPECT_TRUE(signedWith(*permission, turn)) << "an authenticated error must be signed";
        ++refused;
      }
      const auto channel = turn.channelBind(kChannel, form.peer);
      EXPECT_TRUE(failedWith(channel, code, "ChannelBind"));
      refused += channel && channel->code == code ? 1 : 0;
    }
    return refused;
  }

  // Nothing was installed, and turnpike_peer_denied_total counts exactly `denied` refusals.
  void expectNothingInstalled(int denied) const {
    EXPECT_TRUE(eventually([&] { return metric("turnpike_peer_denied_total") == denied; }))
        << "turnpike_peer_denied_total " << metric("turnpike_peer_denied_total") << ", expected "
        << denied;
    EXPECT_EQ(metric("turnpike_permissions_active"), 0.0);
    EXPECT_EQ(metric("turnpike_channels_active"), 0.0);
    EXPECT_EQ(
        metric("turnpike_requests_total", {"method=\"create_permission\"", "result=\"success\""}),
        0.0);
    EXPECT_EQ(metric("turnpike_requests_total", {"method=\"channel_bind\"", "result=\"success\""}),
              0.0);
  }
};

TEST_F(PeerPolicyProofTest, Ipv4FormsAndOwnEndpointsGet403) {
  TurnClient turn = client();
  const std::vector<Endpoint> relayed = allocateRelay(turn, Relay::kIpv4);
  ASSERT_EQ(relayed.size(), 1U);
  std::vector<Form> forms = ipv4Forms();
  for (Form& own : ownForms(relayed, Relay::kIpv4)) {
    forms.push_back(std::move(own));
  }
  const int refused = expectRefused(turn, forms, error::kForbidden);
  EXPECT_EQ(refused, static_cast<int>(2 * forms.size()));
  expectNothingInstalled(refused);
}

TEST_F(PeerPolicyProofTest, EveryFormGets403OnADualAllocation) {
  if (!ipv6Loopback()) {
    GTEST_SKIP() << "::1 cannot be bound (no IPv6 loopback): the IPv6 forms are not tested; "
                    "the IPv4 forms are (Ipv4FormsAndOwnEndpointsGet403)";
  }
  TurnClient turn = client();
  const std::vector<Endpoint> relayed = allocateRelay(turn, Relay::kDual);
  ASSERT_EQ(relayed.size(), 2U);
  ASSERT_EQ(relayed[1].address, ip("::1"));
  std::vector<Form> forms = ipv6Forms();
  for (std::vector<Form> more : {ipv4Forms(), ownForms(relayed, Relay::kDual)}) {
    for (Form& form : more) {
      forms.push_back(std::move(form));
    }
  }
  const int refused = expectRefused(turn, forms, error::kForbidden);
  EXPECT_EQ(refused, static_cast<int>(2 * forms.size()));
  expectNothingInstalled(refused);
}

// An IPv4-only allocation has no relay for IPv6 peers: RFC 8656 section 10.2's 443, which
// installs nothing either. Mapped loopback is refused whatever the relay family.
TEST_F(PeerPolicyProofTest, Ipv6FormsOnAnIpv4AllocationGet443) {
  TurnClient turn = client();
  ASSERT_EQ(allocateRelay(turn, Relay::kIpv4).size(), 1U);
  const std::vector<Form> forms = ipv6Forms();
  EXPECT_EQ(expectRefused(turn, forms, error::kPeerAddressFamilyMismatch),
            static_cast<int>(2 * forms.size()));
  expectNothingInstalled(0);
}

// ---- Send indications: loopback forms only, towards sockets this test owns ----

// A UDP socket bound on a loopback address, standing in for whatever the form really reaches.
struct Target {
  UniqueFd fd;
  Endpoint local;
};

Target bindTarget(std::string_view address) {
  Target target{boundSocket(SOCK_DGRAM, at(address, 0)), {}};
  if (target.fd.valid()) {
    target.local = localEndpointOf(target.fd.get());
  }
  return target;
}

// A datagram sent straight to `form` (not through turnpike) arrives at `target`: the form really
// reaches that socket, so a relayed datagram would have arrived too.
AssertionResult formReaches(const Endpoint& form, const Target& target) {
  const int family = form.address.isV4() ? AF_INET : AF_INET6;
  const UniqueFd sender(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0));
  if (!sender.valid()) {
    return AssertionFailure() << "socket: " << std::strerror(errno);
  }
  const Bytes probe = patternPayload(4, 77);
  if (!sendUdpTo(sender.get(), form, probe)) {
    return AssertionFailure() << "cannot send to " << form.toString();
  }
  const auto received = recvUdpFrom(target.fd.get());
  if (!received || received->data != probe) {
    return AssertionFailure() << form.toString() << " does not reach " << target.local.toString();
  }
  return AssertionSuccess();
}

TEST_F(PeerPolicyProofTest, SendIndicationsToLoopbackFormsRelayNothing) {
  const bool ipv6 = ipv6Loopback();
  const Relay relay = ipv6 ? Relay::kDual : Relay::kIpv4;
  TurnClient turn = client();
  ASSERT_FALSE(allocateRelay(turn, relay).empty());

  std::vector<Target> targets;
  targets.push_back(bindTarget("127.0.0.1"));
  targets.push_back(bindTarget("127.0.0.2"));
  targets.push_back(bindTarget("127.255.255.254"));
  if (ipv6) {
    targets.push_back(bindTarget("::1"));
  }
  for (const Target& target : targets) {
    ASSERT_TRUE(target.fd.valid()) << "cannot bind a target socket: " << std::strerror(errno);
  }
  const auto port = [&](std::size_t i) { return targets[i].local.port; };
  struct SendCase {
    Endpoint form;
    std::size_t target;
  };
  std::vector<SendCase> cases{
      {at("127.0.0.1", port(0)), 0},
      {at("0.0.0.0", port(0)), 0},
      {at("127.0.0.2", port(1)), 1},
      {at("127.255.255.254", port(2)), 2},
  };
  if (ipv6) {
    cases.push_back({at("::ffff:127.0.0.1", port(0)), 0});
    cases.push_back({at("::ffff:127.0.0.2", port(1)), 1});
    cases.push_back({at("::1", port(3)), 3});
    cases.push_back({at("::", port(3)), 3});
  } else {
    std::cout << "[ SKIPPED  ] IPv6 forms of the Send test: ::1 cannot be bound\n";
  }
  for (const SendCase& c : cases) {
    ASSERT_TRUE(formReaches(c.form, targets[c.target]));
  }

  constexpr int kSendsPerForm = 3;
  int denied = 0;
  for (const SendCase& c : cases) {
    SCOPED_TRACE(c.form.toString());
    // The permission is refused first, as a client would try...
    EXPECT_TRUE(failedWith(turn.createPermission(c.form), error::kForbidden, "CreatePermission"));
    ++denied;
    // ...and then the data goes anyway.
    for (int i = 0; i < kSendsPerForm; ++i) {
      ASSERT_TRUE(turn.sendIndication(c.form, patternPayload(32, static_cast<std::uint8_t>(i))));
    }
  }
  for (const Target& target : targets) {
    const auto arrived = recvUdpFrom(target.fd.get(), kNoReplyWindow);
    EXPECT_FALSE(arrived) << target.local.toString() << " got a datagram from "
                          << arrived->source.toString();
  }
  EXPECT_TRUE(turn.noData());
  const auto sends = static_cast<double>(kSendsPerForm * cases.size());
  EXPECT_TRUE(eventually([&] {
    return metric("turnpike_relay_dropped_total", {"reason=\"no_permission\""}) == sends;
  })) << "turnpike_relay_dropped_total{reason=\"no_permission\"} is "
      << metric("turnpike_relay_dropped_total", {"reason=\"no_permission\""}) << ", expected "
      << sends;
  EXPECT_EQ(
      metric("turnpike_relayed_packets_total", {"direction=\"to_peer\"", "transport=\"udp\""}),
      0.0);
  expectNothingInstalled(denied);
}

}  // namespace
}  // namespace turnpike::test

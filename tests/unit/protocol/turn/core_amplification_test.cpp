// Amplification (issue 6): no unauthenticated request gets an answer more than 3.5 times its own
// size. The core runs with the real nonce codec (31-character nonces) and the server's default
// realm and SOFTWARE; every request shape an attacker can send without credentials is tried
// from an IPv4 and an IPv6 source, and the worst ratio is printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "auth/nonce.hpp"
#include "tests/unit/protocol/turn/core_fixture.hpp"

namespace turnpike::protocol::core_test {
namespace {

constexpr double kMaxRatio = 3.5;

Auth withUser(std::string username, std::string password) {
  Auth auth;
  auth.username = std::move(username);
  auth.password = std::move(password);
  return auth;
}

// The server's real nonces (auth::NonceCodec), as server/turn_support.cpp wires them.
class RealNonces final : public NonceSource {
 public:
  [[nodiscard]] std::string mint(const IpAddress& client, std::int64_t now) const override {
    return codec_.mint(client, now);
  }
  [[nodiscard]] NonceCheck verify(std::string_view nonce, const IpAddress& client,
                                  std::int64_t now) const override {
    switch (codec_.verify(nonce, client, now)) {
      case auth::NonceVerdict::kValid:
        return NonceCheck::kValid;
      case auth::NonceVerdict::kStale:
        return NonceCheck::kStale;
      case auth::NonceVerdict::kInvalid:
        break;
    }
    return NonceCheck::kInvalid;
  }

 private:
  std::array<std::byte, 32> key_{};
  auth::NonceCodec codec_{key_, 600};
};

struct Shape {
  std::string name;
  Bytes request;
};

class CoreAmplificationTest : public CoreFixture {
 protected:
  // A core like the server's default one: realm "turnpike", SOFTWARE "turnpike"; with
  // nat_discovery, the fixture's listener is the primary socket of IPv4 or IPv6 RFC 5780 ones.
  void makeServerLikeCore(std::string realm, std::optional<AddressFamily> nat = std::nullopt) {
    CoreConfig config = dualConfig();
    config.realm = std::move(realm);
    config.software = "turnpike";
    if (nat) {
      const bool v4 = *nat == AddressFamily::kIpv4;
      const Endpoint primary = v4 ? server : ep("2001:db8::1", 3478);
      const IpAddress alternate = v4 ? ip("192.0.2.2") : ip("2001:db8::2");
      config.nat_discovery =
          NatDiscoveryConfig{{{{primary, Endpoint{primary.address, 3479}},
                               {Endpoint{alternate, 3478}, Endpoint{alternate, 3479}}}},
                             {{{kListener.id, 2}, {3, 4}}}};
    }
    core = std::make_unique<Core>(
        std::move(config), CoreDependencies{relays, random, clock, credentials, real_nonces, quota,
                                            reservations, &policy, &events, nullptr});
  }

  // Every request an attacker can send without credentials, smallest forms first.
  std::vector<Shape> shapes() {
    const Auth none = noAuth();
    const Attrs transport = [](MessageBuilder& b) { b.addRequestedTransport(17); };
    const Attrs transport_fingerprint = [](MessageBuilder& b) {
      b.addRequestedTransport(17);
      b.addFingerprint();
    };
    const Attrs fingerprint_only = [](MessageBuilder& b) { b.addFingerprint(); };
    const Attrs username_only = [](MessageBuilder& b) {
      b.addRequestedTransport(17);
      b.addText(attr::kUsername, "a");
    };
    std::vector<Shape> out{
        {"Allocate, REQUESTED-TRANSPORT", request(Method::kAllocate, transport, none)},
        {"Allocate, REQUESTED-TRANSPORT, FINGERPRINT",
         request(Method::kAllocate, transport_fingerprint, none)},
        {"Allocate, header only", request(Method::kAllocate, {}, none)},
        {"Allocate, USERNAME without MESSAGE-INTEGRITY",
         request(Method::kAllocate, username_only, none)},
        {"Refresh, header only", request(Method::kRefresh, {}, none)},
        {"CreatePermission, header only", request(Method::kCreatePermission, {}, none)},
        {"ChannelBind, header only", request(Method::kChannelBind, {}, none)},
        {"Binding, header only", request(Method::kBinding, {}, none)},
        {"unknown method 0x0fe", request(static_cast<Method>(0x0fe), {}, none)},
        {"Allocate with a wrong password",
         request(Method::kAllocate, transport, withUser("alice", "wrong"))},
        {"Allocate from an unknown user",
         request(Method::kAllocate, transport, withUser("mallory", "alice-password"))},
    };
    Bytes classic = request(Method::kBinding, {}, none);
    classic[4] = std::byte{0x01};  // RFC 3489: no magic cookie
    out.push_back({"RFC 3489 Binding", classic});
    // RFC 5780 (answered as such only with nat_discovery on).
    const Attrs change = [](MessageBuilder& b) { b.addChangeRequest({true, true}); };
    const Attrs change_fingerprint = [](MessageBuilder& b) {
      b.addChangeRequest({true, true});
      b.addFingerprint();
    };
    const Attrs response_port = [](MessageBuilder& b) { b.addResponsePort(50000); };
    const Attrs padding = [](MessageBuilder& b) { b.addPadding(0); };
    const Attrs padding_1500 = [](MessageBuilder& b) { b.addPadding(1500); };
    out.push_back({"Binding, FINGERPRINT", request(Method::kBinding, fingerprint_only, none)});
    out.push_back({"Binding, CHANGE-REQUEST", request(Method::kBinding, change, none)});
    out.push_back({"Binding, CHANGE-REQUEST, FINGERPRINT",
                   request(Method::kBinding, change_fingerprint, none)});
    out.push_back({"Binding, RESPONSE-PORT", request(Method::kBinding, response_port, none)});
    out.push_back({"Binding, empty PADDING", request(Method::kBinding, padding, none)});
    out.push_back({"Binding, 1500-byte PADDING", request(Method::kBinding, padding_1500, none)});
    return out;
  }

  // Sends each shape from `source` and returns the worst response/request ratio.
  double worstRatio(const ClientSource& source, std::string& report) {
    double worst = 0;
    for (const Shape& shape : shapes()) {
      send(source, shape.request);
      std::size_t answered = 0;
      for (const OutboxEntry& entry : outbox.entries()) {
        answered += entry.head().size() + entry.payload.size() + entry.padding;
      }
      const double ratio =
          static_cast<double>(answered) / static_cast<double>(shape.request.size());
      worst = std::max(worst, ratio);
      char line[160];
      std::snprintf(line, sizeof(line), "  %-48s %3zu -> %3zu bytes  %.2fx\n", shape.name.c_str(),
                    shape.request.size(), answered, ratio);
      report += line;
    }
    return worst;
  }

  // Prints the report and both worst ratios, and checks each against kMaxRatio.
  static void expectWithinLimit(const char* title, double v4, double v6,
                                const std::string& report) {
    std::printf("%s:\n%sworst ratio %.2fx (IPv4), %.2fx (IPv6)\n", title, report.c_str(), v4, v6);
    EXPECT_LE(v4, kMaxRatio) << report;
    EXPECT_LE(v6, kMaxRatio) << report;
  }

  RealNonces real_nonces;
};

TEST_F(CoreAmplificationTest, NoUnauthenticatedAnswerExceedsThreePointFiveTimesItsRequest) {
  makeServerLikeCore("turnpike");
  std::string report;
  const double v4 = worstRatio(udpClient(), report);
  ClientSource v6 = udpClient();
  v6.client = ep("2001:db8::7", 40000);
  const double v6_worst = worstRatio(v6, report);
  expectWithinLimit("unauthenticated answers (realm \"turnpike\", IPv4 then IPv6 source)", v4,
                    v6_worst, report);
}

// RFC 5780 answers carry two more addresses, and may leave from another socket or go to another
// port of the client's address: still within the limit, from IPv4 and IPv6 sockets.
TEST_F(CoreAmplificationTest, NatDiscoveryAnswersStayWithinTheLimit) {
  std::string report;
  makeServerLikeCore("turnpike", AddressFamily::kIpv4);
  const double v4 = worstRatio(udpClient(), report);
  makeServerLikeCore("turnpike", AddressFamily::kIpv6);
  ClientSource v6 = udpClient();
  v6.client = ep("2001:db8::7", 40000);
  v6.server = ep("2001:db8::1", 3478);
  const double v6_worst = worstRatio(v6, report);
  expectWithinLimit("unauthenticated answers with nat_discovery (IPv4 then IPv6 sockets)", v4,
                    v6_worst, report);
  EXPECT_GT(core->stats().nat_changed_address.get(), 0U) << "the RFC 5780 path was not taken";
}

TEST_F(CoreAmplificationTest, TheChallengeStaysWithinTheLimitForRealmsUpTo16Characters) {
  makeServerLikeCore("turn.example.com");
  std::string report;
  EXPECT_LE(worstRatio(udpClient(), report), kMaxRatio) << report;
}

TEST_F(CoreAmplificationTest, TheChallengeIsTheLargestAnswerAndCarriesNoSoftwareOrReason) {
  makeServerLikeCore("turnpike");
  const Bytes response = exchange(
      client,
      request(
          Method::kAllocate, [](MessageBuilder& b) { b.addRequestedTransport(17); }, noAuth()));
  EXPECT_EQ(errorCodeOf(response), error::kUnauthenticated);
  const auto message = Message::parse(response);
  ASSERT_TRUE(message);
  EXPECT_FALSE(message->has(attr::kSoftware));
  EXPECT_EQ(test::valueOf(*message, attr::kErrorCode).size(), 4U) << "a reason phrase was sent";
  EXPECT_EQ(test::valueOf(*message, attr::kNonce).size(), auth::NonceCodec::kNonceLength);
  // 20 header + 8 ERROR-CODE + 12 REALM + 36 NONCE + 12 PASSWORD-ALGORITHMS.
  EXPECT_EQ(response.size(), 88U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

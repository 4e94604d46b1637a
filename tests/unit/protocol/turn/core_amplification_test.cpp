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
  // A core like the server's default one: realm "turnpike", SOFTWARE "turnpike".
  void makeServerLikeCore(std::string realm) {
    CoreConfig config = dualConfig();
    config.realm = std::move(realm);
    config.software = "turnpike";
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

  RealNonces real_nonces;
};

TEST_F(CoreAmplificationTest, NoUnauthenticatedAnswerExceedsThreePointFiveTimesItsRequest) {
  makeServerLikeCore("turnpike");
  std::string report;
  const double v4 = worstRatio(udpClient(), report);
  ClientSource v6 = udpClient();
  v6.client = ep("2001:db8::7", 40000);
  const double v6_worst = worstRatio(v6, report);
  std::printf(
      "unauthenticated answers (realm \"turnpike\", IPv4 then IPv6 source):\n%s"
      "worst ratio %.2fx (IPv4), %.2fx (IPv6)\n",
      report.c_str(), v4, v6_worst);
  EXPECT_LE(v4, kMaxRatio) << report;
  EXPECT_LE(v6_worst, kMaxRatio) << report;
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

// RFC 5780 NAT behaviour discovery against the real server: primary 127.0.0.1:P, alternate
// 127.0.0.2:P+1 (nat_discovery with its default port), 2 workers. Answers must leave from the
// socket CHANGE-REQUEST names (seen as the datagram's source address), RESPONSE-PORT must reach
// another socket of the client's address, and TCP keeps answering CHANGE-REQUEST with 420.
#include <sys/socket.h>

#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

using protocol::Endpoint;
using protocol::MessageBuilder;
namespace attr = protocol::attr;

class NatDiscoveryTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.http = true;
    options.extra_yaml = "nat_discovery: {enabled: true, alternate_address: 127.0.0.2}\n";
    return options;
  }

  // [address][port]: 0 the primary, 1 the alternate.
  [[nodiscard]] Endpoint socketAt(std::size_t address, std::size_t port) const {
    return {protocol::IpAddress::parse(address == 0 ? "127.0.0.1" : "127.0.0.2").value(),
            static_cast<std::uint16_t>(server().port + port)};
  }

  static Bytes binding(const protocol::TransactionId& id, std::optional<bool> change_ip,
                       bool change_port = false, std::uint16_t response_port = 0) {
    return buildMessage(id, [&](MessageBuilder& b) {
      if (change_ip) {
        b.addChangeRequest({*change_ip, change_port});
      }
      if (response_port != 0) {
        b.addResponsePort(response_port);
      }
    });
  }
};

TEST_F(NatDiscoveryTest, AnswersLeaveFromTheSocketChangeRequestNames) {
  const UniqueFd client = boundSocket(SOCK_DGRAM, loopback(false));
  ASSERT_TRUE(client.valid());
  const Endpoint local = localEndpointOf(client.get());
  for (std::size_t address = 0; address < 2; ++address) {
    for (std::size_t port = 0; port < 2; ++port) {
      for (const bool change_ip : {false, true}) {
        for (const bool change_port : {false, true}) {
          const Endpoint to = socketAt(address, port);
          const Endpoint expected =
              socketAt(change_ip ? 1 - address : address, change_port ? 1 - port : port);
          SCOPED_TRACE(to.toString() + " ip " + std::to_string(change_ip) + " port " +
                       std::to_string(change_port));
          const auto id = randomTransactionId();
          ASSERT_TRUE(sendUdpTo(client.get(), to, binding(id, change_ip, change_port)));
          const auto received = recvUdpFrom(client.get());
          ASSERT_TRUE(received) << "no answer";
          EXPECT_EQ(received->source, expected);
          const auto message = parseReply(received->data);
          ASSERT_TRUE(message);
          EXPECT_EQ(message->transactionId(), id);
          const TurnResponse response{received->data};
          EXPECT_EQ(response.address(attr::kResponseOrigin), expected);
          EXPECT_EQ(response.address(attr::kOtherAddress), socketAt(1 - address, 1 - port));
          EXPECT_EQ(response.xorAddress(attr::kXorMappedAddress), local);
        }
      }
    }
  }
  const auto changed = scrapeMetric(httpServer(), "turnpike_nat_discovery_answers_total",
                                    {"kind=\"changed_address\""});
  EXPECT_EQ(changed, 8.0);
}

TEST_F(NatDiscoveryTest, ResponsePortReachesAnotherSocketOfTheClientsAddress) {
  const UniqueFd asking = boundSocket(SOCK_DGRAM, loopback(false));
  const UniqueFd receiving = boundSocket(SOCK_DGRAM, loopback(false));
  ASSERT_TRUE(asking.valid() && receiving.valid());
  const std::uint16_t port = localEndpointOf(receiving.get()).port;
  const auto id = randomTransactionId();
  ASSERT_TRUE(sendUdpTo(asking.get(), socketAt(0, 0), binding(id, true, false, port)));
  const auto received = recvUdpFrom(receiving.get());
  ASSERT_TRUE(received) << "nothing at the RESPONSE-PORT";
  EXPECT_EQ(received->source, socketAt(1, 0));
  const auto message = parseReply(received->data);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_TRUE(noUdpReply(asking.get())) << "the asking socket got an answer too";
  EXPECT_EQ(scrapeMetric(httpServer(), "turnpike_nat_discovery_answers_total",
                         {"kind=\"response_port\""}),
            1.0);
}

TEST_F(NatDiscoveryTest, TcpHasNoAlternateSoChangeRequestGets420) {
  const UniqueFd client = tcpClient();
  ASSERT_TRUE(client.valid());
  const auto id = randomTransactionId();
  ASSERT_TRUE(sendAll(client.get(), binding(id, true, true)));
  const auto reply = recvStun(client.get());
  ASSERT_TRUE(reply);
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  const auto code = attributeValue(*message, attr::kErrorCode);
  ASSERT_TRUE(code);
  EXPECT_EQ(protocol::decodeErrorCode(*code)->code, protocol::error::kUnknownAttribute);
  EXPECT_FALSE(attributeValue(*message, attr::kOtherAddress));
}

}  // namespace
}  // namespace turnpike::test

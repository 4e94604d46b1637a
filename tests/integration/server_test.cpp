// The real turnpike server on the loopback: STUN Binding over UDP and TCP, error responses,
// dropped input, stream framing, IPv6, many connections, and clean shutdown on SIGTERM/SIGINT.
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/integrity.hpp"
#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {
namespace {

using protocol::ConstBytes;
using protocol::Endpoint;
using protocol::Message;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::messageType;
using protocol::Method;
using protocol::TransactionId;
namespace attr = protocol::attr;

constexpr std::uint16_t kBindingSuccess =
    messageType(Method::kBinding, MessageClass::kSuccessResponse);
constexpr std::uint16_t kBindingError = messageType(Method::kBinding, MessageClass::kErrorResponse);
constexpr std::uint16_t kUnknownRequired = 0x0031;  // comprehension-required, unassigned
constexpr std::uint16_t kUnknownOptional = 0x8031;  // comprehension-optional, unassigned

// Sends a request on a connected UDP socket and returns the reply, if any.
std::optional<Bytes> udpExchange(const UniqueFd& client, const Bytes& request) {
  if (!sendUdp(client.get(), request)) {
    return std::nullopt;
  }
  return recvUdp(client.get());
}

std::optional<Endpoint> xorMappedAddress(const Message& message) {
  const auto value = attributeValue(message, attr::kXorMappedAddress);
  if (!value) {
    ADD_FAILURE() << "no XOR-MAPPED-ADDRESS";
    return std::nullopt;
  }
  auto endpoint = protocol::decodeXorAddress(*value, message.transactionId());
  if (!endpoint) {
    ADD_FAILURE() << "XOR-MAPPED-ADDRESS does not decode";
    return std::nullopt;
  }
  return *endpoint;
}

std::optional<std::uint16_t> errorCode(const Message& message) {
  const auto value = attributeValue(message, attr::kErrorCode);
  if (!value) {
    ADD_FAILURE() << "no ERROR-CODE";
    return std::nullopt;
  }
  auto decoded = protocol::decodeErrorCode(*value);
  if (!decoded) {
    ADD_FAILURE() << "ERROR-CODE does not decode";
    return std::nullopt;
  }
  return decoded->code;
}

std::vector<std::uint16_t> unknownAttributes(const Message& message) {
  const auto value = attributeValue(message, attr::kUnknownAttributes);
  if (!value) {
    ADD_FAILURE() << "no UNKNOWN-ATTRIBUTES";
    return {};
  }
  std::array<std::uint16_t, 32> types{};
  const auto count = protocol::decodeUnknownAttributes(*value, types);
  if (!count) {
    ADD_FAILURE() << "UNKNOWN-ATTRIBUTES does not decode";
    return {};
  }
  return {types.begin(), types.begin() + static_cast<std::ptrdiff_t>(*count)};
}

// Checks a Binding success response for `id` that maps to `expected`.
void expectBindingSuccess(const Bytes& reply, const TransactionId& id, const Endpoint& expected,
                          std::string_view software = "turnpike") {
  const auto message = parseReply(reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingSuccess);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(xorMappedAddress(*message), expected);
  const auto text = attributeValue(*message, attr::kSoftware);
  ASSERT_TRUE(text) << "no SOFTWARE";
  EXPECT_EQ(protocol::decodeText(*text), software);
  EXPECT_FALSE(message->has(attr::kFingerprint)) << "FINGERPRINT without one in the request";
}

// ---- UDP ----

using UdpBindingTest = ServerFixture;

TEST_F(UdpBindingTest, XorMappedAddressIsTheClientSourceAddress) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply = udpExchange(client, buildMessage(id));
  ASSERT_TRUE(reply) << "no reply";
  expectBindingSuccess(*reply, id, localEndpointOf(client.get()));
}

TEST_F(UdpBindingTest, ResponseCarriesAValidFingerprintWhenTheRequestHadOne) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply =
      udpExchange(client, buildMessage(id, [](MessageBuilder& b) { b.addFingerprint(); }));
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingSuccess);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(xorMappedAddress(*message), localEndpointOf(client.get()));
  ASSERT_FALSE(message->attributes().empty());
  EXPECT_EQ(message->attributes().back().type, attr::kFingerprint);
  EXPECT_EQ(protocol::verifyFingerprint(*message), protocol::IntegrityResult::kOk);
}

TEST_F(UdpBindingTest, UnknownComprehensionRequiredAttributeGets420) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const std::array<std::byte, 4> value{};
  const auto reply = udpExchange(client, buildMessage(id, [&](MessageBuilder& b) {
                                   b.addBytes(kUnknownOptional, value);  // ignored
                                   b.addBytes(kUnknownRequired, value);
                                 }));
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingError);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(errorCode(*message), protocol::error::kUnknownAttribute);
  EXPECT_EQ(unknownAttributes(*message), std::vector<std::uint16_t>{kUnknownRequired});
  EXPECT_FALSE(message->has(attr::kXorMappedAddress));
}

TEST_F(UdpBindingTest, ChangeRequestGets420) {
  // RFC 5780 section 7.2: without an alternate address the server does not understand it.
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply = udpExchange(client, buildMessage(id, [](MessageBuilder& b) {
                                   b.addChangeRequest({.change_ip = true, .change_port = true});
                                 }));
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingError);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(errorCode(*message), protocol::error::kUnknownAttribute);
  EXPECT_EQ(unknownAttributes(*message), std::vector<std::uint16_t>{attr::kChangeRequest});
}

TEST_F(UdpBindingTest, Rfc3489ClientGetsMappedAddressAndItsTransactionIdEchoed) {
  const UniqueFd client = udpClient();
  // RFC 3489: a 128-bit transaction ID with no magic cookie.
  std::array<std::byte, 16> classic_id{};
  const TransactionId random = randomTransactionId();
  std::ranges::copy(random, classic_id.begin());
  std::ranges::copy(random.begin(), random.begin() + 4, classic_id.begin() + 12);
  classic_id[0] = std::byte{0x7e};  // not the cookie's 0x21
  Bytes request(protocol::kHeaderSize);
  MessageBuilder builder(request, messageType(Method::kBinding, MessageClass::kRequest),
                         ConstBytes(classic_id));
  ASSERT_TRUE(builder.finish());

  const auto reply = udpExchange(client, request);
  ASSERT_TRUE(reply) << "no reply";
  const auto message = Message::parseClassic(*reply);
  ASSERT_TRUE(message) << protocol::toString(message.error());
  EXPECT_EQ(message->type(), kBindingSuccess);
  EXPECT_TRUE(std::ranges::equal(message->cookieAndTransactionId(), classic_id))
      << "bytes 4..19 are not echoed";
  const auto mapped = attributeValue(*message, attr::kMappedAddress);
  ASSERT_TRUE(mapped) << "no MAPPED-ADDRESS";
  EXPECT_EQ(protocol::decodeAddress(*mapped), localEndpointOf(client.get()));
  EXPECT_FALSE(message->has(attr::kXorMappedAddress));
}

// An unauthenticated Allocate gets the long-term credential challenge (RFC 8489 section 9.2.4),
// small and without SOFTWARE; a method the server does not serve gets 400.
TEST_F(UdpBindingTest, UnauthenticatedAllocateGets401Challenge) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply = udpExchange(
      client, buildMessage(
                  id, [](MessageBuilder& b) { b.addRequestedTransport(protocol::kProtocolUdp); },
                  messageType(Method::kAllocate, MessageClass::kRequest)));
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), messageType(Method::kAllocate, MessageClass::kErrorResponse));
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(errorCode(*message), protocol::error::kUnauthenticated);
  EXPECT_TRUE(message->has(attr::kRealm));
  EXPECT_TRUE(message->has(attr::kNonce));
  EXPECT_FALSE(message->has(attr::kSoftware));
}

TEST_F(UdpBindingTest, UnservedMethodGets400) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply = udpExchange(
      client,
      buildMessage(
          id, [](MessageBuilder&) {}, messageType(Method::kConnect, MessageClass::kRequest)));
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(errorCode(*message), protocol::error::kBadRequest);
}

struct DropCase {
  std::string name;
  Bytes datagram;
};

std::vector<DropCase> dropCases() {
  std::mt19937 random(20240501);  // fixed seed: the same bytes every run
  const auto random_bytes = [&](std::size_t n) {
    Bytes out(n);
    for (std::byte& b : out) {
      b = static_cast<std::byte>(random() & 0xFFU);
    }
    return out;
  };
  const Bytes valid = buildMessage(randomTransactionId());
  Bytes bad_length = valid;
  protocol::store16(bad_length, 2, 8);  // claims 8 bytes, has none
  Bytes unaligned = buildMessage(randomTransactionId(),
                                 [](MessageBuilder& b) { b.addText(attr::kSoftware, "abcd"); });
  protocol::store16(unaligned, 2, 6);  // not a multiple of 4
  unaligned.resize(protocol::kHeaderSize + 6);
  Bytes bad_fingerprint =
      buildMessage(randomTransactionId(), [](MessageBuilder& b) { b.addFingerprint(); });
  bad_fingerprint.back() ^= std::byte{0x01};
  Bytes huge = valid;  // a STUN header claiming 0 bytes, followed by ~65 kB
  huge.resize(65000, std::byte{0x00});
  Bytes channel_data{std::byte{0x40}, std::byte{0x00}, std::byte{0x00}, std::byte{0x04},
                     std::byte{1},    std::byte{2},    std::byte{3},    std::byte{4}};
  Bytes classic_allocate = valid;  // no cookie and not a Binding: not an RFC 3489 request
  protocol::store16(classic_allocate, 0, messageType(Method::kAllocate, MessageClass::kRequest));
  protocol::store32(classic_allocate, 4, 0x12345678);

  Bytes random_100 = random_bytes(100);
  random_100[0] = std::byte{0xA5};  // not STUN: the first two bits are 10
  Bytes random_stunish = random_bytes(100);
  random_stunish[0] &= std::byte{0x3F};  // looks like STUN, but the length cannot match
  protocol::store16(random_stunish, 2, 0xFFFC);

  return {
      {"random bytes", random_100},
      {"random bytes with STUN's first bits", random_stunish},
      {"1 byte", Bytes{std::byte{0x00}}},
      {"truncated header", Bytes(valid.begin(), valid.begin() + 12)},
      {"length larger than the datagram", bad_length},
      {"length not a multiple of 4", unaligned},
      {"65000 bytes", huge},
      {"65000 random bytes", random_bytes(65000)},
      {"bad FINGERPRINT", bad_fingerprint},
      {"Binding indication",
       buildMessage(randomTransactionId(), {},
                    messageType(Method::kBinding, MessageClass::kIndication))},
      {"Binding success response", buildMessage(randomTransactionId(), {}, kBindingSuccess)},
      {"Binding error response",
       buildMessage(
           randomTransactionId(),
           [](MessageBuilder& b) { b.addErrorCode(protocol::error::kBadRequest); }, kBindingError)},
      {"ChannelData with no allocation", channel_data},
      {"cookie-less non-Binding request", classic_allocate},
  };
}

TEST_F(UdpBindingTest, MalformedAndNonRequestDatagramsAreDropped) {
  const UniqueFd client = udpClient();
  for (const DropCase& drop : dropCases()) {
    SCOPED_TRACE(drop.name);
    ASSERT_TRUE(sendUdp(client.get(), drop.datagram));
    EXPECT_TRUE(noUdpReply(client.get())) << "got a reply to " << drop.name;
  }
  EXPECT_TRUE(serverRunning());
  EXPECT_TRUE(udpBindingWorks()) << "no answer to a valid Binding after the bad input";
}

class NoSoftwareTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.software = "";
    return options;
  }
};

TEST_F(NoSoftwareTest, EmptySoftwareOmitsTheAttribute) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply = udpExchange(client, buildMessage(id));
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingSuccess);
  EXPECT_EQ(xorMappedAddress(*message), localEndpointOf(client.get()));
  EXPECT_FALSE(message->has(attr::kSoftware));
}

// ---- TCP ----

using TcpBindingTest = ServerFixture;

TEST_F(TcpBindingTest, OneRequest) {
  const UniqueFd tcp = tcpClient();
  ASSERT_TRUE(tcp.valid());
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(sendAll(tcp.get(), buildMessage(id)));
  const auto reply = recvStun(tcp.get());
  ASSERT_TRUE(reply) << "no reply";
  expectBindingSuccess(*reply, id, localEndpointOf(tcp.get()));
}

TEST_F(TcpBindingTest, ThreeRequestsInOneWriteGetThreeResponsesInOrder) {
  const UniqueFd tcp = tcpClient();
  ASSERT_TRUE(tcp.valid());
  const std::array<TransactionId, 3> ids{randomTransactionId(), randomTransactionId(),
                                         randomTransactionId()};
  const std::array<std::byte, 4> value{};
  const Bytes stream = concat({
      buildMessage(ids[0]),
      buildMessage(ids[1], [&](MessageBuilder& b) { b.addBytes(kUnknownRequired, value); }),
      buildMessage(ids[2], [](MessageBuilder& b) { b.addFingerprint(); }),
  });
  ASSERT_TRUE(sendAll(tcp.get(), stream));

  const auto first = recvStun(tcp.get());
  ASSERT_TRUE(first) << "no first reply";
  expectBindingSuccess(*first, ids[0], localEndpointOf(tcp.get()));

  const auto second = recvStun(tcp.get());
  ASSERT_TRUE(second) << "no second reply";
  const auto error = parseReply(*second);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->type(), kBindingError);
  EXPECT_EQ(error->transactionId(), ids[1]);
  EXPECT_EQ(errorCode(*error), protocol::error::kUnknownAttribute);

  const auto third = recvStun(tcp.get());
  ASSERT_TRUE(third) << "no third reply";
  const auto fingerprinted = parseReply(*third);
  ASSERT_TRUE(fingerprinted);
  EXPECT_EQ(fingerprinted->type(), kBindingSuccess);
  EXPECT_EQ(fingerprinted->transactionId(), ids[2]);
  EXPECT_EQ(protocol::verifyFingerprint(*fingerprinted), protocol::IntegrityResult::kOk);

  EXPECT_TRUE(tcpStaysQuiet(tcp.get())) << "more than three replies";
}

TEST_F(TcpBindingTest, RequestWrittenByteByByteGetsOneResponse) {
  const UniqueFd tcp = tcpClient();
  ASSERT_TRUE(tcp.valid());
  const TransactionId id = randomTransactionId();
  const Bytes request = buildMessage(id, [](MessageBuilder& b) {
    b.addText(attr::kSoftware, "byte-by-byte client");
    b.addFingerprint();
  });
  for (std::size_t i = 0; i + 1 < request.size(); ++i) {
    ASSERT_TRUE(sendAll(tcp.get(), ConstBytes(request).subspan(i, 1)));
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(tcpStaysQuiet(tcp.get(), 50ms)) << "a reply before the request was complete";
  ASSERT_TRUE(sendAll(tcp.get(), ConstBytes(request).last(1)));
  const auto reply = recvStun(tcp.get());
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingSuccess);
  EXPECT_EQ(message->transactionId(), id);
  EXPECT_EQ(xorMappedAddress(*message), localEndpointOf(tcp.get()));
  EXPECT_EQ(protocol::verifyFingerprint(*message), protocol::IntegrityResult::kOk);
  EXPECT_TRUE(tcpStaysQuiet(tcp.get())) << "more than one reply";
}

TEST_F(TcpBindingTest, GarbageClosesOnlyThatConnection) {
  const UniqueFd bystander = tcpClient();
  ASSERT_TRUE(bystander.valid());
  const auto bystander_works = [&] {
    const TransactionId id = randomTransactionId();
    if (!sendAll(bystander.get(), buildMessage(id))) {
      return false;
    }
    const auto reply = recvStun(bystander.get());
    if (!reply) {
      return false;
    }
    const auto message = parseReply(*reply);
    return message && message->transactionId() == id;
  };
  ASSERT_TRUE(bystander_works());

  Bytes unaligned = buildMessage(randomTransactionId());
  protocol::store16(unaligned, 2, 0x0003);  // STUN length not a multiple of 4
  const std::vector<DropCase> garbage{
      {"first bits 10", Bytes(32, std::byte{0x80})},
      {"first bits 11", Bytes(32, std::byte{0xFF})},
      {"STUN length not a multiple of 4", unaligned},
  };
  for (const DropCase& bad : garbage) {
    SCOPED_TRACE(bad.name);
    const UniqueFd victim = tcpClient();
    ASSERT_TRUE(victim.valid());
    ASSERT_TRUE(sendAll(victim.get(), bad.datagram));
    EXPECT_TRUE(waitForPeerClose(victim.get(), 2000ms)) << "the server kept the connection open";
    EXPECT_TRUE(bystander_works()) << "the other connection was affected";
  }
  EXPECT_TRUE(tcpBindingWorks());
  EXPECT_TRUE(udpBindingWorks());
}

TEST_F(TcpBindingTest, OversizedFrameHeaderThenSilenceHarmsNoOne) {
  // ChannelData 0x4000 claiming 65535 bytes, and a STUN header claiming the largest aligned
  // body (65532): both are within the framer's limit, so the server waits for the rest.
  const Bytes channel_data{std::byte{0x40}, std::byte{0x00}, std::byte{0xFF}, std::byte{0xFF}};
  Bytes stun_header = buildMessage(randomTransactionId());
  protocol::store16(stun_header, 2, 0xFFFC);
  Bytes stun_unaligned = buildMessage(randomTransactionId());
  protocol::store16(stun_unaligned, 2, 0xFFFF);  // 65535: not a multiple of 4, closed

  const UniqueFd waiting_channel = tcpClient();
  const UniqueFd waiting_stun = tcpClient();
  const UniqueFd unaligned = tcpClient();
  ASSERT_TRUE(waiting_channel.valid() && waiting_stun.valid() && unaligned.valid());
  ASSERT_TRUE(sendAll(waiting_channel.get(), channel_data));
  ASSERT_TRUE(sendAll(waiting_stun.get(), stun_header));
  ASSERT_TRUE(sendAll(unaligned.get(), stun_unaligned));

  EXPECT_TRUE(waitForPeerClose(unaligned.get(), 2000ms));
  EXPECT_TRUE(tcpStaysQuiet(waiting_channel.get()));
  EXPECT_TRUE(tcpStaysQuiet(waiting_stun.get()));
  EXPECT_TRUE(serverRunning());
  EXPECT_TRUE(tcpBindingWorks());
  EXPECT_TRUE(udpBindingWorks());
  // TearDown stops the server with both partial frames still buffered.
}

TEST_F(TcpBindingTest, TwoHundredConcurrentConnections) {
  constexpr std::size_t kWanted = 200;
  constexpr rlim_t kSpareFds = 64;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < kWanted + kSpareFds && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, kWanted + kSpareFds);
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  const std::size_t count =
      std::min<std::size_t>(kWanted, limit.rlim_cur > kSpareFds ? limit.rlim_cur - kSpareFds : 0);
  ASSERT_GE(count, 50U) << "file descriptor limit too low: " << limit.rlim_cur;

  std::vector<UniqueFd> connections;
  std::vector<TransactionId> ids;
  for (std::size_t i = 0; i < count; ++i) {
    connections.push_back(tcpClient());
    ASSERT_TRUE(connections.back().valid()) << "connection " << i;
  }
  for (const UniqueFd& connection : connections) {
    ids.push_back(randomTransactionId());
    ASSERT_TRUE(sendAll(connection.get(), buildMessage(ids.back())));
  }
  for (std::size_t i = 0; i < count; ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    const auto reply = recvStun(connections[i].get());
    ASSERT_TRUE(reply) << "no reply";
    const auto message = parseReply(*reply);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->type(), kBindingSuccess);
    EXPECT_EQ(message->transactionId(), ids[i]);
    EXPECT_EQ(xorMappedAddress(*message), localEndpointOf(connections[i].get()));
  }
}

// ---- IPv6 ----

class Ipv6Test : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options;
    options.ipv6 = true;
    return options;
  }
};

TEST_F(Ipv6Test, UdpBindingMapsToAnIpv6Address) {
  const UniqueFd client = udpClient();
  const TransactionId id = randomTransactionId();
  const auto reply = udpExchange(client, buildMessage(id));
  ASSERT_TRUE(reply) << "no reply";
  const Endpoint local = localEndpointOf(client.get());
  ASSERT_TRUE(local.address.isV6());
  expectBindingSuccess(*reply, id, local);
}

TEST_F(Ipv6Test, TcpBindingMapsToAnIpv6Address) {
  const UniqueFd tcp = tcpClient();
  ASSERT_TRUE(tcp.valid());
  const TransactionId id = randomTransactionId();
  ASSERT_TRUE(sendAll(tcp.get(), buildMessage(id, [](MessageBuilder& b) { b.addFingerprint(); })));
  const auto reply = recvStun(tcp.get());
  ASSERT_TRUE(reply) << "no reply";
  const auto message = parseReply(*reply);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type(), kBindingSuccess);
  const auto mapped = xorMappedAddress(*message);
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->address.isV6());
  EXPECT_EQ(*mapped, localEndpointOf(tcp.get()));
  EXPECT_EQ(protocol::verifyFingerprint(*message), protocol::IntegrityResult::kOk);
}

// ---- Shutdown ----

using ShutdownTest = ServerFixture;

TEST_F(ShutdownTest, SigintStopsCleanly) {
  ASSERT_TRUE(udpBindingWorks());
  stopServer(SIGINT);
}

TEST_F(ShutdownTest, SigtermWithOpenConnectionsStopsCleanlyAndClosesThem) {
  std::vector<UniqueFd> connections;
  for (int i = 0; i < 5; ++i) {
    connections.push_back(tcpClient());
    ASSERT_TRUE(connections.back().valid());
  }
  const Bytes request = buildMessage(randomTransactionId());
  ASSERT_TRUE(sendAll(connections[0].get(), ConstBytes(request).first(10)));  // mid-frame
  ASSERT_TRUE(sendAll(connections[1].get(), request));
  ASSERT_TRUE(recvStun(connections[1].get()));

  stopServer(SIGTERM);
  for (const UniqueFd& connection : connections) {
    EXPECT_TRUE(waitForPeerClose(connection.get(), 2000ms));
  }
}

}  // namespace
}  // namespace turnpike::test

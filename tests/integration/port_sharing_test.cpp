// One TCP port for TURN and TURNS (listener transport auto): TURN over TCP and over TLS on the
// same port, each with an Allocate and data relayed both ways, counted as tcp or tls once known;
// bytes that are neither closed and counted; ALPN (RFC 7443) accepted and refused. PROXY
// protocol v2 on tcp and auto listeners: the header's client is the one XOR-MAPPED-ADDRESS,
// the per-address connection limit and the accounting line see; garbage instead of a header is
// closed and counted.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "protocol/proxy/proxy_header.hpp"
#include "tests/integration/tls_client_support.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

Bytes bytesOf(std::initializer_list<int> values) {
  Bytes out;
  for (const int value : values) {
    out.push_back(static_cast<std::byte>(value));
  }
  return out;
}

// Allocate, a permission and a channel for `peer`, and ChannelData both ways.
void allocateAndRelay(TurnClient& turn, const UdpPeer& peer, const Endpoint& mapped) {
  const auto response = turn.allocate();
  ASSERT_TRUE(succeeded(response, "Allocate"));
  EXPECT_TRUE(signedWith(*response, turn));
  EXPECT_EQ(response->xorAddress(attr::kXorMappedAddress), mapped);
  ASSERT_TRUE(turn.relayed());
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  channelRoundTrip(turn, peer, kChannel, patternPayload(100, 1), patternPayload(77, 2));
}

// An auto listener on tlsServer() (no plain tcp listener), with the HTTP endpoint.
class PortSharingTest : public TurnTest {
 protected:
  void SetUp() override {
    // SSL_write on a connection the server closed must fail the test, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    TurnTest::SetUp();
  }

  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.tcp = false;
    options.tls = true;
    options.tls_transport = "auto";
    options.http = true;
    return options;
  }

  [[nodiscard]] std::optional<double> active(const std::string& transport) const {
    return scrapeMetric(httpServer(), "turnpike_tcp_connections_active",
                        {"transport=\"" + transport + "\""});
  }
  [[nodiscard]] double closed(const std::string& reason) const {
    return scrapeMetric(httpServer(), "turnpike_tcp_connections_closed_total",
                        {"reason=\"" + reason + "\""})
        .value_or(-1);
  }
};

TEST_F(PortSharingTest, TurnOverTcpAndOverTlsOnOnePort) {
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());

  TurnClient tcp(tlsServer(), TurnTransport::kTcp, kAlice);
  ASSERT_TRUE(tcp.connected());
  allocateAndRelay(tcp, peer, localEndpointOf(tcp.fd()));

  const ClientContext context = clientContext(tlsCertificate());
  TlsClient stream(tlsServer(), context.get());
  ASSERT_TRUE(stream.handshake()) << "TLS on the auto port, reason " << stream.reason();
  TurnClient tls(tlsServer(), stream.io(), kAlice);
  allocateAndRelay(tls, peer, localEndpointOf(stream.fd()));

  // Each is counted under the transport it turned out to speak.
  EXPECT_TRUE(eventually([&] { return active("tcp") == 1.0 && active("tls") == 1.0; }))
      << "tcp " << active("tcp").value_or(-1) << ", tls " << active("tls").value_or(-1);
  EXPECT_NE(serverLog().find("auto (tcp+tls) 127.0.0.1:" + std::to_string(tlsServer().port)),
            std::string::npos)
      << serverLog();
}

// RFC 7443: a client that offers ALPN gets stun.turn or stun.nat-discovery, or the handshake
// fails with no_application_protocol; a client that offers none is served as before.
TEST_F(PortSharingTest, AlpnAcceptedAndRefused) {
  const ClientContext context = clientContext(tlsCertificate());
  for (const std::string alpn : {"stun.turn", "stun.nat-discovery"}) {
    TlsClient stream(tlsServer(), context.get(), alpn);
    ASSERT_TRUE(stream.handshake()) << alpn << ": reason " << stream.reason();
    EXPECT_EQ(stream.alpn(), alpn);
    TurnClient turn(tlsServer(), stream.io(), kAlice);
    EXPECT_TRUE(failedWith(turn.challenge(), error::kUnauthenticated, "Allocate over " + alpn));
  }
  const double failures_before =
      scrapeMetric(httpServer(), "turnpike_tls_handshake_failures_total").value_or(-1);
  TlsClient refused(tlsServer(), context.get(), "h2");
  EXPECT_FALSE(refused.handshake());
  EXPECT_EQ(refused.reason(), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
      << ERR_reason_error_string(static_cast<unsigned long>(refused.reason()));
  EXPECT_TRUE(eventually([&] {
    return scrapeMetric(httpServer(), "turnpike_tls_handshake_failures_total") ==
           failures_before + 1;
  }));
  TlsClient none(tlsServer(), context.get());
  ASSERT_TRUE(none.handshake());
  EXPECT_EQ(none.alpn(), "");
}

TEST_F(PortSharingTest, BytesThatAreNeitherAreClosedAndCounted) {
  const double before = closed("framing_error");
  const UniqueFd fd = tcpConnect(tlsServer());
  ASSERT_TRUE(fd.valid());
  // Top bits 0b11: neither TLS, STUN nor ChannelData.
  ASSERT_TRUE(sendAll(fd.get(), bytesOf({0xC3, 0x28, 0xA0, 0xA1})));
  EXPECT_TRUE(waitForPeerClose(fd.get()));
  EXPECT_TRUE(eventually([&] { return closed("framing_error") == before + 1; }))
      << closed("framing_error");
  // A connection that is still deciding is not counted as either.
  const UniqueFd silent = tcpConnect(tlsServer());
  ASSERT_TRUE(silent.valid());
  ASSERT_TRUE(sendAll(silent.get(), bytesOf({0x00, 0x01})));
  EXPECT_TRUE(tcpStaysQuiet(silent.get()));
  EXPECT_EQ(active("tcp"), 0.0);
  EXPECT_EQ(active("tls"), 0.0);
}

// ---- PROXY protocol (v2; v1 below) ----

Bytes proxyHeader(const std::optional<Endpoint>& client, const Endpoint& server) {
  std::array<std::byte, 64> buffer{};
  const auto n =
      protocol::writeProxyHeader(buffer, client, client ? std::optional(server) : std::nullopt);
  EXPECT_TRUE(n.has_value());
  return Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n.value_or(0)));
}

// A TCP connection that sends a PROXY header for `client` (LOCAL when nullopt), then talks TURN.
struct ProxiedTcp {
  ProxiedTcp(const Endpoint& server, const std::optional<Endpoint>& client)
      : fd(tcpConnect(server)) {
    sent = fd.valid() && sendAll(fd.get(), proxyHeader(client, server));
  }
  [[nodiscard]] TurnClient turn(const Endpoint& server) const {
    const int socket = fd.get();
    return TurnClient(server,
                      StreamIo{[socket](ConstBytes data) { return sendAll(socket, data); },
                               [socket](std::size_t n, Millis timeout) {
                                 return recvExactly(socket, n, timeout);
                               }},
                      kAlice);
  }
  UniqueFd fd;
  bool sent = false;
};

// tcp on server() and auto on tlsServer(), both with proxy_protocol; one connection per
// address.
class ProxyProtocolTest : public PortSharingTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = PortSharingTest::options();
    options.tcp = true;
    options.proxy_protocol = true;
    options.limits["connections_per_ip"] = 1;
    return options;
  }
};

const Endpoint kClient = {*protocol::IpAddress::parse("203.0.113.7"), 40000};
const Endpoint kOtherClient = {*protocol::IpAddress::parse("198.51.100.9"), 50000};

TEST_F(ProxyProtocolTest, TheHeadersClientIsTheMappedAddressAndAllocates) {
  const UdpPeer peer;
  ASSERT_TRUE(peer.valid());
  {
    const ProxiedTcp tcp(server(), kClient);
    ASSERT_TRUE(tcp.sent);
    TurnClient turn = tcp.turn(server());
    // Allocate works (the nonce is bound to the proxied address) and relays.
    allocateAndRelay(turn, peer, kClient);
    ASSERT_TRUE(succeeded(turn.refresh(0), "Refresh 0"));
  }
  // The accounting line names the proxied client.
  EXPECT_TRUE(eventually([&] {
    return serverLog().find("allocation ended user=alice client=tcp 203.0.113.7:40000") !=
           std::string::npos;
  })) << serverLog();

  // Over TLS on the auto port: header, then the ClientHello.
  const ClientContext context = clientContext(tlsCertificate());
  TlsClient stream(tlsServer(), context.get(), "stun.turn", proxyHeader(kOtherClient, tlsServer()));
  ASSERT_TRUE(stream.handshake()) << "reason " << stream.reason();
  TurnClient tls(tlsServer(), stream.io(), kAlice);
  const auto binding = tls.exchange(buildMessage(randomTransactionId()));
  ASSERT_TRUE(succeeded(binding, "Binding over TLS"));
  EXPECT_EQ(binding->xorAddress(attr::kXorMappedAddress), kOtherClient);

  // LOCAL (a load balancer's health check) keeps the socket's address; plain TCP after a
  // header on the auto port too.
  const ProxiedTcp local(tlsServer(), std::nullopt);
  ASSERT_TRUE(local.sent);
  TurnClient probe = local.turn(tlsServer());
  const auto answer = probe.exchange(buildMessage(randomTransactionId()));
  ASSERT_TRUE(succeeded(answer, "Binding after LOCAL"));
  EXPECT_EQ(answer->xorAddress(attr::kXorMappedAddress), localEndpointOf(local.fd.get()));
}

// The header and the first STUN message in one write: what follows the header in the same
// read is the stream's start, for a tcp listener (framed at once) and an auto one (detected).
TEST_F(ProxyProtocolTest, AHeaderAndTheFirstMessageInOneWrite) {
  for (const auto& [port, client] : {std::pair{server(), kClient}, {tlsServer(), kOtherClient}}) {
    const UniqueFd fd = tcpConnect(port);
    ASSERT_TRUE(fd.valid());
    Bytes bytes = proxyHeader(client, port);
    const Bytes request = buildMessage(randomTransactionId());
    bytes.insert(bytes.end(), request.begin(), request.end());
    ASSERT_TRUE(sendAll(fd.get(), bytes));
    const auto reply = recvStun(fd.get());
    ASSERT_TRUE(reply.has_value()) << port.toString();
    EXPECT_EQ(TurnResponse{*reply}.xorAddress(attr::kXorMappedAddress), client) << port.toString();
  }
}

// Version 1 (the text line nginx's stream module and older balancers send), on the tcp
// listener and the auto one, in one write with the first message and line by line.
TEST_F(ProxyProtocolTest, AVersionOneLineNamesTheClientToo) {
  for (const auto& [port, client] : {std::pair{server(), kClient}, {tlsServer(), kOtherClient}}) {
    const UniqueFd fd = tcpConnect(port);
    ASSERT_TRUE(fd.valid());
    const std::string line = protocol::writeProxyHeaderV1(client, port);
    const auto text = std::as_bytes(std::span(line));
    Bytes bytes(text.begin(), text.end());
    const Bytes request = buildMessage(randomTransactionId());
    bytes.insert(bytes.end(), request.begin(), request.end());
    ASSERT_TRUE(sendAll(fd.get(), ConstBytes(bytes).first(10)));  // "PROXY TCP4": more to come
    ASSERT_TRUE(tcpStaysQuiet(fd.get(), 100ms));
    ASSERT_TRUE(sendAll(fd.get(), ConstBytes(bytes).subspan(10)));
    const auto reply = recvStun(fd.get());
    ASSERT_TRUE(reply.has_value()) << port.toString();
    EXPECT_EQ(TurnResponse{*reply}.xorAddress(attr::kXorMappedAddress), client) << port.toString();
  }
  // A malformed line closes the connection and is counted.
  const double before = closed("proxy_header_error");
  const UniqueFd bad = tcpConnect(server());
  ASSERT_TRUE(bad.valid());
  const std::string_view line = "PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n";
  ASSERT_TRUE(sendAll(bad.get(), std::as_bytes(std::span(line))));
  EXPECT_TRUE(waitForPeerClose(bad.get()));
  EXPECT_TRUE(eventually([&] { return closed("proxy_header_error") == before + 1; }));
}

TEST_F(ProxyProtocolTest, ThePerAddressLimitAppliesToTheProxiedAddress) {
  const auto rejected = [&] {
    return scrapeMetric(httpServer(), "turnpike_limit_rejections_total",
                        {"limit=\"connections_per_ip\""})
        .value_or(-1);
  };
  const ProxiedTcp first(server(), kClient);
  TurnClient first_turn = first.turn(server());
  ASSERT_TRUE(failedWith(first_turn.challenge(), error::kUnauthenticated, "first"));
  // All three come from 127.0.0.1: only the header's address counts.
  const ProxiedTcp second(server(), Endpoint{kClient.address, 40001});
  ASSERT_TRUE(second.sent);
  EXPECT_TRUE(waitForPeerClose(second.fd.get())) << "a second connection for 203.0.113.7";
  EXPECT_TRUE(eventually([&] { return rejected() == 1.0; })) << rejected();
  const ProxiedTcp other(server(), kOtherClient);
  TurnClient other_turn = other.turn(server());
  EXPECT_TRUE(failedWith(other_turn.challenge(), error::kUnauthenticated, "another client"));
  EXPECT_TRUE(eventually([&] { return active("tcp") == 2.0; })) << active("tcp").value_or(-1);
}

TEST_F(ProxyProtocolTest, GarbageInsteadOfAHeaderIsClosedAndCounted) {
  const double before = closed("proxy_header_error");
  for (const Endpoint& port : {server(), tlsServer()}) {
    // A client that talks STUN straight away, as if there were no load balancer.
    const UniqueFd fd = tcpConnect(port);
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(sendAll(fd.get(), buildMessage(randomTransactionId())));
    EXPECT_TRUE(waitForPeerClose(fd.get())) << port.toString();
  }
  EXPECT_TRUE(eventually([&] { return closed("proxy_header_error") == before + 2; }))
      << closed("proxy_header_error");
  // The listeners still serve proxied clients.
  const ProxiedTcp tcp(server(), kClient);
  TurnClient turn = tcp.turn(server());
  EXPECT_TRUE(failedWith(turn.challenge(), error::kUnauthenticated, "after the garbage"));
}

// The same listeners with a 1 s limits.tls_handshake_timeout, which bounds the wait for the
// header too.
class ProxyHeaderTimeoutTest : public ProxyProtocolTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ProxyProtocolTest::options();
    options.limits["tls_handshake_timeout"] = 1;
    return options;
  }
};

TEST_F(ProxyHeaderTimeoutTest, AHeaderThatNeverCompletesIsClosedAndCounted) {
  const double before = closed("proxy_header_timeout");
  const Bytes header = proxyHeader(kClient, server());
  const UniqueFd fd = tcpConnect(server());
  ASSERT_TRUE(fd.valid());
  // Half a header is a valid beginning: only the timer ends the wait.
  ASSERT_TRUE(sendAll(fd.get(), Bytes(header.begin(), header.begin() + 8)));
  EXPECT_TRUE(waitForPeerClose(fd.get(), 5000ms)) << "still open after 5 s";
  EXPECT_TRUE(eventually([&] { return closed("proxy_header_timeout") == before + 1; }))
      << closed("proxy_header_timeout");
}

}  // namespace
}  // namespace turnpike::test

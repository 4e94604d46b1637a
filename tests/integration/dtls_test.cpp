// The dtls listener (RFC 7350) against the real binary: an OpenSSL DTLS 1.2 client on a
// connected UDP socket (BIO_new_dgram), driven with poll() and bounded waits. TURN over the
// session (Allocate, permission, channel, relayed data both ways), the allocation ending with the
// session, the server's retransmissions, a client's fatal alert, the half-open cap
// (limits.dtls_half_open), and the connection limits and idle timeout
// that DTLS sessions share with TCP and TLS connections.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <deque>
#include <memory>

#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;

Bytes bytesOf(std::string_view text) {
  const ConstBytes bytes = protocol::asBytes(text);
  return {bytes.begin(), bytes.end()};
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// A DTLS client of the server's dtls listener. Every wait is bounded by its timeout.
class DtlsClient {
 public:
  // verify_peer: check the server's certificate against an empty trust store, so the client
  // ends the handshake with a fatal alert (unknown_ca).
  explicit DtlsClient(const Endpoint& server, bool verify_peer = false) : fd_(udpConnect(server)) {
    // Non-blocking: OpenSSL returns WANT_READ instead of waiting in recv (this class polls).
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
    ctx_.reset(SSL_CTX_new(DTLS_client_method()));
    // Without verify_peer: a self-signed test certificate.
    SSL_CTX_set_verify(ctx_.get(), verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    BIO* bio = BIO_new_dgram(fd_.get(), BIO_NOCLOSE);
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    ::getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &length);  // NOLINT
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
    SSL_set_bio(ssl_.get(), bio, bio);
    SSL_set_connect_state(ssl_.get());
  }

  // Runs the handshake until it completes (true), fails or `timeout` passes (false).
  bool handshake(Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      ERR_clear_error();
      const int rc = SSL_do_handshake(ssl_.get());
      if (rc == 1) {
        return true;
      }
      if (SSL_get_error(ssl_.get(), rc) != SSL_ERROR_WANT_READ) {
        return false;
      }
      waitReadable(deadline);
    }
    return false;
  }

  bool send(ConstBytes message) {
    std::size_t written = 0;
    return SSL_write_ex(ssl_.get(), message.data(), message.size(), &written) == 1;
  }

  // The next record's plaintext, or nullopt after the timeout or an error.
  std::optional<Bytes> receive(Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      Bytes buffer(65536);
      std::size_t read = 0;
      ERR_clear_error();
      if (SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &read) == 1) {
        buffer.resize(read);
        return buffer;
      }
      if (SSL_get_error(ssl_.get(), 0) == SSL_ERROR_ZERO_RETURN || Clock::now() >= deadline ||
          !waitReadable(deadline)) {
        return std::nullopt;
      }
    }
  }

  void closeNotify() { (void)SSL_shutdown(ssl_.get()); }
  // Whether the server's close_notify arrived.
  [[nodiscard]] bool closedByServer() const {
    return (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) != 0;
  }

  // TurnClient speaks through this: records are queued as bytes (every message the server sends
  // is 4-byte aligned here: STUN, and ChannelData with payloads of a multiple of 4).
  StreamIo io() {
    return StreamIo{[this](ConstBytes bytes) { return send(bytes); },
                    [this](std::size_t n, Millis timeout) -> std::optional<Bytes> {
                      while (pending_.size() < n) {
                        auto record = receive(timeout);
                        if (!record) {
                          return std::nullopt;
                        }
                        pending_.insert(pending_.end(), record->begin(), record->end());
                      }
                      Bytes out(pending_.begin(), pending_.begin() + static_cast<long>(n));
                      pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
                      return out;
                    }};
  }

 private:
  // Waits for a datagram until the deadline, running DTLS retransmissions when their timer fires.
  bool waitReadable(Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      timeval left{};
      auto wait = std::chrono::duration_cast<Millis>(deadline - Clock::now());
      if (DTLSv1_get_timeout(ssl_.get(), &left) == 1) {
        wait = std::min(wait, Millis{left.tv_sec * 1000 + left.tv_usec / 1000});
      }
      pollfd poll_fd{fd_.get(), POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(std::max<long>(wait.count(), 1))) > 0) {
        return true;
      }
      (void)DTLSv1_handle_timeout(ssl_.get());
    }
    return false;
  }

  UniqueFd fd_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::deque<std::byte> pending_;
};

// A client that does the cookie exchange, sends the ClientHello with the cookie, sees the
// server's ServerHello come back and goes silent: a half-open session on the server. OpenSSL
// works on memory BIOs here, so that it reads nothing the test does not hand it (on a socket it
// could read the server's flight and finish the handshake within one call).
class StallingClient {
 public:
  explicit StallingClient(const Endpoint& server) : fd_(udpConnect(server)) {
    ctx_.reset(SSL_CTX_new(DTLS_client_method()));
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_.get(), in_, out_);
    SSL_set_options(ssl_.get(), SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl_.get(), 1200);
    SSL_set_connect_state(ssl_.get());
  }

  // True when the server sends its ServerHello again (its flight retransmitted) within timeout.
  bool seesServerHelloAgain(Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      const auto datagram =
          recvUdp(fd_.get(), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
      if (datagram && datagram->size() >= 14 && (*datagram)[13] == std::byte{2}) {
        return true;
      }
    }
    return false;
  }

  // True once the ServerHello arrived after the cookie exchange.
  bool stall(Millis timeout) {
    (void)SSL_do_handshake(ssl_.get());  // ClientHello
    sendPending();
    const auto verify = recvUdp(fd_.get(), timeout);
    if (!verify || verify->size() < 14 || (*verify)[13] != std::byte{3}) {
      return false;  // no HelloVerifyRequest
    }
    BIO_write(in_, verify->data(), static_cast<int>(verify->size()));
    (void)SSL_do_handshake(ssl_.get());  // ClientHello with the cookie
    sendPending();
    const auto hello = recvUdp(fd_.get(), timeout);
    ERR_clear_error();
    return hello && hello->size() >= 14 && (*hello)[13] == std::byte{2};  // ServerHello
  }

 private:
  void sendPending() {
    Bytes datagram(static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    if (!datagram.empty() &&
        BIO_read(out_, datagram.data(), static_cast<int>(datagram.size())) > 0) {
      (void)sendUdp(fd_.get(), datagram);
    }
  }

  UniqueFd fd_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
};

class DtlsTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.tls = true;
    options.tls_transport = "dtls";
    options.http = true;
    options.threads = 1;  // one worker: the half-open cap is per worker
    options.limits["dtls_half_open"] = 2;
    options.limits["tls_handshake_timeout"] = 2;
    return options;
  }

  [[nodiscard]] std::string scrapeMetricsText() const {
    return httpGet(httpServer(), "/metrics").value_or("");
  }
  [[nodiscard]] double metric(std::string_view name, std::vector<std::string> labels = {}) const {
    return scrapeMetric(httpServer(), name, labels).value_or(-1);
  }
};

TEST_F(DtlsTest, TurnOverDtlsRelaysBothWaysAndEndsWithTheSession) {
  DtlsClient dtls(tlsServer());
  ASSERT_TRUE(dtls.handshake(3000ms)) << serverLog();
  TurnClient turn(tlsServer(), dtls.io(), kAlice);
  ASSERT_TRUE(allocated(turn));
  const UdpPeer peer;
  ASSERT_TRUE(succeeded(turn.createPermission(peer.endpoint()), "CreatePermission"));
  ASSERT_TRUE(succeeded(turn.channelBind(kChannel, peer.endpoint()), "ChannelBind"));
  // Client to peer: ChannelData in one record (TurnClient pads to 4; 8 bytes need none).
  const Bytes hello = bytesOf("8 bytes!");
  ASSERT_TRUE(turn.sendChannelData(kChannel, hello));
  const auto at_peer = peer.receive(kReplyTimeout);
  ASSERT_TRUE(at_peer.has_value());
  EXPECT_TRUE(sameBytes(at_peer->data, hello));
  // Peer to client: ChannelData back through the session.
  const Bytes reply = bytesOf("reply, 12 b!");
  ASSERT_EQ(reply.size() % 4, 0U);
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), reply));
  const auto at_client = turn.receiveData();
  ASSERT_TRUE(at_client.has_value());
  EXPECT_EQ(at_client->kind, DataFrame::Kind::kChannelData);
  EXPECT_TRUE(sameBytes(at_client->payload, reply));
  // A message larger than the handshake's 1200-byte datagrams still goes in one record.
  Bytes large(1400);
  for (std::size_t i = 0; i < large.size(); ++i) {
    large[i] = static_cast<std::byte>(i * 7);
  }
  ASSERT_TRUE(turn.sendChannelData(kChannel, large));
  const auto large_at_peer = peer.receive(kReplyTimeout);
  ASSERT_TRUE(large_at_peer.has_value());
  EXPECT_TRUE(sameBytes(large_at_peer->data, large));
  ASSERT_TRUE(peer.sendTo(*turn.relayed(), large));
  const auto large_at_client = turn.receiveData();
  ASSERT_TRUE(large_at_client.has_value());
  EXPECT_TRUE(sameBytes(large_at_client->payload, large));
  EXPECT_EQ(metric("turnpike_allocations_active", {R"(transport="dtls")", R"(family="ipv4")"}),
            1.0);
  EXPECT_EQ(metric("turnpike_dtls_sessions_active"), 1.0);
  EXPECT_GE(metric("turnpike_dtls_hello_verify_requests_total"), 1.0);
  // close_notify ends the session, and its allocation with it (as a TLS connection's does).
  dtls.closeNotify();
  EXPECT_TRUE(eventually([&] {
    return serverLog().find("client=dtls") != std::string::npos &&
           serverLog().find("reason=connection_closed") != std::string::npos;
  })) << serverLog();
  EXPECT_TRUE(eventually([&] { return metric("turnpike_dtls_sessions_active") == 0.0; }));
  EXPECT_EQ(
      metric("turnpike_relayed_packets_total", {R"(direction="to_peer")", R"(transport="dtls")"}),
      2.0);
}

TEST_F(DtlsTest, HalfOpenCapDropsNewClientsUntilHandshakesTimeOut) {
  // Two clients take both half-open slots and never finish.
  StallingClient stalled_a(tlsServer());
  StallingClient stalled_b(tlsServer());
  ASSERT_TRUE(stalled_a.stall(2000ms)) << serverLog();
  ASSERT_TRUE(stalled_b.stall(2000ms)) << serverLog();
  // A third client gets no answer while the cap is reached: its ClientHellos are dropped.
  DtlsClient late(tlsServer());
  EXPECT_FALSE(late.handshake(1000ms)) << scrapeMetricsText();
  EXPECT_GE(metric("turnpike_dtls_dropped_total", {R"(reason="half_open_limit")"}), 1.0);
  // limits.tls_handshake_timeout (2 s) ends the stalled ones; the late client's retransmitted
  // ClientHello then gets through and TURN works.
  ASSERT_TRUE(late.handshake(6000ms)) << serverLog();
  EXPECT_EQ(metric("turnpike_dtls_handshakes_total", {R"(result="timeout")"}), 2.0);
  TurnClient turn(tlsServer(), late.io(), kAlice);
  EXPECT_TRUE(allocated(turn));
}

// RFC 6347 4.2.4: a flight that gets no answer is sent again (the server's timer, not the
// client's).
TEST_F(DtlsTest, AServerFlightThatGetsNoAnswerIsRetransmitted) {
  StallingClient stalled(tlsServer());
  ASSERT_TRUE(stalled.stall(2000ms)) << serverLog();
  EXPECT_TRUE(stalled.seesServerHelloAgain(1900ms)) << serverLog();  // before the 2 s timeout
}

// A client that rejects the server's certificate ends the handshake with a fatal alert: the
// server counts a failed handshake, keeps no session and serves the next client.
TEST_F(DtlsTest, AClientsFatalAlertEndsItsHandshake) {
  DtlsClient rejecting(tlsServer(), /*verify_peer=*/true);
  EXPECT_FALSE(rejecting.handshake(3000ms));
  EXPECT_TRUE(eventually([&] {
    return metric("turnpike_dtls_handshakes_total", {R"(result="failed")"}) == 1.0;
  })) << scrapeMetricsText();
  EXPECT_EQ(metric("turnpike_dtls_sessions_active"), 0.0);
  DtlsClient next(tlsServer());
  ASSERT_TRUE(next.handshake(3000ms)) << serverLog();
  TurnClient turn(tlsServer(), next.io(), kAlice);
  EXPECT_TRUE(allocated(turn));
}

TEST_F(DtlsTest, SighupReloadsTheDtlsContext) {
  const std::string line = reload();
  EXPECT_NE(line.find("tls (dtls)"), std::string::npos) << line;
  DtlsClient dtls(tlsServer());
  ASSERT_TRUE(dtls.handshake(3000ms)) << serverLog();
  TurnClient turn(tlsServer(), dtls.io(), kAlice);
  EXPECT_TRUE(allocated(turn));
}

TEST_F(DtlsTest, GarbageIsDroppedAndCounted) {
  const UniqueFd udp = udpConnect(tlsServer());
  for (const std::string& junk : {std::string(""), std::string(20, '\0'), std::string("GET /")}) {
    (void)sendUdp(udp.get(), protocol::asBytes(junk));
  }
  EXPECT_TRUE(eventually([&] {
    return metric("turnpike_dtls_dropped_total", {R"(reason="not_client_hello")"}) >= 2.0;
  }));
  DtlsClient dtls(tlsServer());
  EXPECT_TRUE(dtls.handshake(3000ms));  // still serving
}

// README: DTLS sessions count toward limits.connections_per_ip, and a session without an
// allocation ends after limits.connection_idle_timeout, as TCP and TLS connections do.
class DtlsConnectionLimitsTest : public DtlsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = DtlsTest::options();
    options.limits["connections_per_ip"] = 1;
    options.limits["connection_idle_timeout"] = 1;
    return options;
  }
};

TEST_F(DtlsConnectionLimitsTest, ASecondSessionFromOneAddressIsRefusedUntilTheFirstEnds) {
  DtlsClient first(tlsServer());
  ASSERT_TRUE(first.handshake(3000ms)) << serverLog();
  TurnClient turn(tlsServer(), first.io(), kAlice);
  ASSERT_TRUE(allocated(turn));  // so that the idle sweep keeps it
  DtlsClient second(tlsServer());
  EXPECT_FALSE(second.handshake(1500ms)) << "a second session from 127.0.0.1 was served";
  EXPECT_GE(metric("turnpike_limit_rejections_total", {R"(limit="connections_per_ip")"}), 1.0);
  // close_notify ends the first session and frees its slot: the second client's retransmitted
  // ClientHello gets in.
  first.closeNotify();
  EXPECT_TRUE(second.handshake(4000ms)) << serverLog();
}

TEST_F(DtlsConnectionLimitsTest, ASessionWithoutAnAllocationIsClosedWhenIdle) {
  DtlsClient idle(tlsServer());
  ASSERT_TRUE(idle.handshake(3000ms)) << serverLog();
  EXPECT_EQ(metric("turnpike_dtls_sessions_active"), 1.0);
  // Swept every 250 ms after the 1 s timeout: the server sends close_notify.
  EXPECT_FALSE(idle.receive(3000ms).has_value());
  EXPECT_TRUE(idle.closedByServer()) << serverLog();
  EXPECT_TRUE(eventually([&] { return metric("turnpike_dtls_sessions_active") == 0.0; }));
}

}  // namespace
}  // namespace turnpike::test

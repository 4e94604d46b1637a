// Client crash (issue 2): clients vanish mid-TCP, mid-TLS-handshake and mid-allocation, either
// silently (the host is gone: nothing more arrives) or abortively (the process died: its kernel
// sends a RST). Every resource must come back after its timeout: the server's fds exactly (from
// /proc/<pid>/fd and process_open_fds), every relay port (turnpike_relay_ports_in_use 0,
// _free back to the range), allocations, permissions, channels and connections at 0, after
// every pass. Each scenario runs kPasses times: RSS may grow over the first passes while
// glibc's per-thread arenas settle (TLS: +8 MiB, then +1.7, +1.0, +0.3, +0.2 MiB, then flat over
// 8 passes of 180 handshakes), and the last pass must stay within kRssSlack of the one before.
// A leak of what one connection or allocation holds (~47 KiB per TLS connection, ~2.4 KiB per
// allocation) would add more than that in one pass.
//
// Timeouts are short so the test is quick: connection_idle_timeout 2 s, tls_handshake_timeout
// 1 s (a second apart, so that which one closes a connection in the middle of its handshake does
// not depend on how loaded the machine is), allocation lifetime 3 s.
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/reliability/reliability_support.hpp"
#include "tests/reliability/udp_swarm.hpp"

namespace turnpike::test {
namespace {

constexpr std::uint32_t kLifetime = 3;
constexpr int kPasses = 3;
constexpr std::uint64_t kRssSlack = 2 * kMiB;
// Lifetime + idle timeout + the 250 ms sweep, with room for a loaded machine.
constexpr Millis kReclaimTimeout = 12'000ms;

// A STUN header announcing 100 bytes of attributes, and 10 of them: a frame cut off.
Bytes partialFrame() {
  Bytes frame = buildMessage(randomTransactionId(), [](protocol::MessageBuilder& b) {
    b.addBytes(attr::kData, patternPayload(96));
  });
  frame.resize(30);
  return frame;
}

// A TLS connection that completes its handshake (blocking, bounded) and then says nothing.
struct SilentTlsClient {
  UniqueFd fd;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{nullptr, &SSL_free};
};

bool completeHandshake(SSL_CTX* context, const Endpoint& server, SilentTlsClient& client) {
  client.fd = tcpConnect(server);
  if (!client.fd.valid()) {
    return false;
  }
  client.ssl.reset(SSL_new(context));
  SSL_set_fd(client.ssl.get(), client.fd.get());
  SSL_set_connect_state(client.ssl.get());
  const auto deadline = TurnClock::now() + kReplyTimeout;
  while (TurnClock::now() < deadline) {
    const int rc = SSL_do_handshake(client.ssl.get());
    if (rc == 1) {
      return true;
    }
    const int error = SSL_get_error(client.ssl.get(), rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      return false;
    }
    pollfd entry{client.fd.get(),
                 static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    (void)::poll(&entry, 1, 100);
  }
  return false;
}

class ClientCrashTest : public ReliabilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.tls = true;
    options.default_lifetime = kLifetime;
    options.max_lifetime = kLifetime;
    options.limits["connection_idle_timeout"] = 2;
    options.limits["tls_handshake_timeout"] = 1;
    return options;
  }

  // Runs `scenario` kPasses times, checking after each pass that every resource came back, and
  // after the last that RSS stayed within kRssSlack of the pass before.
  void passes(const std::function<void(int pass)>& scenario) {
    const ServerResources baseline = resources();
    ASSERT_EQ(baseline.ports_free, kRelayPortCount) << baseline.toString();
    ASSERT_EQ(baseline.metric_fds, baseline.fds + 1) << "process_open_fds counts the scrape";
    std::uint64_t previous_rss = 0;
    for (int pass = 0; pass < kPasses; ++pass) {
      SCOPED_TRACE("pass " + std::to_string(pass));
      const auto start = TurnClock::now();
      scenario(pass);
      ASSERT_FALSE(HasFatalFailure());
      ServerResources after;
      ASSERT_TRUE(backToBaseline(baseline, kReclaimTimeout, after))
          << "baseline: " << baseline.toString() << "\nafter:    " << after.toString();
      EXPECT_EQ(after.metric_fds, baseline.metric_fds) << after.toString();
      std::printf(
          "pass %d: resources back in %.1f s; fds %zu (baseline %zu), RSS %.1f MiB "
          "(baseline %.1f MiB)\n",
          pass, secondsSince(start), after.fds, baseline.fds, static_cast<double>(after.rss) / kMiB,
          static_cast<double>(baseline.rss) / kMiB);
      if (pass == kPasses - 1) {
        EXPECT_LE(after.rss, rssBound(previous_rss + kRssSlack))
            << "RSS grew by " << (after.rss - previous_rss) / 1024 << " KiB over the last pass";
      }
      previous_rss = after.rss;
    }
  }

  [[nodiscard]] double closed(const std::string& reason) const {
    return metric("turnpike_tcp_connections_closed_total", {"reason=\"" + reason + "\""});
  }
};

TEST_F(ClientCrashTest, TcpClientsThatVanishMidStreamOrMidAllocationAreReclaimed) {
  constexpr int kSilent = 60;       // connect, then nothing
  constexpr int kCutOff = 60;       // half a STUN frame, then nothing
  constexpr int kCutOffReset = 60;  // half a STUN frame, then a RST
  constexpr int kAllocations = 30;  // allocate and relay, then nothing (and 30 more: then a RST)
  passes([&](int pass) {
    const double idle_before = closed("idle_timeout");
    const std::size_t expired_before = logLines({"allocation ended", "reason=expired"});
    const std::size_t closed_before = logLines({"allocation ended", "reason=connection_closed"});
    std::vector<UniqueFd> silent;
    for (int i = 0; i < kSilent + kCutOff + kCutOffReset; ++i) {
      UniqueFd fd = tcpClient();
      ASSERT_TRUE(fd.valid());
      if (i >= kSilent) {
        ASSERT_TRUE(sendAll(fd.get(), partialFrame()));
      }
      if (i >= kSilent + kCutOff) {
        setAbortiveClose(fd.get());
        fd.reset();  // RST mid-frame
      } else {
        silent.push_back(std::move(fd));
      }
    }
    const UniqueFd peer = udpSocketOn(loopback(false).address);
    std::vector<std::unique_ptr<TurnClient>> quiet;
    for (int i = 0; i < 2 * kAllocations; ++i) {
      auto turn = std::make_unique<TurnClient>(client(TurnTransport::kTcp));
      ASSERT_TRUE(allocated(*turn));
      ASSERT_TRUE(
          succeeded(turn->channelBind(kChannel, localEndpointOf(peer.get())), "ChannelBind"));
      ASSERT_TRUE(turn->sendChannelData(kChannel, patternPayload(40)));
      ASSERT_TRUE(recvUdpFrom(peer.get())) << "allocation " << i << " did not relay";
      if (i < kAllocations) {
        quiet.push_back(std::move(turn));
      } else {
        setAbortiveClose(turn->fd());  // the TurnClient closes it: a RST mid-allocation
      }
    }
    // The server learns of the RSTs when it next reads those connections.
    EXPECT_TRUE(eventually([&] { return resources().allocations == kAllocations; }, 3000ms))
        << "the quiet allocations live, the reset ones ended: " << resources().allocations;
    // The server closes every silent connection: idle ones after 2 s, those with an allocation
    // once it has expired (3 s) and the next sweep found them idle.
    std::vector<int> fds;
    for (const UniqueFd& fd : silent) {
      fds.push_back(fd.get());
    }
    for (const auto& turn : quiet) {
      fds.push_back(turn->fd());
    }
    EXPECT_EQ(stillOpen(fds, kReclaimTimeout), 0U) << "of " << fds.size() << " silent connections";
    EXPECT_TRUE(eventually(
        [&] { return closed("idle_timeout") - idle_before == kSilent + kCutOff + kAllocations; },
        kReclaimTimeout))
        << "idle_timeout closes: " << closed("idle_timeout") - idle_before << " in pass " << pass;
    EXPECT_EQ(logLines({"allocation ended", "reason=expired"}) - expired_before, kAllocations);
    EXPECT_EQ(logLines({"allocation ended", "reason=connection_closed"}) - closed_before,
              kAllocations);
  });
  EXPECT_TRUE(tcpBindingWorks());
}

TEST_F(ClientCrashTest, TlsClientsThatVanishMidHandshakeAreReclaimed) {
  constexpr int kEach = 40;
  constexpr int kSilentAfterHandshake = 20;
  const Bytes hello = tlsClientHello();
  ASSERT_GT(hello.size(), 100U);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                            &SSL_CTX_free);
  passes([&](int) {
    const double timeouts_before = closed("tls_handshake_timeout");
    const double idle_before = closed("idle_timeout");
    const double failures_before = metric("turnpike_tls_handshake_failures_total");
    std::vector<UniqueFd> silent;
    for (int i = 0; i < 4 * kEach; ++i) {
      UniqueFd fd = tcpConnect(tlsServer());
      ASSERT_TRUE(fd.valid());
      switch (i / kEach) {
        case 0:  // connects, sends nothing
          break;
        case 1:  // half a ClientHello
          ASSERT_TRUE(sendAll(fd.get(), ConstBytes(hello).first(hello.size() / 2)));
          break;
        case 2:  // a whole ClientHello; the server answers, and the client is gone
          ASSERT_TRUE(sendAll(fd.get(), hello));
          ASSERT_TRUE(recvExactly(fd.get(), 5)) << "no ServerHello";
          break;
        default:  // a whole ClientHello, then a RST
          ASSERT_TRUE(sendAll(fd.get(), hello));
          setAbortiveClose(fd.get());
          fd.reset();
          continue;
      }
      silent.push_back(std::move(fd));
    }
    std::vector<SilentTlsClient> handshaken(kSilentAfterHandshake);
    for (SilentTlsClient& tls : handshaken) {
      ASSERT_TRUE(completeHandshake(context.get(), tlsServer(), tls));
    }
    std::vector<int> fds;
    for (const UniqueFd& fd : silent) {
      fds.push_back(fd.get());
    }
    for (const SilentTlsClient& tls : handshaken) {
      fds.push_back(tls.fd.get());
    }
    EXPECT_EQ(stillOpen(fds, kReclaimTimeout), 0U) << "of " << fds.size() << " silent connections";
    EXPECT_TRUE(eventually([&] {
      return closed("tls_handshake_timeout") - timeouts_before == 3 * kEach &&
             closed("idle_timeout") - idle_before == kSilentAfterHandshake;
    }));
    EXPECT_GE(metric("turnpike_tls_handshake_failures_total") - failures_before, 3 * kEach);
  });
}

TEST_F(ClientCrashTest, UdpClientsThatVanishMidAllocationAreReclaimed) {
  constexpr std::size_t kAllocated = 400;  // allocate; 100 of them relay; then vanish
  constexpr std::size_t kRelaying = 100;
  constexpr std::size_t kInFlight = 100;  // send Allocate and vanish before the answer
  passes([&](int) {
    const std::size_t expired_before = logLines({"allocation ended", "reason=expired"});
    const UniqueFd peer = udpSocketOn(loopback(false).address);
    UdpSwarm swarm(server(), kAlice, loopback(false).address);
    ASSERT_TRUE(swarm.open(kAllocated + kInFlight));
    ASSERT_TRUE(swarm.challenge());
    const auto allocated = UdpSwarm::indices(0, kAllocated);
    ASSERT_EQ(swarm.allocate(allocated, 0, 20'000ms), kAllocated);
    const auto relaying = UdpSwarm::indices(0, kRelaying);
    ASSERT_EQ(swarm.channelBind(relaying, kChannel, localEndpointOf(peer.get()), 20'000ms),
              kRelaying);
    ASSERT_EQ(swarm.roundTrips(relaying, kChannel, peer.get(), 10'000ms), kRelaying);
    EXPECT_EQ(metric("turnpike_channels_active"), static_cast<double>(kRelaying));
    // One transmission each, and the sockets close before any answer can be read.
    (void)swarm.allocate(UdpSwarm::indices(kAllocated, kAllocated + kInFlight), 0, 1ms);
    swarm.closeAll();
    EXPECT_TRUE(eventually(
        [&] {
          return logLines({"allocation ended", "reason=expired"}) - expired_before ==
                 kAllocated + kInFlight;
        },
        kReclaimTimeout))
        << logLines({"allocation ended", "reason=expired"}) - expired_before << " expired";
  });
  EXPECT_TRUE(udpBindingWorks());
}

}  // namespace
}  // namespace turnpike::test

// Operating turnpike, against the real server: /healthz and /readyz, SIGTERM draining (300 Try
// Alternate, 403, the drain timeout, a second SIGTERM), SIGHUP reloads (users, secrets, peers,
// limits, log format; invalid configs rejected; under load with no allocation lost) and the
// metrics that report them. TLS certificate reloads are in tls_test.cpp.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/rest_credentials.hpp"
#include "tests/integration/turn_test_support.hpp"

namespace turnpike::test {
namespace {

// The status and body of a probe, "none" when there was no answer.
std::string described(const std::optional<HttpResponse>& answer) {
  return answer ? std::to_string(answer->status) + " " + answer->body : "none";
}

class OpsTest : public TurnTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = TurnTest::options();
    options.http = true;
    return options;
  }

  [[nodiscard]] std::optional<double> metric(std::string_view name,
                                             const std::vector<std::string>& labels = {}) const {
    return scrapeMetric(httpServer(), name, labels);
  }
  [[nodiscard]] std::optional<HttpResponse> probe(std::string_view path) const {
    return httpExchange(httpServer(), httpRequest("GET", path));
  }

  // An allocation with a channel to its own peer, and a round trip through it.
  struct Relayed {
    TurnClient client;
    UdpPeer peer;
  };
  void relayed(Relayed& r) const {
    ASSERT_TRUE(r.peer.valid());
    ASSERT_TRUE(allocated(r.client));
    ASSERT_TRUE(succeeded(r.client.channelBind(kChannel, r.peer.endpoint()), "ChannelBind"));
    channelRoundTrip(r.client, r.peer, kChannel, patternPayload(100), patternPayload(60));
  }
};

// ---- Health and readiness ----

using OpsHealthTest = OpsTest;

TEST_F(OpsHealthTest, HealthzAndReadyzAnswerOk) {
  const auto health = probe("/healthz");
  EXPECT_EQ(health ? health->status : 0, 200) << described(health);
  EXPECT_EQ(health ? health->body : "", "ok\n");
  const auto ready = probe("/readyz");
  EXPECT_EQ(ready ? ready->status : 0, 200) << described(ready);
  EXPECT_EQ(ready ? ready->body : "", "ok\n");
  EXPECT_EQ(metric("turnpike_ready"), 1.0);
  EXPECT_EQ(metric("turnpike_draining"), 0.0);
}

// Load balancers and uptime checkers probe with HEAD: the GET answer's headers, and no body
// (libevent 2.1 wrote the body on HEAD too).
TEST_F(OpsHealthTest, HeadGetsTheHeadersOfGetAndNoBody) {
  for (const std::string_view path : {"/healthz", "/readyz", "/metrics", "/no-such-path"}) {
    const auto get = probe(path);
    const auto head = httpExchange(httpServer(), httpRequest("HEAD", path));
    ASSERT_TRUE(get && head) << path;
    EXPECT_EQ(head->status, get->status) << path;
    EXPECT_EQ(head->header("content-type"), get->header("content-type")) << path;
    EXPECT_FALSE(head->header("content-length").empty()) << path;
    EXPECT_EQ(head->body, "") << path;
    EXPECT_FALSE(get->body.empty()) << path;
  }
}

class OpsQuotaTest : public OpsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = OpsTest::options();
    options.allocations_total = 1;
    return options;
  }
};

TEST_F(OpsQuotaTest, ReadyzIs503WhileTheAllocationLimitIsReached) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  const auto full = probe("/readyz");
  EXPECT_EQ(full ? full->status : 0, 503) << described(full);
  EXPECT_EQ(full ? full->body : "", "limits.allocations_total reached\n");
  EXPECT_EQ(metric("turnpike_ready"), 0.0);
  ASSERT_TRUE(succeeded(turn.refresh(0), "Refresh 0"));
  EXPECT_TRUE(eventually([&] {
    const auto ready = probe("/readyz");
    return ready && ready->status == 200;
  }));
}

class OpsPortPoolTest : public OpsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = OpsTest::options();
    options.relay_port_max = options.relay_port_min;  // one relay port
    return options;
  }
};

TEST_F(OpsPortPoolTest, ReadyzIs503WhileThePortPoolIsExhausted) {
  EXPECT_EQ(metric("turnpike_relay_ports_capacity"), 1.0);
  EXPECT_EQ(metric("turnpike_relay_ports_free"), 1.0);
  TurnClient turn = client();
  ASSERT_TRUE(turn.connected());
  ASSERT_TRUE(succeeded(turn.allocate(), "Allocate"));
  const auto full = probe("/readyz");
  EXPECT_EQ(full ? full->status : 0, 503) << described(full);
  EXPECT_EQ(full ? full->body : "", "relay port pool exhausted\n");
  EXPECT_EQ(metric("turnpike_relay_ports_free"), 0.0);
  EXPECT_EQ(metric("turnpike_relay_ports_in_use"), 1.0);
}

// ---- Capacity ----

// One UDP allocation holds one descriptor: turnpike raises its soft RLIMIT_NOFILE to the hard
// limit at start, and reports what it has in the log and in /metrics.
class OpsCapacityTest : public OpsTest {
 protected:
  static constexpr std::uint64_t kSoftLimit = 256;
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = OpsTest::options();
    options.soft_open_files = kSoftLimit;
    options.relay_port_min = 40000;
    options.relay_port_max = 40099;
    return options;
  }
};

TEST_F(OpsCapacityTest, RaisesTheOpenFileLimitAndReportsItsCapacity) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max <= kSoftLimit) {
    GTEST_SKIP() << "the hard limit is " << limit.rlim_max;
  }
  EXPECT_EQ(metric("process_max_fds"), static_cast<double>(limit.rlim_max));
  EXPECT_EQ(metric("turnpike_relay_ports_capacity"), 100.0);
  EXPECT_NE(
      serverLog().find("open file limit raised from 256 to " + std::to_string(limit.rlim_max)),
      std::string::npos)
      << serverLog();
  EXPECT_NE(serverLog().find("capacity: " + std::to_string(limit.rlim_max) +
                             " file descriptors, 100 relay ports per relay address x 1"),
            std::string::npos)
      << serverLog();
}

// ---- Draining ----

class OpsDrainTest : public OpsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = OpsTest::options();
    options.drain_timeout = 20;
    options.alternate_servers = {"[2001:db8::7]:3478", "192.0.2.7:3478"};
    return options;
  }

  // Sends SIGTERM and waits until /readyz says draining.
  void startDraining() {
    signalServer(SIGTERM);
    ASSERT_TRUE(eventually([&] {
      const auto ready = probe("/readyz");
      return ready && ready->status == 503 && ready->body == "draining\n";
    })) << serverLog();
  }
};

TEST_F(OpsDrainTest, NewAllocationsGet300ExistingOnesRelayAndTheLastOneEndsTheProcess) {
  Relayed alice{client(), UdpPeer()};
  relayed(alice);
  startDraining();
  EXPECT_EQ(metric("turnpike_draining"), 1.0);
  EXPECT_EQ(metric("turnpike_ready"), 0.0);

  // RFC 8489 section 6.3.4 / 14.15: 300 only after authentication, signed, with an
  // ALTERNATE-SERVER of the client's address family.
  TurnClient late = client(TurnTransport::kUdp, {"alice", "wonderland"});
  ASSERT_TRUE(late.connected());
  const auto answer = late.allocate();
  ASSERT_TRUE(failedWith(answer, protocol::error::kTryAlternate, "Allocate while draining"));
  EXPECT_TRUE(signedWith(*answer, late));
  EXPECT_EQ(answer->address(attr::kAlternateServer),
            std::optional<Endpoint>(Endpoint{*protocol::IpAddress::parse("192.0.2.7"), 3478}));
  // Without credentials the answer is still the 401 challenge: no redirect for strangers.
  TurnClient stranger = client(TurnTransport::kTcp, {"nobody", "x"});
  ASSERT_TRUE(stranger.connected());
  EXPECT_TRUE(isChallenge(stranger.challenge(), "unauthenticated Allocate while draining"));

  // The existing allocation goes on: refresh, permissions, data both ways.
  EXPECT_TRUE(succeeded(alice.client.refresh(600), "Refresh while draining"));
  channelRoundTrip(alice.client, alice.peer, kChannel, patternPayload(200), patternPayload(20));
  ASSERT_TRUE(serverRunning());

  // Its end ends the drain.
  ASSERT_TRUE(succeeded(alice.client.refresh(0), "Refresh 0"));
  const std::optional<int> status = waitForServerExit(5000ms);
  ASSERT_TRUE(status) << "still running after the last allocation ended\n" << serverLog();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << serverLog();
  EXPECT_NE(serverLog().find("drained: every allocation has ended"), std::string::npos)
      << serverLog();
  EXPECT_NE(serverLog().find("stopped"), std::string::npos) << serverLog();
}

class OpsDrainNoAlternateTest : public OpsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = OpsTest::options();
    options.drain_timeout = 20;
    return options;
  }
};

TEST_F(OpsDrainNoAlternateTest, NewAllocationsGet403AndASecondSigtermExitsAtOnce) {
  TurnClient alice = client();
  ASSERT_TRUE(allocated(alice));
  signalServer(SIGTERM);
  TurnClient late = client(TurnTransport::kTcp);
  ASSERT_TRUE(late.connected());
  EXPECT_TRUE(eventually([&] {
    TurnClient probe = client(TurnTransport::kTcp);
    return failedWith(probe.allocate(), protocol::error::kForbidden, "Allocate while draining");
  }));
  const auto start = TurnClock::now();
  signalServer(SIGTERM);
  const std::optional<int> status = waitForServerExit(3000ms);
  ASSERT_TRUE(status) << "a second SIGTERM did not end the drain\n" << serverLog();
  EXPECT_LT(TurnClock::now() - start, 2000ms);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << serverLog();
  EXPECT_NE(serverLog().find("second SIGTERM: exiting now"), std::string::npos) << serverLog();
  EXPECT_EQ(countLinesWith(serverLog(), {"allocation ended user=alice", "reason=shutdown"}), 1U)
      << serverLog();
}

class OpsDrainTimeoutTest : public OpsTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = OpsTest::options();
    options.drain_timeout = 1;
    return options;
  }
};

TEST_F(OpsDrainTimeoutTest, TheTimeoutEndsTheRemainingAllocations) {
  Relayed alice{client(), UdpPeer()};
  relayed(alice);
  const auto start = TurnClock::now();
  signalServer(SIGTERM);
  const std::optional<int> status = waitForServerExit(5000ms);
  ASSERT_TRUE(status) << serverLog();
  EXPECT_GE(TurnClock::now() - start, 900ms) << "exited before the drain timeout";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << serverLog();
  EXPECT_NE(serverLog().find("drain timeout: ending 1 allocations"), std::string::npos)
      << serverLog();
}

// ---- Reloading ----

using OpsReloadTest = OpsTest;

TEST_F(OpsReloadTest, UsersAndSecretsChangeWithoutDroppingAllocations) {
  Relayed alice{client(), UdpPeer()};
  relayed(alice);
  ServerOptions next = options();
  next.users = {{"bob", "builder"}};
  next.secrets = {"n3w-secret"};
  rewriteConfig(next);
  const std::string line = reload();
  ASSERT_NE(line.find("reloaded "), std::string::npos) << line << "\n" << serverLog();
  EXPECT_NE(line.find("auth"), std::string::npos) << line;

  // The allocation made with the old credentials keeps relaying.
  channelRoundTrip(alice.client, alice.peer, kChannel, patternPayload(80), patternPayload(40));
  // New credentials work; removed ones do not.
  TurnClient bob = client(TurnTransport::kUdp, {"bob", "builder"});
  EXPECT_TRUE(allocated(bob));
  TurnClient new_alice = client(TurnTransport::kTcp);
  ASSERT_TRUE(new_alice.connected());
  EXPECT_TRUE(failedWith(new_alice.allocate(), protocol::error::kUnauthenticated,
                         "Allocate by a removed user"));
  const auto minted = [](const std::string& secret) {
    const std::string username = std::to_string(std::time(nullptr) + 600) + ":carol";
    return TurnCredentials{username, auth::restPassword(secret, username)};
  };
  TurnClient old_rest = client(TurnTransport::kUdp, minted(kSecret));
  ASSERT_TRUE(old_rest.connected());
  EXPECT_TRUE(failedWith(old_rest.allocate(), protocol::error::kUnauthenticated,
                         "Allocate with the retired secret"));
  TurnClient new_rest = client(TurnTransport::kUdp, minted("n3w-secret"));
  EXPECT_TRUE(allocated(new_rest));
  EXPECT_EQ(metric("turnpike_config_reloads_total", {"result=\"success\""}), 1.0);
  EXPECT_EQ(countLinesWith(serverLog(), {"allocation ended user=alice"}), 0U) << serverLog();
}

TEST_F(OpsReloadTest, AnInvalidConfigIsRejectedAndTheRunningOneStays) {
  rewriteConfig(std::string("listeners: []\nthreads: banana\n"));
  const std::string line = reload();
  EXPECT_NE(line.find("reload rejected, the running config stays"), std::string::npos) << line;
  EXPECT_NE(line.find("threads"), std::string::npos) << "the error does not name the key: " << line;
  TurnClient alice = client();
  EXPECT_TRUE(allocated(alice));
  EXPECT_EQ(metric("turnpike_config_reloads_total", {"result=\"failure\""}), 1.0);
  EXPECT_EQ(metric("turnpike_config_reloads_total", {"result=\"success\""}), 0.0);
}

TEST_F(OpsReloadTest, PeerPolicyLimitsAndLogFormatApplyAndRestartOnlyKeysAreReported) {
  Relayed alice{client(), UdpPeer()};
  relayed(alice);
  ServerOptions next = options();
  next.peers_allow = {};          // loopback peers denied again (the built-in list)
  next.allocations_per_user = 1;  // alice has one already
  next.log_format = "json";
  next.realm = "another.realm";  // needs a restart
  rewriteConfig(next);
  const std::string line = reload();
  ASSERT_NE(line.find("reloaded "), std::string::npos) << line << "\n" << serverLog();
  EXPECT_TRUE(line.starts_with("{\"ts\":")) << "the reload line is not JSON: " << line;
  EXPECT_NE(serverLog().find("changes to realm (needs a restart) were not applied"),
            std::string::npos)
      << serverLog();

  const UdpPeer other;
  ASSERT_TRUE(other.valid());
  EXPECT_TRUE(eventually([&] {
    return failedWith(alice.client.createPermission(other.endpoint()), protocol::error::kForbidden,
                      "CreatePermission to a loopback peer after the reload");
  }));
  // The permission made before the reload stays.
  channelRoundTrip(alice.client, alice.peer, kChannel, patternPayload(30), patternPayload(30));
  TurnClient second = client(TurnTransport::kTcp);
  ASSERT_TRUE(second.connected());
  EXPECT_TRUE(failedWith(second.allocate(), protocol::error::kAllocationQuotaReached,
                         "a second allocation for alice"));
}

// Reloads while 8 allocations (UDP and TCP) relay: none ends, none loses its channel, TCP data
// all arrives.
TEST_F(OpsReloadTest, ReloadsUnderLoadLoseNoAllocation) {
  constexpr int kClients = 8;
  constexpr int kReloads = 5;
  std::vector<std::unique_ptr<Relayed>> all;
  for (int i = 0; i < kClients; ++i) {
    all.push_back(std::make_unique<Relayed>(
        Relayed{client(i % 2 == 0 ? TurnTransport::kUdp : TurnTransport::kTcp), UdpPeer()}));
    relayed(*all.back());
    ASSERT_FALSE(HasFatalFailure());
  }
  // Load: every client sends to its peer continuously while the main thread reloads.
  // The peers are read as it goes: a socket buffer holds only ~256 small datagrams.
  std::atomic<bool> stop{false};
  std::vector<int> sent(kClients, 0);
  std::vector<int> received(kClients, 0);
  std::thread load([&] {
    const Bytes payload = patternPayload(120);
    while (!stop.load()) {
      for (int i = 0; i < kClients; ++i) {
        if (all[i]->client.sendChannelData(kChannel, payload)) {
          ++sent[i];
        }
      }
      std::this_thread::sleep_for(1ms);
      for (int i = 0; i < kClients; ++i) {
        while (all[i]->peer.receive(0ms)) {
          ++received[i];
        }
      }
    }
  });
  std::vector<std::string> lines;
  for (int r = 0; r < kReloads; ++r) {
    ServerOptions next = options();
    next.users["user" + std::to_string(r)] = "password";
    rewriteConfig(next);
    lines.push_back(reload());
    std::this_thread::sleep_for(50ms);
  }
  stop = true;
  load.join();
  for (const std::string& line : lines) {
    EXPECT_NE(line.find("reloaded "), std::string::npos) << line;
  }
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    while (all[i]->peer.receive(200ms)) {
      ++received[i];
    }
    if (all[i]->client.transport() == TurnTransport::kTcp) {
      EXPECT_EQ(received[i], sent[i]) << "TCP-carried data was lost";
    } else {
      EXPECT_GE(received[i], sent[i] * 95 / 100) << "sent " << sent[i];
    }
    channelRoundTrip(all[i]->client, all[i]->peer, kChannel, patternPayload(50),
                     patternPayload(50));
  }
  EXPECT_EQ(metric("turnpike_allocations_active", {"transport=\"udp\""}), kClients / 2.0);
  EXPECT_EQ(metric("turnpike_allocations_active", {"transport=\"tcp\""}), kClients / 2.0);
  EXPECT_EQ(metric("turnpike_config_reloads_total", {"result=\"success\""}), kReloads);
  EXPECT_EQ(countLinesWith(serverLog(), {"allocation ended"}), 0U) << serverLog();
}

// ---- systemd (Type=notify) ----

// turnpike is started with NOTIFY_SOCKET naming a datagram socket the test reads, as systemd
// would give it.
class OpsNotifyTest : public OpsTest {
 protected:
  void SetUp() override {
    socket_path_ = (tempDir() / "notify.sock").string();
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    ASSERT_LT(socket_path_.size(), sizeof(address.sun_path));
    std::memcpy(address.sun_path, socket_path_.c_str(), socket_path_.size());
    notify_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(notify_.valid());
    ASSERT_EQ(::bind(notify_.get(), reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                     sizeof(address)),
              0)
        << std::strerror(errno);
    ::setenv("NOTIFY_SOCKET", socket_path_.c_str(), 1);  // inherited by the child only
    OpsTest::SetUp();
    ::unsetenv("NOTIFY_SOCKET");
  }

  // The next notification, or "" after the timeout.
  [[nodiscard]] std::string next() const {
    pollfd ready{notify_.get(), POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(kReplyTimeout.count())) != 1) {
      return "";
    }
    std::array<char, 256> buffer{};
    const ssize_t size = ::recv(notify_.get(), buffer.data(), buffer.size(), 0);
    return size > 0 ? std::string(buffer.data(), static_cast<std::size_t>(size)) : "";
  }

  std::string socket_path_;
  UniqueFd notify_;
};

TEST_F(OpsNotifyTest, ReadyReloadingAndStoppingReachSystemd) {
  EXPECT_EQ(next(), "READY=1");
  ASSERT_NE(reload().find("reloaded "), std::string::npos) << serverLog();
  const std::string reloading = next();
  EXPECT_TRUE(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC=")) << reloading;
  EXPECT_EQ(next(), "READY=1");
  stopServer(SIGTERM);
  EXPECT_EQ(next(), "STOPPING=1");
}

// ---- Metrics added for operations ----

TEST_F(OpsHealthTest, AllocateLatencyLoopLagAndProcessMetricsAreExported) {
  TurnClient turn = client();
  ASSERT_TRUE(allocated(turn));
  // The worker records the latency after sending the response: the scrape may come first.
  std::optional<std::string> text;
  EXPECT_TRUE(eventually([&] {
    text = httpGet(httpServer(), "/metrics");
    return text && metricValue(*text, "turnpike_allocate_duration_seconds_count", {}) == 1.0;
  }));
  ASSERT_TRUE(text);
  EXPECT_EQ(metricValue(*text, "turnpike_allocate_duration_seconds_count", {}), 1.0) << *text;
  EXPECT_EQ(metricValue(*text, "turnpike_allocate_duration_seconds_bucket", {"le=\"+Inf\""}), 1.0)
      << *text;
  const auto sum = metricValue(*text, "turnpike_allocate_duration_seconds_sum", {});
  EXPECT_TRUE(sum && *sum > 0 && *sum < 1) << *text;
  EXPECT_TRUE(metricValue(*text, "turnpike_event_loop_lag_seconds", {"worker=\"0\""})) << *text;
  EXPECT_TRUE(metricValue(*text, "turnpike_event_loop_lag_seconds", {"worker=\"1\""})) << *text;
  const auto failed = metricValue(*text, "turnpike_allocations_failed_total", {"reason=\"401\""});
  EXPECT_EQ(failed, 1.0) << "the challenge counts as a failed Allocate\n" << *text;
  // CPU time counts in clock ticks: a fresh, idle server may not have used one yet.
  const auto cpu = metricValue(*text, "process_cpu_seconds_total", {});
  EXPECT_TRUE(cpu && *cpu >= 0) << *text;
  for (const char* name : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    const auto value = metricValue(*text, name, {});
    EXPECT_TRUE(value && *value > 0) << name << "\n" << *text;
  }
  const auto start = metricValue(*text, "process_start_time_seconds", {});
  EXPECT_TRUE(start && std::abs(*start - static_cast<double>(std::time(nullptr))) < 120)
      << "process_start_time_seconds is not a recent unix time";
}

}  // namespace
}  // namespace turnpike::test

// Out of ports or file descriptors: "answer 508 and keep serving everyone else" (RFC 8656
// section 7.2: 508 Insufficient Capacity when no relayed address can be had).
//
// Ports: a relay range of 4 ports. The fifth Allocate (UDP and TCP) gets 508, /readyz says why,
// Binding and the 4 allocations keep working, and a released port is handed out again.
//
// File descriptors: turnpike runs with RLIMIT_NOFILE = kMaxOpenFiles (setrlimit in the child
// before exec). Relay sockets then fail with EMFILE: server/worker.cpp maps that to
// RelayOpenError::kNoResources and the core answers 508 (core_allocate.cpp). Meanwhile UDP
// Binding and the existing allocations (UDP and TCP) go on, a new TCP connection is accepted
// and closed at once with the listener's spare fd (server/uv/tcp.cpp) rather than left to spin
// the loop, and the server's CPU stays near idle. Once fds are released, TCP and new
// allocations work again, and everything returns to the baseline. The same with 2 workers
// under a steady stream of Allocates and connections, where no worker may stall.
// The HTTP endpoint out of fds has its own test at the end.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/reliability/relay_load.hpp"
#include "tests/reliability/reliability_support.hpp"
#include "tests/reliability/udp_swarm.hpp"

namespace turnpike::test {
namespace {

constexpr std::uint16_t kTinyRange = 4;

bool isStatus(const std::optional<std::string>& answer, int code, std::string_view body) {
  return answer && answer->starts_with("HTTP/1.") &&
         answer->find(" " + std::to_string(code) + " ") == 8 && answer->ends_with(body);
}

// A window of kTinyRange UDP ports on 127.0.0.1 that nothing holds right now, below the
// ephemeral range and away from the other tests' windows.
std::uint16_t freeWindow() {
  std::random_device device;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto base = static_cast<std::uint16_t>(15000 + (device() % 1000) * kTinyRange);
    bool free = true;
    for (std::uint16_t port = base; port < base + kTinyRange && free; ++port) {
      free = boundSocket(SOCK_DGRAM, loopback(false, port)).valid();
    }
    if (free) {
      return base;
    }
  }
  return 15000;
}

class PortExhaustionTest : public ReliabilityTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.relay_port_min = window_;
    options.relay_port_max = static_cast<std::uint16_t>(window_ + kTinyRange - 1);
    return options;
  }
  std::uint16_t window_ = freeWindow();
};

TEST_F(PortExhaustionTest, AFullRelayPortRangeAnswers508AndEveryoneElseIsServed) {
  RelayLoad load;
  for (int i = 0; i < kTinyRange; ++i) {
    ASSERT_TRUE(load.add(std::make_unique<TurnClient>(
        server(), i % 2 == 0 ? TurnTransport::kUdp : TurnTransport::kTcp, kAlice)));
  }
  EXPECT_EQ(metric("turnpike_relay_ports_free"), 0.0);
  EXPECT_EQ(metric("turnpike_relay_ports_in_use"), kTinyRange);

  TurnClient fifth_udp(server(), TurnTransport::kUdp, kAlice);
  EXPECT_TRUE(failedWith(fifth_udp.allocate(), error::kInsufficientCapacity, "UDP Allocate"));
  TurnClient fifth_tcp(server(), TurnTransport::kTcp, kAlice);
  EXPECT_TRUE(failedWith(fifth_tcp.allocate(), error::kInsufficientCapacity, "TCP Allocate"));
  EXPECT_TRUE(isStatus(httpGet(httpServer(), "/readyz"), 503, "relay port pool exhausted\n"));
  EXPECT_EQ(metric("turnpike_allocations_failed_total", {"reason=\"508\""}), 2.0);

  // Everyone else: Binding over UDP and TCP, and the four allocations relay both ways.
  EXPECT_TRUE(udpBindingWorks());
  EXPECT_TRUE(tcpBindingWorks());
  for (int i = 0; i < 20; ++i) {
    load.send();
    load.receive();
  }
  load.drain(200ms, 3000ms);
  EXPECT_EQ(load.lost(), 0U) << load.summary();
  EXPECT_EQ(load.corrupt(), 0U) << load.summary();

  // A released port goes to the next Allocate; the client that got 508 simply retries.
  ASSERT_TRUE(succeeded(load.client(0).refresh(0), "Refresh 0"));
  EXPECT_TRUE(eventually([&] { return metric("turnpike_relay_ports_free") == 1.0; }));
  EXPECT_TRUE(succeeded(fifth_udp.allocate(), "Allocate after a port was released"));
  EXPECT_EQ(metric("turnpike_relay_ports_free"), 0.0);
  EXPECT_TRUE(failedWith(fifth_tcp.allocate(), error::kInsufficientCapacity, "TCP Allocate"));
  for (std::size_t i = 1; i < kTinyRange; ++i) {
    ASSERT_TRUE(succeeded(load.client(i).refresh(0), "Refresh 0"));
  }
  EXPECT_TRUE(succeeded(fifth_tcp.allocate(), "TCP Allocate after the ports were released"));
  EXPECT_EQ(metric("turnpike_relay_ports_free"), kTinyRange - 2.0);
  EXPECT_TRUE(isStatus(httpGet(httpServer(), "/readyz"), 200, "ok\n"));
}

// ---- File descriptors ----

constexpr std::uint64_t kMaxOpenFiles = 64;

class FdExhaustionTest : public ReliabilityTest, public testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    if (kSanitized) {
      GTEST_SKIP() << "sanitizer runtimes fail without fds (see kSanitized)";
    }
    ReliabilityTest::SetUp();
  }
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.threads = GetParam();
    options.max_open_files = kMaxOpenFiles;
    return options;
  }

  // Server CPU seconds used over `window`.
  [[nodiscard]] double cpuOver(Millis window) const {
    const double before = cpuSeconds(serverPid()).value_or(0);
    std::this_thread::sleep_for(window);
    return cpuSeconds(serverPid()).value_or(0) - before;
  }
};

TEST_P(FdExhaustionTest, RelaySocketsFailingWithEmfileAnswer508AndEveryoneElseIsServed) {
  const ServerResources baseline = resources();
  ASSERT_LT(baseline.fds, kMaxOpenFiles - 20) << baseline.toString();
  ASSERT_EQ(metric("process_max_fds"), static_cast<double>(kMaxOpenFiles));

  // Before the fds run out: a TCP and a UDP allocation, which must keep working through it.
  std::optional<RelayLoad> relaying(std::in_place);
  RelayLoad& load = *relaying;
  ASSERT_TRUE(load.add(std::make_unique<TurnClient>(server(), TurnTransport::kTcp, kAlice)));
  ASSERT_TRUE(load.add(std::make_unique<TurnClient>(server(), TurnTransport::kUdp, kAlice)));

  // Allocate from kMaxOpenFiles sockets: the first ones take every fd left, the rest get 508.
  UdpSwarm swarm(server(), kAlice, loopback(false).address);
  ASSERT_TRUE(swarm.open(kMaxOpenFiles + 4));
  ASSERT_TRUE(swarm.challenge());
  const auto attempts = UdpSwarm::indices(0, kMaxOpenFiles);
  const auto responses = swarm.transact(
      attempts, Method::kAllocate,
      [](std::size_t, MessageBuilder& b) { b.addRequestedTransport(protocol::kProtocolUdp); },
      20'000ms);
  std::vector<std::size_t> granted;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    ASSERT_TRUE(responses[i]) << "Allocate " << i << " got no answer";
    if (responses[i]->isSuccess()) {
      granted.push_back(i);
    } else {
      EXPECT_EQ(responses[i]->code, error::kInsufficientCapacity) << "Allocate " << i;
      ++refused;
    }
  }
  std::printf("fd limit %llu, %zu fds at the baseline: %zu allocations granted, %zu refused\n",
              static_cast<unsigned long long>(kMaxOpenFiles), baseline.fds, granted.size(),
              refused);
  EXPECT_GE(granted.size(), kMaxOpenFiles - baseline.fds - 4);
  EXPECT_GE(refused, baseline.fds);
  EXPECT_EQ(logLines({"relay socket", "too many open files"}), refused);

  // Everyone else: UDP Binding, the allocations made before, data both ways.
  EXPECT_TRUE(udpBindingWorks());
  for (int i = 0; i < 20; ++i) {
    load.send();
    load.receive();
  }
  load.drain(200ms, 3000ms);
  EXPECT_EQ(load.lost(), 0U) << load.summary();
  EXPECT_TRUE(succeeded(load.client(0).refresh(600), "TCP Refresh while out of fds"));
  EXPECT_TRUE(succeeded(load.client(1).refresh(600), "UDP Refresh while out of fds"));

  // A new TCP connection cannot be served without an fd: the listener accepts it on its spare
  // fd and closes it at once. The loop must not spin on the pending connection.
  const double before_cpu = cpuSeconds(serverPid()).value_or(0);
  const UniqueFd refused_tcp = tcpClient();
  ASSERT_TRUE(refused_tcp.valid()) << "the kernel completes the handshake from its backlog";
  EXPECT_TRUE(waitForPeerClose(refused_tcp.get(), 3000ms)) << "the connection hangs";
  std::this_thread::sleep_for(1000ms);
  const double spent = cpuSeconds(serverPid()).value_or(0) - before_cpu;
  EXPECT_LT(spent, 0.2) << "server CPU seconds while a TCP connection came in out of fds";
  EXPECT_TRUE(udpBindingWorks());

  // Two fds back: TCP and new allocations work again.
  const std::vector<std::size_t> two{granted[0], granted[1]};
  ASSERT_EQ(swarm.release(two, 10'000ms), 2U);
  EXPECT_TRUE(eventually([&] { return tcpBindingWorks(); }, 3000ms));
  const std::vector<std::size_t> spare{kMaxOpenFiles};
  EXPECT_EQ(swarm.allocate(spare, 0, 10'000ms), 1U);

  // Release everything: the fds, ports and the metrics come back.
  std::vector<std::size_t> rest(granted.begin() + 2, granted.end());
  rest.push_back(kMaxOpenFiles);
  ASSERT_EQ(swarm.release(rest, 10'000ms), rest.size());
  ASSERT_TRUE(succeeded(load.client(0).refresh(0), "Refresh 0"));
  ASSERT_TRUE(succeeded(load.client(1).refresh(0), "Refresh 0"));
  relaying.reset();  // closes the TCP connection too
  ServerResources after;
  EXPECT_TRUE(backToBaseline(baseline, 5000ms, after))
      << "baseline: " << baseline.toString() << "\nafter:    " << after.toString();
  EXPECT_EQ(metric("turnpike_allocations_failed_total", {"reason=\"508\""}),
            static_cast<double>(refused));
  EXPECT_TRUE(serverRunning());
}

INSTANTIATE_TEST_SUITE_P(Workers, FdExhaustionTest, testing::Values(1, 2),
                         [](const testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "_workers";
                         });

// Out of fds with 2 workers while Allocates (each a failed socket()) and TCP connections keep
// coming: the workers race for every fd that frees, which is how libuv's per-loop spare fd got
// lost and a worker spun in accept() at 100% CPU, deaf to its UDP clients (fixed in
// server/uv/tcp.cpp; tests/unit/server/tcp_listener_test.cpp has the deterministic version).
// Every Binding probe, sent from 16 sockets at a time so that both workers are asked, must be
// answered. A TCP connection is served (a Binding over it is answered: an fd was free at that
// moment), or closed at once with the listener's spare fd, or -- when another thread took even
// that fd -- left in the kernel's backlog while the listener pauses (100 ms at a time) rather
// than spins; those must be served or closed within 2 s of fds being released.
class FdExhaustionUnderLoadTest : public ReliabilityTest {
 protected:
  void SetUp() override {
    if (kSanitized) {
      GTEST_SKIP() << "sanitizer runtimes fail without fds (see kSanitized)";
    }
    ReliabilityTest::SetUp();
  }
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = ReliabilityTest::options();
    options.threads = 2;
    options.max_open_files = kMaxOpenFiles;
    return options;
  }
};

TEST_F(FdExhaustionUnderLoadTest, NoWorkerStallsWhileAllocatesAndConnectionsKeepComing) {
  constexpr Millis kLoadTime = 6000ms;
  constexpr std::size_t kHammer = 200;
  const ServerResources baseline = resources();
  UdpSwarm swarm(server(), kAlice, loopback(false).address);
  ASSERT_TRUE(swarm.open(kMaxOpenFiles + kHammer));
  ASSERT_TRUE(swarm.challenge());
  const auto holders = UdpSwarm::indices(0, kMaxOpenFiles);
  const std::size_t held = swarm.allocate(holders, 0, 20'000ms);
  ASSERT_LT(held, kMaxOpenFiles) << "the fds did not run out";

  std::atomic<bool> stop{false};
  std::atomic<int> connections{0};
  struct Waiting {
    UniqueFd fd;
    protocol::TransactionId id;
  };
  std::vector<Waiting> waiting;  // the connector's only
  const double cpu_before = cpuSeconds(serverPid()).value_or(0);
  const auto start = TurnClock::now();
  // Mostly 508s; now and then one gets an fd that another allocation's end freed.
  const auto rest = UdpSwarm::indices(kMaxOpenFiles, kMaxOpenFiles + kHammer);
  std::thread hammer([&] {
    while (!stop.load()) {
      (void)swarm.allocate(rest, 0, 300ms);
    }
  });
  std::thread connector([&] {
    while (!stop.load()) {
      UniqueFd fd = tcpConnect(server(), 1000ms);
      if (!fd.valid()) {
        continue;
      }
      ++connections;
      const protocol::TransactionId id = randomTransactionId();
      if (!sendAll(fd.get(), buildMessage(id), 2000ms)) {
        continue;  // closed already
      }
      // Served: the answer comes. Shed: the connection is closed. Otherwise it waits.
      const auto answer = recvStun(fd.get(), 2000ms);
      if (!answer && !waitForPeerClose(fd.get(), 0ms) && waiting.size() < 8) {
        waiting.push_back({std::move(fd), id});
      }
    }
  });
  int probes = 0;
  int unanswered = 0;
  while (TurnClock::now() - start < kLoadTime) {
    std::vector<std::thread> askers;
    std::atomic<int> missed{0};
    for (int i = 0; i < 16; ++i) {
      askers.emplace_back([&] { missed += udpBindingAttempts(server(), 3) == 0 ? 1 : 0; });
    }
    for (std::thread& asker : askers) {
      asker.join();
    }
    probes += 16;
    unanswered += missed.load();
    std::this_thread::sleep_for(250ms);
  }
  stop = true;
  hammer.join();
  connector.join();
  const double cpu = cpuSeconds(serverPid()).value_or(0) - cpu_before;
  std::printf(
      "out of fds for %.1f s under Allocates and %d TCP connections: %d of %d Binding "
      "probes unanswered, %zu connections waited in the backlog, server CPU %.2f s\n",
      secondsSince(start), connections.load(), unanswered, probes, waiting.size(), cpu);
  EXPECT_EQ(unanswered, 0) << "a worker stopped serving";
  EXPECT_GT(connections.load(), 5);

  std::vector<std::size_t> granted;
  for (std::size_t i = 0; i < swarm.size(); ++i) {
    if (swarm.relayed(i)) {
      granted.push_back(i);
    }
  }
  EXPECT_EQ(swarm.release(granted, 20'000ms), granted.size());
  for (const Waiting& w : waiting) {
    const auto answer = recvStun(w.fd.get(), 2000ms);
    const bool served = answer && protocol::Message::parse(*answer) &&
                        protocol::Message::parse(*answer)->transactionId() == w.id;
    EXPECT_TRUE(served || waitForPeerClose(w.fd.get(), 0ms))
        << "a connection still waits with fds free";
  }
  waiting.clear();
  ServerResources after;
  EXPECT_TRUE(backToBaseline(baseline, 5000ms, after))
      << "baseline: " << baseline.toString() << "\nafter:    " << after.toString();
}

// At EMFILE a connection waiting for the HTTP endpoint (a Prometheus scrape) must not spin the
// HTTP thread: libevent, left without an accept error callback, retries a level-triggered
// accept() ~300,000 times a second and writes a warning for each. server/http/http_server.cpp
// pauses its listener 100 ms at a time instead, warns at most every 10 s, and serves the
// waiting scrape once fds are free.
TEST_P(FdExhaustionTest, AnHttpScrapeWhileOutOfFdsDoesNotSpinAndIsServedAfterwards) {
  UdpSwarm swarm(server(), kAlice, loopback(false).address);
  ASSERT_TRUE(swarm.open(kMaxOpenFiles));
  ASSERT_TRUE(swarm.challenge());
  ASSERT_LT(swarm.allocate(UdpSwarm::indices(0, kMaxOpenFiles), 0, 20'000ms), kMaxOpenFiles)
      << "the fds did not run out";
  const std::size_t log_before = serverLog().size();
  const UniqueFd scrape = tcpConnect(httpServer());
  ASSERT_TRUE(scrape.valid());
  ASSERT_TRUE(
      sendAll(scrape.get(), protocol::asBytes(std::string_view("GET /metrics HTTP/1.0\r\n\r\n"))));
  EXPECT_LT(cpuOver(2000ms), 0.2) << "server CPU seconds over 2 s";
  EXPECT_LT(serverLog().size() - log_before, 4U * 1024) << "log bytes written in 2 s";

  // Fds back: the scrape that waited is answered.
  std::vector<std::size_t> granted;
  for (std::size_t i = 0; i < swarm.size(); ++i) {
    if (swarm.relayed(i)) {
      granted.push_back(i);
    }
  }
  EXPECT_EQ(swarm.release(granted, 20'000ms), granted.size());
  const auto answer = recvUntilClose(scrape.get(), 3000ms);
  ASSERT_TRUE(answer.has_value()) << "the waiting scrape was not answered";
  const std::string_view text = protocol::asText(*answer);
  EXPECT_TRUE(text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"))
      << text.substr(0, 200);
  EXPECT_NE(text.find("turnpike_allocations"), std::string::npos);
}

}  // namespace
}  // namespace turnpike::test

// turn_load: a TURN load generator for comparing relay servers (benchmarks/compare.sh). It speaks
// RFC 8656 strictly (401 round, long-term MD5 key, 438 handling) with REST credentials, so the
// server may be turnpike or coturn, and prints one line of key=value results.
//
// Modes (see --help):
//   relay  K allocations, each ChannelBound to a peer UDP socket the generator owns; 120-byte
//          ChannelData client -> server -> peer, echoed by the peer back through the relay.
//   churn  Allocate (with its 401 round) then Refresh 0, C at a time, for S seconds.
//   hold   N allocations held (refreshed) for S seconds, then deleted.
//   --bare drives benchmarks/bare_forwarder instead of a TURN server (relay mode only).
//
// Single-threaded: epoll over every socket, recvmmsg on each readable one, the peers echo with
// sendmmsg. With --server-pid the server's CPU time (and RSS in hold mode) is read from /proc
// exactly at the start and end of the measured window.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "auth/rest_credentials.hpp"
#include "benchmarks/load_conn.hpp"
#include "benchmarks/load_turn.hpp"
#include "benchmarks/load_util.hpp"
#include "protocol/turn/channel_data.hpp"

namespace turnpike::bench {
namespace {

constexpr auto kTick = std::chrono::milliseconds(1);
constexpr auto kStallAfter = std::chrono::milliseconds(200);  // flat out: window slots lost
constexpr auto kDrain = std::chrono::milliseconds(500);       // echoes still counted after S

class Driver {
 public:
  explicit Driver(const Options& options)
      : options_(options),
        steps_(credentials_, errors_, {.lifetime = options.lifetime}),
        epoll_fd_(::epoll_create1(0)),
        ssl_ctx_(options.transport == Transport::kTls ? makeClientTlsContext() : nullptr) {
    const auto credential =
        auth::mintRestCredential(options.secret, options.user, 86400, std::time(nullptr));
    credentials_.username = credential.username;
    credentials_.password = credential.password;
  }
  ~Driver() {
    for (Flow& flow : flows_) {
      closeFlow(flow);
    }
    ::close(epoll_fd_);
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  int runRelay();
  int runChurn();
  int runHold();

 private:
  // Opens flow i's client leg (and its peer socket when with_peer) and starts it.
  bool openFlow(std::size_t i, Plan plan, bool with_peer, Clock::time_point now);
  void closeFlow(Flow& flow);
  std::uint16_t nextChurnPort(Plan plan);
  void watch(int fd, std::uint64_t key);
  // Waits up to `wait` for events and dispatches them.
  void pollOnce(std::chrono::milliseconds wait);
  void onClient(std::size_t i);
  void onPeer(std::size_t i);
  void onEcho(Flow& flow, std::size_t i, ConstBytes message);
  void sweepTimeouts(Clock::time_point now);
  // Brings flows [0, n) up, at most options_.concurrency at a time; returns how many are ready.
  std::size_t establish(std::size_t n, Plan plan, bool with_peers, std::chrono::seconds limit);
  // Deletes every ready flow, at most options_.concurrency at a time (bounded).
  void deleteAll();
  void sendChannelData(Flow& flow, std::size_t i, std::size_t count, Clock::time_point now);
  void pace(Clock::time_point start, Clock::time_point now, std::uint64_t& due_sent,
            std::size_t& round_robin);
  void fillWindows(Clock::time_point now);
  void printRelay(std::size_t ready, double generator_cpu, double server_cpu,
                  double machine_cpu) const;
  [[nodiscard]] std::size_t pendingCount() const;

  const Options& options_;
  Credentials credentials_;
  Errors errors_;
  TurnSteps steps_;
  int epoll_fd_;
  std::array<epoll_event, 256> events_{};  // pollOnce's, cleared once rather than per call
  SslCtxPtr ssl_ctx_;
  std::vector<Flow> flows_;
  RelayCounters relay_;
  Histogram rtt_;
  bool measuring_ = false;
  Clock::duration idle_{};  // measured window: time in epoll_wait calls that found nothing
  static constexpr std::uint16_t kChurnPortMin = 32768;  // Linux's default ephemeral range
  static constexpr std::uint16_t kChurnPortMax = 60999;
  std::uint16_t churn_port_ = kChurnPortMin;
};

void Driver::watch(int fd, std::uint64_t key) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = key;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
}

bool Driver::openFlow(std::size_t i, Plan plan, bool with_peer, Clock::time_point now) {
  Flow& flow = flows_[i];
  auto conn = Conn::open(options_.transport, options_.server, ssl_ctx_.get(),
                         std::chrono::milliseconds(3000), nextChurnPort(plan));
  for (int tries = 0; !conn && conn.error().starts_with("bind") && tries < 1000; ++tries) {
    conn = Conn::open(options_.transport, options_.server, ssl_ctx_.get(),
                      std::chrono::milliseconds(3000), nextChurnPort(plan));
  }
  if (!conn) {
    std::fprintf(stderr, "turn_load: %s\n", conn.error().c_str());
    ++errors_.broken;
    flow.step = Step::kFailed;
    return false;
  }
  flow.conn = std::move(*conn);
  flow.plan = plan;
  watch(flow.conn.fd(), i << 1U);
  if (with_peer && flow.peer_fd < 0) {
    flow.peer_fd = openPeerSocket();
    if (flow.peer_fd < 0) {
      ++errors_.broken;
      steps_.fail(flow);
      return false;
    }
    flow.peer = localEndpoint(flow.peer_fd);
    watch(flow.peer_fd, (i << 1U) | 1U);
  }
  steps_.begin(flow, options_.bare, now);
  return true;
}

// Churn over UDP cycles through the ephemeral port range in order, so that a client port comes
// back only after every other one was used (seconds later): a server that keeps a deleted
// allocation's 5-tuple for a while (coturn answers 437 then) is not asked to reuse it at once,
// as the kernel's random choice would. openFlow skips ports in use.
std::uint16_t Driver::nextChurnPort(Plan plan) {
  if (plan != Plan::kDelete || options_.transport != Transport::kUdp) {
    return 0;
  }
  churn_port_ = churn_port_ >= kChurnPortMax ? kChurnPortMin : churn_port_ + 1;
  return churn_port_;
}

void Driver::closeFlow(Flow& flow) {
  flow.conn.close();
  if (flow.peer_fd >= 0) {
    ::close(flow.peer_fd);
    flow.peer_fd = -1;
  }
}

void Driver::pollOnce(std::chrono::milliseconds wait) {
  const auto before = Clock::now();
  const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                             static_cast<int>(wait.count()));
  if (n <= 0 && measuring_) {
    idle_ += Clock::now() - before;  // spinning with nothing to do (--busy-poll)
  }
  for (int k = 0; k < n; ++k) {
    const std::uint64_t key = events_[static_cast<std::size_t>(k)].data.u64;
    const std::size_t i = key >> 1U;
    if ((key & 1U) != 0) {
      onPeer(i);
    } else {
      onClient(i);
    }
  }
}

void Driver::onClient(std::size_t i) {
  Flow& flow = flows_[i];
  if (!flow.conn.isOpen()) {
    return;
  }
  const auto now = Clock::now();
  const bool ok = flow.conn.drain([&](ConstBytes message) {
    // The bare setup answer starts with 'T', which has ChannelData's first bits.
    if (flow.step != Step::kBareSetup && protocol::looksLikeChannelData(message)) {
      onEcho(flow, i, message);
    } else if (flow.conn.isOpen()) {
      (void)steps_.onMessage(flow, message, now);
    }
  });
  if (!ok && flow.conn.isOpen()) {
    if (flow.step != Step::kDone) {
      ++errors_.broken;
    }
    steps_.fail(flow);
  }
}

void Driver::onEcho(Flow& flow, std::size_t i, ConstBytes message) {
  auto data = protocol::parseChannelData(message);
  if (!data || data->channel != kChannel || data->data.size() != options_.payload) {
    ++relay_.invalid;
    return;
  }
  const auto payload = decodePayload(data->data);
  if (payload.flow != i) {
    ++relay_.invalid;
    return;
  }
  if (flow.in_flight > 0) {
    --flow.in_flight;
  }
  const auto now = Clock::now();
  flow.last_progress = now;
  if (measuring_) {
    ++relay_.echoed;
    rtt_.add(now.time_since_epoch().count() - payload.sent_ns);
  }
}

void Driver::onPeer(std::size_t i) {
  Flow& flow = flows_[i];
  const std::size_t n = echoAll(flow.peer_fd);
  if (measuring_) {
    relay_.peer_received += n;
  }
}

// The frames are built once (header, zero payload and padding); a send rewrites only the first
// kPayloadHeader bytes of each payload.
void Driver::sendChannelData(Flow& flow, std::size_t i, std::size_t count, Clock::time_point now) {
  static std::vector<std::vector<std::byte>> frames;
  static std::vector<ConstBytes> views;
  const std::size_t size = protocol::channelDataSize(options_.payload, flow.conn.isStream());
  if (frames.size() < count) {
    frames.resize(count);
  }
  views.clear();
  for (std::size_t k = 0; k < count; ++k) {
    std::vector<std::byte>& frame = frames[k];
    if (frame.size() != size) {
      frame.assign(size, std::byte{0});
      protocol::writeChannelDataHeader(frame, kChannel,
                                       static_cast<std::uint16_t>(options_.payload));
    }
    encodePayload(std::span(frame).subspan(protocol::kChannelDataHeaderSize),
                  {.flow = i, .seq = flow.next_seq++, .sent_ns = now.time_since_epoch().count()});
    views.emplace_back(frame);
  }
  const std::ptrdiff_t sent = flow.conn.sendBatch(views);
  if (sent < 0) {
    ++errors_.broken;
    steps_.fail(flow);
    return;
  }
  // What a full socket buffer refused was never offered to the server: not sent, not lost.
  flow.in_flight += static_cast<std::uint32_t>(sent);
  relay_.sent += static_cast<std::uint64_t>(sent);
  relay_.refused += count - static_cast<std::size_t>(sent);
}

void Driver::sweepTimeouts(Clock::time_point now) {
  for (Flow& flow : flows_) {
    steps_.checkTimeout(flow, now);
  }
}

std::size_t Driver::pendingCount() const {
  return static_cast<std::size_t>(std::count_if(flows_.begin(), flows_.end(), [](const Flow& f) {
    return f.step != Step::kReady && f.step != Step::kFailed && f.step != Step::kDone &&
           f.step != Step::kIdle;
  }));
}

std::size_t Driver::establish(std::size_t n, Plan plan, bool with_peers,
                              std::chrono::seconds limit) {
  flows_.resize(n);
  const auto deadline = Clock::now() + limit;
  std::size_t next = 0;
  auto last_sweep = Clock::now();
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    std::size_t pending = pendingCount();
    for (; next < n && pending < options_.concurrency; ++pending) {
      openFlow(next++, plan, with_peers, now);
    }
    if (next == n && pendingCount() == 0) {
      break;
    }
    pollOnce(std::chrono::milliseconds(5));
    if (now - last_sweep > std::chrono::milliseconds(50)) {
      sweepTimeouts(now);
      last_sweep = now;
    }
  }
  std::size_t ready = 0;
  for (Flow& flow : flows_) {
    if (flow.step == Step::kReady) {
      ++ready;
    } else if (flow.step != Step::kFailed) {
      ++errors_.timeouts;
      steps_.fail(flow);
    }
  }
  return ready;
}

void Driver::deleteAll() {
  if (options_.bare) {
    return;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::size_t next = 0;
  auto last_sweep = Clock::now();
  std::size_t in_flight = 0;
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    for (; next < flows_.size() && in_flight < options_.concurrency; ++next) {
      if (flows_[next].step == Step::kReady) {
        steps_.refresh(flows_[next], 0, now);
        ++in_flight;
      }
    }
    in_flight = pendingCount();
    if (next == flows_.size() && in_flight == 0) {
      return;
    }
    pollOnce(std::chrono::milliseconds(5));
    if (now - last_sweep > std::chrono::milliseconds(50)) {
      sweepTimeouts(now);
      last_sweep = now;
    }
  }
}

// Fixed rate: at each 1 ms tick, sends what the schedule says is due, spread over the
// allocations in small batches (one sendmmsg each).
void Driver::pace(Clock::time_point start, Clock::time_point now, std::uint64_t& due_sent,
                  std::size_t& round_robin) {
  const std::size_t k = flows_.size();
  // Whole ticks only, so the batches are the same whether the loop sleeps or spins.
  const auto ticks = static_cast<double>((now - start) / kTick);
  const auto due = static_cast<std::uint64_t>(ticks * options_.rate *
                                              std::chrono::duration<double>(kTick).count());
  while (due_sent < due) {
    Flow& flow = flows_[round_robin];
    const std::size_t batch =
        std::min<std::uint64_t>(due - due_sent, std::max<std::size_t>(1, (due - due_sent) / k));
    if (flow.step == Step::kReady) {
      sendChannelData(flow, round_robin, batch, now);
    }
    due_sent += batch;
    round_robin = (round_robin + 1) % k;
  }
}

// Flat out: tops every allocation's window up to options_.window packets in flight. A window
// with no echo for kStallAfter is written off (its packets count as lost at the end).
void Driver::fillWindows(Clock::time_point now) {
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    Flow& flow = flows_[i];
    if (flow.step != Step::kReady) {
      continue;
    }
    if (flow.in_flight > 0 && now - flow.last_progress > kStallAfter) {
      flow.in_flight = 0;
    }
    if (flow.in_flight < options_.window) {
      if (flow.in_flight == 0) {
        flow.last_progress = now;
      }
      sendChannelData(flow, i, options_.window - flow.in_flight, now);
    }
  }
}

void Driver::printRelay(std::size_t ready, double generator_cpu, double server_cpu,
                        double machine_cpu) const {
  const double seconds = options_.seconds;
  const std::uint64_t relayed = relay_.peer_received + relay_.echoed;
  std::printf(
      "mode=relay transport=%s bare=%d allocations=%zu ready=%zu seconds=%.2f rate=%.0f "
      "window=%u payload=%zu sent=%llu peer_received=%llu echoed=%llu loss_pct=%.3f "
      "refused=%llu relayed=%llu relayed_per_s=%.0f rtt_p50_us=%.1f rtt_p99_us=%.1f invalid=%llu "
      "generator_cpu_s=%.3f generator_busy_s=%.3f server_cpu_s=%.3f "
      "server_cpu_us_per_relayed=%.3f machine_cpu_s=%.3f machine_cpu_us_per_relayed=%.3f "
      "errors=%s "
      "timeouts=%llu broken=%llu retransmissions=%llu "
      "definition=relayed_is_peer_received_plus_echoed\n",
      toString(options_.transport), options_.bare ? 1 : 0, flows_.size(), ready, seconds,
      options_.rate, options_.window, options_.payload,
      static_cast<unsigned long long>(relay_.sent),
      static_cast<unsigned long long>(relay_.peer_received),
      static_cast<unsigned long long>(relay_.echoed), relay_.lossPercent(),
      static_cast<unsigned long long>(relay_.refused), static_cast<unsigned long long>(relayed),
      static_cast<double>(relayed) / seconds, rtt_.percentileMicros(50), rtt_.percentileMicros(99),
      static_cast<unsigned long long>(relay_.invalid), generator_cpu,
      std::max(0.0, generator_cpu - std::chrono::duration<double>(idle_).count()), server_cpu,
      relayed == 0 ? 0.0 : server_cpu * 1e6 / static_cast<double>(relayed), machine_cpu,
      relayed == 0 ? 0.0 : machine_cpu * 1e6 / static_cast<double>(relayed),
      errors_.summary().c_str(), static_cast<unsigned long long>(errors_.timeouts),
      static_cast<unsigned long long>(errors_.broken),
      static_cast<unsigned long long>(steps_.retransmissions));
}

int Driver::runRelay() {
  const std::size_t k = options_.allocations;
  const std::size_t ready = establish(k, Plan::kBind, true, std::chrono::seconds(20));
  if (ready == 0) {
    std::printf("mode=relay ok=0 ready=0 errors=%s timeouts=%llu broken=%llu\n",
                errors_.summary().c_str(), static_cast<unsigned long long>(errors_.timeouts),
                static_cast<unsigned long long>(errors_.broken));
    return 1;
  }
  for (Flow& flow : flows_) {
    if (flow.step == Step::kReady) {
      connectPeer(flow.peer_fd, flow.relayed);
    }
  }
  const ServerProbe probe(options_.server_pid);
  const double server_cpu_start = probe.cpuSeconds();
  const double machine_cpu_start = machineCpuSeconds();
  const double cpu_start = ownCpuSeconds();
  measuring_ = true;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options_.seconds));
  std::uint64_t due_sent = 0;
  std::size_t round_robin = 0;
  auto last_sweep = start;
  double server_cpu_end = 0;
  double machine_cpu_end = 0;
  double cpu_end = 0;
  bool sending = true;
  for (auto now = start; now < end + kDrain; now = Clock::now()) {
    if (sending && now >= end) {
      sending = false;  // the window ends here; echoes still in flight are counted
      server_cpu_end = probe.cpuSeconds();
      machine_cpu_end = machineCpuSeconds();
      cpu_end = ownCpuSeconds();
    }
    if (sending && options_.rate > 0) {
      pace(start, now, due_sent, round_robin);
    } else if (sending) {
      fillWindows(now);
    }
    pollOnce(options_.busy_poll ? std::chrono::milliseconds(0) : kTick);
    if (now - last_sweep > std::chrono::milliseconds(100)) {
      sweepTimeouts(now);
      last_sweep = now;
    }
  }
  measuring_ = false;
  printRelay(ready, cpu_end - cpu_start, server_cpu_end - server_cpu_start,
             machine_cpu_end - machine_cpu_start);
  std::fflush(stdout);
  deleteAll();
  const bool clean = errors_.total() == 0 && relay_.invalid == 0;
  return relay_.echoed > 0 && clean && ready == k ? 0 : 1;
}

int Driver::runChurn() {
  flows_.resize(options_.concurrency);
  const ServerProbe probe(options_.server_pid);
  const double server_cpu_start = probe.cpuSeconds();
  const double cpu_start = ownCpuSeconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options_.seconds));
  auto last_sweep = start;
  for (auto now = start; now < end + std::chrono::seconds(3); now = Clock::now()) {
    std::size_t active = 0;
    for (std::size_t i = 0; i < flows_.size(); ++i) {
      Flow& flow = flows_[i];
      if (flow.step == Step::kDone || flow.step == Step::kFailed || flow.step == Step::kIdle) {
        closeFlow(flow);
        flow.step = Step::kIdle;
        if (now < end) {
          openFlow(i, Plan::kDelete, false, now);
        }
      }
      active += flow.step != Step::kIdle && flow.step != Step::kFailed ? 1 : 0;
    }
    if (now >= end && active == 0) {
      break;
    }
    pollOnce(kTick);
    if (now - last_sweep > std::chrono::milliseconds(50)) {
      sweepTimeouts(now);
      last_sweep = now;
    }
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double server_cpu = probe.cpuSeconds() - server_cpu_start;
  std::printf(
      "mode=churn transport=%s concurrency=%zu seconds=%.2f wall_s=%.2f allocated=%llu "
      "deleted=%llu allocations_per_s=%.0f errors_508=%llu errors=%s timeouts=%llu broken=%llu "
      "retransmissions=%llu generator_cpu_s=%.3f server_cpu_s=%.3f "
      "server_cpu_us_per_allocation=%.1f\n",
      toString(options_.transport), options_.concurrency, options_.seconds, wall,
      static_cast<unsigned long long>(steps_.allocated),
      static_cast<unsigned long long>(steps_.deleted),
      static_cast<double>(steps_.allocated) / options_.seconds,
      static_cast<unsigned long long>(errors_.code(protocol::error::kInsufficientCapacity)),
      errors_.summary().c_str(), static_cast<unsigned long long>(errors_.timeouts),
      static_cast<unsigned long long>(errors_.broken),
      static_cast<unsigned long long>(steps_.retransmissions), ownCpuSeconds() - cpu_start,
      server_cpu,
      steps_.allocated == 0 ? 0.0 : server_cpu * 1e6 / static_cast<double>(steps_.allocated));
  // 508 is the server saying its relay ports are all taken: a result, not a failure.
  const std::uint64_t capacity = errors_.code(protocol::error::kInsufficientCapacity);
  return steps_.allocated > 0 && errors_.total() == capacity ? 0 : 1;
}

int Driver::runHold() {
  const ServerProbe probe(options_.server_pid);
  const long rss_baseline = probe.rssKib();
  const auto start = Clock::now();
  const std::size_t n = options_.allocations;
  const std::size_t ready = establish(n, Plan::kHold, false, std::chrono::seconds(120));
  const double setup_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "turn_load: %zu of %zu allocations up in %.2f s\n", ready, n, setup_s);
  if (!options_.ready_file.empty()) {
    std::ofstream(options_.ready_file) << ready << "\n";
  }
  // Hold, refreshing each allocation halfway through its lifetime. RSS is read after a second
  // of settling and again at the end; the larger counts.
  const auto hold_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options_.seconds));
  long rss_held = 0;
  auto last_sweep = Clock::now();
  const auto settle = Clock::now() + std::chrono::seconds(1);
  for (auto now = Clock::now(); now < hold_end; now = Clock::now()) {
    for (Flow& flow : flows_) {
      if (flow.step == Step::kReady && now >= flow.refresh_at) {
        steps_.refresh(flow, options_.lifetime == 0 ? flow.lifetime : options_.lifetime, now);
      }
    }
    if (rss_held == 0 && now >= settle) {
      rss_held = probe.rssKib();
    }
    pollOnce(std::chrono::milliseconds(20));
    if (now - last_sweep > std::chrono::milliseconds(100)) {
      sweepTimeouts(now);
      last_sweep = now;
    }
  }
  rss_held = std::max(rss_held, probe.rssKib());
  std::size_t still_up = 0;
  for (const Flow& flow : flows_) {
    still_up += flow.step == Step::kReady || flow.step == Step::kRefresh ? 1 : 0;
  }
  deleteAll();
  const double per_allocation =
      ready == 0 ? 0.0 : static_cast<double>(rss_held - rss_baseline) / static_cast<double>(ready);
  std::printf(
      "mode=hold transport=%s allocations=%zu ready=%zu still_up=%zu deleted=%llu setup_s=%.2f "
      "hold_s=%.1f server_rss_baseline_kib=%ld server_rss_held_kib=%ld "
      "server_rss_kib_per_allocation=%.3f errors=%s timeouts=%llu broken=%llu "
      "retransmissions=%llu\n",
      toString(options_.transport), n, ready, still_up,
      static_cast<unsigned long long>(steps_.deleted), setup_s, options_.seconds, rss_baseline,
      rss_held, per_allocation, errors_.summary().c_str(),
      static_cast<unsigned long long>(errors_.timeouts),
      static_cast<unsigned long long>(errors_.broken),
      static_cast<unsigned long long>(steps_.retransmissions));
  return ready == n && still_up == n && errors_.total() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace turnpike::bench

int main(int argc, char** argv) {
  using namespace turnpike::bench;  // NOLINT(google-build-using-namespace)
  Options options;
  if (auto error = parseOptions(argc, argv, options); !error.empty()) {
    std::fprintf(stderr, "%s\n%s", error.c_str(), kUsage.data());
    return error == "help" ? 0 : 2;
  }
  raiseFdLimit();
  Driver driver(options);
  switch (options.mode) {
    case Mode::kRelay:
      return driver.runRelay();
    case Mode::kChurn:
      return driver.runChurn();
    case Mode::kHold:
      return driver.runHold();
  }
  return 2;
}

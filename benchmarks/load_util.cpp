#include "benchmarks/load_util.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::bench {

const std::string_view kUsage = R"(usage: turn_load MODE [options]
  MODE: relay | churn | hold
  --server IP:PORT        TURN server (or bare_forwarder), default 127.0.0.1:3478
  --transport udp|tcp|tls client leg, default udp (TLS: no certificate check)
  --bare                  drive benchmarks/bare_forwarder (relay mode, UDP): no TURN, a setup
                          datagram instead of Allocate + ChannelBind
  --allocations N         relay: allocations K (default 100); hold: allocations N
  --seconds S             relay/churn: measured window; hold: how long to hold (default 5)
  --rate R                relay: ChannelData messages the clients send per second, all
                          allocations together, paced every millisecond; 0 = flat out with
                          --window W packets in flight per allocation (default 0)
  --window W              default 8
  --payload BYTES         ChannelData payload, default 120
  --concurrency C         requests in flight while establishing/deleting, and churn's
                          concurrent allocations (default 64)
  --lifetime SECONDS      LIFETIME to ask for (default: none, the server's default)
  --secret S --user U     REST credentials: username "<expiry>:U", password
                          base64(HMAC-SHA1(S, username)) (default bench-secret, bench)
  --server-pid PID        read the server's CPU time (and RSS in hold mode) from /proc at the
                          start and end of the measured window
  --ready-file PATH       hold: written when every allocation is up
  --busy-poll             relay: never sleep in epoll_wait during the window, so a server's
                          sends never pay for waking the generator (on loopback the sender's
                          CPU does the receiver's wake-up); generator_busy_s then leaves out
                          the spinning
Relayed packets: every datagram the server forwards counts once, so one round trip (client ->
server -> peer socket -> server -> client) is 2 relayed packets: relayed = peer_received +
echoed. Loss = 1 - echoed / sent. Output: one line of key=value.
)";

namespace {

// a + b (g++ 12 warns falsely, -Wrestrict, about operator+ on a literal and a string).
std::string concat(std::string_view a, std::string_view b) {
  std::string text(a);
  text.append(b);
  return text;
}

bool parseEndpoint(const std::string& text, Endpoint& out) {
  const auto endpoint = Endpoint::parse(text);
  if (!endpoint || !endpoint->address.isV4()) {
    return false;
  }
  out = *endpoint;
  return true;
}

std::string applyOption(std::string_view name, const std::string& value, Options& o) {
  if (name == "--server") {
    return parseEndpoint(value, o.server) ? "" : "bad --server (IPv4:PORT)";
  }
  if (name == "--transport") {
    if (value == "udp") {
      o.transport = Transport::kUdp;
    } else if (value == "tcp") {
      o.transport = Transport::kTcp;
    } else if (value == "tls") {
      o.transport = Transport::kTls;
    } else {
      return "bad --transport";
    }
  } else if (name == "--allocations") {
    o.allocations = std::stoul(value);
  } else if (name == "--seconds") {
    o.seconds = std::stod(value);
  } else if (name == "--rate") {
    o.rate = std::stod(value);
  } else if (name == "--window") {
    o.window = static_cast<std::uint32_t>(std::stoul(value));
  } else if (name == "--payload") {
    o.payload = std::stoul(value);
  } else if (name == "--concurrency") {
    o.concurrency = std::stoul(value);
  } else if (name == "--lifetime") {
    o.lifetime = static_cast<std::uint32_t>(std::stoul(value));
  } else if (name == "--secret") {
    o.secret = value;
  } else if (name == "--user") {
    o.user = value;
  } else if (name == "--server-pid") {
    o.server_pid = static_cast<pid_t>(std::stol(value));
  } else if (name == "--ready-file") {
    o.ready_file = value;
  } else {
    return concat("unknown option ", name);
  }
  return "";
}

}  // namespace

std::string parseOptions(int argc, char** argv, Options& options) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    return args.empty() ? "missing MODE" : "help";
  }
  if (args[0] == "relay") {
    options.mode = Mode::kRelay;
  } else if (args[0] == "churn") {
    options.mode = Mode::kChurn;
  } else if (args[0] == "hold") {
    options.mode = Mode::kHold;
  } else {
    return concat("unknown mode ", args[0]);
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help") {
      return "help";
    }
    if (args[i] == "--bare") {
      options.bare = true;
      continue;
    }
    if (args[i] == "--busy-poll") {
      options.busy_poll = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      return concat("missing value for ", args[i]);
    }
    try {
      if (auto error = applyOption(args[i], std::string(args[i + 1]), options); !error.empty()) {
        return error;
      }
    } catch (const std::exception&) {
      return concat("bad value for ", args[i]);
    }
    ++i;
  }
  if (options.payload < kPayloadHeader || options.payload > 1400 || options.allocations == 0 ||
      options.concurrency == 0 || options.window == 0 || options.rate < 0) {
    return "out of range: --payload 20..1400, --allocations/--concurrency/--window >= 1";
  }
  if (options.bare && (options.mode != Mode::kRelay || options.transport != Transport::kUdp)) {
    return "--bare is for relay mode over udp";
  }
  return "";
}

const char* toString(Transport transport) {
  switch (transport) {
    case Transport::kUdp:
      return "udp";
    case Transport::kTcp:
      return "tcp";
    case Transport::kTls:
      return "tls";
  }
  return "?";
}

void raiseFdLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

double ownCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int openPeerSocket() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in local = toSockaddr({protocol::IpAddress::v4({127, 0, 0, 1}), 0});
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {  // NOLINT
    ::close(fd);
    return -1;
  }
  return fd;
}

void connectPeer(int fd, const Endpoint& relayed) {
  sockaddr_in to = toSockaddr(relayed);
  ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));  // NOLINT
}

std::size_t echoAll(int fd) {
  DatagramHeaders headers;
  std::size_t total = 0;
  for (;;) {
    const std::size_t n = receiveIntoArena(fd, headers);
    if (n == 0) {
      return total;
    }
    for (std::size_t i = 0; i < n; ++i) {
      headers.iov[i].iov_len = headers.messages[i].msg_len;
    }
    (void)::sendmmsg(fd, headers.messages.data(), static_cast<unsigned>(n), 0);
    total += n;
    if (n < Conn::kBatch) {
      return total;
    }
  }
}

void encodePayload(MutableBytes out, const Payload& payload) {
  protocol::store32(out, 0, static_cast<std::uint32_t>(payload.flow));
  protocol::store32(out, 4, static_cast<std::uint32_t>(payload.seq >> 32U));
  protocol::store32(out, 8, static_cast<std::uint32_t>(payload.seq));
  const auto sent = static_cast<std::uint64_t>(payload.sent_ns);
  protocol::store32(out, 12, static_cast<std::uint32_t>(sent >> 32U));
  protocol::store32(out, 16, static_cast<std::uint32_t>(sent));
}

Payload decodePayload(ConstBytes in) {
  Payload payload;
  payload.flow = protocol::load32(in, 0);
  payload.seq = (std::uint64_t{protocol::load32(in, 4)} << 32U) | protocol::load32(in, 8);
  payload.sent_ns = static_cast<std::int64_t>((std::uint64_t{protocol::load32(in, 12)} << 32U) |
                                              protocol::load32(in, 16));
  return payload;
}

double RelayCounters::lossPercent() const {
  return sent == 0 ? 0.0
                   : 100.0 * static_cast<double>(sent - std::min(sent, echoed)) /
                         static_cast<double>(sent);
}

void Histogram::add(std::int64_t nanoseconds) {
  const auto micros = static_cast<std::size_t>(std::max<std::int64_t>(nanoseconds, 0) / 1000);
  ++buckets_[std::min(micros, kBuckets)];
  ++count_;
}

double Histogram::percentileMicros(double percentile) const {
  if (count_ == 0) {
    return 0;
  }
  const auto target = static_cast<std::uint64_t>(percentile / 100.0 * static_cast<double>(count_));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen > target) {
      return static_cast<double>(i) + 0.5;
    }
  }
  return static_cast<double>(kBuckets);
}

double machineCpuSeconds() {
  std::ifstream stat("/proc/stat");
  std::string label;
  stat >> label;  // "cpu"
  double busy = 0;
  for (int i = 0; i < 8; ++i) {  // user nice system idle iowait irq softirq steal
    double ticks = 0;
    if (!(stat >> ticks)) {
      break;
    }
    if (i != 3 && i != 4) {
      busy += ticks;
    }
  }
  return busy / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ServerProbe::cpuSeconds() const {
  if (pid_ == 0) {
    return 0;
  }
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may contain spaces.
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) {  // utime, stime
      ticks += std::stod(field);
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long ServerProbe::rssKib() const {
  if (pid_ == 0) {
    return 0;
  }
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return 0;
}

}  // namespace turnpike::bench

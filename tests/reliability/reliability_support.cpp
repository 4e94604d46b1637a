#include "tests/reliability/reliability_support.hpp"

#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace turnpike::test {

std::optional<std::size_t> openFdCount(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error);
  if (error) {
    return std::nullopt;
  }
  std::size_t count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) {
      return std::nullopt;
    }
    ++count;
  }
  return count;
}

std::optional<std::uint64_t> residentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) {
      std::istringstream fields(line.substr(6));
      std::uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return std::nullopt;
}

std::optional<double> cpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  // After "pid (comm)": state is field 3, utime field 14, stime field 15.
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> values;
  for (std::string value; fields >> value && values.size() < 13;) {
    values.push_back(value);
  }
  if (values.size() < 13) {
    return std::nullopt;
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::stod(values[11]) + std::stod(values[12])) / ticks;
}

UniqueFd udpSocketOn(const protocol::IpAddress& address, int receive_buffer) {
  UniqueFd fd = boundSocket(SOCK_DGRAM, {address, 0});
  if (fd.valid()) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  return fd;
}

UniqueFd udpConnectFrom(const protocol::IpAddress& source, const protocol::Endpoint& server) {
  UniqueFd fd = boundSocket(SOCK_DGRAM, {source, 0});
  if (!fd.valid()) {
    return fd;
  }
  sockaddr_storage address{};
  socklen_t length = 0;
  if (server.address.isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address);  // NOLINT
    in->sin_family = AF_INET;
    in->sin_port = htons(server.port);
    std::memcpy(&in->sin_addr, server.address.bytes().data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);  // NOLINT
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(server.port);
    std::memcpy(&in6->sin6_addr, server.address.bytes().data(), 16);
    length = sizeof(sockaddr_in6);
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {  // NOLINT
    return UniqueFd();
  }
  return fd;
}

void setAbortiveClose(int fd) {
  const linger abortive{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
}

UniqueFd tcpConnectAbortive(const protocol::Endpoint& server, Millis timeout) {
  UniqueFd fd = tcpConnect(server, timeout);
  if (fd.valid()) {
    setAbortiveClose(fd.get());
  }
  return fd;
}

int udpBindingAttempts(const protocol::Endpoint& server, int tries) {
  const UniqueFd fd = udpConnect(server);
  const protocol::TransactionId id = randomTransactionId();
  const Bytes request = buildMessage(id);
  for (int attempt = 1; attempt <= tries; ++attempt) {
    sendUdp(fd.get(), request);
    const auto deadline = TurnClock::now() + 500ms;
    while (TurnClock::now() < deadline) {
      const auto reply =
          recvUdp(fd.get(), std::chrono::duration_cast<Millis>(deadline - TurnClock::now()));
      if (!reply) {
        break;
      }
      const auto message = protocol::Message::parse(*reply);
      if (message && message->transactionId() == id &&
          message->messageClass() == MessageClass::kSuccessResponse) {
        return attempt;
      }
    }
  }
  return 0;
}

std::size_t stillOpen(const std::vector<int>& fds, Millis timeout) {
  const auto deadline = TurnClock::now() + timeout;
  std::size_t open = 0;
  for (const int fd : fds) {
    const auto left =
        std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - TurnClock::now()));
    open += waitForPeerClose(fd, left) ? 0 : 1;
  }
  return open;
}

void discardPending(int fd) {
  std::array<std::byte, 2048> sink{};
  // Bounded: a peer cannot keep this busy for more than a few thousand reads.
  for (int i = 0; i < 4096; ++i) {
    if (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) <= 0) {
      return;
    }
  }
}

Bytes tlsClientHello() {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(context);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  (void)SSL_do_handshake(ssl);  // wants the server's answer: the ClientHello is in `out`
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  Bytes hello(static_cast<std::size_t>(std::max(size, 0L)));
  std::memcpy(hello.data(), data, hello.size());
  SSL_free(ssl);
  SSL_CTX_free(context);
  return hello;
}

std::size_t rateLimitBucket(const protocol::IpAddress& address) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < 4; ++i) {
    hash = (hash ^ address.bytes()[i]) * 0x100000001b3ULL;
  }
  return hash & 4095U;
}

std::string ServerResources::toString() const {
  std::ostringstream out;
  out << "fds=" << fds << " rss=" << rss / 1024 << "KiB process_open_fds=" << metric_fds
      << " process_resident_memory_bytes=" << metric_rss << " allocations=" << allocations
      << " ports_in_use=" << ports_in_use << " ports_free=" << ports_free
      << " permissions=" << permissions << " channels=" << channels << " tcp=" << tcp_active
      << " tls=" << tls_active;
  return out.str();
}

double ReliabilityTest::metric(std::string_view name,
                               const std::vector<std::string>& labels) const {
  return scrapeMetric(httpServer(), name, labels).value_or(-1);
}

ServerResources ReliabilityTest::resources() const {
  ServerResources r;
  // libevent shuts an HTTP connection down (the client sees EOF) and closes its fd on a later
  // loop iteration, so the last scrape's fd may still be open: count until two readings 20 ms
  // apart agree (measured: 5-95% of connections still open right after EOF, none 20 ms later).
  r.fds = openFdCount(serverPid()).value_or(0);
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::size_t again = openFdCount(serverPid()).value_or(0);
    if (again == r.fds) {
      break;
    }
    r.fds = again;
  }
  r.rss = residentBytes(serverPid()).value_or(0);
  const auto text = scrape();
  if (!text) {
    return r;
  }
  const auto value = [&](std::string_view name, const std::vector<std::string>& labels = {}) {
    return metricValue(*text, name, labels).value_or(-1);
  };
  r.metric_fds = value("process_open_fds");
  r.metric_rss = value("process_resident_memory_bytes");
  // The allocation gauge has a sample per transport and family: sum them.
  r.allocations = 0;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("turnpike_allocations_active{")) {
      r.allocations += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  r.ports_in_use = value("turnpike_relay_ports_in_use");
  r.ports_free = value("turnpike_relay_ports_free");
  r.permissions = value("turnpike_permissions_active");
  r.channels = value("turnpike_channels_active");
  r.tcp_active = value("turnpike_tcp_connections_active", {"transport=\"tcp\""});
  r.tls_active = value("turnpike_tcp_connections_active", {"transport=\"tls\""});
  return r;
}

std::string fdTable(pid_t pid) {
  std::string out;
  std::error_code error;
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    out += entry.path().filename().string() + " -> " +
           std::filesystem::read_symlink(entry.path(), error).string() + "\n";
  }
  return out;
}

bool ReliabilityTest::backToBaseline(const ServerResources& baseline, Millis timeout,
                                     ServerResources& last) const {
  const bool back = eventually(
      [&] {
        last = resources();
        return last.fds == baseline.fds && last.allocations == 0 && last.ports_in_use == 0 &&
               last.ports_free == baseline.ports_free && last.permissions == 0 &&
               last.channels == 0 && last.tcp_active <= baseline.tcp_active &&
               last.tls_active <= baseline.tls_active;
      },
      timeout);
  if (!back) {
    std::printf("the server's fds:\n%s", fdTable(serverPid()).c_str());
  }
  return back;
}

}  // namespace turnpike::test

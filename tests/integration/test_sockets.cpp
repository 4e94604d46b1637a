// The socket helpers of server_fixture.hpp: loopback endpoints, free ports, UDP and TCP
// clients with bounded waits. (ServerFixture itself, processes, HTTP and STUN are in
// server_fixture.cpp.)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Endpoint;
using protocol::IpAddress;

// Milliseconds left until deadline, for poll(); 0 when it has passed.
int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Waits for events on fd until deadline; false on timeout. Retries on EINTR.
bool pollFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd entry{fd, events, 0};
    const int rc = ::poll(&entry, 1, remainingMs(deadline));
    if (rc > 0) {
      return true;
    }
    if (rc == 0 || errno != EINTR) {
      return false;
    }
  }
}

socklen_t toSockaddr(const Endpoint& endpoint, sockaddr_storage& out) {
  out = {};
  if (endpoint.address.isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);  // NOLINT
    in->sin_family = AF_INET;
    in->sin_port = htons(endpoint.port);
    std::memcpy(&in->sin_addr, endpoint.address.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);  // NOLINT
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(endpoint.port);
  std::memcpy(&in6->sin6_addr, endpoint.address.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

Endpoint fromSockaddr(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);  // NOLINT
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &in->sin_addr, 4);
    return {IpAddress::v4(bytes), ntohs(in->sin_port)};
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);  // NOLINT
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), &in6->sin6_addr, 16);
  return {IpAddress::v6(bytes), ntohs(in6->sin6_port)};
}

int familyOf(const IpAddress& address) { return address.isV4() ? AF_INET : AF_INET6; }

UniqueFd openSocket(const IpAddress& address, int type) {
  return UniqueFd(::socket(familyOf(address), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

bool bindTo(int fd, const Endpoint& endpoint) {
  sockaddr_storage address{};
  const socklen_t length = toSockaddr(endpoint, address);
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;  // NOLINT
}

bool connectTo(int fd, const Endpoint& endpoint) {
  sockaddr_storage address{};
  const socklen_t length = toSockaddr(endpoint, address);
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0 ||  // NOLINT
         errno == EINPROGRESS;
}

}  // namespace

Endpoint loopback(bool ipv6, std::uint16_t port) {
  return {ipv6 ? *IpAddress::parse("::1") : IpAddress::v4({127, 0, 0, 1}), port};
}

Endpoint localEndpointOf(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {  // NOLINT
    ADD_FAILURE() << "getsockname: " << std::strerror(errno);
    return {};
  }
  return fromSockaddr(address);
}

std::optional<std::uint16_t> pickFreePort(const IpAddress& address) {
  constexpr int kAttempts = 20;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const UniqueFd udp = openSocket(address, SOCK_DGRAM);
    if (!udp.valid() || !bindTo(udp.get(), {address, 0})) {
      return std::nullopt;  // the address itself is unusable
    }
    const std::uint16_t port = localEndpointOf(udp.get()).port;
    const UniqueFd tcp = openSocket(address, SOCK_STREAM);
    if (tcp.valid() && bindTo(tcp.get(), {address, port})) {
      return port;
    }
  }
  return std::nullopt;
}

UniqueFd boundSocket(int type, const Endpoint& local) {
  UniqueFd fd = openSocket(local.address, type);
  if (!fd.valid() || !bindTo(fd.get(), local)) {
    return {};
  }
  return fd;
}

UniqueFd udpConnect(const Endpoint& server) {
  // A server keeps an allocation per 5-tuple until it expires, so a client that reused the port
  // of an earlier one in the same test would find that allocation (437 Allocation Mismatch, as
  // TurnAuthTest once did). The kernel may hand out a freed port again: take another then.
  static std::mutex mutex;
  static std::set<std::pair<bool, std::uint16_t>> used;  // (IPv6, port) handed out before
  constexpr int kAttempts = 20;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    UniqueFd fd = udpConnectFrom(loopback(server.address.isV6()), server);
    if (!fd.valid()) {
      return fd;
    }
    const std::scoped_lock lock(mutex);
    if (used.emplace(server.address.isV6(), localEndpointOf(fd.get()).port).second) {
      return fd;
    }
  }
  ADD_FAILURE() << "no unused local port for a udp client of " << server.toString();
  return {};
}

UniqueFd udpConnectFrom(const Endpoint& local, const Endpoint& server) {
  UniqueFd fd = openSocket(server.address, SOCK_DGRAM);
  if (!fd.valid() || !bindTo(fd.get(), local) || !connectTo(fd.get(), server)) {
    ADD_FAILURE() << "udp socket to " << server.toString() << ": " << std::strerror(errno);
    return {};
  }
  return fd;
}

bool sendUdp(int fd, protocol::ConstBytes data) {
  const ssize_t sent = ::send(fd, data.data(), data.size(), 0);
  if (sent != static_cast<ssize_t>(data.size())) {
    ADD_FAILURE() << "udp send of " << data.size() << " bytes: " << std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<Bytes> recvUdp(int fd, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes buffer(protocol::kMaxMessageSize + 1);
  while (pollFor(fd, POLLIN, deadline)) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n >= 0) {
      buffer.resize(static_cast<std::size_t>(n));
      return buffer;
    }
    // ECONNREFUSED: an ICMP port unreachable from an earlier send (server not up yet).
    if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool noUdpReply(int fd, Millis window) { return !recvUdp(fd, window).has_value(); }

UniqueFd tcpConnect(const Endpoint& server, Millis timeout) {
  UniqueFd fd = openSocket(server.address, SOCK_STREAM);
  if (!fd.valid() || !connectTo(fd.get(), server) ||
      !pollFor(fd.get(), POLLOUT, Clock::now() + timeout)) {
    return {};
  }
  int error = 0;
  socklen_t length = sizeof(error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
    return {};
  }
  return fd;
}

bool sendAll(int fd, protocol::ConstBytes data, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data = data.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
    if (!pollFor(fd, POLLOUT, deadline)) {
      return false;
    }
  }
  return true;
}

std::optional<Bytes> recvExactly(int fd, std::size_t n, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes buffer(n);
  std::size_t have = 0;
  while (have < n) {
    const ssize_t got = ::recv(fd, buffer.data() + have, n - have, MSG_DONTWAIT);
    if (got > 0) {
      have += static_cast<std::size_t>(got);
      continue;
    }
    if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      return std::nullopt;  // EOF or error
    }
    if (!pollFor(fd, POLLIN, deadline)) {
      return std::nullopt;
    }
  }
  return buffer;
}

std::optional<Bytes> recvStun(int fd, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  auto header = recvExactly(fd, protocol::kHeaderSize, timeout);
  if (!header) {
    return std::nullopt;
  }
  const std::size_t length = protocol::load16(*header, 2);
  const auto left =
      std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
  auto body = recvExactly(fd, length, left);
  if (!body) {
    return std::nullopt;
  }
  header->insert(header->end(), body->begin(), body->end());
  return header;
}

bool waitForPeerClose(int fd, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  std::array<std::byte, 4096> sink{};
  while (true) {
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      return true;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
    if (n < 0 && !pollFor(fd, POLLIN, deadline)) {
      return false;
    }
  }
}

bool tcpStaysQuiet(int fd, Millis window) {
  if (pollFor(fd, POLLIN, Clock::now() + window)) {
    return false;  // data, EOF or an error arrived
  }
  return true;
}

std::optional<Bytes> recvUntilClose(int fd, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes out;
  std::array<std::byte, 4096> chunk{};
  while (true) {
    const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n > 0) {
      out.insert(out.end(), chunk.begin(), chunk.begin() + n);
      continue;
    }
    if (n == 0) {
      return out;
    }
    if (errno != EAGAIN && errno != EINTR) {
      return std::nullopt;
    }
    if (!pollFor(fd, POLLIN, deadline)) {
      return std::nullopt;
    }
  }
}

bool sendUdpTo(int fd, const Endpoint& to, protocol::ConstBytes data) {
  sockaddr_storage address{};
  const socklen_t length = toSockaddr(to, address);
  const ssize_t sent = ::sendto(fd, data.data(), data.size(), 0,
                                reinterpret_cast<const sockaddr*>(&address), length);  // NOLINT
  if (sent != static_cast<ssize_t>(data.size())) {
    ADD_FAILURE() << "udp send of " << data.size() << " bytes to " << to.toString() << ": "
                  << std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<ReceivedDatagram> recvUdpFrom(int fd, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes buffer(protocol::kMaxMessageSize + 1);
  while (pollFor(fd, POLLIN, deadline)) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&address), &length);  // NOLINT
    if (n >= 0) {
      buffer.resize(static_cast<std::size_t>(n));
      return ReceivedDatagram{fromSockaddr(address), std::move(buffer)};
    }
    if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace turnpike::test

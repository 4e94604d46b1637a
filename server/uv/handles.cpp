#include "server/uv/handles.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace turnpike::server::uv {

std::string UvError::toString() const { return what + ": " + uv_strerror(code); }

sockaddr_storage toSockaddr(const protocol::Endpoint& endpoint) {
  sockaddr_storage storage{};
  (void)writeSockaddr(endpoint, storage);
  return storage;
}

socklen_t writeSockaddr(const protocol::Endpoint& endpoint, sockaddr_storage& storage) {
  const auto& bytes = endpoint.address.bytes();
  if (endpoint.address.isV4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);  // NOLINT
    sin->sin_family = AF_INET;
    sin->sin_port = htons(endpoint.port);
    std::memcpy(&sin->sin_addr, bytes.data(), 4);
    std::memset(&sin->sin_zero, 0, sizeof(sin->sin_zero));
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);  // NOLINT
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(endpoint.port);
  sin6->sin6_flowinfo = 0;
  std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
  sin6->sin6_scope_id = 0;
  return sizeof(sockaddr_in6);
}

protocol::Endpoint fromSockaddr(const sockaddr* address) {
  protocol::Endpoint endpoint;
  if (address->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(address);  // NOLINT
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &sin->sin_addr, 4);
    endpoint.address = protocol::IpAddress::v4(bytes);
    endpoint.port = ntohs(sin->sin_port);
  } else if (address->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(address);  // NOLINT
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &sin6->sin6_addr, 16);
    endpoint.address = protocol::IpAddress::v6(bytes);
    endpoint.port = ntohs(sin6->sin6_port);
  }
  return endpoint;
}

protocol::Endpoint endpointOf(uv_tcp_t* handle, bool peer) {
  sockaddr_storage address{};
  int length = sizeof(address);
  const int rc = peer ? uv_tcp_getpeername(handle, asSockaddr(address), &length)
                      : uv_tcp_getsockname(handle, asSockaddr(address), &length);
  return rc == 0 ? fromSockaddr(asSockaddr(address)) : protocol::Endpoint{};
}

std::expected<int, UvError> openBoundSocket(SocketKind kind, const protocol::Endpoint& endpoint,
                                            SocketOptions options) {
  const int family = endpoint.address.isV4() ? AF_INET : AF_INET6;
  const int type =
      (kind == SocketKind::kUdp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  const int fd = ::socket(family, type, 0);
  if (fd < 0) {
    return std::unexpected(UvError{"socket", -errno});
  }
  const int one = 1;
  if (options.reuse_port) {
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  if (options.buffer_bytes > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.buffer_bytes, sizeof(options.buffer_bytes));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.buffer_bytes, sizeof(options.buffer_bytes));
  }
  if (options.dont_fragment) {
    const int pmtu = IP_PMTUDISC_DO;
    if (family == AF_INET) {
      ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
    } else {
      const int pmtu6 = IPV6_PMTUDISC_DO;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu6, sizeof(pmtu6));
    }
  }
  if (family == AF_INET6) {
    // An IPv6 listener serves IPv6 only; IPv4 gets its own listener.
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  const sockaddr_storage address = toSockaddr(endpoint);
  const socklen_t length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {  // NOLINT
    const int error = -errno;
    ::close(fd);
    return std::unexpected(UvError{"bind " + endpoint.toString(), error});
  }
  return fd;
}

}  // namespace turnpike::server::uv

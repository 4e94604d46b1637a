#include "benchmarks/load_conn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace turnpike::bench {
namespace {

sockaddr* asSockaddr(sockaddr_in* address) {
  return reinterpret_cast<sockaddr*>(
      address);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

void setTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Waits (bounded) until fd is ready for events.
bool waitFor(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

std::string sslError(const char* what) {
  std::array<char, 256> text{};
  ERR_error_string_n(ERR_get_error(), text.data(), text.size());
  return std::string(what) + ": " + text.data();
}

}  // namespace

SslCtxPtr makeClientTlsContext() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  return ctx;
}

sockaddr_in toSockaddr(const Endpoint& endpoint) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(endpoint.port);
  std::memcpy(&address.sin_addr, endpoint.address.bytes().data(), 4);
  return address;
}

Endpoint fromSockaddr(const sockaddr_in& address) {
  std::array<std::uint8_t, 4> ip{};
  std::memcpy(ip.data(), &address.sin_addr, 4);
  return {protocol::IpAddress::v4(ip), ntohs(address.sin_port)};
}

Endpoint localEndpoint(int fd) {
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  ::getsockname(fd, asSockaddr(&local), &length);
  return fromSockaddr(local);
}

std::span<std::array<std::byte, Conn::kDatagramMax>, Conn::kBatch> datagramArena() {
  static std::array<std::array<std::byte, Conn::kDatagramMax>, Conn::kBatch> arena{};
  return arena;
}

std::size_t receiveIntoArena(int fd, DatagramHeaders& headers) {
  auto arena = datagramArena();
  for (std::size_t i = 0; i < Conn::kBatch; ++i) {
    headers.iov[i] = {arena[i].data(), arena[i].size()};
    headers.messages[i] = {};
    headers.messages[i].msg_hdr.msg_iov = &headers.iov[i];
    headers.messages[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = ::recvmmsg(fd, headers.messages.data(), Conn::kBatch, MSG_DONTWAIT, nullptr);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

Conn::Conn(Conn&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      transport_(other.transport_),
      ssl_(std::exchange(other.ssl_, nullptr)),
      framer_(std::move(other.framer_)) {}

Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    transport_ = other.transport_;
    ssl_ = std::exchange(other.ssl_, nullptr);
    framer_ = std::move(other.framer_);
  }
  return *this;
}

std::expected<Conn, std::string> Conn::open(Transport transport, const Endpoint& server,
                                            SSL_CTX* ctx, std::chrono::milliseconds timeout,
                                            std::uint16_t local_port) {
  Conn conn;
  conn.transport_ = transport;
  const bool stream = transport != Transport::kUdp;
  conn.fd_ = ::socket(AF_INET, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (conn.fd_ < 0) {
    return std::unexpected(std::string("socket: ") + std::strerror(errno));
  }
  setTimeouts(conn.fd_, timeout);
  if (stream) {
    const int one = 1;
    ::setsockopt(conn.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (local_port != 0) {
    sockaddr_in local = toSockaddr({protocol::IpAddress::v4({127, 0, 0, 1}), local_port});
    if (::bind(conn.fd_, asSockaddr(&local), sizeof(local)) != 0) {
      return std::unexpected(std::string("bind: ") + std::strerror(errno));
    }
  }
  sockaddr_in to = toSockaddr(server);
  if (::connect(conn.fd_, asSockaddr(&to), sizeof(to)) != 0) {
    return std::unexpected(std::string("connect: ") + std::strerror(errno));
  }
  if (transport == Transport::kTls) {
    conn.ssl_ = SSL_new(ctx);
    if (conn.ssl_ == nullptr || SSL_set_fd(conn.ssl_, conn.fd_) != 1) {
      return std::unexpected(sslError("SSL_new"));
    }
    if (SSL_connect(conn.ssl_) != 1) {
      return std::unexpected(sslError("TLS handshake"));
    }
  }
  if (stream) {
    conn.framer_ = std::make_unique<protocol::StreamFramer>();
  }
  setNonBlocking(conn.fd_);
  return conn;
}

void Conn::close() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  framer_.reset();
}

bool Conn::writeAll(ConstBytes bytes) {
  const auto* data = protocol::asUchar(bytes);
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (ssl_ != nullptr) {
      const int n = SSL_write(ssl_, data + done, static_cast<int>(bytes.size() - done));
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      const int error = SSL_get_error(ssl_, n);
      const short wait = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      if ((error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ) ||
          !waitFor(fd_, wait, kWriteTimeout)) {
        return false;
      }
      continue;
    }
    const ssize_t n = ::send(fd_, data + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd_, POLLOUT, kWriteTimeout)) {
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

bool Conn::send(ConstBytes message) {
  if (isStream()) {
    return writeAll(message);
  }
  // A full socket buffer drops the datagram, as the network would.
  const ssize_t n = ::send(fd_, message.data(), message.size(), 0);
  return n >= 0 || errno == EAGAIN || errno == ENOBUFS;
}

std::ptrdiff_t Conn::sendBatch(std::span<const ConstBytes> messages) {
  if (isStream()) {
    static std::vector<std::byte> joined;
    joined.clear();
    for (ConstBytes message : messages) {
      joined.insert(joined.end(), message.begin(), message.end());
    }
    return writeAll(joined) ? static_cast<std::ptrdiff_t>(messages.size()) : -1;
  }
  std::ptrdiff_t sent = 0;
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> headers{};
  for (std::size_t start = 0; start < messages.size(); start += kBatch) {
    const std::size_t count = std::min(kBatch, messages.size() - start);
    for (std::size_t i = 0; i < count; ++i) {
      iov[i] = {const_cast<std::byte*>(messages[start + i].data()),  // NOLINT
                messages[start + i].size()};
      headers[i] = {};
      headers[i].msg_hdr.msg_iov = &iov[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::sendmmsg(fd_, headers.data(), static_cast<unsigned>(count), 0);
    if (n < 0 && errno != EAGAIN && errno != ENOBUFS) {
      return -1;
    }
    sent += n > 0 ? n : 0;
    if (static_cast<std::size_t>(std::max(n, 0)) < count) {
      break;
    }
  }
  return sent;
}

std::size_t Conn::receiveDatagrams() {
  DatagramHeaders headers;
  const std::size_t n = receiveIntoArena(fd_, headers);
  for (std::size_t i = 0; i < n; ++i) {
    sizes_[i] = headers.messages[i].msg_len;
  }
  return n;
}

int Conn::readStream() {
  MutableBytes space = framer_->writableSpace();
  if (space.empty()) {
    return -1;
  }
  if (ssl_ != nullptr) {
    const int n = SSL_read(ssl_, space.data(), static_cast<int>(space.size()));
    if (n > 0) {
      framer_->commit(static_cast<std::size_t>(n));
      return 1;
    }
    const int error = SSL_get_error(ssl_, n);
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? 0 : -1;
  }
  const ssize_t n = ::recv(fd_, space.data(), space.size(), MSG_DONTWAIT);
  if (n > 0) {
    framer_->commit(static_cast<std::size_t>(n));
    return 1;
  }
  return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

}  // namespace turnpike::bench

#include "server/selftest/connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "protocol/turn/stream_framer.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server::selftest {
namespace {

using protocol::Endpoint;

std::unexpected<IoError> socketError(int error_number) {
  return std::unexpected(
      IoError{.kind = IoError::Kind::kSocket, .error_number = error_number, .detail = {}});
}

std::unexpected<IoError> timeout() { return std::unexpected(IoError{}); }

// Waits until fd is ready for `events` or the deadline passes.
std::expected<void, IoError> waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return timeout();
    }
    pollfd entry{.fd = fd, .events = events, .revents = 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (ready > 0) {
      return {};
    }
    if (ready < 0 && errno != EINTR) {
      return socketError(errno);
    }
  }
}

Fd openSocket(int family, int type) {
  return Fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

int familyOf(const Endpoint& endpoint) { return endpoint.address.isV4() ? AF_INET : AF_INET6; }

std::expected<void, IoError> connectSocket(int fd, const Endpoint& to) {
  sockaddr_storage address{};
  const socklen_t length = uv::writeSockaddr(to, address);
  if (::connect(fd, uv::asSockaddr(address), length) != 0 && errno != EINPROGRESS) {
    return socketError(errno);
  }
  return {};
}

std::expected<Endpoint, IoError> socketName(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd, uv::asSockaddr(address), &length) != 0) {
    return socketError(errno);
  }
  return uv::fromSockaddr(uv::asSockaddr(address));
}

class UdpConnection final : public Connection {
 public:
  explicit UdpConnection(Fd fd) : fd_(std::move(fd)) {}
  [[nodiscard]] Transport transport() const override { return Transport::kUdp; }

  std::expected<void, IoError> send(protocol::ConstBytes bytes, Clock::time_point) override {
    if (::send(fd_.get(), bytes.data(), bytes.size(), 0) < 0) {
      return socketError(errno);
    }
    return {};
  }

  std::expected<Bytes, IoError> receive(Clock::time_point deadline) override {
    Bytes buffer(protocol::kMaxMessageSize);
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
      if (n >= 0) {
        buffer.resize(static_cast<std::size_t>(n));
        return buffer;
      }
      if (errno != EAGAIN && errno != EINTR) {
        return socketError(errno);
      }
      if (auto ready = waitFor(fd_.get(), POLLIN, deadline); !ready) {
        return std::unexpected(ready.error());
      }
    }
  }

 private:
  Fd fd_;
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct SslContextFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};

// The last OpenSSL error as text, or `fallback` when the queue is empty.
std::string sslReason(const char* fallback) {
  const unsigned long code = ERR_get_error();
  if (code == 0) {
    return fallback;
  }
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

std::expected<std::size_t, IoError> toSize(const std::expected<int, IoError>& n) {
  if (!n) {
    return std::unexpected(n.error());
  }
  return static_cast<std::size_t>(*n);
}

// TCP, or TLS over TCP when ssl is set: STUN and ChannelData frames.
class StreamConnection final : public Connection {
 public:
  StreamConnection(Fd fd, std::unique_ptr<SSL, SslFree> ssl)
      : fd_(std::move(fd)), ssl_(std::move(ssl)) {}
  ~StreamConnection() override {
    if (ssl_) {
      (void)SSL_shutdown(ssl_.get());  // close_notify, best effort (the socket is non-blocking)
    }
  }
  [[nodiscard]] Transport transport() const override {
    return ssl_ ? Transport::kTls : Transport::kTcp;
  }

  std::expected<void, IoError> send(protocol::ConstBytes bytes,
                                    Clock::time_point deadline) override {
    while (!bytes.empty()) {
      auto written = writeSome(bytes, deadline);
      if (!written) {
        return std::unexpected(written.error());
      }
      bytes = bytes.subspan(*written);
    }
    return {};
  }

  std::expected<Bytes, IoError> receive(Clock::time_point deadline) override {
    for (;;) {
      auto frame = framer_.next();
      if (!frame) {
        return std::unexpected(IoError{.kind = IoError::Kind::kClosed,
                                       .detail = std::string(protocol::toString(frame.error()))});
      }
      if (*frame) {
        return Bytes((*frame)->bytes.begin(), (*frame)->bytes.end());
      }
      auto read = readSome(framer_.writableSpace(), deadline);
      if (!read) {
        return std::unexpected(read.error());
      }
      framer_.commit(*read);
    }
  }

  // Completes the TLS handshake (client side).
  std::expected<void, IoError> handshake(Clock::time_point deadline) {
    auto done = sslRetry(deadline, [this] { return SSL_connect(ssl_.get()); });
    if (!done) {
      return std::unexpected(done.error());
    }
    return {};
  }

 private:
  // Runs an SSL call until it succeeds, waiting on the socket for WANT_READ/WANT_WRITE.
  template <typename Call>
  std::expected<int, IoError> sslRetry(Clock::time_point deadline, Call call) {
    for (;;) {
      ERR_clear_error();
      const int result = call();
      if (result > 0) {
        return result;
      }
      const int error = SSL_get_error(ssl_.get(), result);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        if (auto ready =
                waitFor(fd_.get(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            !ready) {
          return std::unexpected(ready.error());
        }
        continue;
      }
      if (error == SSL_ERROR_ZERO_RETURN) {
        return std::unexpected(
            IoError{.kind = IoError::Kind::kClosed, .error_number = 0, .detail = {}});
      }
      if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        return errno != 0 ? socketError(errno)
                          : std::unexpected(IoError{
                                .kind = IoError::Kind::kClosed, .error_number = 0, .detail = {}});
      }
      const long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        return std::unexpected(IoError{.kind = IoError::Kind::kTls,
                                       .detail = X509_verify_cert_error_string(verify),
                                       .verify_failed = true});
      }
      return std::unexpected(
          IoError{.kind = IoError::Kind::kTls, .detail = sslReason("unknown TLS error")});
    }
  }

  std::expected<std::size_t, IoError> writeSome(protocol::ConstBytes bytes,
                                                Clock::time_point deadline) {
    if (ssl_) {
      return toSize(sslRetry(deadline, [&] {
        return SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()));
      }));
    }
    for (;;) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        return static_cast<std::size_t>(n);
      }
      if (errno != EAGAIN && errno != EINTR) {
        return socketError(errno);
      }
      if (auto ready = waitFor(fd_.get(), POLLOUT, deadline); !ready) {
        return std::unexpected(ready.error());
      }
    }
  }

  std::expected<std::size_t, IoError> readSome(protocol::MutableBytes space,
                                               Clock::time_point deadline) {
    if (ssl_) {
      return toSize(sslRetry(deadline, [&] {
        return SSL_read(ssl_.get(), space.data(), static_cast<int>(space.size()));
      }));
    }
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), space.data(), space.size(), 0);
      if (n > 0) {
        return static_cast<std::size_t>(n);
      }
      if (n == 0) {
        return std::unexpected(
            IoError{.kind = IoError::Kind::kClosed, .error_number = 0, .detail = {}});
      }
      if (errno != EAGAIN && errno != EINTR) {
        return socketError(errno);
      }
      if (auto ready = waitFor(fd_.get(), POLLIN, deadline); !ready) {
        return std::unexpected(ready.error());
      }
    }
  }

  Fd fd_;
  std::unique_ptr<SSL, SslFree> ssl_;
  protocol::StreamFramer framer_;
};

std::expected<Fd, IoError> tcpSocket(const Endpoint& server, Clock::time_point deadline) {
  Fd fd = openSocket(familyOf(server), SOCK_STREAM);
  if (fd.get() < 0) {
    return socketError(errno);
  }
  if (auto started = connectSocket(fd.get(), server); !started) {
    return std::unexpected(started.error());
  }
  if (auto ready = waitFor(fd.get(), POLLOUT, deadline); !ready) {
    return std::unexpected(ready.error());
  }
  int error = 0;
  socklen_t length = sizeof(error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
    return socketError(errno);
  }
  if (error != 0) {
    return socketError(error);
  }
  return fd;
}

}  // namespace

Fd::Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::expected<std::unique_ptr<Connection>, IoError> connectUdp(const Endpoint& server) {
  Fd fd = openSocket(familyOf(server), SOCK_DGRAM);
  if (fd.get() < 0) {
    return socketError(errno);
  }
  if (auto connected = connectSocket(fd.get(), server); !connected) {
    return std::unexpected(connected.error());
  }
  return std::make_unique<UdpConnection>(std::move(fd));
}

std::expected<std::unique_ptr<Connection>, IoError> connectTcp(const Endpoint& server,
                                                               Clock::time_point deadline) {
  auto fd = tcpSocket(server, deadline);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  return std::make_unique<StreamConnection>(std::move(*fd), nullptr);
}

std::expected<std::unique_ptr<Connection>, IoError> connectTls(const Endpoint& server,
                                                               const TlsOptions& options,
                                                               Clock::time_point deadline) {
  auto fd = tcpSocket(server, deadline);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  const auto tls_error = [](const char* what) {
    return std::unexpected(IoError{.kind = IoError::Kind::kTls, .detail = sslReason(what)});
  };
  const std::unique_ptr<SSL_CTX, SslContextFree> context(SSL_CTX_new(TLS_client_method()));
  if (!context) {
    return tls_error("cannot create a TLS context");
  }
  if (!options.insecure) {
    const int loaded =
        options.ca_file.empty()
            ? SSL_CTX_set_default_verify_paths(context.get())
            : SSL_CTX_load_verify_locations(context.get(), options.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return tls_error("cannot load the CA certificates");
    }
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd->get()) != 1) {
    return tls_error("cannot create a TLS session");
  }
  if (!options.name.empty()) {
    (void)SSL_set_tlsext_host_name(ssl.get(), options.name.c_str());
  }
  if (!options.insecure) {
    const bool set = options.name.empty()
                         ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()),
                                                         server.address.toString().c_str()) == 1
                         : SSL_set1_host(ssl.get(), options.name.c_str()) == 1;
    if (!set) {
      return tls_error("cannot set the name to verify");
    }
  }
  auto connection = std::make_unique<StreamConnection>(std::move(*fd), std::move(ssl));
  if (auto done = connection->handshake(deadline); !done) {
    return std::unexpected(done.error());
  }
  return connection;
}

std::expected<PeerSocket, IoError> PeerSocket::bind(const protocol::IpAddress& local) {
  PeerSocket peer;
  peer.fd_ = openSocket(local.isV4() ? AF_INET : AF_INET6, SOCK_DGRAM);
  if (peer.fd_.get() < 0) {
    return socketError(errno);
  }
  sockaddr_storage address{};
  const socklen_t length = uv::writeSockaddr(Endpoint{local, 0}, address);
  if (::bind(peer.fd_.get(), uv::asSockaddr(address), length) != 0) {
    return socketError(errno);
  }
  auto name = socketName(peer.fd_.get());
  if (!name) {
    return std::unexpected(name.error());
  }
  peer.local_ = *name;
  return peer;
}

std::expected<void, IoError> PeerSocket::sendTo(const Endpoint& to,
                                                protocol::ConstBytes bytes) const {
  sockaddr_storage address{};
  const socklen_t length = uv::writeSockaddr(to, address);
  if (::sendto(fd_.get(), bytes.data(), bytes.size(), 0, uv::asSockaddr(address), length) < 0) {
    return socketError(errno);
  }
  return {};
}

std::expected<PeerSocket::Datagram, IoError> PeerSocket::receive(Clock::time_point deadline) const {
  Bytes buffer(protocol::kMaxMessageSize);
  for (;;) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const ssize_t n =
        ::recvfrom(fd_.get(), buffer.data(), buffer.size(), 0, uv::asSockaddr(address), &length);
    if (n >= 0) {
      buffer.resize(static_cast<std::size_t>(n));
      return Datagram{uv::fromSockaddr(uv::asSockaddr(address)), std::move(buffer)};
    }
    if (errno != EAGAIN && errno != EINTR) {
      return socketError(errno);
    }
    if (auto ready = waitFor(fd_.get(), POLLIN, deadline); !ready) {
      return std::unexpected(ready.error());
    }
  }
}

std::expected<protocol::IpAddress, IoError> localAddressFor(const Endpoint& server) {
  const Fd fd = openSocket(familyOf(server), SOCK_DGRAM);
  if (fd.get() < 0) {
    return socketError(errno);
  }
  if (auto connected = connectSocket(fd.get(), server); !connected) {
    return std::unexpected(connected.error());
  }
  auto name = socketName(fd.get());
  if (!name) {
    return std::unexpected(name.error());
  }
  return name->address;
}

std::expected<protocol::IpAddress, std::string> resolveHost(const std::string& host) {
  if (auto literal = protocol::IpAddress::parse(host)) {
    return *literal;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int error = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); error != 0) {
    return std::unexpected("cannot resolve " + host + ": " + ::gai_strerror(error));
  }
  const Endpoint first = uv::fromSockaddr(found->ai_addr);
  ::freeaddrinfo(found);
  return first.address;
}

}  // namespace turnpike::server::selftest

// `turnpike selftest`: the client side of the sockets. Blocking-style calls on non-blocking
// sockets, every wait bounded by a deadline (poll). A Connection carries STUN messages and
// ChannelData to one server over UDP, TCP or TLS (frames split by protocol::StreamFramer).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "server/selftest/diagnosis.hpp"

namespace turnpike::server::selftest {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::byte>;

struct IoError {
  enum class Kind : std::uint8_t { kTimeout, kClosed, kSocket, kTls };
  Kind kind = Kind::kTimeout;
  int error_number = 0;        // kSocket: errno
  std::string detail{};        // kTls: OpenSSL's reason
  bool verify_failed = false;  // kTls: the certificate did not verify
};

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_ = -1;
};

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection() = default;

  [[nodiscard]] virtual Transport transport() const = 0;
  [[nodiscard]] virtual std::expected<void, IoError> send(protocol::ConstBytes bytes,
                                                          Clock::time_point deadline) = 0;
  // One datagram, or one STUN message / ChannelData frame (without its padding) of the stream.
  [[nodiscard]] virtual std::expected<Bytes, IoError> receive(Clock::time_point deadline) = 0;
};

// A UDP socket connected to server (so ICMP errors come back as ECONNREFUSED).
[[nodiscard]] std::expected<std::unique_ptr<Connection>, IoError> connectUdp(
    const protocol::Endpoint& server);
[[nodiscard]] std::expected<std::unique_ptr<Connection>, IoError> connectTcp(
    const protocol::Endpoint& server, Clock::time_point deadline);

struct TlsOptions {
  std::string ca_file;  // empty: the system trust store
  bool insecure = false;
  // The name sent as SNI and checked in the certificate; empty: check the IP address.
  std::string name;
};
[[nodiscard]] std::expected<std::unique_ptr<Connection>, IoError> connectTls(
    const protocol::Endpoint& server, const TlsOptions& options, Clock::time_point deadline);

// A UDP socket standing in for a TURN peer.
class PeerSocket {
 public:
  // Bound to local (port 0: any).
  [[nodiscard]] static std::expected<PeerSocket, IoError> bind(const protocol::IpAddress& local);
  [[nodiscard]] const protocol::Endpoint& local() const { return local_; }
  [[nodiscard]] std::expected<void, IoError> sendTo(const protocol::Endpoint& to,
                                                    protocol::ConstBytes bytes) const;
  struct Datagram {
    protocol::Endpoint source;
    Bytes bytes;
  };
  [[nodiscard]] std::expected<Datagram, IoError> receive(Clock::time_point deadline) const;

 private:
  Fd fd_;
  protocol::Endpoint local_;
};

// The local address this host uses to reach server (a connected UDP socket's name).
[[nodiscard]] std::expected<protocol::IpAddress, IoError> localAddressFor(
    const protocol::Endpoint& server);

// HOST (an IP literal or a name, resolved with getaddrinfo; the first address) and a port.
[[nodiscard]] std::expected<protocol::IpAddress, std::string> resolveHost(const std::string& host);

}  // namespace turnpike::server::selftest

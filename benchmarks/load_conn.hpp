// The client leg of the load generator (turn_load): one UDP socket, TCP connection or TLS
// connection to the server. Datagrams are messages as they are; on TCP and TLS the byte stream
// is split into STUN messages and ChannelData frames by the project's StreamFramer (RFC 8656
// section 12.5). Blocking only where bounded: connect and the TLS handshake use socket
// timeouts; a stream write that finds the socket full waits at most kWriteTimeout.
#pragma once

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/turn/stream_framer.hpp"

namespace turnpike::bench {

using protocol::ConstBytes;
using protocol::Endpoint;
using protocol::MutableBytes;

enum class Transport : std::uint8_t { kUdp, kTcp, kTls };

// A client TLS context that verifies nothing: it is a benchmark on loopback.
struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
[[nodiscard]] SslCtxPtr makeClientTlsContext();

// sockaddr_in for an IPv4 endpoint, and back.
[[nodiscard]] sockaddr_in toSockaddr(const Endpoint& endpoint);
[[nodiscard]] Endpoint fromSockaddr(const sockaddr_in& address);
[[nodiscard]] Endpoint localEndpoint(int fd);

class Conn {
 public:
  static constexpr std::chrono::milliseconds kWriteTimeout{1000};
  static constexpr std::size_t kBatch = 64;  // datagrams per recvmmsg/sendmmsg
  static constexpr std::size_t kDatagramMax = 2048;

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;
  ~Conn() { close(); }

  // A non-blocking socket connected to the server (TLS: handshake done), from 127.0.0.1:
  // local_port, or a port the kernel picks when it is 0.
  [[nodiscard]] static std::expected<Conn, std::string> open(Transport transport,
                                                             const Endpoint& server, SSL_CTX* ctx,
                                                             std::chrono::milliseconds timeout,
                                                             std::uint16_t local_port = 0);

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] bool isOpen() const { return fd_ >= 0; }
  [[nodiscard]] bool isStream() const { return transport_ != Transport::kUdp; }

  // One whole message. False when the connection is broken or stays full.
  [[nodiscard]] bool send(ConstBytes message);
  // Several messages: one sendmmsg over UDP, one write of the concatenation on a stream.
  // Returns how many went out (UDP: a full socket buffer drops the rest), -1 when broken.
  [[nodiscard]] std::ptrdiff_t sendBatch(std::span<const ConstBytes> messages);

  // Reads what is there and calls on_message(ConstBytes) for each datagram or frame (a frame's
  // bytes exclude stream padding). Returns false when the connection closed or broke.
  template <class OnMessage>
  [[nodiscard]] bool drain(OnMessage&& on_message);

  void close();

 private:
  // UDP: fills batch_ and returns the number of datagrams (0 when none are waiting).
  std::size_t receiveDatagrams();
  // Stream: reads into the framer. 1 read something, 0 nothing waiting, -1 closed or broken.
  int readStream();
  [[nodiscard]] bool writeAll(ConstBytes bytes);

  int fd_ = -1;
  Transport transport_ = Transport::kUdp;
  SSL* ssl_ = nullptr;
  std::unique_ptr<protocol::StreamFramer> framer_;
  std::array<std::size_t, kBatch> sizes_{};
};

// One receive arena shared by every Conn (the generator is single-threaded).
std::span<std::array<std::byte, Conn::kDatagramMax>, Conn::kBatch> datagramArena();

struct DatagramHeaders {
  std::array<iovec, Conn::kBatch> iov;
  std::array<mmsghdr, Conn::kBatch> messages;
};
// One recvmmsg from fd into the arena; messages[i].msg_len is datagram i's size. Returns how many
// arrived (0 when none are waiting).
std::size_t receiveIntoArena(int fd, DatagramHeaders& headers);

template <class OnMessage>
bool Conn::drain(OnMessage&& on_message) {
  if (!isStream()) {
    for (std::size_t n = receiveDatagrams(); n > 0; n = receiveDatagrams()) {
      auto arena = datagramArena();
      for (std::size_t i = 0; i < n; ++i) {
        on_message(ConstBytes(arena[i]).first(sizes_[i]));
      }
      if (n < kBatch) {
        break;
      }
    }
    return true;
  }
  for (;;) {
    const int read = readStream();
    for (;;) {
      auto frame = framer_->next();
      if (!frame) {
        return false;
      }
      if (!*frame) {
        break;
      }
      on_message((*frame)->bytes);
    }
    if (read <= 0) {
      return read == 0;
    }
  }
}

}  // namespace turnpike::bench

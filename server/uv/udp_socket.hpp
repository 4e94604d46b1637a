// A UDP socket on a libuv loop. Receives into the loop's shared buffer (style.md section 4) and
// sends with uv_udp_try_send, queueing a copy only when the kernel buffer is full.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <memory>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "server/uv/handles.hpp"
#include "server/uv/loop.hpp"

namespace turnpike::server::uv {

class UdpSocket;

class UdpSocketCallbacks {
 public:
  // `data` points into the loop's receive buffer and is valid only during the call.
  virtual void onDatagram(UdpSocket& socket, protocol::ConstBytes data,
                          const protocol::Endpoint& source) = 0;

 protected:
  ~UdpSocketCallbacks() = default;
};

class UdpSocket {
 public:
  // Bytes of copies waiting in libuv's send queue before further sends are dropped.
  static constexpr std::size_t kMaxQueuedBytes = 1U << 20U;

  struct Counters {
    std::uint64_t received = 0;
    std::uint64_t truncated = 0;  // UV_UDP_PARTIAL: larger than the receive buffer, dropped
    std::uint64_t sent = 0;
    std::uint64_t queued = 0;        // sends that waited in the queue
    std::uint64_t send_dropped = 0;  // queue full or send error
  };

  // Binds (listeners with SO_REUSEPORT, see SocketOptions) and starts receiving.
  [[nodiscard]] static std::expected<std::unique_ptr<UdpSocket>, UvError> open(
      Loop& loop, const protocol::Endpoint& local, UdpSocketCallbacks& callbacks,
      SocketOptions options = {});
  // Wraps a socket that is already bound (a reserved relay port) and starts receiving. Takes
  // ownership of fd, also on failure.
  [[nodiscard]] static std::expected<std::unique_ptr<UdpSocket>, UvError> adopt(
      Loop& loop, int fd, UdpSocketCallbacks& callbacks);

  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  void send(const protocol::Endpoint& destination, protocol::ConstBytes data) {
    send(destination, std::span(&data, 1));
  }
  // Sends the parts as one datagram (header and payload without joining them first).
  void send(const protocol::Endpoint& destination, std::span<const protocol::ConstBytes> parts);

  [[nodiscard]] const protocol::Endpoint& localEndpoint() const { return local_; }
  [[nodiscard]] const Counters& counters() const { return counters_; }

 private:
  UdpSocket(Loop& loop, UdpSocketCallbacks& callbacks);
  static void onAlloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer);
  static void onReceive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buffer,
                        const sockaddr* address, unsigned flags);

  Loop& loop_;
  UdpSocketCallbacks& callbacks_;
  uv_udp_t* handle_;
  protocol::Endpoint local_;
  Counters counters_;
  // Shared with in-flight send requests, which may complete after this object is gone.
  std::shared_ptr<std::size_t> queued_bytes_ = std::make_shared<std::size_t>(0);
};

}  // namespace turnpike::server::uv

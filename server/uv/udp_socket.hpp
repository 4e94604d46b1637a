// A UDP socket on a libuv loop, read and written with batched system calls: recvmmsg into the
// loop's receive slots (zero-copy until the iteration ends, see loop.hpp) and sendmmsg for a
// batch of datagrams. libuv's uv_udp_t reads until EAGAIN, so every wake-up of a relay socket
// costs a second, empty read, and it sends one datagram per call; the loop's readiness set
// (Loop::watch) avoids both, and costs one system call per socket where a uv_poll_t costs five.
// When the kernel's send buffer is full, copies wait in a bounded queue until the socket is
// writable.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "server/uv/handles.hpp"
#include "server/uv/loop.hpp"

namespace turnpike::server::uv {

class UdpSocket;

class UdpSocketCallbacks {
 public:
  // `data` points into the loop's receive slots and is valid until the loop iteration ends
  // (Loop::setFlushHook). The callback may destroy the socket.
  virtual void onDatagram(UdpSocket& socket, protocol::ConstBytes data,
                          const protocol::Endpoint& source) = 0;

 protected:
  ~UdpSocketCallbacks() = default;
};

class UdpSocket final : private Loop::Watcher {
 public:
  // Bytes of copies waiting for the socket to become writable before further sends are dropped.
  static constexpr std::size_t kMaxQueuedBytes = 1U << 20U;
  // Datagrams per recvmmsg and per sendmmsg call.
  static constexpr std::size_t kReceiveBatch = 32;
  static constexpr std::size_t kSendBatch = 64;
  // Parts of one outgoing datagram (header, payload, padding), sent without joining them.
  static constexpr std::size_t kMaxParts = 3;

  struct Counters {
    std::uint64_t received = 0;
    std::uint64_t truncated = 0;  // larger than a receive slot: cannot happen for UDP over IP
    std::uint64_t receive_calls = 0;
    std::uint64_t sent = 0;
    std::uint64_t send_calls = 0;
    std::uint64_t queued = 0;        // datagrams that waited for the socket to be writable
    std::uint64_t send_dropped = 0;  // queue full or send error
  };

  // One datagram of a batch: the destination and up to kMaxParts pieces, sent as one.
  struct Outgoing {
    const protocol::Endpoint* destination = nullptr;
    std::array<protocol::ConstBytes, kMaxParts> parts{};
    std::size_t part_count = 0;
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
  // Sends the datagrams in order, kSendBatch per system call.
  void send(std::span<const Outgoing> datagrams);

  [[nodiscard]] const protocol::Endpoint& localEndpoint() const { return local_; }
  [[nodiscard]] const Counters& counters() const { return counters_; }

 private:
  struct Queued {
    protocol::Endpoint destination;
    std::vector<std::byte> data;
  };

  UdpSocket(Loop& loop, int fd, UdpSocketCallbacks& callbacks);
  // Starts watching fd; `local` is its address when known (else getsockname asks the kernel).
  [[nodiscard]] static std::expected<std::unique_ptr<UdpSocket>, UvError> start(
      Loop& loop, int fd, UdpSocketCallbacks& callbacks,
      const std::optional<protocol::Endpoint>& local);
  void onReady(std::uint32_t events) override;
  void receive();
  void enqueue(const Outgoing& datagram);
  void drainQueue();
  void watchWritable(bool writable);

  Loop& loop_;
  UdpSocketCallbacks& callbacks_;
  int fd_;
  bool watched_ = false;  // in the loop's readiness set
  protocol::Endpoint local_;
  Counters counters_;
  // Datagrams waiting for the socket to be writable, from queue_head_ on. A vector, not a
  // std::deque: an empty deque already allocates ~600 bytes, for every relay socket.
  std::vector<Queued> queue_;
  std::size_t queue_head_ = 0;
  std::size_t queued_bytes_ = 0;
  bool* alive_ = nullptr;  // set while datagrams are handed out: cleared by the destructor
};

}  // namespace turnpike::server::uv

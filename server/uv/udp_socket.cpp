#include "server/uv/udp_socket.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <vector>

namespace turnpike::server::uv {
namespace {

// A send that had to wait: owns its copy of the payload until libuv is done with it.
struct QueuedSend {
  uv_udp_send_t request{};
  std::vector<std::byte> data;
  std::shared_ptr<std::size_t> queued_bytes;
};

}  // namespace

UdpSocket::UdpSocket(Loop& loop, UdpSocketCallbacks& callbacks)
    : loop_(loop), callbacks_(callbacks), handle_(new uv_udp_t) {
  uv_udp_init(loop_.get(), handle_);
  handle_->data = this;
}

UdpSocket::~UdpSocket() {
  uv_udp_recv_stop(handle_);
  closeAndDelete(handle_);
}

std::expected<std::unique_ptr<UdpSocket>, UvError> UdpSocket::open(Loop& loop,
                                                                   const protocol::Endpoint& local,
                                                                   UdpSocketCallbacks& callbacks,
                                                                   SocketOptions options) {
  auto fd = openBoundSocket(SocketKind::kUdp, local, options);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  return adopt(loop, *fd, callbacks);
}

std::expected<std::unique_ptr<UdpSocket>, UvError> UdpSocket::adopt(Loop& loop, int fd,
                                                                    UdpSocketCallbacks& callbacks) {
  std::unique_ptr<UdpSocket> socket(new UdpSocket(loop, callbacks));
  if (const int rc = uv_udp_open(socket->handle_, fd); rc != 0) {
    ::close(fd);
    return std::unexpected(UvError{"uv_udp_open", rc});
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_udp_getsockname(socket->handle_, reinterpret_cast<sockaddr*>(&bound), &length);  // NOLINT
  socket->local_ = fromSockaddr(reinterpret_cast<const sockaddr*>(&bound));           // NOLINT
  if (const int rc = uv_udp_recv_start(socket->handle_, onAlloc, onReceive); rc != 0) {
    return std::unexpected(UvError{"uv_udp_recv_start", rc});
  }
  return socket;
}

void UdpSocket::onAlloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buffer) {
  auto* self = static_cast<UdpSocket*>(handle->data);
  if (self == nullptr) {
    *buffer = uv_buf_init(nullptr, 0);
    return;
  }
  const protocol::MutableBytes space = self->loop_.receiveBuffer();
  *buffer = uv_buf_init(reinterpret_cast<char*>(space.data()),  // NOLINT
                        static_cast<unsigned>(space.size()));
}

void UdpSocket::onReceive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buffer,
                          const sockaddr* address, unsigned flags) {
  auto* self = static_cast<UdpSocket*>(handle->data);
  // nread == 0 with no address: nothing more to read; with an address it is an empty datagram,
  // which is valid and relayed. Errors on UDP are transient (ICMP).
  if (self == nullptr || nread < 0 || address == nullptr) {
    return;
  }
  ++self->counters_.received;
  if ((flags & UV_UDP_PARTIAL) != 0) {
    ++self->counters_.truncated;
    return;
  }
  const protocol::ConstBytes data =
      protocol::asBytes(buffer->base, static_cast<std::size_t>(nread));
  self->callbacks_.onDatagram(*self, data, fromSockaddr(address));
}

void UdpSocket::send(const protocol::Endpoint& destination,
                     std::span<const protocol::ConstBytes> parts) {
  constexpr std::size_t kMaxParts = 4;
  if (parts.size() > kMaxParts) {
    ++counters_.send_dropped;
    return;
  }
  const sockaddr_storage address = toSockaddr(destination);
  const auto* addr = reinterpret_cast<const sockaddr*>(&address);  // NOLINT
  // An empty datagram is valid (a zero-length relayed payload): libuv wants one buffer anyway.
  static constexpr protocol::ConstBytes kEmpty{};
  if (parts.empty()) {
    parts = std::span(&kEmpty, 1);
  }
  std::array<uv_buf_t, kMaxParts> buffers{};
  std::size_t total = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    buffers[i] =
        uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(parts[i].data())),  // NOLINT
                    static_cast<unsigned>(parts[i].size()));
    total += parts[i].size();
  }
  const int rc =
      uv_udp_try_send(handle_, buffers.data(), static_cast<unsigned>(parts.size()), addr);
  if (rc >= 0) {
    ++counters_.sent;
    return;
  }
  if (rc != UV_EAGAIN || *queued_bytes_ + total > kMaxQueuedBytes) {
    ++counters_.send_dropped;
    return;
  }
  // The kernel buffer is full: copy and let libuv send when the socket is writable.
  auto* queued = new QueuedSend{{}, {}, queued_bytes_};
  queued->data.reserve(total);
  for (const protocol::ConstBytes part : parts) {
    queued->data.insert(queued->data.end(), part.begin(), part.end());
  }
  *queued_bytes_ += total;
  uv_buf_t buffer = uv_buf_init(reinterpret_cast<char*>(queued->data.data()),  // NOLINT
                                static_cast<unsigned>(queued->data.size()));
  queued->request.data = queued;
  const int send_rc = uv_udp_send(&queued->request, handle_, &buffer, 1, addr,
                                  [](uv_udp_send_t* request, int /*status*/) {
                                    auto* done = static_cast<QueuedSend*>(request->data);
                                    *done->queued_bytes -= done->data.size();
                                    delete done;
                                  });
  if (send_rc != 0) {
    *queued_bytes_ -= total;
    delete queued;
    ++counters_.send_dropped;
    return;
  }
  ++counters_.queued;
}

}  // namespace turnpike::server::uv

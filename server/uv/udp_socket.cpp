#include "server/uv/udp_socket.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace turnpike::server::uv {
namespace {

iovec asIovec(protocol::ConstBytes part) {
  return {const_cast<std::byte*>(part.data()), part.size()};  // NOLINT: sendmsg does not write
}

bool wouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

protocol::Endpoint boundAddress(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {  // NOLINT
    return {};
  }
  return fromSockaddr(reinterpret_cast<const sockaddr*>(&bound));  // NOLINT
}

}  // namespace

UdpSocket::UdpSocket(Loop& loop, int fd, UdpSocketCallbacks& callbacks)
    : loop_(loop), callbacks_(callbacks), fd_(fd) {}

UdpSocket::~UdpSocket() {
  if (alive_ != nullptr) {
    *alive_ = false;
  }
  // Closing the fd takes it out of the loop's readiness set.
  if (watched_) {
    loop_.forget(*this);
  }
  ::close(fd_);
}

std::expected<std::unique_ptr<UdpSocket>, UvError> UdpSocket::open(Loop& loop,
                                                                   const protocol::Endpoint& local,
                                                                   UdpSocketCallbacks& callbacks,
                                                                   SocketOptions options) {
  auto fd = openBoundSocket(SocketKind::kUdp, local, options);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  // A relay socket is bound to a known port: no getsockname for it (one system call less per
  // allocation).
  return start(loop, *fd, callbacks, local.port != 0 ? std::optional(local) : std::nullopt);
}

std::expected<std::unique_ptr<UdpSocket>, UvError> UdpSocket::adopt(Loop& loop, int fd,
                                                                    UdpSocketCallbacks& callbacks) {
  return start(loop, fd, callbacks, std::nullopt);
}

std::expected<std::unique_ptr<UdpSocket>, UvError> UdpSocket::start(
    Loop& loop, int fd, UdpSocketCallbacks& callbacks,
    const std::optional<protocol::Endpoint>& local) {
  std::unique_ptr<UdpSocket> socket(new UdpSocket(loop, fd, callbacks));
  socket->local_ = local ? *local : boundAddress(fd);
  if (const int rc = loop.watch(fd, *socket, /*writable=*/false); rc != 0) {
    return std::unexpected(UvError{"epoll_ctl", rc});  // errno values are libuv's codes on Unix
  }
  socket->watched_ = true;
  return socket;
}

void UdpSocket::onReady(std::uint32_t events) {
  if ((events & EPOLLOUT) != 0) {
    drainQueue();
  }
  // An error (an ICMP report) is taken off the socket by the next read.
  if ((events & (EPOLLIN | EPOLLERR)) != 0) {
    receive();
  }
}

void UdpSocket::receive() {
  // One call per round of the loop's dispatch: the poll is level-triggered, so what is left is
  // read in the next round, after the other ready sockets had their turn.
  const std::span<mmsghdr> messages = loop_.reserveSlots(kReceiveBatch);
  // syscall(): glibc's recvmmsg and sendmmsg are cancellation points, which costs two calls
  // around each (about 1% of the relay path's CPU). Nothing here is ever cancelled.
  const long count = ::syscall(SYS_recvmmsg, fd_, messages.data(),
                               static_cast<unsigned>(messages.size()), MSG_DONTWAIT, nullptr);
  ++counters_.receive_calls;
  if (count <= 0) {
    return;  // EAGAIN (another worker's socket took it), EINTR, or a transient ICMP error
  }
  // Filled slots stay the loop's until the iteration ends; only the lengths are reset.
  loop_.commitSlots(static_cast<std::size_t>(count));
  bool alive = true;
  alive_ = &alive;
  for (const mmsghdr& message : messages.first(static_cast<std::size_t>(count))) {
    ++counters_.received;
    const msghdr& header = message.msg_hdr;
    if ((header.msg_flags & MSG_TRUNC) != 0) {
      ++counters_.truncated;
      continue;
    }
    const protocol::ConstBytes data(static_cast<const std::byte*>(header.msg_iov->iov_base),
                                    message.msg_len);
    callbacks_.onDatagram(*this, data, fromSockaddr(static_cast<const sockaddr*>(header.msg_name)));
    if (!alive) {
      break;  // the callback destroyed this socket
    }
  }
  if (alive) {
    alive_ = nullptr;
  }
}

void UdpSocket::send(const protocol::Endpoint& destination,
                     std::span<const protocol::ConstBytes> parts) {
  if (parts.size() > kMaxParts) {
    ++counters_.send_dropped;
    return;
  }
  Outgoing datagram{&destination, {}, parts.size()};
  std::ranges::copy(parts, datagram.parts.begin());
  send(std::span(&datagram, 1));
}

void UdpSocket::send(std::span<const Outgoing> datagrams) {
  if (queue_head_ < queue_.size()) {
    // Already waiting for the kernel: keep the order.
    std::ranges::for_each(datagrams, [this](const Outgoing& d) { enqueue(d); });
    return;
  }
  std::array<mmsghdr, kSendBatch> messages;               // NOLINT: filled below
  std::array<iovec, kSendBatch * kMaxParts> vectors;      // NOLINT
  std::array<sockaddr_storage, kSendBatch> destinations;  // NOLINT
  while (!datagrams.empty()) {
    const std::size_t count = std::min(datagrams.size(), kSendBatch);
    for (std::size_t i = 0; i < count; ++i) {
      const Outgoing& datagram = datagrams[i];
      iovec* parts = &vectors[i * kMaxParts];
      for (std::size_t p = 0; p < datagram.part_count; ++p) {
        parts[p] = asIovec(datagram.parts[p]);
      }
      messages[i].msg_hdr = {.msg_name = &destinations[i],
                             .msg_namelen = writeSockaddr(*datagram.destination, destinations[i]),
                             .msg_iov = parts,
                             .msg_iovlen = datagram.part_count,
                             .msg_control = nullptr,
                             .msg_controllen = 0,
                             .msg_flags = 0};
    }
    std::size_t done = 0;
    while (done < count) {
      const long sent = ::syscall(SYS_sendmmsg, fd_, &messages[done],
                                  static_cast<unsigned>(count - done), MSG_DONTWAIT);
      ++counters_.send_calls;
      if (sent > 0) {
        counters_.sent += static_cast<std::uint64_t>(sent);
        done += static_cast<std::size_t>(sent);
      } else if (errno == EINTR) {
        continue;
      } else if (wouldBlock(errno)) {
        // The kernel's buffer is full: the rest waits, in order, for the socket to drain.
        std::ranges::for_each(datagrams.subspan(done), [this](const Outgoing& d) { enqueue(d); });
        return;
      } else {
        ++counters_.send_dropped;  // this datagram only (EMSGSIZE, EPERM, ...): go on
        ++done;
      }
    }
    datagrams = datagrams.subspan(count);
  }
}

void UdpSocket::enqueue(const Outgoing& datagram) {
  std::size_t size = 0;
  for (std::size_t p = 0; p < datagram.part_count; ++p) {
    size += datagram.parts[p].size();
  }
  if (queued_bytes_ + size > kMaxQueuedBytes) {
    ++counters_.send_dropped;
    return;
  }
  const bool was_empty = queue_head_ == queue_.size();
  Queued& copy = queue_.emplace_back(Queued{*datagram.destination, {}});
  copy.data.reserve(size);
  for (std::size_t p = 0; p < datagram.part_count; ++p) {
    copy.data.insert(copy.data.end(), datagram.parts[p].begin(), datagram.parts[p].end());
  }
  queued_bytes_ += size;
  ++counters_.queued;
  if (was_empty) {
    watchWritable(true);
  }
}

void UdpSocket::drainQueue() {
  while (queue_head_ < queue_.size()) {
    Queued& front = queue_[queue_head_];
    sockaddr_storage destination;  // NOLINT: written below
    iovec part = asIovec(front.data);
    const msghdr header{.msg_name = &destination,
                        .msg_namelen = writeSockaddr(front.destination, destination),
                        .msg_iov = &part,
                        .msg_iovlen = 1,
                        .msg_control = nullptr,
                        .msg_controllen = 0,
                        .msg_flags = 0};
    ++counters_.send_calls;
    if (::sendmsg(fd_, &header, MSG_DONTWAIT) < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (wouldBlock(errno)) {
        return;  // still full: wait for the next writable event
      }
      ++counters_.send_dropped;
    } else {
      ++counters_.sent;
    }
    queued_bytes_ -= front.data.size();
    ++queue_head_;
  }
  queue_.clear();  // keeps its capacity for the next burst
  queue_head_ = 0;
  watchWritable(false);
}

void UdpSocket::watchWritable(bool writable) { (void)loop_.rewatch(fd_, *this, writable); }

}  // namespace turnpike::server::uv

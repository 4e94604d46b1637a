#include "server/uv/tcp_relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace turnpike::server::uv {
namespace {

// A TCP socket bound to `local` with SO_REUSEPORT (listener and outgoing connections share the
// relayed address), wrapped in a new handle.
std::expected<uv_tcp_t*, UvError> boundHandle(Loop& loop, const protocol::Endpoint& local) {
  auto fd = openBoundSocket(SocketKind::kTcp, local, SocketOptions{.reuse_port = true});
  if (!fd) {
    return std::unexpected(fd.error());
  }
  auto* handle = new uv_tcp_t;
  uv_tcp_init(loop.get(), handle);
  handle->data = nullptr;
  if (const int rc = uv_tcp_open(handle, *fd); rc != 0) {
    ::close(*fd);
    closeAndDelete(handle);
    return std::unexpected(UvError{"uv_tcp_open", rc});
  }
  return handle;
}

}  // namespace

std::expected<std::unique_ptr<TcpRelayListener>, UvError> TcpRelayListener::open(
    Loop& loop, const protocol::Endpoint& local, std::uint64_t tag, TcpRelayCallbacks& callbacks) {
  auto fd = openBoundSocket(SocketKind::kTcp, local, SocketOptions{.reuse_port = true});
  if (!fd) {
    return std::unexpected(fd.error());
  }
  if (::listen(*fd, kBacklog) != 0) {
    const int error = -errno;
    ::close(*fd);
    return std::unexpected(UvError{"listen " + local.toString(), error});
  }
  std::unique_ptr<TcpRelayListener> listener(new TcpRelayListener(loop, tag, callbacks));
  auto acceptor =
      Acceptor::start(loop, *fd, *listener, {.spare = false, .backlog = kBacklog});  // owns fd
  if (!acceptor) {
    return std::unexpected(acceptor.error());
  }
  listener->acceptor_ = std::move(*acceptor);
  return listener;
}

TcpRelayListener::~TcpRelayListener() = default;

void TcpRelayListener::onAcceptedFd(int fd) {
  auto* client = new uv_tcp_t;
  uv_tcp_init(loop_.get(), client);
  client->data = nullptr;
  if (uv_tcp_open(client, fd) != 0) {
    ::close(fd);
    closeAndDelete(client);
    return;
  }
  const protocol::Endpoint peer = endpointOf(client, /*peer=*/true);
  if (peer.port == 0) {  // gone already
    closeAndDelete(client);
    return;
  }
  callbacks_.onPeerAccepted(tag_, client, peer);
}

std::expected<std::unique_ptr<PeerConnection>, UvError> PeerConnection::connect(
    Loop& loop, const protocol::Endpoint& local, const protocol::Endpoint& peer, std::uint32_t id,
    TcpRelayCallbacks& callbacks) {
  auto handle = boundHandle(loop, local);
  if (!handle) {
    return std::unexpected(handle.error());
  }
  std::unique_ptr<PeerConnection> connection(new PeerConnection(*handle, id, callbacks));
  if (const int rc = startConnect(*handle, peer, connection->self_, onConnect); rc != 0) {
    return std::unexpected(UvError{"connect " + peer.toString(), rc});
  }
  connection->timer_ = new uv_timer_t;
  uv_timer_init(loop.get(), connection->timer_);
  connection->timer_->data = connection.get();
  const auto timeout_ms =
      static_cast<std::uint64_t>(std::chrono::milliseconds(kConnectTimeout).count());
  uv_timer_start(connection->timer_, onTimeout, timeout_ms, 0);
  return connection;
}

PeerConnection::PeerConnection(uv_tcp_t* handle, std::uint32_t id, TcpRelayCallbacks& callbacks)
    : handle_(handle), id_(id), callbacks_(callbacks) {
  handle_->data = this;
}

PeerConnection::~PeerConnection() {
  *self_ = nullptr;
  closeAndDelete(std::exchange(timer_, nullptr));
  closeAndDelete(std::exchange(handle_, nullptr));  // a pending connect ends as ECANCELED
}

uv_tcp_t* PeerConnection::release() {
  closeAndDelete(std::exchange(timer_, nullptr));
  uv_tcp_t* handle = std::exchange(handle_, nullptr);
  if (handle != nullptr) {
    handle->data = nullptr;
  }
  return handle;
}

void PeerConnection::onConnect(uv_connect_t* request, int status) {
  if (PeerConnection* self = takeConnectOwner<PeerConnection>(request); self != nullptr) {
    self->finish(status == 0);
  }
}

void PeerConnection::onTimeout(uv_timer_t* timer) {
  if (auto* self = static_cast<PeerConnection*>(timer->data); self != nullptr) {
    self->finish(false);
  }
}

void PeerConnection::finish(bool connected) {
  closeAndDelete(std::exchange(timer_, nullptr));
  if (connected) {
    uv_tcp_nodelay(handle_, 1);
  }
  callbacks_.onPeerConnected(id_, connected);  // may destroy this: nothing after it
}

}  // namespace turnpike::server::uv

// RFC 6062 TCP allocations, the worker's side: listening relay sockets, peer connections and
// the splice of a bound peer connection with the client's data connection. The core decides
// (protocol/turn/core_tcp.cpp); this file only does what it is told and reports back.
#include <unistd.h>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/message.hpp"
#include "server/log.hpp"
#include "server/tls/tls_session.hpp"
#include "server/worker.hpp"

namespace turnpike::server {
namespace {

// A ConnectionBind request (RFC 6062 section 6.1: method 0x00B, class request): two byte
// compares, so that only those are parsed.
bool looksLikeConnectionBind(const protocol::Frame& frame) {
  return frame.kind == protocol::FrameKind::kStun && frame.bytes.size() >= 20 &&
         frame.bytes[0] == std::byte{0x00} && frame.bytes[1] == std::byte{0x0B};
}

}  // namespace

std::expected<protocol::SocketRef, protocol::RelayOpenError> Worker::openTcp(
    const protocol::Endpoint& local, std::uint64_t tag) {
  auto slot = std::make_unique<RelaySlot>(*this, tag);
  auto listener = uv::TcpRelayListener::open(loop_, local, tag, *this);
  if (!listener) {
    return std::unexpected(relayError(listener.error(), local));
  }
  slot->listener = std::move(*listener);
  return addRelay(std::move(slot));
}

bool Worker::connectPeer(std::uint32_t connection, const protocol::Endpoint& local,
                         const protocol::Endpoint& peer) {
  // A peer connection holds a file descriptor: it counts toward limits.connections_total.
  if (!shared_.connections.admitPeer()) {
    stats_.connections_total_rejected.add();
    return false;  // 447
  }
  auto opened = uv::PeerConnection::connect(loop_, local, peer, connection, *this);
  if (!opened) {
    TP_LOG(kDebug, "tcp relay ", local.toString(), " -> ", peer.toString(), ": ",
           opened.error().toString());
    shared_.connections.releasePeer();
    return false;
  }
  counted_peers_.insert(connection);
  peer_connections_.emplace(connection, std::move(*opened));
  return true;
}

void Worker::releasePeer(std::uint32_t connection) {
  if (counted_peers_.erase(connection) != 0) {
    shared_.connections.releasePeer();
  }
}

void Worker::onPeerConnected(std::uint32_t connection, bool connected) {
  makeRoom();
  core_.onPeerConnected(connection, connected, std::chrono::steady_clock::now(), outbox_);
  if (!connected) {
    peer_connections_.erase(connection);  // the core forgot it; the handle closes
    releasePeer(connection);
  }
  flush();
}

void Worker::onPeerAccepted(std::uint64_t tag, uv_tcp_t* handle, const protocol::Endpoint& peer) {
  if (!shared_.connections.admitPeer()) {
    stats_.connections_total_rejected.add();
    TP_LOG(kDebug, "tcp relay: peer ", peer.toString(), " over limits.connections_total");
    uv::closeAndDelete(handle);
    return;
  }
  makeRoom();
  const auto connection =
      core_.onPeerAccepted(tag, peer, std::chrono::steady_clock::now(), outbox_);
  if (!connection) {
    TP_LOG(kDebug, "tcp relay: refused peer ", peer.toString());
    shared_.connections.releasePeer();
    uv::closeAndDelete(handle);
    return;
  }
  counted_peers_.insert(*connection);
  peer_connections_.emplace(*connection,
                            std::make_unique<uv::PeerConnection>(handle, *connection, *this));
  flush();  // the ConnectionAttempt
}

void Worker::bindPeer(std::uint32_t connection, const protocol::SocketRef& data_connection) {
  pending_binds_.emplace_back(connection, data_connection.id);  // after the answer is sent
}

void Worker::closePeer(std::uint32_t connection) {
  peer_connections_.erase(connection);
  releasePeer(connection);
  if (const auto bound = bound_data_connections_.find(connection);
      bound != bound_data_connections_.end()) {
    // Not now: this runs inside the core, and closing reports back to it (onClosed).
    closing_data_connections_.push_back(bound->second);
    bound_data_connections_.erase(bound);
  }
  std::erase_if(pending_binds_, [&](const auto& bind) { return bind.first == connection; });
}

void Worker::finishTcpRelayWork() {
  if (pending_binds_.empty() && closing_data_connections_.empty()) {
    return;
  }
  const auto binds = std::exchange(pending_binds_, {});
  for (const auto& [connection, data_id] : binds) {
    const auto peer = peer_connections_.find(connection);
    const auto data = connections_.find(data_id);
    if (data == connections_.end()) {
      continue;  // closed meanwhile: the core forgot the binding (onConnectionClosed)
    }
    if (peer == peer_connections_.end()) {
      data->second->close(uv::CloseReason::kLocalClose);
      continue;
    }
    // Bookkeeping first: the splice may end at once (a write error, a TLS close_notify or alert
    // that came with the ConnectionBind), and closing reports to the core, which calls
    // closePeer() and so erases from these maps.
    uv_tcp_t* peer_handle = peer->second->release();
    peer_connections_.erase(peer);
    bound_data_connections_.emplace(connection, data_id);
    uv::TcpConnection& data_connection = *data->second;  // onClosed may erase the map entry
    data_connection.spliceTo(peer_handle);
    if (uv::TcpSplice* splice = data_connection.splice();
        splice != nullptr && !data_connection.closed()) {
      // limits.bandwidth_*: the splice reads on credit from the allocation's buckets.
      splice->setGrant([this, id = connection](std::uint64_t want) {
        return core_.grantTcpBandwidth(id, want, std::chrono::steady_clock::now());
      });
    }
  }
  const auto closing = std::exchange(closing_data_connections_, {});
  for (const std::uint64_t id : closing) {
    if (const auto it = connections_.find(id); it != connections_.end()) {
      it->second->close(uv::CloseReason::kLocalClose);
    }
  }
}

protocol::TcpRelayCounts Worker::takePeerCounts(std::uint32_t connection) {
  const auto bound = bound_data_connections_.find(connection);
  if (bound == bound_data_connections_.end()) {
    return {};
  }
  const auto data = connections_.find(bound->second);
  uv::TcpSplice* splice = data == connections_.end() ? nullptr : data->second->splice();
  if (splice == nullptr) {
    return {};
  }
  const uv::TcpSplice::Counts counts = splice->takeCounts();
  return {counts.from_client_bytes, counts.from_client_reads, counts.from_backend_bytes,
          counts.from_backend_reads, counts.throttled};
}

Worker::TcpHandover::~TcpHandover() {
  if (fd >= 0) {
    ::close(fd);
  }
  if (admitted != nullptr) {
    admitted->release(peer.address);
  }
}

bool Worker::handOffConnectionBind(uv::TcpConnection& connection, const protocol::Frame& frame) {
  // RFC 6062 section 5.4: a ConnectionBind comes on a new TCP connection, one without an
  // allocation. One that came from another worker stays (its CONNECTION-ID was wrong there).
  if (!looksLikeConnectionBind(frame) || connection.adopted() ||
      core_.hasAllocationOnConnection(connection.id())) {
    return false;
  }
  const auto message = protocol::Message::parse(frame.bytes);
  const protocol::RawAttribute* attribute =
      message ? message->find(protocol::attr::kConnectionId) : nullptr;
  if (attribute == nullptr) {
    return false;  // the core answers it
  }
  const auto id = protocol::decodeU32(message->value(*attribute));
  if (!id) {
    return false;
  }
  const std::size_t owner = protocol::Core::connectionIdWorker(*id, siblings_.size());
  if (owner == index_) {
    return false;
  }
  auto detached = connection.detach(frame);
  if (!detached) {
    TP_LOG(kDebug, "tcp ", connection.peer().toString(),
           ": not handed over: ", detached.error().toString());
    return false;  // answered here: 400
  }
  auto handover = std::make_shared<TcpHandover>();
  handover->fd = detached->fd;
  handover->unread = std::move(detached->unread);
  handover->peer = connection.peer();
  if (connection.admitted()) {
    connection.setAdmitted(false);  // the place in the limits goes with it
    handover->admitted = &shared_.connections;
  }
  stats_.tcp_handoffs.add();
  TP_LOG(kDebug, "tcp ", connection.peer().toString(), ": ConnectionBind for worker ", owner,
         ", connection handed over");
  forgetConnection(connection);                 // from inside its callback: deleted later
  handover->tls = connection.takeTlsSession();  // TLS: the session goes too (after the count)
  Worker* target = siblings_[owner];
  // Dropped when the owner's loop is stopping: the handover's destructor closes the socket.
  (void)target->loop_.post([target, handover] { target->adoptConnection(*handover); });
  return true;
}

void Worker::adoptConnection(TcpHandover& handover) {
  auto* handle = new uv_tcp_t;
  uv_tcp_init(loop_.get(), handle);
  if (const int rc = uv_tcp_open(handle, handover.fd); rc != 0) {
    TP_LOG(kDebug, "tcp ", handover.peer.toString(), ": adopt: ", uv_strerror(rc));
    uv::closeAndDelete(handle);
    return;  // the handover closes the socket
  }
  handover.fd = -1;  // the handle's now
  std::shared_ptr<uv::TcpConnection> connection =
      uv::TcpConnection::adopt(handle, *this, handover.peer, std::move(handover.tls));
  connection->setAdmitted(std::exchange(handover.admitted, nullptr) != nullptr);
  if (auto started = connection->start(); !started) {
    TP_LOG(kDebug, "tcp ", handover.peer.toString(), ": ", started.error().toString());
    release(*connection);
    return;  // the destructor closes the socket
  }
  addConnection(connection);
  // The ConnectionBind, answered and spliced here; `connection` holds it should it close.
  connection->receive(handover.unread);
}

}  // namespace turnpike::server

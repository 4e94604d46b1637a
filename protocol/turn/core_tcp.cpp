// RFC 6062 TCP allocations: Connect, ConnectionBind, ConnectionAttempt and the lifetime of peer
// connections. The sockets are the adapter's (RelaySockets::openTcp, connectPeer, bindPeer,
// closePeer); the core decides, answers and keeps the state.
#include <algorithm>
#include <cmath>
#include <limits>

#include "protocol/turn/core.hpp"

namespace turnpike::protocol {
namespace {

using State = TcpPeerConnection::State;

TcpPeerConnection* findConnection(Allocation& allocation, std::uint32_t id) {
  const auto it = std::ranges::find(allocation.tcp_connections, id, &TcpPeerConnection::id);
  return it == allocation.tcp_connections.end() ? nullptr : &*it;
}

}  // namespace

std::uint32_t Core::newConnectionId() {
  // Random, so that a client cannot guess another's (ConnectionBind also checks the user), and
  // `worker` modulo the worker count (connectionIdWorker): the ConnectionBind comes on a new
  // connection, which may reach another worker, and that one hands it here. With n workers an
  // id keeps 32 - log2(n) random bits.
  const std::uint64_t workers = std::max<std::uint64_t>(config_.workers, 1);
  for (;;) {
    const std::uint64_t random = static_cast<std::uint32_t>(deps_.random.next());
    const std::uint64_t id = random - random % workers + config_.worker % workers;
    if (id != 0 && id <= std::numeric_limits<std::uint32_t>::max() &&
        !tcp_connections_.contains(static_cast<std::uint32_t>(id))) {
      return static_cast<std::uint32_t>(id);
    }
  }
}

std::expected<void, TurnError> Core::connect(Request& request, Allocation& allocation) {
  const Message& message = request.message;
  // RFC 6062 section 5.2. Connect belongs to TCP allocations (a UDP one gets 400).
  if (!allocation.tcp) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  const RawAttribute* peer_attribute = message.find(attr::kXorPeerAddress);
  if (peer_attribute == nullptr) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  auto peer = decodeXorAddress(message.value(*peer_attribute), message.transactionId());
  if (!peer) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  const RelayLeg* leg = allocation.legFor(peer->address.family());
  if (leg == nullptr) {
    return std::unexpected(TurnError{error::kPeerAddressFamilyMismatch});
  }
  // A connection (or an attempt) to this peer transport address exists: 446.
  if (std::ranges::find(allocation.tcp_connections, *peer, &TcpPeerConnection::peer) !=
      allocation.tcp_connections.end()) {
    return std::unexpected(TurnError{error::kConnectionAlreadyExists});
  }
  // The server's policy refuses the connection: 403 (peers.allow/deny, as for UDP).
  if (!peerAllowed(*peer)) {
    return std::unexpected(TurnError{error::kForbidden});
  }
  if (allocation.tcp_connections.size() >= config_.max_tcp_connections) {
    stats_.tcp_connection_limit_rejected.add();
    return std::unexpected(TurnError{error::kInsufficientCapacity});
  }
  // The outgoing connection leaves from the relayed transport address.
  const std::uint32_t id = newConnectionId();
  if (!deps_.relays.connectPeer(id, leg->local, *peer)) {
    stats_.tcp_connect_failed.add();
    return std::unexpected(TurnError{error::kConnectionTimeoutOrFailure});
  }
  TcpPeerConnection connection;
  connection.id = id;
  connection.peer = *peer;
  connection.transaction = message.transactionId();
  connection.sha256_key = request.auth.algorithm == PasswordAlgorithm::kSha256;
  connection.sha256_mac = request.auth.sha256_mac;
  connection.fingerprint = message.has(attr::kFingerprint);
  allocation.tcp_connections.push_back(connection);
  tcp_connections_.emplace(id, allocation.id);
  stats_.tcp_peer_connections_active.add();
  return {};
}

void Core::onPeerConnected(std::uint32_t id, bool connected, MonotonicTime now, Outbox& outbox) {
  const auto owner = tcp_connections_.find(id);
  if (owner == tcp_connections_.end()) {
    return;  // the allocation ended meanwhile
  }
  Allocation& allocation = *allocations_.at(owner->second);
  TcpPeerConnection* connection = findConnection(allocation, id);
  if (connection == nullptr || connection->state != State::kConnecting) {
    return;
  }
  const std::uint16_t code = connected ? 0 : error::kConnectionTimeoutOrFailure;
  OutboxEntry* entry = outbox.add(allocation.source.socket, allocation.source.client);
  if (entry != nullptr) {
    MessageBuilder builder(entry->head_buffer,
                           messageType(Method::kConnect, connected ? MessageClass::kSuccessResponse
                                                                   : MessageClass::kErrorResponse),
                           connection->transaction);
    if (connected) {
      builder.addU32(attr::kConnectionId, id);
      if (!config_.software.empty()) {
        builder.addText(attr::kSoftware, config_.software);
      }
    } else {
      builder.addErrorCode(code);
    }
    const ConstBytes key = connection->sha256_key && allocation.key.sha256
                               ? ConstBytes(*allocation.key.sha256)
                               : ConstBytes(allocation.key.md5);
    sign(builder, key, connection->sha256_mac, connection->fingerprint);
    auto bytes = builder.finish();
    entry->head_size = bytes ? bytes->size() : 0;
  }
  stats_.requests[static_cast<std::size_t>(RequestMethod::kConnect)][requestResultIndex(code)]
      .add();
  if (!connected) {
    stats_.tcp_connect_failed.add();
    dropTcpConnection(allocation, id, false);  // the adapter has closed it
    return;
  }
  // The connection waits 30 s for its ConnectionBind; the peer gets a permission (data from
  // it is relayed on the data connection, section 5.2).
  connection->state = State::kWaitingBind;
  connection->bind_deadline = now + kConnectionBindTimeout;
  (void)installPermission(allocation, connection->peer.address, now);  // none past the cap
  schedule(allocation);
}

std::optional<std::uint32_t> Core::onPeerAccepted(std::uint64_t tag, const Endpoint& peer,
                                                  MonotonicTime now, Outbox& outbox) {
  const auto found = allocations_.find(tag);
  if (found == allocations_.end() || !found->second->tcp) {
    return std::nullopt;
  }
  Allocation& allocation = *found->second;
  // RFC 6062 section 5.3: without a permission for the peer's address it is closed at once.
  if (!allocation.hasPermission(peer.address, now)) {
    stats_.tcp_peer_rejected.add();
    return std::nullopt;
  }
  if (!peerAllowed(peer)) {
    return std::nullopt;
  }
  if (allocation.tcp_connections.size() >= config_.max_tcp_connections) {
    stats_.tcp_connection_limit_rejected.add();
    return std::nullopt;
  }
  OutboxEntry* entry = outbox.add(allocation.source.socket, allocation.source.client);
  if (entry == nullptr) {
    return std::nullopt;
  }
  const std::uint32_t id = newConnectionId();
  // ConnectionAttempt indication: XOR-PEER-ADDRESS and CONNECTION-ID.
  MessageBuilder builder(entry->head_buffer,
                         messageType(Method::kConnectionAttempt, MessageClass::kIndication),
                         newTransactionId());
  builder.addXorAddress(attr::kXorPeerAddress, peer);
  builder.addU32(attr::kConnectionId, id);
  auto bytes = builder.finish();
  if (!bytes) {
    outbox.removeLast();
    return std::nullopt;
  }
  entry->head_size = bytes->size();
  TcpPeerConnection connection;
  connection.id = id;
  connection.peer = peer;
  connection.state = State::kWaitingBind;
  connection.bind_deadline = now + kConnectionBindTimeout;
  allocation.tcp_connections.push_back(connection);
  tcp_connections_.emplace(id, allocation.id);
  stats_.tcp_peer_connections_active.add();
  schedule(allocation);
  return id;
}

std::expected<std::uint32_t, TurnError> Core::connectionBind(Request& request) {
  const Message& message = request.message;
  // RFC 6062 section 5.4: on a new TCP or TLS connection (not one with an allocation), naming a
  // peer connection that waits for it, by the allocation's user.
  if (!isStream(request.source.transport) ||
      request.source.socket.kind != SocketRef::Kind::kConnection ||
      by_connection_.contains(request.source.socket.id) ||
      by_data_connection_.contains(request.source.socket.id)) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  const RawAttribute* id_attribute = message.find(attr::kConnectionId);
  if (id_attribute == nullptr) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  auto id = decodeU32(message.value(*id_attribute));
  const auto owner = id ? tcp_connections_.find(*id) : tcp_connections_.end();
  if (owner == tcp_connections_.end()) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  Allocation& allocation = *allocations_.at(owner->second);
  if (allocation.username != request.auth.username) {
    return std::unexpected(TurnError{error::kWrongCredentials});
  }
  TcpPeerConnection* connection = findConnection(allocation, *id);
  if (connection == nullptr || connection->state != State::kWaitingBind) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  connection->state = State::kBound;
  connection->data_connection = request.source.socket.id;
  by_data_connection_.emplace(request.source.socket.id, *id);
  return *id;
}

void Core::onPeerClosed(std::uint32_t id) {
  const auto owner = tcp_connections_.find(id);
  if (owner != tcp_connections_.end()) {
    dropTcpConnection(*allocations_.at(owner->second), id, false);
  }
}

void Core::dropTcpConnection(Allocation& allocation, std::uint32_t id, bool close) {
  const auto it = std::ranges::find(allocation.tcp_connections, id, &TcpPeerConnection::id);
  if (it == allocation.tcp_connections.end()) {
    return;
  }
  if (it->state == State::kBound) {
    takeTcpRelayed(allocation, id);  // the splice's last bytes, before it goes
    by_data_connection_.erase(it->data_connection);
  }
  allocation.tcp_connections.erase(it);
  tcp_connections_.erase(id);
  stats_.tcp_peer_connections_active.sub();
  if (close) {
    deps_.relays.closePeer(id);
  }
}

void Core::expireTcpConnections(Allocation& allocation, MonotonicTime now) {
  std::vector<std::uint32_t> expired;
  for (const TcpPeerConnection& connection : allocation.tcp_connections) {
    if (connection.state == State::kWaitingBind && connection.bind_deadline <= now) {
      expired.push_back(connection.id);
    }
  }
  for (const std::uint32_t id : expired) {
    stats_.tcp_bind_timeouts.add();
    dropTcpConnection(allocation, id, true);  // RFC 6062 sections 5.2 and 5.3: 30 s
  }
}

void Core::takeTcpRelayed(Allocation& allocation, std::uint32_t connection) {
  const TcpRelayCounts counts = deps_.relays.takePeerCounts(connection);
  if (counts.to_peer_reads == 0 && counts.to_client_reads == 0 && counts.throttled == 0) {
    return;
  }
  stats_.tcp_throttled.add(counts.throttled);
  allocation.bytes_to_peer += counts.to_peer_bytes;
  allocation.packets_to_peer += counts.to_peer_reads;
  allocation.bytes_to_client += counts.to_client_bytes;
  allocation.packets_to_client += counts.to_client_reads;
  const auto transport = static_cast<std::size_t>(allocation.source.transport);
  stats_.relayed_bytes[0][transport].add(counts.to_peer_bytes);
  stats_.relayed_packets[0][transport].add(counts.to_peer_reads);
  stats_.relayed_bytes[1][transport].add(counts.to_client_bytes);
  stats_.relayed_packets[1][transport].add(counts.to_client_reads);
}

void Core::collectTcpRelayed() {
  for (const auto& [data_connection, id] : by_data_connection_) {
    if (const auto owner = tcp_connections_.find(id); owner != tcp_connections_.end()) {
      takeTcpRelayed(*allocations_.at(owner->second), id);
    }
  }
}

std::uint64_t Core::grantTcpBandwidth(std::uint32_t connection, std::uint64_t want,
                                      MonotonicTime now) {
  const auto owner = tcp_connections_.find(connection);
  if (owner == tcp_connections_.end()) {
    return kUnlimitedTcpGrant;  // forgotten: its splice is closing
  }
  Allocation& allocation = *allocations_.at(owner->second);
  const std::uint64_t rate = config_.bandwidth_bytes_per_second;
  const std::uint64_t user_rate = config_.user_bandwidth_bytes_per_second;
  UserLease* lease =
      user_rate != 0 && deps_.user_bandwidth != nullptr ? allocation.user_lease.get() : nullptr;
  if (rate == 0 && lease == nullptr) {
    return kUnlimitedTcpGrant;
  }
  // The same buckets as UDP's admitBandwidth; a grant may be smaller than `want`.
  double grant = static_cast<double>(want);
  if (rate != 0) {
    allocation.bandwidth.refill(static_cast<double>(rate), static_cast<double>(rate), now);
    grant = std::min(grant, allocation.bandwidth.tokens);
  }
  if (lease != nullptr && grant >= 1 && lease->credit < grant) {
    // 20 ms of the user's rate at a time, and at least what is missing.
    const auto missing = static_cast<std::uint64_t>(std::ceil(grant - lease->credit));
    lease->credit += static_cast<double>(
        deps_.user_bandwidth->lease(lease->user, std::max(missing, user_rate / 50), now));
  }
  if (lease != nullptr) {
    grant = std::min(grant, lease->credit);
  }
  const double granted = std::floor(std::max(0.0, grant));
  if (granted < 1) {
    return 0;
  }
  if (rate != 0) {
    allocation.bandwidth.tokens -= granted;
  }
  if (lease != nullptr) {
    lease->credit -= granted;
  }
  return static_cast<std::uint64_t>(granted);
}

}  // namespace turnpike::protocol

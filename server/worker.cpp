#include "server/worker.hpp"

#include "protocol/turn/channel_data.hpp"
#include "server/log.hpp"

namespace turnpike::server {

namespace {

// How often each loop proves it is alive and measures its own lag.
constexpr std::chrono::milliseconds kHeartbeatInterval{250};

std::uint64_t steadyNanoseconds(protocol::MonotonicTime time) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

// ChannelData (RFC 8656 section 12.4): the first two bits are 01. Everything else from a client
// is STUN (00) or garbage.
// The shared core config with this worker's index (the top byte of its allocation ids).
protocol::CoreConfig coreConfigFor(protocol::CoreConfig config, std::size_t worker) {
  config.worker = static_cast<std::uint8_t>(worker);
  return config;
}

bool isChannelData(protocol::ConstBytes bytes) {
  return !bytes.empty() && (bytes[0] & std::byte{0xC0}) == std::byte{0x40};
}

// A listener's tls_passthrough routes, shared by its connections; null when off.
std::shared_ptr<const protocol::PassthroughRoutes> passthroughRoutes(
    const ListenerConfig& listener) {
  if (!listener.tls_passthrough.enabled()) {
    return nullptr;
  }
  return std::make_shared<const protocol::PassthroughRoutes>(listener.tls_passthrough);
}

}  // namespace

void LatencyHistogram::record(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      buckets[i].add();
      break;
    }
  }
  count.add();
  sum_ns.add(static_cast<std::uint64_t>(elapsed.count()));
}

Worker::Worker(std::size_t index, const ServerConfig& config, TurnShared& shared,
               std::shared_ptr<tls::TlsContext> tls_context,
               std::shared_ptr<tls::TlsContext> dtls_context)
    : index_(index),
      config_(config),
      shared_(shared),
      tls_context_(std::move(tls_context)),
      dtls_context_(std::move(dtls_context)),
      policy_(shared.policy),
      core_(coreConfigFor(shared.core_config, index),
            protocol::CoreDependencies{*this, random_, shared.clock, shared.credential_adapter,
                                       shared.nonce_adapter, shared.quota, shared.reservations,
                                       policy_.get(), this, &shared.user_bandwidth, &shared.load,
                                       &shared.ports}),
      timer_(new uv_timer_t),
      heartbeat_(new uv_timer_t) {
  uv_timer_init(loop_.get(), timer_);
  timer_->data = this;
  uv_timer_init(loop_.get(), heartbeat_);
  heartbeat_->data = this;
  // Relayed data waits for the end of the loop iteration, so that what every socket read in
  // one wake-up goes out in batches (sendmmsg).
  loop_.setFlushHook([this] { flush(); });
}

Worker::~Worker() {
  if (thread_.joinable()) {
    stop();
    (void)join();
  }
}

std::expected<void, std::string> Worker::open() {
  for (const ListenerConfig& listener : config_.listeners) {
    const protocol::Endpoint local{listener.address, listener.port};
    switch (listener.transport) {
      case Transport::kUdp:
        break;  // below, with RFC 5780's sockets
      case Transport::kTcp:
      case Transport::kTls:
      case Transport::kAuto: {
        // tls: every connection speaks TLS; auto: those that start with a TLS record.
        const bool tls = listener.transport != Transport::kTcp;
        const std::string name =
            std::string(toString(listener.transport)) + " listener " + local.toString();
        if (tls && tls_context_ == nullptr) {
          return std::unexpected(name + ": no TLS context loaded");
        }
        auto opened =
            uv::TcpListener::open(loop_, local, *this, *this, tls ? tls_context_ : nullptr,
                                  std::chrono::seconds(config_.limits.tls_handshake_timeout),
                                  {.detect_tls = listener.transport == Transport::kAuto,
                                   .proxy_header = listener.proxy_protocol,
                                   .passthrough = passthroughRoutes(listener)});
        if (!opened) {
          return std::unexpected(name + ": " + opened.error().toString());
        }
        tcp_listeners_.push_back(std::move(*opened));
        break;
      }
      case Transport::kDtls: {
        if (auto opened = openDtls(local); !opened) {
          return opened;
        }
        break;
      }
    }
  }
  // The udp listeners, then RFC 5780's (nat_discovery) alternate address and port sockets that
  // the config does not list, in the order udpListenerEndpoints gives (their SocketRef ids).
  for (const protocol::Endpoint& local : udpListenerEndpoints(config_)) {
    auto socket = uv::UdpSocket::open(loop_, local, *this,
                                      uv::SocketOptions{.buffer_bytes = uv::kListenerBufferBytes});
    if (!socket) {
      return std::unexpected("udp listener " + local.toString() + ": " + socket.error().toString());
    }
    udp_sockets_.push_back(std::move(*socket));
  }
  // The send batches get their size now rather than in the first flush(), which on an idle
  // worker runs at its first heartbeat; a flush sends at most one outbox of datagrams.
  listener_batches_.resize(udp_sockets_.size());
  for (auto& batch : listener_batches_) {
    batch.reserve(kOutboxCapacity);
  }
  allocate_starts_.reserve(kOutboxCapacity);
  return {};
}

std::expected<void, std::string> Worker::openDtls(const protocol::Endpoint& local) {
  const std::string name = "dtls listener " + local.toString();
  if (dtls_context_ == nullptr) {
    return std::unexpected(name + ": no DTLS context loaded");
  }
  auto opened = uv::DtlsListener::open(
      loop_, local, *this, dtls_context_,
      {.half_open_limit = config_.limits.dtls_half_open,
       .handshake_timeout = std::chrono::seconds(config_.limits.tls_handshake_timeout)},
      stats_.dtls);
  if (!opened) {
    return std::unexpected(name + ": " + opened.error().toString());
  }
  dtls_listeners_.push_back(std::move(*opened));
  return {};
}

std::vector<std::string> Worker::listenerDescriptions() const {
  std::vector<std::string> out;
  for (const auto& socket : udp_sockets_) {
    out.push_back("udp " + socket->localEndpoint().toString());
  }
  for (const auto& listener : dtls_listeners_) {
    out.push_back("dtls " + listener->localEndpoint().toString());
  }
  for (const auto& listener : tcp_listeners_) {
    const char* kind = listener->preamble().detect_tls ? "auto (tcp+tls) "
                       : listener->isTls()             ? "tls "
                                                       : "tcp ";
    out.push_back(kind + listener->localEndpoint().toString() +
                  (listener->preamble().proxy_header ? " (PROXY protocol)" : ""));
  }
  return out;
}

void Worker::start() {
  const auto now = std::chrono::steady_clock::now();
  stats_.last_heartbeat_ns.set(steadyNanoseconds(now));
  heartbeat_due_ = now + kHeartbeatInterval;
  const auto interval = static_cast<std::uint64_t>(kHeartbeatInterval.count());
  uv_timer_start(heartbeat_, &Worker::onHeartbeat, interval, interval);
  thread_ = std::thread([this] {
    logDeferWrites(true);  // info lines go out when each iteration ends (Loop::endIteration)
    loop_.run();
    open_handles_at_exit_ = loop_.shutdown();
    logDeferWrites(false);
  });
}

void Worker::stop() {
  // Once only: closing the handles ends the loop.
  if (thread_.joinable() && !stop_requested_.exchange(true)) {
    (void)loop_.post([this] { closeAll(); });
  }
}

void Worker::setPolicy(std::shared_ptr<const protocol::PeerPolicy> policy) {
  (void)loop_.post([this, policy = std::move(policy)]() mutable {
    core_.setPolicy(*policy);
    policy_ = std::move(policy);  // after: the core never points at a freed policy
  });
}

void Worker::setLimits(const protocol::CoreConfig& limits) {
  (void)loop_.post([this, limits] { core_.setLimits(limits); });
}

void Worker::sweepIdleConnections(protocol::MonotonicTime now) {
  const std::chrono::seconds timeout{shared_.connection_idle_timeout.load()};
  while (!idle_checks_.empty() && idle_checks_.front().first <= now) {
    const std::uint64_t id = idle_checks_.front().second;
    idle_checks_.pop_front();
    const auto it = connections_.find(id);
    if (it == connections_.end()) {
      sweepIdleDtls(id, now);
      continue;  // already closed, or a DTLS session
    }
    // A tls_passthrough splice is idle when no byte moved either way for the timeout.
    if (core_.hasAllocationOnConnection(id) || it->second->takeSpliceActivity()) {
      idle_checks_.emplace_back(now + timeout, id);  // look again later
    } else {
      it->second->close(uv::CloseReason::kIdleTimeout);  // onClosed erases it
    }
  }
}

void Worker::startDraining(std::vector<protocol::Endpoint> alternates) {
  (void)loop_.post([this, alternates = std::move(alternates)]() mutable {
    core_.startDraining(std::move(alternates));
  });
}

void Worker::setCluster(protocol::AlternateServers cluster) {
  (void)loop_.post(
      [this, cluster = std::move(cluster)]() mutable { core_.setCluster(std::move(cluster)); });
}

void Worker::onHeartbeat(uv_timer_t* timer) {
  auto* self = static_cast<Worker*>(timer->data);
  if (self == nullptr) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto lag = now > self->heartbeat_due_ ? now - self->heartbeat_due_
                                              : protocol::MonotonicTime::duration::zero();
  self->stats_.loop_lag_ns.set(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(lag).count()));
  self->stats_.last_heartbeat_ns.set(steadyNanoseconds(now));
  self->heartbeat_due_ = now + kHeartbeatInterval;
  self->sweepIdleConnections(now);
  self->sweepForwarded(now);
  self->core_.collectTcpRelayed();  // RFC 6062 splices' bytes, before the load sample reads them
  if (self->index_ == 0) {
    self->shared_.load.sample(now);  // the relayed rate of every worker (cluster.redirect_above)
  }
}

int Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
  return open_handles_at_exit_;
}

void Worker::closeAll() {
  TP_LOG(kDebug, "worker ", index_, ": closing ", connections_.size(), " connections");
  core_.shutdown(std::chrono::steady_clock::now());  // ends allocations, closes relay sockets
  // Move the table out first: close() calls onClosed, which edits connections_.
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [id, connection] : connections) {
    connection->close(uv::CloseReason::kLocalClose);
  }
  connections.clear();
  for (auto& listener : dtls_listeners_) {
    listener->closeAll();  // close_notify to each client; onDtlsClosed releases the limits
  }
  dtls_listeners_.clear();
  udp_sockets_.clear();
  tcp_listeners_.clear();
  relays_.clear();
  peer_connections_.clear();  // RFC 6062 peer connections not yet bound
  uv::closeAndDelete(timer_);
  timer_ = nullptr;
  uv::closeAndDelete(heartbeat_);
  heartbeat_ = nullptr;
  for (auto& active : stats_.connections_active) {
    active.set(0);
  }
  // With every handle closing, uv_run returns and the thread finishes in Loop::shutdown().
  loop_.closeHandles();
}

std::uint64_t Worker::listenerIndex(const uv::UdpSocket& socket) const {
  for (std::size_t i = 0; i < udp_sockets_.size(); ++i) {
    if (udp_sockets_[i].get() == &socket) {
      return i;
    }
  }
  return 0;
}

void Worker::onDatagram(uv::UdpSocket& socket, protocol::ConstBytes data,
                        const protocol::Endpoint& source) {
  stats_.udp_datagrams_received.add();
  const protocol::ClientSource client{
      protocol::ClientTransport::kUdp,
      protocol::SocketRef{protocol::SocketRef::Kind::kListener, listenerIndex(socket)}, source,
      socket.localEndpoint()};
  // RFC 8016 with more than one worker: a moved client may belong to another one.
  if (siblings_.size() > 1 && config_.mobility && forwardToOwner(client, data, loop_.readyTime())) {
    return;
  }
  handleClientMessage(client, data, loop_.readyTime());
}

void Worker::handleClientMessage(const protocol::ClientSource& client, protocol::ConstBytes bytes,
                                 protocol::MonotonicTime start) {
  makeRoom();
  if (client.transport == protocol::ClientTransport::kUdp && isChannelData(bytes)) {
    // Relayed data from a UDP client lies in the loop's receive slots until the iteration ends:
    // it is sent with the rest then. (A TCP connection's buffer is not kept: sent at once.)
    core_.onClientMessage(client, bytes, start, outbox_);
    return;
  }
  // An allocation this request creates is timed from `start` (onAllocationCreated). The answer
  // goes out with the iteration's other datagrams (UDP: one sendmmsg per listener), or at once
  // on a stream (its frame buffer is not kept); the histogram is fed when it was sent.
  request_start_ = start;
  core_.onClientMessage(client, bytes, start, outbox_);
  request_start_.reset();
  if (client.transport != protocol::ClientTransport::kUdp) {
    flush();
  }
}

void Worker::RelaySlot::onDatagram(uv::UdpSocket& /*socket*/, protocol::ConstBytes data,
                                   const protocol::Endpoint& source) {
  // Sent at the end of the loop iteration (Loop::setFlushHook), batched with the others.
  worker.makeRoom();
  worker.core_.onPeerDatagram(tag, source, data, worker.loop_.readyTime(), worker.outbox_);
}

bool Worker::admit(uv::TcpConnection& connection) {
  switch (shared_.connections.admit(connection.peer().address)) {
    case SharedConnections::Verdict::kOk:
      connection.setAdmitted(true);
      return true;
    case SharedConnections::Verdict::kTotalLimit:
      stats_.connections_total_rejected.add();
      return false;
    case SharedConnections::Verdict::kIpLimit:
      stats_.connections_per_ip_rejected.add();
      return false;
  }
  return false;
}

void Worker::release(uv::TcpConnection& connection) {
  if (connection.admitted()) {
    connection.setAdmitted(false);
    shared_.connections.release(connection.peer().address);
  }
}

void Worker::onAccepted(std::unique_ptr<uv::TcpConnection> connection) {
  stats_.tcp_accepted.add();
  // Behind a load balancer the socket's address is the balancer's: the limits apply to the
  // client the PROXY header names (onReady). Until then the handshake timeout bounds the wait.
  if (!connection->expectsProxyHeader() && !admit(*connection)) {
    return;  // the destructor closes the socket
  }
  if (auto started = connection->start(); !started) {
    TP_LOG(kDebug, "tcp ", connection->peer().toString(), ": ", started.error().toString());
    // The handle is closed by the destructor; a proxy_protocol connection was not admitted yet.
    release(*connection);
    return;
  }
  addConnection(std::move(connection));
}

void Worker::addConnection(std::shared_ptr<uv::TcpConnection> connection) {
  const std::uint64_t id = next_connection_id_++;
  connection->setId(id);
  idle_checks_.emplace_back(std::chrono::steady_clock::now() +
                                std::chrono::seconds(shared_.connection_idle_timeout.load()),
                            id);
  if (connection->ready()) {  // otherwise counted once its transport is known (onReady)
    stats_.connections_active[connection->isTls() ? 1 : 0].add();
  }
  connections_.emplace(id, std::move(connection));
}

void Worker::onReady(uv::TcpConnection& connection) {
  stats_.connections_active[connection.isTls() ? 1 : 0].add();
  if (!connection.admitted() && !admit(connection)) {
    connection.close(uv::CloseReason::kLocalClose);  // onClosed takes the count back
  }
}

void Worker::onPassthrough(uv::TcpConnection& /*connection*/,
                           const protocol::Endpoint& /*backend*/) {
  stats_.tls_passthrough.add();  // the connection logs it
}

void Worker::onFrame(uv::TcpConnection& connection, const protocol::Frame& frame) {
  // RFC 6062 with more than one worker: a ConnectionBind may belong to another one.
  if (siblings_.size() > 1 && config_.tcp_allocations && handOffConnectionBind(connection, frame)) {
    return;
  }
  const protocol::ClientSource client{
      connection.isTls() ? protocol::ClientTransport::kTls : protocol::ClientTransport::kTcp,
      protocol::SocketRef{protocol::SocketRef::Kind::kConnection, connection.id()},
      connection.peer(), connection.local()};
  handleClientMessage(client, frame.bytes, std::chrono::steady_clock::now());
}

void Worker::onClosed(uv::TcpConnection& connection, uv::CloseReason reason) {
  stats_.tcp_closed[static_cast<std::size_t>(reason)].add();
  TP_LOG(kDebug, "tcp ", connection.peer().toString(), " closed: ", uv::toString(reason));
  forgetConnection(connection);
}

void Worker::forgetConnection(uv::TcpConnection& connection) {
  core_.onConnectionClosed(
      protocol::SocketRef{protocol::SocketRef::Kind::kConnection, connection.id()},
      std::chrono::steady_clock::now());
  auto it = connections_.find(connection.id());
  if (it != connections_.end()) {
    release(connection);
    if (connection.ready()) {
      stats_.connections_active[connection.isTls() ? 1 : 0].sub();
    }
    loop_.deleteLater(std::move(it->second));
    connections_.erase(it);
  }
}

protocol::RelayOpenError Worker::relayError(const uv::UvError& error,
                                            const protocol::Endpoint& local) {
  const int code = error.code;
  if (code == UV_EADDRINUSE || code == UV_EACCES) {
    return protocol::RelayOpenError::kAddressInUse;
  }
  TP_LOG(kWarn, "relay socket ", local.toString(), ": ", error.toString());
  return code == UV_EMFILE || code == UV_ENFILE || code == UV_ENOBUFS
             ? protocol::RelayOpenError::kNoResources
             : protocol::RelayOpenError::kOther;
}

protocol::SocketRef Worker::addRelay(std::unique_ptr<RelaySlot> slot) {
  std::size_t index = relays_.size();
  if (!free_relay_slots_.empty()) {
    index = free_relay_slots_.back();
    free_relay_slots_.pop_back();
    relays_[index] = std::move(slot);
  } else {
    relays_.push_back(std::move(slot));
  }
  return protocol::SocketRef{protocol::SocketRef::Kind::kRelay, index};
}

std::expected<protocol::SocketRef, protocol::RelayOpenError> Worker::open(
    const protocol::Endpoint& local, std::uint64_t tag, bool dont_fragment) {
  auto slot = std::make_unique<RelaySlot>(*this, tag);
  auto socket = uv::UdpSocket::open(
      loop_, local, *slot, uv::SocketOptions{.reuse_port = false, .dont_fragment = dont_fragment});
  if (!socket) {
    return std::unexpected(relayError(socket.error(), local));
  }
  slot->socket = std::move(*socket);
  return addRelay(std::move(slot));
}

std::expected<std::uint64_t, protocol::RelayOpenError> Worker::reserve(
    const protocol::Endpoint& local) {
  auto fd =
      uv::openBoundSocket(uv::SocketKind::kUdp, local, uv::SocketOptions{.reuse_port = false});
  if (!fd) {
    return std::unexpected(relayError(fd.error(), local));
  }
  return static_cast<std::uint64_t>(*fd);
}

std::expected<protocol::SocketRef, protocol::RelayOpenError> Worker::adopt(std::uint64_t reserved,
                                                                           std::uint64_t tag) {
  auto slot = std::make_unique<RelaySlot>(*this, tag);
  auto socket = uv::UdpSocket::adopt(loop_, static_cast<int>(reserved), *slot);
  if (!socket) {
    TP_LOG(kWarn, "reserved relay socket: ", socket.error().toString());
    return std::unexpected(protocol::RelayOpenError::kOther);
  }
  slot->socket = std::move(*socket);
  return addRelay(std::move(slot));
}

void Worker::close(const protocol::SocketRef& socket) {
  if (socket.id < relays_.size() && relays_[socket.id] != nullptr) {
    // Closing from inside this socket's own callback is safe: the UdpSocket only closes its
    // libuv handle, whose memory lives until the close callback.
    // The slot is reused only after the next flush: entries the core queued for this socket
    // must not go out through another allocation's socket.
    relays_[socket.id].reset();
    closed_relay_slots_.push_back(socket.id);
  }
}

void Worker::onAllocationCreated(const protocol::Allocation& allocation) {
  if (request_start_) {
    allocate_starts_.push_back(*request_start_);  // capacity reserved: one per outbox entry
  }
  TP_LOG(kDebug, "allocation created user=", allocation.user,
         " client=", toString(allocation.source.transport), " ",
         allocation.source.client.toString(),
         " relay=", allocation.legs.front().relayed.toString());
}

void Worker::onAllocationMoved(const protocol::Allocation& allocation,
                               const protocol::Endpoint& from) {
  TP_LOG(kInfo, "allocation moved (RFC 8016) user=", allocation.user, " from=", from.toString(),
         " to=", allocation.source.client.toString(),
         " relay=", allocation.legs.front().relayed.toString());
}

void Worker::onAllocationEnded(const protocol::Allocation& allocation, protocol::AllocationEnd end,
                               protocol::MonotonicTime now) {
  // One accounting record per allocation (style.md section 8: not per packet), with what the
  // kernel fast path relayed for it (its routes went down just before).
  fastpath::ChannelCounts kernel;
  if (const auto it = kernel_relayed_.find(allocation.id); it != kernel_relayed_.end()) {
    kernel = it->second;
    kernel_relayed_.erase(it);
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now - allocation.created).count();
  TP_LOG(kInfo, "allocation ended user=", allocation.user,
         " client=", toString(allocation.source.transport), " ",
         allocation.source.client.toString(), " server=", allocation.source.server.toString(),
         " relay=", allocation.legs.empty() ? "-" : allocation.legs.front().relayed.toString(),
         " peers=", allocation.permissions.size(),
         " to_peer_bytes=", allocation.bytes_to_peer + kernel.to_peer_bytes,
         " to_peer_packets=", allocation.packets_to_peer + kernel.to_peer_packets,
         " to_client_bytes=", allocation.bytes_to_client + kernel.to_client_bytes,
         " to_client_packets=", allocation.packets_to_client + kernel.to_client_packets,
         " duration_s=", seconds, " reason=", toString(end));
}

namespace {

// The fast path's view of a channel: a UDP client's 5-tuple, the relay leg for the peer's
// family and the peer. Nothing for other transports or a missing leg.
std::optional<fastpath::ChannelRoute> routeFor(const protocol::Allocation& allocation,
                                               const protocol::ChannelBinding& channel) {
  if (allocation.source.transport != protocol::ClientTransport::kUdp) {
    return std::nullopt;
  }
  const protocol::RelayLeg* leg =
      allocation.legFor(channel.peer.address.isV4() ? protocol::AddressFamily::kIpv4
                                                    : protocol::AddressFamily::kIpv6);
  if (leg == nullptr) {
    return std::nullopt;
  }
  return fastpath::ChannelRoute{allocation.source.client, allocation.source.server, leg->local,
                                channel.peer, channel.number};
}

}  // namespace

void Worker::onRouteUp(const protocol::Allocation& allocation,
                       const protocol::ChannelBinding& channel) {
  if (shared_.fast_path == nullptr) {
    return;
  }
  if (const auto route = routeFor(allocation, channel)) {
    (void)shared_.fast_path->install(*route);  // not installed (IPv6, map full): user space
  }
}

void Worker::onRouteDown(const protocol::Allocation& allocation,
                         const protocol::ChannelBinding& channel) {
  if (shared_.fast_path == nullptr) {
    return;
  }
  const auto route = routeFor(allocation, channel);
  if (!route) {
    return;
  }
  if (const auto counts = shared_.fast_path->counts(*route)) {
    kernel_relayed_[allocation.id] += *counts;
  }
  shared_.fast_path->remove(*route);
}

void Worker::flush() {
  static constexpr std::array<std::byte, 3> kPadding{};
  // Datagrams to clients over UDP are gathered per listener (open() sized the batches) and sent
  // in batches; a relay socket usually has one datagram per iteration and gets it at once.
  for (const protocol::OutboxEntry& entry : outbox_.entries()) {
    uv::UdpSocket::Outgoing datagram{&entry.destination, {}, 0};
    for (const protocol::ConstBytes part :
         {entry.head(), entry.payload, protocol::ConstBytes(kPadding).first(entry.padding)}) {
      if (!part.empty()) {
        datagram.parts[datagram.part_count++] = part;
      }
    }
    const auto message = std::span(datagram.parts).first(datagram.part_count);
    switch (entry.socket.kind) {
      case protocol::SocketRef::Kind::kListener:
        if (entry.socket.id < udp_sockets_.size()) {
          listener_batches_[entry.socket.id].push_back(datagram);
        }
        break;
      case protocol::SocketRef::Kind::kRelay:
        if (entry.socket.id < relays_.size() && relays_[entry.socket.id] != nullptr &&
            relays_[entry.socket.id]->socket != nullptr) {
          relays_[entry.socket.id]->socket->send(entry.destination, message);
        }
        break;
      case protocol::SocketRef::Kind::kConnection:
        if (auto it = connections_.find(entry.socket.id); it != connections_.end()) {
          it->second->write(message);
        } else if (auto dtls = dtls_sessions_.find(entry.socket.id); dtls != dtls_sessions_.end()) {
          (void)dtls->second->send(entry.socket.id, message);  // one message per record
        }
        break;
    }
  }
  for (std::size_t i = 0; i < listener_batches_.size(); ++i) {
    if (!listener_batches_[i].empty()) {
      udp_sockets_[i]->send(listener_batches_[i]);
      listener_batches_[i].clear();
    }
  }
  outbox_.clear();
  if (!allocate_starts_.empty()) {
    const auto sent = std::chrono::steady_clock::now();
    for (const protocol::MonotonicTime start : allocate_starts_) {
      stats_.allocate_latency.record(sent - start);
    }
    allocate_starts_.clear();
  }
  if (!closed_relay_slots_.empty()) {
    free_relay_slots_.insert(free_relay_slots_.end(), closed_relay_slots_.begin(),
                             closed_relay_slots_.end());
    closed_relay_slots_.clear();
  }
  finishTcpRelayWork();
  armTimer();
}

void Worker::armTimer() {
  // One timer per loop, armed for the core's next deadline (style.md section 2). Re-arm only
  // when the deadline moved earlier; a late wake-up re-arms from onTimer.
  const auto next = core_.nextDeadline();
  if (!next || timer_ == nullptr || (armed_for_ && *armed_for_ <= *next)) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto delay = *next > now ? std::chrono::ceil<std::chrono::milliseconds>(*next - now)
                                 : std::chrono::milliseconds{0};
  uv_timer_start(timer_, &Worker::onTimer, static_cast<std::uint64_t>(delay.count()), 0);
  armed_for_ = *next;
}

void Worker::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<Worker*>(timer->data);
  if (self == nullptr) {
    return;
  }
  self->armed_for_.reset();
  self->core_.onTimer(std::chrono::steady_clock::now());
  self->flush();
}

}  // namespace turnpike::server

// ---- DTLS sessions (RFC 7350): clients like UDP ones, whose messages come out of a session ----

namespace turnpike::server {

std::uint64_t Worker::onDtlsSessionStarted(uv::DtlsListener& listener,
                                           const protocol::Endpoint& client) {
  // limits.connections_total and connections_per_ip count DTLS sessions too.
  switch (shared_.connections.admit(client.address)) {
    case SharedConnections::Verdict::kOk:
      break;
    case SharedConnections::Verdict::kTotalLimit:
      stats_.connections_total_rejected.add();
      return 0;
    case SharedConnections::Verdict::kIpLimit:
      stats_.connections_per_ip_rejected.add();
      return 0;
  }
  const std::uint64_t id = next_connection_id_++;
  dtls_sessions_.emplace(id, &listener);
  idle_checks_.emplace_back(std::chrono::steady_clock::now() +
                                std::chrono::seconds(shared_.connection_idle_timeout.load()),
                            id);
  return id;
}

void Worker::onDtlsMessage(uv::DtlsListener& listener, std::uint64_t id,
                           const protocol::Endpoint& client, protocol::ConstBytes message) {
  const protocol::ClientSource source{
      protocol::ClientTransport::kDtls,
      protocol::SocketRef{protocol::SocketRef::Kind::kConnection, id}, client,
      listener.localEndpoint()};
  // Answered at once: `message` is the listener's buffer. Records come out of a datagram the
  // listener's socket read in this round of the loop's dispatch.
  handleClientMessage(source, message, loop_.readyTime());
}

void Worker::onDtlsClosed(uv::DtlsListener& /*listener*/, std::uint64_t id,
                          const protocol::Endpoint& client) {
  TP_LOG(kDebug, "dtls ", client.toString(), " closed");
  // Its allocation ends as a TCP/TLS one does with its connection (RFC 8656 section 3.1).
  core_.onConnectionClosed(protocol::SocketRef{protocol::SocketRef::Kind::kConnection, id},
                           std::chrono::steady_clock::now());
  if (dtls_sessions_.erase(id) != 0) {
    shared_.connections.release(client.address);
  }
}

void Worker::sweepIdleDtls(std::uint64_t id, protocol::MonotonicTime now) {
  const auto it = dtls_sessions_.find(id);
  if (it == dtls_sessions_.end()) {
    return;
  }
  if (core_.hasAllocationOnConnection(id)) {
    idle_checks_.emplace_back(now + std::chrono::seconds(shared_.connection_idle_timeout.load()),
                              id);
  } else {
    it->second->close(id);  // onDtlsClosed erases it
  }
}

}  // namespace turnpike::server

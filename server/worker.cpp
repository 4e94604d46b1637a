#include "server/worker.hpp"

#include "protocol/turn/channel_data.hpp"
#include "server/log.hpp"

namespace turnpike::server {

Worker::Worker(std::size_t index, const ServerConfig& config,
               std::shared_ptr<tls::TlsContext> tls_context)
    : index_(index),
      config_(config),
      tls_context_(std::move(tls_context)),
      binding_options_{config.software, false} {
  loop_.setWakeHandler([this] { closeAll(); });
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
      case Transport::kUdp: {
        auto socket = uv::UdpSocket::open(loop_, local, *this);
        if (!socket) {
          return std::unexpected("udp listener " + local.toString() + ": " +
                                 socket.error().toString());
        }
        udp_sockets_.push_back(std::move(*socket));
        break;
      }
      case Transport::kTcp: {
        auto tcp = uv::TcpListener::open(loop_, local, *this, *this);
        if (!tcp) {
          return std::unexpected("tcp listener " + local.toString() + ": " +
                                 tcp.error().toString());
        }
        tcp_listeners_.push_back(std::move(*tcp));
        break;
      }
      case Transport::kTls: {
        if (tls_context_ == nullptr) {
          return std::unexpected("tls listener " + local.toString() + ": no TLS context loaded");
        }
        auto tls = uv::TcpListener::open(loop_, local, *this, *this, tls_context_);
        if (!tls) {
          return std::unexpected("tls listener " + local.toString() + ": " +
                                 tls.error().toString());
        }
        tcp_listeners_.push_back(std::move(*tls));
        break;
      }
    }
  }
  return {};
}

std::vector<std::string> Worker::listenerDescriptions() const {
  std::vector<std::string> out;
  for (const auto& socket : udp_sockets_) {
    out.push_back("udp " + socket->localEndpoint().toString());
  }
  for (const auto& listener : tcp_listeners_) {
    out.push_back((listener->isTls() ? "tls " : "tcp ") + listener->localEndpoint().toString());
  }
  return out;
}

void Worker::start() {
  thread_ = std::thread([this] {
    loop_.run();
    open_handles_at_exit_ = loop_.shutdown();
  });
}

void Worker::stop() {
  // Once only: the wake-up closes the loop's async handle.
  if (thread_.joinable() && !stop_requested_.exchange(true)) {
    loop_.wake();
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
  // Move the table out first: close() calls onClosed, which edits connections_.
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [raw, connection] : connections) {
    connection->close(uv::CloseReason::kLocalClose);
  }
  connections.clear();
  udp_sockets_.clear();
  tcp_listeners_.clear();
  stats_.tcp_active.set(0);
  // With every handle closing, uv_run returns and the thread finishes in Loop::shutdown().
  loop_.closeHandles();
}

protocol::ConstBytes Worker::answer(protocol::ConstBytes request,
                                    const protocol::Endpoint& source) {
  const protocol::StunResult result =
      protocol::handleStunRequest(request, source, binding_options_, response_buffer_);
  stats_.stun_outcomes[static_cast<std::size_t>(result.outcome)].add();
  return result.response;
}

void Worker::onDatagram(uv::UdpSocket& socket, protocol::ConstBytes data,
                        const protocol::Endpoint& source) {
  stats_.udp_datagrams_received.add();
  if (protocol::looksLikeChannelData(data)) {
    stats_.channel_data_dropped.add();  // no allocations yet: nothing to relay to
    return;
  }
  const protocol::ConstBytes response = answer(data, source);
  if (!response.empty()) {
    socket.send(source, response);
  }
}

void Worker::onAccepted(std::unique_ptr<uv::TcpConnection> connection) {
  stats_.tcp_accepted.add();
  if (auto started = connection->start(); !started) {
    TP_LOG(kDebug, "tcp ", connection->peer().toString(), ": ", started.error().toString());
    return;  // the handle is closed by the destructor
  }
  uv::TcpConnection* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
  stats_.tcp_active.set(connections_.size());
}

void Worker::onFrame(uv::TcpConnection& connection, const protocol::Frame& frame) {
  if (frame.kind == protocol::FrameKind::kChannelData) {
    stats_.channel_data_dropped.add();
    return;
  }
  const protocol::ConstBytes response = answer(frame.bytes, connection.peer());
  if (!response.empty()) {
    connection.write(response);
  }
}

void Worker::onClosed(uv::TcpConnection& connection, uv::CloseReason reason) {
  stats_.tcp_closed[static_cast<std::size_t>(reason)].add();
  TP_LOG(kDebug, "tcp ", connection.peer().toString(), " closed: ", uv::toString(reason));
  auto it = connections_.find(&connection);
  if (it != connections_.end()) {
    loop_.deleteLater(std::move(it->second));
    connections_.erase(it);
  }
  stats_.tcp_active.set(connections_.size());
}

}  // namespace turnpike::server

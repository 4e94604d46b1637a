// One worker: a libuv loop on its own thread with its own SO_REUSEPORT listeners, so the data
// path takes no locks. The kernel keeps each client 5-tuple on one worker.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/turn/core.hpp"
#include "server/config/config.hpp"
#include "server/fastpath/ebpf_fast_path.hpp"
#include "server/turn_support.hpp"
#include "server/uv/dtls_listener.hpp"
#include "server/uv/loop.hpp"
#include "server/uv/tcp.hpp"
#include "server/uv/tcp_relay.hpp"
#include "server/uv/udp_socket.hpp"

namespace turnpike::server {

// Counters written by one worker thread and read by others (metrics, shutdown summary).
using WorkerCounter = protocol::StatCounter;

// A latency histogram with fixed bounds, written by one thread and read by the metrics thread.
struct LatencyHistogram {
  // Upper bounds in seconds (Prometheus "le"), from 50 us to 1 s.
  static constexpr std::array<double, 12> kBounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                  0.005,   0.01,   0.025,   0.05,   0.1,   1.0};
  void record(std::chrono::nanoseconds elapsed);

  std::array<WorkerCounter, kBounds.size()> buckets;  // per bucket, not cumulative
  WorkerCounter count;                                // every observation, +Inf included
  WorkerCounter sum_ns;
};

// Transport and loop counters; STUN/TURN counters live in the worker's core (CoreStats).
struct WorkerStats {
  std::array<WorkerCounter, uv::kCloseReasonCount> tcp_closed;
  WorkerCounter tcp_accepted;
  WorkerCounter tls_passthrough;  // connections spliced to a tls_passthrough backend
  // Connections refused at accept by limits.connections_total / connections_per_ip.
  WorkerCounter connections_total_rejected;
  WorkerCounter connections_per_ip_rejected;
  std::array<WorkerCounter, 2> connections_active;  // [0] tcp, [1] tls
  WorkerCounter udp_datagrams_received;
  // RFC 8016: client messages handed to the worker that holds their allocation.
  WorkerCounter mobility_forwarded;
  // RFC 6062: client connections handed to the worker that holds a ConnectionBind's peer
  // connection (counted by the worker that hands them over).
  WorkerCounter tcp_handoffs;
  uv::DtlsStats dtls;  // dtls listeners
  // Allocate request in to its success response handed to the kernel.
  LatencyHistogram allocate_latency;
  // The heartbeat timer: how late it last fired, and when (steady clock, ns since its epoch).
  WorkerCounter loop_lag_ns;
  WorkerCounter last_heartbeat_ns;
};

class Worker final : public uv::UdpSocketCallbacks,
                     public uv::TcpListenerCallbacks,
                     public uv::TcpConnectionCallbacks,
                     public uv::TcpRelayCallbacks,
                     public uv::DtlsListenerCallbacks,
                     public protocol::RelaySockets,
                     public protocol::CoreEvents {
 public:
  // tls_context serves every tls listener; it may be null when the config has none. `shared`
  // outlives the worker.
  // dtls_context (Protocol::kDtls) serves every dtls listener; null when the config has none.
  Worker(std::size_t index, const ServerConfig& config, TurnShared& shared,
         std::shared_ptr<tls::TlsContext> tls_context = nullptr,
         std::shared_ptr<tls::TlsContext> dtls_context = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds every configured listener. Call before start().
  [[nodiscard]] std::expected<void, std::string> open();
  // Runs the loop on a new thread.
  void start();
  // Asks the loop (from any thread) to close its handles and return. Idempotent.
  void stop();
  // From any thread: the new peer policy (reload), and draining (SIGTERM).
  void setPolicy(std::shared_ptr<const protocol::PeerPolicy> policy);
  void setLimits(const protocol::CoreConfig& limits);
  void startDraining(std::vector<protocol::Endpoint> alternates);
  void setCluster(protocol::AlternateServers cluster);
  // Waits for the thread. Returns the number of libuv handles left open (0 = clean).
  [[nodiscard]] int join();
  // Every worker of the server, this one included, by index: where a moved client's messages go
  // (RFC 8016 across workers, worker_mobility.cpp). Set before start(); the workers outlive
  // each other's threads.
  void setSiblings(std::vector<Worker*> siblings) { siblings_ = std::move(siblings); }

  [[nodiscard]] const WorkerStats& stats() const { return stats_; }
  [[nodiscard]] const protocol::CoreStats& coreStats() const { return core_.stats(); }
  [[nodiscard]] std::vector<std::string> listenerDescriptions() const;

  // uv::UdpSocketCallbacks
  void onDatagram(uv::UdpSocket& socket, protocol::ConstBytes data,
                  const protocol::Endpoint& source) override;
  // uv::TcpListenerCallbacks
  void onAccepted(std::unique_ptr<uv::TcpConnection> connection) override;
  // uv::TcpConnectionCallbacks
  void onFrame(uv::TcpConnection& connection, const protocol::Frame& frame) override;
  void onClosed(uv::TcpConnection& connection, uv::CloseReason reason) override;
  void onReady(uv::TcpConnection& connection) override;
  void onPassthrough(uv::TcpConnection& connection, const protocol::Endpoint& backend) override;
  // uv::DtlsListenerCallbacks
  [[nodiscard]] std::uint64_t onDtlsSessionStarted(uv::DtlsListener& listener,
                                                   const protocol::Endpoint& client) override;
  void onDtlsMessage(uv::DtlsListener& listener, std::uint64_t id, const protocol::Endpoint& client,
                     protocol::ConstBytes message) override;
  void onDtlsClosed(uv::DtlsListener& listener, std::uint64_t id,
                    const protocol::Endpoint& client) override;
  // protocol::RelaySockets
  [[nodiscard]] std::expected<protocol::SocketRef, protocol::RelayOpenError> open(
      const protocol::Endpoint& local, std::uint64_t tag, bool dont_fragment) override;
  void close(const protocol::SocketRef& socket) override;
  [[nodiscard]] std::expected<std::uint64_t, protocol::RelayOpenError> reserve(
      const protocol::Endpoint& local) override;
  [[nodiscard]] std::expected<protocol::SocketRef, protocol::RelayOpenError> adopt(
      std::uint64_t reserved, std::uint64_t tag) override;
  // RFC 6062 (worker_tcp_relay.cpp): protocol::RelaySockets for TCP allocations, and
  // uv::TcpRelayCallbacks.
  [[nodiscard]] std::expected<protocol::SocketRef, protocol::RelayOpenError> openTcp(
      const protocol::Endpoint& local, std::uint64_t tag) override;
  [[nodiscard]] bool connectPeer(std::uint32_t connection, const protocol::Endpoint& local,
                                 const protocol::Endpoint& peer) override;
  void bindPeer(std::uint32_t connection, const protocol::SocketRef& data_connection) override;
  void closePeer(std::uint32_t connection) override;
  [[nodiscard]] protocol::TcpRelayCounts takePeerCounts(std::uint32_t connection) override;
  void onPeerAccepted(std::uint64_t tag, uv_tcp_t* handle, const protocol::Endpoint& peer) override;
  void onPeerConnected(std::uint32_t connection, bool connected) override;
  // protocol::CoreEvents
  void onAllocationCreated(const protocol::Allocation& allocation) override;
  void onAllocationMoved(const protocol::Allocation& allocation,
                         const protocol::Endpoint& from) override;
  void onAllocationEnded(const protocol::Allocation& allocation, protocol::AllocationEnd end,
                         protocol::MonotonicTime now) override;
  void onRouteUp(const protocol::Allocation& allocation,
                 const protocol::ChannelBinding& channel) override;
  void onRouteDown(const protocol::Allocation& allocation,
                   const protocol::ChannelBinding& channel) override;

 private:
  // A relay socket and the allocation tag its datagrams are reported with.
  struct RelaySlot final : uv::UdpSocketCallbacks {
    RelaySlot(Worker& owner, std::uint64_t relay_tag) : worker(owner), tag(relay_tag) {}
    void onDatagram(uv::UdpSocket& socket, protocol::ConstBytes data,
                    const protocol::Endpoint& source) override;
    Worker& worker;
    std::uint64_t tag;
    std::unique_ptr<uv::UdpSocket> socket;
    std::unique_ptr<uv::TcpRelayListener> listener;  // a TCP allocation's instead (RFC 6062)
  };

  void closeAll();
  // RFC 6062: after a flush (the ConnectionBind answers are out), splices the bound data
  // connections and closes those of ended peer connections.
  void finishTcpRelayWork();
  [[nodiscard]] protocol::SocketRef addRelay(std::unique_ptr<RelaySlot> slot);
  // What a relay socket (UDP or RFC 6062 TCP) that could not be opened on `local` tells the core;
  // logs the failures that are not a port in use.
  [[nodiscard]] static protocol::RelayOpenError relayError(const uv::UvError& error,
                                                           const protocol::Endpoint& local);
  // Sends what the core put in the outbox, then re-arms the deadline timer. Runs after every
  // timer and TCP frame, when the outbox is nearly full, and at the end of every loop iteration
  // (relayed data and answers to UDP clients, batched).
  void flush();
  // Flushes when another core call might not fit in the outbox.
  void makeRoom() {
    if (outbox_.room() < protocol::Outbox::kPerCall) {
      flush();
    }
  }
  void armTimer();
  static void onTimer(uv_timer_t* timer);
  static void onHeartbeat(uv_timer_t* timer);
  // Closes connections that have had no allocation for limits.connection_idle_timeout.
  void sweepIdleConnections(protocol::MonotonicTime now);
  // The same for DTLS session `id` (nothing when it is gone).
  void sweepIdleDtls(std::uint64_t id, protocol::MonotonicTime now);
  [[nodiscard]] std::expected<void, std::string> openDtls(const protocol::Endpoint& local);
  // Hands a client message to the core and sends the answers; times Allocate requests.
  void handleClientMessage(const protocol::ClientSource& client, protocol::ConstBytes bytes,
                           protocol::MonotonicTime start);
  // RFC 8016 across workers (worker_mobility.cpp). SO_REUSEPORT hands a moved client's new
  // 5-tuple to any worker; the allocation stays with the worker that holds it. A Refresh with a
  // MOBILITY-TICKET of another worker's allocation, and every later message from that 5-tuple,
  // is copied to that worker, which answers through its own socket of the same listener. True
  // when `data` went to another worker.
  [[nodiscard]] bool forwardToOwner(const protocol::ClientSource& client, protocol::ConstBytes data,
                                    protocol::MonotonicTime now);
  // Drops forwarding entries idle for longer than an allocation can live (heartbeat).
  void sweepForwarded(protocol::MonotonicTime now);
  [[nodiscard]] std::uint64_t listenerIndex(const uv::UdpSocket& socket) const;
  // limits.connections_total and connections_per_ip for the connection's client: counts the
  // rejection and returns false, or marks the connection admitted.
  [[nodiscard]] bool admit(uv::TcpConnection& connection);
  // Gives back what admit() counted; nothing for a connection it did not admit.
  void release(uv::TcpConnection& connection);
  // A started connection joins connections_ (an id, the idle check, connections_active).
  void addConnection(std::shared_ptr<uv::TcpConnection> connection);
  // The core and connections_ forget a connection that closed or went to another worker.
  void forgetConnection(uv::TcpConnection& connection);

  // RFC 6062 across workers (worker_tcp_relay.cpp). A ConnectionBind comes on a new connection,
  // which SO_REUSEPORT may give to any worker; its CONNECTION-ID names the worker that holds the
  // peer connection (protocol::Core::connectionIdWorker). The connection moves there whole: its
  // socket (duplicated), the bytes read and not handled (the ConnectionBind and what follows),
  // its client (a PROXY header's) and its place in limits.connections_*.
  struct TcpHandover {
    TcpHandover() = default;
    TcpHandover(const TcpHandover&) = delete;
    TcpHandover& operator=(const TcpHandover&) = delete;
    // Not adopted (the owner's loop stopped, or uv_tcp_open failed): closes the socket and
    // gives back its place in the limits. Runs on either thread.
    ~TcpHandover();
    int fd = -1;
    std::vector<std::byte> unread;
    protocol::Endpoint peer;
    SharedConnections* admitted = nullptr;  // set while it holds a place in the limits
    std::unique_ptr<tls::TlsSession> tls;   // a TLS connection's session
  };
  // In onFrame: true when `frame` is a ConnectionBind for another worker and the connection
  // went there (it is closed here, without onClosed).
  [[nodiscard]] bool handOffConnectionBind(uv::TcpConnection& connection,
                                           const protocol::Frame& frame);
  // On the owner's loop: the connection goes on here, starting with the bytes it brought.
  void adoptConnection(TcpHandover& handover);

  std::size_t index_;
  const ServerConfig& config_;
  TurnShared& shared_;
  std::shared_ptr<tls::TlsContext> tls_context_;
  std::shared_ptr<tls::TlsContext> dtls_context_;
  std::vector<std::unique_ptr<uv::DtlsListener>> dtls_listeners_;
  // DTLS sessions by connection id (they share the id space of TCP/TLS connections, and
  // SocketRef::Kind::kConnection), with their listener.
  std::unordered_map<std::uint64_t, uv::DtlsListener*> dtls_sessions_;
  uv::Loop loop_;
  std::vector<std::unique_ptr<uv::UdpSocket>> udp_sockets_;
  std::vector<std::unique_ptr<uv::TcpListener>> tcp_listeners_;
  std::unordered_map<std::uint64_t, std::shared_ptr<uv::TcpConnection>> connections_;
  // (when to look again, connection id), in deadline order: every entry gets the same timeout,
  // so appending keeps it sorted and no per-connection timer is needed.
  std::deque<std::pair<protocol::MonotonicTime, std::uint64_t>> idle_checks_;
  std::uint64_t next_connection_id_ = 1;
  // Relay sockets by slot (SocketRef::id); freed slots are reused.
  std::vector<std::unique_ptr<RelaySlot>> relays_;
  std::vector<std::size_t> free_relay_slots_;
  std::vector<std::size_t> closed_relay_slots_;  // free after the next flush
  // Per UDP listener, the datagrams of one flush (kept to reuse their capacity).
  std::vector<std::vector<uv::UdpSocket::Outgoing>> listener_batches_;
  SeededRandom random_;
  std::shared_ptr<const protocol::PeerPolicy> policy_;  // the core points at it
  protocol::Core core_;
  // Room for what one loop iteration relays: flushed when full, and when the iteration ends.
  static constexpr std::size_t kOutboxCapacity = 128;
  protocol::Outbox outbox_{kOutboxCapacity};
  // When the client message being handled arrived, and when the Allocate requests whose success
  // answers are in the outbox did (LatencyHistogram allocate_latency, fed at flush()).
  std::optional<protocol::MonotonicTime> request_start_;
  std::vector<protocol::MonotonicTime> allocate_starts_;
  uv_timer_t* timer_ = nullptr;
  std::optional<protocol::MonotonicTime> armed_for_;
  uv_timer_t* heartbeat_ = nullptr;
  protocol::MonotonicTime heartbeat_due_{};
  // What the kernel fast path relayed for allocations still open, added to their accounting
  // line when they end (taken from a route's counters when it goes down).
  std::unordered_map<std::uint64_t, fastpath::ChannelCounts> kernel_relayed_;
  // RFC 8016 across workers: on with mobility and more than one worker.
  std::vector<Worker*> siblings_;
  struct Forwarded {
    std::size_t owner;
    protocol::MonotonicTime last;
  };
  std::unordered_map<protocol::ClientSource, Forwarded, protocol::Core::SourceHash> forwarded_;
  // RFC 6062: peer connections not yet bound, by CONNECTION-ID; bound ones' data connections;
  // binds to make and data connections to close after the next flush.
  std::unordered_map<std::uint32_t, std::unique_ptr<uv::PeerConnection>> peer_connections_;
  std::unordered_map<std::uint32_t, std::uint64_t> bound_data_connections_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> pending_binds_;
  std::vector<std::uint64_t> closing_data_connections_;
  // Peer connections counted toward limits.connections_total (releasePeer gives the count back).
  std::unordered_set<std::uint32_t> counted_peers_;
  void releasePeer(std::uint32_t connection);
  WorkerStats stats_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  int open_handles_at_exit_ = 0;
};

}  // namespace turnpike::server

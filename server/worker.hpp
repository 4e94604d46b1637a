// One worker: a libuv loop on its own thread with its own SO_REUSEPORT listeners, so the data
// path takes no locks. The kernel keeps each client 5-tuple on one worker.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/stun/binding.hpp"
#include "server/config/config.hpp"
#include "server/uv/loop.hpp"
#include "server/uv/tcp.hpp"
#include "server/uv/udp_socket.hpp"

namespace turnpike::server {

// Counters written by one worker thread and read by others (metrics, shutdown summary).
// Single writer: increments are a relaxed load and store, never a locked read-modify-write.
class WorkerCounter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

struct WorkerStats {
  std::array<WorkerCounter, protocol::kStunOutcomeCount> stun_outcomes;
  std::array<WorkerCounter, uv::kCloseReasonCount> tcp_closed;
  WorkerCounter tcp_accepted;
  WorkerCounter tcp_active;
  WorkerCounter channel_data_dropped;  // ChannelData with no allocation to carry it
  WorkerCounter udp_datagrams_received;
};

class Worker final : public uv::UdpSocketCallbacks,
                     public uv::TcpListenerCallbacks,
                     public uv::TcpConnectionCallbacks {
 public:
  // tls_context serves every tls listener; it may be null when the config has none.
  Worker(std::size_t index, const ServerConfig& config,
         std::shared_ptr<tls::TlsContext> tls_context = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds every configured listener. Call before start().
  [[nodiscard]] std::expected<void, std::string> open();
  // Runs the loop on a new thread.
  void start();
  // Asks the loop (from any thread) to close its handles and return. Idempotent.
  void stop();
  // Waits for the thread. Returns the number of libuv handles left open (0 = clean).
  [[nodiscard]] int join();

  [[nodiscard]] const WorkerStats& stats() const { return stats_; }
  [[nodiscard]] std::vector<std::string> listenerDescriptions() const;

  // uv::UdpSocketCallbacks
  void onDatagram(uv::UdpSocket& socket, protocol::ConstBytes data,
                  const protocol::Endpoint& source) override;
  // uv::TcpListenerCallbacks
  void onAccepted(std::unique_ptr<uv::TcpConnection> connection) override;
  // uv::TcpConnectionCallbacks
  void onFrame(uv::TcpConnection& connection, const protocol::Frame& frame) override;
  void onClosed(uv::TcpConnection& connection, uv::CloseReason reason) override;

 private:
  // Answers one STUN message; returns the response (empty when dropped) and counts the outcome.
  protocol::ConstBytes answer(protocol::ConstBytes request, const protocol::Endpoint& source);
  void closeAll();

  std::size_t index_;
  const ServerConfig& config_;
  std::shared_ptr<tls::TlsContext> tls_context_;
  protocol::BindingOptions binding_options_;
  uv::Loop loop_;
  std::vector<std::unique_ptr<uv::UdpSocket>> udp_sockets_;
  std::vector<std::unique_ptr<uv::TcpListener>> tcp_listeners_;
  std::unordered_map<uv::TcpConnection*, std::shared_ptr<uv::TcpConnection>> connections_;
  std::array<std::byte, protocol::kMinResponseBuffer> response_buffer_{};
  WorkerStats stats_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  int open_handles_at_exit_ = 0;
};

}  // namespace turnpike::server

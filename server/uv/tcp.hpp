// TCP listener and connections on a libuv loop. Each connection reads straight into its own
// bounded StreamFramer (no copy) and hands out whole STUN messages and ChannelData frames.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string_view>

#include "protocol/stun/endpoint.hpp"
#include "protocol/turn/stream_framer.hpp"
#include "server/uv/handles.hpp"
#include "server/uv/loop.hpp"

namespace turnpike::server::uv {

class TcpConnection;

enum class CloseReason : std::uint8_t {
  kPeerClosed,     // EOF or reset
  kReadError,      // any other read error
  kFramingError,   // bytes that are neither STUN nor ChannelData, or an oversized frame
  kWriteOverflow,  // the peer does not read and the write queue hit its bound
  kWriteError,
  kLocalClose,  // the server closed it (shutdown, policy)
};
inline constexpr std::size_t kCloseReasonCount = 6;
[[nodiscard]] std::string_view toString(CloseReason reason);

class TcpConnectionCallbacks {
 public:
  // A complete frame; its bytes are valid only during the call.
  virtual void onFrame(TcpConnection& connection, const protocol::Frame& frame) = 0;
  // Called once, after reading has stopped. The owner must not destroy the connection inside
  // this call; hand it to Loop::deleteLater instead.
  virtual void onClosed(TcpConnection& connection, CloseReason reason) = 0;

 protected:
  ~TcpConnectionCallbacks() = default;
};

class TcpConnection {
 public:
  // Bytes waiting to be written before the connection is closed as a slow reader.
  static constexpr std::size_t kMaxQueuedWriteBytes = 256U * 1024U;

  // Takes ownership of an accepted, initialised handle.
  TcpConnection(uv_tcp_t* handle, TcpConnectionCallbacks& callbacks);
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  [[nodiscard]] std::expected<void, UvError> start();
  // Writes all of data, queueing a copy of what the kernel does not take at once.
  void write(protocol::ConstBytes data);
  // Stops reading, closes the socket and reports onClosed (once).
  void close(CloseReason reason);

  [[nodiscard]] const protocol::Endpoint& peer() const { return peer_; }
  [[nodiscard]] const protocol::Endpoint& local() const { return local_; }
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  static void onAlloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);
  void drainFrames();

  uv_tcp_t* handle_;
  TcpConnectionCallbacks& callbacks_;
  protocol::StreamFramer framer_;
  protocol::Endpoint peer_;
  protocol::Endpoint local_;
  bool closed_ = false;
  std::shared_ptr<std::size_t> queued_bytes_ = std::make_shared<std::size_t>(0);
};

class TcpListenerCallbacks {
 public:
  // A new connection, not yet started. The callee takes ownership.
  virtual void onAccepted(std::unique_ptr<TcpConnection> connection) = 0;

 protected:
  ~TcpListenerCallbacks() = default;
};

class TcpListener {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<TcpListener>, UvError> open(
      Loop& loop, const protocol::Endpoint& local, TcpListenerCallbacks& listener_callbacks,
      TcpConnectionCallbacks& connection_callbacks);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  [[nodiscard]] const protocol::Endpoint& localEndpoint() const { return local_; }
  [[nodiscard]] std::uint64_t acceptErrors() const { return accept_errors_; }

 private:
  TcpListener(Loop& loop, TcpListenerCallbacks& listener_callbacks,
              TcpConnectionCallbacks& connection_callbacks);
  static void onConnection(uv_stream_t* server, int status);

  Loop& loop_;
  TcpListenerCallbacks& listener_callbacks_;
  TcpConnectionCallbacks& connection_callbacks_;
  uv_tcp_t* handle_;
  protocol::Endpoint local_;
  std::uint64_t accept_errors_ = 0;
};

}  // namespace turnpike::server::uv

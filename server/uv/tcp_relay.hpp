// RFC 6062 TCP allocations on a libuv loop: the listening TCP relay socket of an allocation, and
// its peer connections (made by Connect, or accepted). A peer connection is not read until it
// is bound: the kernel buffers what the peer sends, and its receive window tells the peer to
// wait (RFC 6062 section 5.3). Once bound, its handle goes to a TcpSplice (TcpConnection::
// spliceTo). Both sockets are bound with SO_REUSEPORT, so that outgoing connections leave from
// the relayed address while it listens.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>

#include "protocol/stun/endpoint.hpp"
#include "server/uv/acceptor.hpp"
#include "server/uv/handles.hpp"
#include "server/uv/loop.hpp"

namespace turnpike::server::uv {

class TcpRelayCallbacks {
 public:
  // A peer connected to the listener opened with `tag`. The callee owns `handle` (an
  // initialised, accepted uv_tcp_t): it keeps it in a PeerConnection or closes it.
  virtual void onPeerAccepted(std::uint64_t tag, uv_tcp_t* handle,
                              const protocol::Endpoint& peer) = 0;
  // An outgoing peer connection connected, or failed or timed out. The callee may destroy the
  // PeerConnection in this call (nothing touches it afterwards).
  virtual void onPeerConnected(std::uint32_t connection, bool connected) = 0;

 protected:
  ~TcpRelayCallbacks() = default;
};

// Accepts with an Acceptor (acceptor.hpp) without a spare fd (that would be a second fd per
// TCP allocation): out of fds it stops polling for Acceptor::kOutOfFdsPause at a time, and the
// peer waits in the kernel's backlog, instead of libuv's accept loop spinning.
class TcpRelayListener : private AcceptorCallbacks {
 public:
  static constexpr int kBacklog = 64;
  [[nodiscard]] static std::expected<std::unique_ptr<TcpRelayListener>, UvError> open(
      Loop& loop, const protocol::Endpoint& local, std::uint64_t tag, TcpRelayCallbacks& callbacks);
  ~TcpRelayListener();
  TcpRelayListener(const TcpRelayListener&) = delete;
  TcpRelayListener& operator=(const TcpRelayListener&) = delete;

  // Times accepting paused because the process was out of fds.
  [[nodiscard]] std::uint64_t pauses() const { return acceptor_->pauses(); }

 private:
  TcpRelayListener(Loop& loop, std::uint64_t tag, TcpRelayCallbacks& callbacks)
      : loop_(loop), tag_(tag), callbacks_(callbacks) {}
  void onAcceptedFd(int fd) override;

  Loop& loop_;
  std::uint64_t tag_;
  TcpRelayCallbacks& callbacks_;
  std::unique_ptr<Acceptor> acceptor_;
};

class PeerConnection {
 public:
  // RFC 6062 section 5.2: at least 30 s for an outgoing connection.
  static constexpr std::chrono::seconds kConnectTimeout{30};

  // An outgoing connection from `local` to `peer`; the result comes through onPeerConnected
  // (never inside this call).
  [[nodiscard]] static std::expected<std::unique_ptr<PeerConnection>, UvError> connect(
      Loop& loop, const protocol::Endpoint& local, const protocol::Endpoint& peer, std::uint32_t id,
      TcpRelayCallbacks& callbacks);
  // An accepted connection (TcpRelayCallbacks::onPeerAccepted's handle).
  PeerConnection(uv_tcp_t* handle, std::uint32_t id, TcpRelayCallbacks& callbacks);
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // Hands the connected handle over (to a splice); the object then owns nothing.
  [[nodiscard]] uv_tcp_t* release();

 private:
  static void onConnect(uv_connect_t* request, int status);
  static void onTimeout(uv_timer_t* timer);
  void finish(bool connected);

  uv_tcp_t* handle_;
  uv_timer_t* timer_ = nullptr;
  std::uint32_t id_;
  TcpRelayCallbacks& callbacks_;
  // The pending connect request holds this; cleared when the object dies.
  std::shared_ptr<PeerConnection*> self_ = std::make_shared<PeerConnection*>(this);
};

}  // namespace turnpike::server::uv

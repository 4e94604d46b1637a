// TCP and TLS listeners and connections on a libuv loop. Each connection hands out whole STUN
// messages and ChannelData frames from its own bounded StreamFramer. Plain TCP reads straight
// into the framer (no copy); TLS reads ciphertext into a small per-connection buffer, feeds it to
// a TlsSession and decrypts straight into the framer, so framing is the same for both.
// A connection on an auto listener first reads a few bytes into that buffer to tell TLS from
// plain TCP (protocol/turn/transport_detect.hpp), then goes on as one or the other.
// With tls_passthrough, a TLS connection first reads its ClientHello (protocol/tls/) and either
// goes on as TLS or is spliced unread to a backend (tcp_splice.hpp).
#pragma once

#include <uv.h>

#include <openssl/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string_view>
#include <vector>

#include "protocol/stun/endpoint.hpp"
#include "protocol/tls/client_hello.hpp"
#include "protocol/turn/stream_framer.hpp"
#include "server/uv/acceptor.hpp"
#include "server/uv/handles.hpp"
#include "server/uv/loop.hpp"
#include "server/uv/tcp_splice.hpp"
#include "server/uv/tls_splice_codec.hpp"

namespace turnpike::server::tls {
class TlsContext;
class TlsSession;
}  // namespace turnpike::server::tls

namespace turnpike::server::uv {

class TcpConnection;

enum class CloseReason : std::uint8_t {
  kPeerClosed,     // EOF or reset
  kReadError,      // any other read error
  kFramingError,   // bytes that are neither STUN nor ChannelData, or an oversized frame
  kWriteOverflow,  // the peer does not read and the write queue hit its bound
  kWriteError,
  kLocalClose,               // the server closed it (shutdown, policy)
  kTlsError,                 // after the handshake: a bad record, an alert
  kHandshakeTimeout,         // the TLS handshake did not finish within the handshake timeout
  kTlsHandshakeError,        // the handshake failed (TLS 1.1, garbage, a client rejecting our cert)
  kIdleTimeout,              // no allocation on it for limits.connection_idle_timeout
  kProxyHeaderError,         // proxy_protocol: the first bytes are not a valid PROXY v1/v2 header
  kProxyHeaderTimeout,       // proxy_protocol: no whole header within the handshake timeout
  kPassthroughConnectError,  // tls_passthrough: the backend refused, or no answer in time
  kPassthroughBackendError,  // tls_passthrough: the backend reset or failed mid-stream
};
inline constexpr std::size_t kCloseReasonCount = 14;
static_assert(static_cast<std::size_t>(CloseReason::kPassthroughBackendError) + 1 ==
              kCloseReasonCount);
[[nodiscard]] std::string_view toString(CloseReason reason);

// What a connection reads before its frames.
struct Preamble {
  // transport auto: TLS or plain TCP, told apart by the first bytes; needs a TLS context.
  bool detect_tls = false;
  // proxy_protocol: a PROXY protocol header (v1 or v2) first (protocol/proxy/proxy_header.hpp),
  // whose client address becomes peer(); then TLS, TCP or detection as above.
  bool proxy_header = false;
  // tls_passthrough (tls and auto listeners): the ClientHello is read first, and connections
  // that protocol::passthroughBackend sends to a backend are spliced there (tcp_splice.hpp).
  std::shared_ptr<const protocol::PassthroughRoutes> passthrough{};
};

class TcpConnectionCallbacks {
 public:
  // The connection's transport is known now (isTls()), and its client (peer()): an auto
  // listener's connection after its first bytes, a proxy_protocol one after its header. Not called
  // for connections that know it from the start (ready() at once). The callee may close the
  // connection.
  virtual void onReady(TcpConnection& /*connection*/) {}
  // A complete frame; its bytes are valid only during the call.
  virtual void onFrame(TcpConnection& connection, const protocol::Frame& frame) = 0;
  // tls_passthrough: the connection is being spliced to backend (after onReady). The callee may
  // close the connection.
  virtual void onPassthrough(TcpConnection& /*connection*/, const protocol::Endpoint& /*backend*/) {
  }
  // Called once, after reading has stopped. The owner must not destroy the connection inside
  // this call; hand it to Loop::deleteLater instead.
  virtual void onClosed(TcpConnection& connection, CloseReason reason) = 0;

 protected:
  ~TcpConnectionCallbacks() = default;
};

class TcpConnection : private TcpSpliceCallbacks {
 public:
  // Bytes waiting to be written before the connection is closed as a slow reader.
  static constexpr std::size_t kMaxQueuedWriteBytes = 256U * 1024U;

  // Ciphertext read per read callback on TLS connections; whole STUN messages are far smaller,
  // and a longer TLS record simply takes several reads.
  static constexpr std::size_t kTlsReadBufferSize = 4096;
  // A TLS connection whose handshake has not finished by then is closed (kHandshakeTimeout).
  static constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{10'000};

  // Takes ownership of an accepted, initialised handle. With a non-null tls_context the
  // connection speaks TLS (server side) and reading starts with the handshake; with
  // preamble.detect_tls only if its first bytes are a TLS record. Until the preamble (PROXY
  // header, first bytes) is read, the handshake timeout bounds the wait.
  TcpConnection(uv_tcp_t* handle, TcpConnectionCallbacks& callbacks, SSL_CTX* tls_context = nullptr,
                std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout,
                Preamble preamble = {});
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Starts reading (and, with TLS, the handshake timer).
  [[nodiscard]] std::expected<void, UvError> start();
  // Writes all of data (encrypted first with TLS), queueing a copy of what the kernel does not
  // take at once.
  void write(protocol::ConstBytes data);
  // Writes the parts (a header, a payload, padding) as one message: one write call, and over TLS
  // one record (clients such as coturn's read a record as a message).
  void write(std::span<const protocol::ConstBytes> parts);
  // RFC 6062: from now on the connection carries raw bytes to and from `peer`, a connected TCP
  // handle it takes over (a TCP allocation's data connection, after ConnectionBind). Bytes
  // already read after the last frame go to the peer first. Over TLS the client's side stays
  // TLS (tls_splice_codec.hpp): records decrypted for the peer, the peer's bytes encrypted.
  void spliceTo(uv_tcp_t* peer);
  // Stops reading, closes the socket and reports onClosed (once).
  void close(CloseReason reason);

  // RFC 6062 with several workers: a TCP or TLS connection handed to another worker's loop (a
  // ConnectionBind whose CONNECTION-ID names a peer connection there). `fd` is a duplicate of
  // the socket, owned by the holder; `unread` is what was read and not yet handled (over TLS,
  // plaintext: records not yet decrypted stay in the session, see takeTlsSession).
  struct Detached {
    int fd = -1;
    std::vector<std::byte> unread;
  };
  // From inside onFrame(frame): stops reading, duplicates the socket, closes this handle (the
  // duplicate keeps the socket open) and marks the connection closed without onClosed; the owner
  // forgets it. `unread` is the frame and everything read after it. Only a connection in its
  // stream phase (over TLS: handshake done) with no write queued can go (an error leaves it as it
  // was).
  [[nodiscard]] std::expected<Detached, UvError> detach(const protocol::Frame& frame);
  // After detach(): the TLS session (an SSL with memory BIOs, tied to no thread), for adopt() on
  // the other loop; null for plain TCP. isTls() stays as it was.
  [[nodiscard]] std::unique_ptr<tls::TlsSession> takeTlsSession();
  // The other side: a connection on `handle` (initialised on this loop and opened on a detached
  // fd) whose client is `peer` (a PROXY header's, when there was one), TLS when `tls` is a
  // detached session. start() it, then receive() the detached bytes.
  [[nodiscard]] static std::unique_ptr<TcpConnection> adopt(
      uv_tcp_t* handle, TcpConnectionCallbacks& callbacks, const protocol::Endpoint& peer,
      std::unique_ptr<tls::TlsSession> tls = nullptr);
  // Handles `bytes` as if just read from the socket (over TLS: as if just decrypted, and then
  // the records the session still holds): frames to the callbacks; what follows a frame that
  // turned the connection into a splice goes to the peer.
  void receive(protocol::ConstBytes bytes);
  // Came from another worker (adopt()): it is not handed on again.
  [[nodiscard]] bool adopted() const { return adopted_; }

  [[nodiscard]] const protocol::Endpoint& peer() const { return peer_; }
  [[nodiscard]] const protocol::Endpoint& local() const { return local_; }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] bool isTls() const { return tls_ != nullptr || tls_detached_; }
  // The preamble is read: the transport is known (and reported by onReady, unless at once).
  [[nodiscard]] bool ready() const { return phase_ == Phase::kStream || phase_ == Phase::kSplice; }
  // A spliced connection moved bytes since the last call (the owner's idle check).
  [[nodiscard]] bool takeSpliceActivity() { return splice_ != nullptr && splice_->takeActivity(); }
  // The splice once spliceTo() or tls_passthrough made one (RFC 6062 accounting and limits).
  [[nodiscard]] TcpSplice* splice() { return splice_.get(); }
  // A proxy_protocol connection still reading its header: peer() is the socket's address until
  // then, afterwards the header's client (or still the socket's, for LOCAL).
  [[nodiscard]] bool expectsProxyHeader() const { return phase_ == Phase::kProxyHeader; }
  // The owner's bookkeeping: whether it counted the connection against its limits.
  void setAdmitted(bool admitted) { admitted_ = admitted; }
  [[nodiscard]] bool admitted() const { return admitted_; }
  // The owner's name for this connection (the worker's connection id).
  void setId(std::uint64_t id) { id_ = id; }
  [[nodiscard]] std::uint64_t id() const { return id_; }

 private:
  static void onAlloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);
  static void onHandshakeTimeout(uv_timer_t* timer);
  enum class Phase : std::uint8_t { kProxyHeader, kDetect, kClientHello, kStream, kSplice };
  // The PROXY header at the start of the preamble buffer; once it is whole, drops it from the
  // buffer and either finishes the preamble or moves on to detection (then true).
  bool receiveProxyHeader();
  // Bytes read into tls_buffer_ before the transport is known: decides it when it can.
  void receivePreamble(std::size_t read);
  // Goes on as TLS (through the ClientHello with tls_passthrough) or plain TCP, tells the
  // callbacks, then hands what the preamble buffer holds on.
  void finishPreamble(bool tls);
  void drainFrames();
  // tls_passthrough: ClientHello bytes; once the hello is whole (or not a hello), goes on as TLS
  // or splices.
  void receiveClientHello(protocol::ConstBytes more);
  void startTls(protocol::ConstBytes first);
  void startSplice(const protocol::Endpoint& backend);
  void onSpliceEnd(End end) override;
  // TLS: feeds ciphertext to the session, decrypts into the framer, sends what the session
  // produced (handshake, tickets, alerts) and closes on a TLS error.
  void receiveTls(protocol::ConstBytes ciphertext);
  // Moves the session's pending ciphertext to the socket, through tls_buffer_.
  void flushTls();
  // try_write, then a bounded queue for the rest.
  void send(protocol::ConstBytes data);
  void stopHandshakeTimer();

  uv_tcp_t* handle_;
  TcpConnectionCallbacks& callbacks_;
  protocol::StreamFramer framer_;
  // TLS only (null for plain TCP). tls_buffer_ receives ciphertext between onAlloc and
  // receiveTls(); after that it is scratch space for outgoing ciphertext.
  std::unique_ptr<tls::TlsSession> tls_;
  // Auto listeners: a counted reference to the context, until the first bytes decide.
  SSL_CTX* pending_tls_context_ = nullptr;
  Phase phase_ = Phase::kStream;
  std::size_t preamble_size_ = 0;  // bytes of tls_buffer_ read before ready()
  bool admitted_ = false;
  bool detect_tls_ = false;
  std::unique_ptr<std::array<std::byte, kTlsReadBufferSize>> tls_buffer_;
  uv_timer_t* handshake_timer_ = nullptr;
  std::chrono::milliseconds handshake_timeout_;
  protocol::Endpoint peer_;
  protocol::Endpoint local_;
  // proxy_protocol: the address the client connected to, from its PROXY header (for a PROXY
  // header of our own to a tls_passthrough backend); else local_ is.
  std::optional<protocol::Endpoint> proxied_destination_;
  bool closed_ = false;
  bool adopted_ = false;
  bool tls_detached_ = false;  // takeTlsSession() took tls_
  // receive(): the bytes not yet in the framer (spliceTo sends them on after the framer's).
  protocol::ConstBytes unfed_;
  std::uint64_t id_ = 0;
  std::shared_ptr<std::size_t> queued_bytes_ = std::make_shared<std::size_t>(0);
  std::shared_ptr<const protocol::PassthroughRoutes> passthrough_;
  std::vector<std::byte> client_hello_;  // bounded by protocol::kClientHelloMaxSize + a read
  std::unique_ptr<TlsSpliceCodec> splice_codec_;  // RFC 6062 over TLS; uses tls_
  std::unique_ptr<TcpSplice> splice_;
};

class TcpListenerCallbacks {
 public:
  // A new connection, not yet started. The callee takes ownership.
  virtual void onAccepted(std::unique_ptr<TcpConnection> connection) = 0;

 protected:
  ~TcpListenerCallbacks() = default;
};

// A client listener. It accepts with an Acceptor (acceptor.hpp: its own accept4() loop, and a
// spare fd to shed connections with when the process is out of fds, or a pause) and wraps
// each accepted socket in a TcpConnection.
class TcpListener : private AcceptorCallbacks {
 public:
  static constexpr int kAcceptBatch = Acceptor::kAcceptBatch;
  static constexpr std::chrono::milliseconds kOutOfFdsPause = Acceptor::kOutOfFdsPause;

  // With a tls_context, every accepted connection speaks TLS, or with preamble.detect_tls
  // (transport auto) those that start with a TLS record.
  [[nodiscard]] static std::expected<std::unique_ptr<TcpListener>, UvError> open(
      Loop& loop, const protocol::Endpoint& local, TcpListenerCallbacks& listener_callbacks,
      TcpConnectionCallbacks& connection_callbacks,
      std::shared_ptr<tls::TlsContext> tls_context = nullptr,
      std::chrono::milliseconds handshake_timeout = TcpConnection::kDefaultHandshakeTimeout,
      Preamble preamble = {});
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  [[nodiscard]] const protocol::Endpoint& localEndpoint() const { return local_; }
  [[nodiscard]] std::uint64_t acceptErrors() const {
    return accept_errors_ + acceptor_->acceptErrors();
  }
  // Connections accepted and closed at once because the process was out of fds.
  [[nodiscard]] std::uint64_t shedConnections() const { return acceptor_->shedConnections(); }
  // Times the listener stopped polling because it could not even shed connections.
  [[nodiscard]] std::uint64_t pauses() const { return acceptor_->pauses(); }
  [[nodiscard]] bool isTls() const { return tls_context_ != nullptr && !preamble_.detect_tls; }
  [[nodiscard]] const Preamble& preamble() const { return preamble_; }

 private:
  TcpListener(Loop& loop, TcpListenerCallbacks& listener_callbacks,
              TcpConnectionCallbacks& connection_callbacks,
              std::shared_ptr<tls::TlsContext> tls_context,
              std::chrono::milliseconds handshake_timeout, Preamble preamble);
  void onAcceptedFd(int fd) override { adopt(fd); }
  // Wraps an accepted socket in a TcpConnection and hands it to the callbacks.
  void adopt(int fd);

  Loop& loop_;
  TcpListenerCallbacks& listener_callbacks_;
  TcpConnectionCallbacks& connection_callbacks_;
  std::shared_ptr<tls::TlsContext> tls_context_;
  std::chrono::milliseconds handshake_timeout_;
  Preamble preamble_;
  std::unique_ptr<Acceptor> acceptor_;
  protocol::Endpoint local_;
  std::uint64_t accept_errors_ = 0;  // accepted sockets that libuv would not take
};

}  // namespace turnpike::server::uv

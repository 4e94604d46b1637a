#include "server/uv/tcp.hpp"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "protocol/proxy/proxy_header.hpp"
#include "protocol/tls/client_hello.hpp"
#include "protocol/turn/transport_detect.hpp"
#include "server/log.hpp"
#include "server/tls/tls_context.hpp"
#include "server/tls/tls_session.hpp"

namespace turnpike::server::uv {
namespace {

constexpr int kListenBacklog = 1024;

struct QueuedWrite {
  uv_write_t request{};
  std::vector<std::byte> data;
  std::shared_ptr<std::size_t> queued_bytes;
};

}  // namespace

std::string_view toString(CloseReason reason) {
  switch (reason) {
    case CloseReason::kPeerClosed:
      return "peer_closed";
    case CloseReason::kReadError:
      return "read_error";
    case CloseReason::kFramingError:
      return "framing_error";
    case CloseReason::kWriteOverflow:
      return "write_overflow";
    case CloseReason::kWriteError:
      return "write_error";
    case CloseReason::kLocalClose:
      return "local_close";
    case CloseReason::kTlsError:
      return "tls_error";
    case CloseReason::kTlsHandshakeError:
      return "tls_handshake_error";
    case CloseReason::kIdleTimeout:
      return "idle_timeout";
    case CloseReason::kHandshakeTimeout:
      return "tls_handshake_timeout";
    case CloseReason::kProxyHeaderError:
      return "proxy_header_error";
    case CloseReason::kProxyHeaderTimeout:
      return "proxy_header_timeout";
    case CloseReason::kPassthroughConnectError:
      return "passthrough_connect_error";
    case CloseReason::kPassthroughBackendError:
      return "passthrough_backend_error";
  }
  return "unknown";
}

TcpConnection::TcpConnection(uv_tcp_t* handle, TcpConnectionCallbacks& callbacks,
                             SSL_CTX* tls_context, std::chrono::milliseconds handshake_timeout,
                             Preamble preamble)
    : handle_(handle), callbacks_(callbacks), handshake_timeout_(handshake_timeout) {
  handle_->data = this;
  peer_ = endpointOf(handle_, /*peer=*/true);
  local_ = endpointOf(handle_, /*peer=*/false);
  detect_tls_ = preamble.detect_tls && tls_context != nullptr;
  if (tls_context != nullptr && preamble.passthrough != nullptr &&
      preamble.passthrough->enabled()) {
    passthrough_ = std::move(preamble.passthrough);
  }
  phase_ = preamble.proxy_header ? Phase::kProxyHeader
           : detect_tls_         ? Phase::kDetect
           : passthrough_        ? Phase::kClientHello  // only set with a context
                                 : Phase::kStream;
  if (tls_context != nullptr && phase_ != Phase::kStream) {
    SSL_CTX_up_ref(tls_context);  // the session starts when the preamble is read
    pending_tls_context_ = tls_context;
  } else if (tls_context != nullptr) {
    tls_ = std::make_unique<tls::TlsSession>(tls_context);
  }
  if (tls_ != nullptr || phase_ != Phase::kStream) {
    tls_buffer_ = std::make_unique<std::array<std::byte, kTlsReadBufferSize>>();
  }
}

TcpConnection::~TcpConnection() {
  splice_.reset();           // while the client handle is open
  if (handle_ != nullptr) {  // null once detached
    uv_read_stop(asStream(handle_));
    closeAndDelete(handle_);
  }
  closeAndDelete(handshake_timer_);
  SSL_CTX_free(pending_tls_context_);
}

std::expected<void, UvError> TcpConnection::start() {
  uv_tcp_nodelay(handle_, 1);
  if (tls_ != nullptr || phase_ != Phase::kStream) {
    // A client that connects and never finishes the handshake (or never says which transport
    // it speaks) must not hold the connection (and its TLS state) forever.
    handshake_timer_ = new uv_timer_t;
    uv_timer_init(handle_->loop, handshake_timer_);
    handshake_timer_->data = this;
    const auto timeout_ms = static_cast<std::uint64_t>(handshake_timeout_.count());
    if (const int rc = uv_timer_start(handshake_timer_, onHandshakeTimeout, timeout_ms, 0);
        rc != 0) {
      return std::unexpected(UvError{"uv_timer_start", rc});
    }
  }
  if (const int rc = uv_read_start(asStream(handle_), onAlloc, onRead); rc != 0) {
    return std::unexpected(UvError{"uv_read_start", rc});
  }
  return {};
}

void TcpConnection::onHandshakeTimeout(uv_timer_t* timer) {
  if (auto* self = static_cast<TcpConnection*>(timer->data); self != nullptr) {
    self->close(self->phase_ == Phase::kProxyHeader ? CloseReason::kProxyHeaderTimeout
                                                    : CloseReason::kHandshakeTimeout);
  }
}

void TcpConnection::stopHandshakeTimer() {
  // The handle is not needed again: free it now rather than with the connection.
  closeAndDelete(handshake_timer_);
  handshake_timer_ = nullptr;
}

void TcpConnection::onAlloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buffer) {
  auto* self = static_cast<TcpConnection*>(handle->data);
  if (self == nullptr) {
    *buffer = uv_buf_init(nullptr, 0);
    return;
  }
  if (self->phase_ == Phase::kSplice) {
    *buffer = self->splice_->clientBuffer();
    return;
  }
  // TLS: ciphertext into the connection's buffer. TCP: straight into the framer; an empty span
  // (framer failed) makes libuv report UV_ENOBUFS. Before the transport is known: after what
  // the buffer holds already.
  const protocol::MutableBytes space =
      self->phase_ == Phase::kProxyHeader || self->phase_ == Phase::kDetect
          ? protocol::MutableBytes(*self->tls_buffer_).subspan(self->preamble_size_)
      : self->tls_ != nullptr || self->phase_ == Phase::kClientHello
          ? *self->tls_buffer_
          : self->framer_.writableSpace();
  *buffer = uv_buf_init(reinterpret_cast<char*>(space.data()),  // NOLINT
                        static_cast<unsigned>(space.size()));
}

void TcpConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
  auto* self = static_cast<TcpConnection*>(stream->data);
  if (self == nullptr || nread == 0) {
    return;
  }
  if (self->phase_ == Phase::kSplice) {
    self->splice_->onClientRead(nread);  // EOF is a half close there
    return;
  }
  if (nread < 0) {
    const bool peer_gone = nread == UV_EOF || nread == UV_ECONNRESET;
    self->close(nread == UV_ENOBUFS ? CloseReason::kFramingError
                : peer_gone         ? CloseReason::kPeerClosed
                                    : CloseReason::kReadError);
    return;
  }
  if (self->phase_ == Phase::kClientHello) {
    const auto* bytes = reinterpret_cast<const std::byte*>(buffer->base);  // NOLINT
    self->receiveClientHello({bytes, static_cast<std::size_t>(nread)});
    return;
  }
  if (self->phase_ != Phase::kStream) {
    self->receivePreamble(static_cast<std::size_t>(nread));
    return;
  }
  if (self->tls_ != nullptr) {
    const auto* ciphertext = reinterpret_cast<const std::byte*>(buffer->base);  // NOLINT
    self->receiveTls({ciphertext, static_cast<std::size_t>(nread)});
    return;
  }
  self->framer_.commit(static_cast<std::size_t>(nread));
  self->drainFrames();
}

bool TcpConnection::receiveProxyHeader() {
  const protocol::ConstBytes data = protocol::ConstBytes(*tls_buffer_).first(preamble_size_);
  const auto parsed = protocol::parseProxyHeader(data);
  if (!parsed) {
    TP_LOG(kDebug, "tcp ", peer_.toString(), ": ", protocol::toString(parsed.error()));
    close(CloseReason::kProxyHeaderError);
    return false;
  }
  if (!*parsed) {
    return false;  // more to come (the parser bounds the size)
  }
  const protocol::ProxyHeader& header = **parsed;
  if (header.source) {
    TP_LOG(kDebug, "tcp ", peer_.toString(), ": PROXY header for ", header.source->toString());
    peer_ = *header.source;  // the client, for auth, nonces, limits and XOR-MAPPED-ADDRESS
    proxied_destination_ = header.destination;
  }
  // What follows the header is the stream's first bytes: move it to the front.
  std::copy(tls_buffer_->begin() + static_cast<std::ptrdiff_t>(header.size),
            tls_buffer_->begin() + static_cast<std::ptrdiff_t>(preamble_size_),
            tls_buffer_->begin());
  preamble_size_ -= header.size;
  if (!detect_tls_) {
    finishPreamble(pending_tls_context_ != nullptr);
    return false;
  }
  phase_ = Phase::kDetect;
  return true;
}

void TcpConnection::receivePreamble(std::size_t read) {
  preamble_size_ += read;
  if (phase_ == Phase::kProxyHeader && !receiveProxyHeader()) {
    return;
  }
  const protocol::ConstBytes data = protocol::ConstBytes(*tls_buffer_).first(preamble_size_);
  switch (protocol::classifyStreamStart(data)) {
    case protocol::StreamStart::kNeedMore:
      return;
    case protocol::StreamStart::kTls:
      finishPreamble(/*tls=*/true);
      return;
    case protocol::StreamStart::kStun:
    case protocol::StreamStart::kChannelData:
      finishPreamble(/*tls=*/false);
      return;
    case protocol::StreamStart::kUnknown:
      TP_LOG(kDebug, "tcp ", peer_.toString(), ": neither TLS, STUN nor ChannelData");
      close(CloseReason::kFramingError);
      return;
  }
}

void TcpConnection::finishPreamble(bool tls) {
  // The preamble buffer holds the start of the stream (or of the ClientHello).
  protocol::ConstBytes rest = protocol::ConstBytes(*tls_buffer_).first(preamble_size_);
  preamble_size_ = 0;
  if (tls && passthrough_ != nullptr) {
    phase_ = Phase::kClientHello;  // the hello decides between TLS and a splice
    receiveClientHello(rest);
    return;
  }
  if (tls) {
    startTls(rest);
    return;
  }
  phase_ = Phase::kStream;
  stopHandshakeTimer();  // from here the owner's idle timeout applies
  SSL_CTX_free(std::exchange(pending_tls_context_, nullptr));
  callbacks_.onReady(*this);
  if (!closed_) {
    receive(rest);
  }
  tls_buffer_.reset();  // plain TCP reads straight into the framer
}

void TcpConnection::receive(protocol::ConstBytes bytes) {
  unfed_ = bytes;
  while (!unfed_.empty() && !closed_ && phase_ == Phase::kStream) {
    const protocol::MutableBytes space = framer_.writableSpace();
    if (space.empty()) {
      close(CloseReason::kFramingError);
      break;
    }
    const std::size_t n = std::min(space.size(), unfed_.size());
    std::copy_n(unfed_.begin(), n, space.begin());
    framer_.commit(n);
    unfed_ = unfed_.subspan(n);
    drainFrames();
  }
  unfed_ = {};
  if (tls_ != nullptr && !closed_ && phase_ == Phase::kStream && tls_->hasBufferedInput()) {
    receiveTls({});  // records that came with the bytes (a splice decrypts them itself)
  }
}

std::unique_ptr<TcpConnection> TcpConnection::adopt(uv_tcp_t* handle,
                                                    TcpConnectionCallbacks& callbacks,
                                                    const protocol::Endpoint& peer,
                                                    std::unique_ptr<tls::TlsSession> tls) {
  auto connection = std::make_unique<TcpConnection>(handle, callbacks);
  connection->peer_ = peer;
  connection->adopted_ = true;
  if (tls != nullptr) {
    connection->tls_ = std::move(tls);
    connection->tls_buffer_ = std::make_unique<std::array<std::byte, kTlsReadBufferSize>>();
  }
  return connection;
}

std::unique_ptr<tls::TlsSession> TcpConnection::takeTlsSession() {
  if (!closed_ || tls_ == nullptr) {
    return nullptr;
  }
  tls_detached_ = true;
  return std::move(tls_);
}

std::expected<TcpConnection::Detached, UvError> TcpConnection::detach(
    const protocol::Frame& frame) {
  if (tls_ != nullptr && !closed_) {
    flushTls();  // what the session has to say goes out from here, before the socket moves
  }
  if (closed_ || phase_ != Phase::kStream || *queued_bytes_ != 0 ||
      (tls_ != nullptr && (!tls_->handshakeDone() || tls_->pendingCiphertext() != 0))) {
    return std::unexpected(UvError{"detach", UV_EINVAL});
  }
  uv_os_fd_t fd = -1;
  if (const int rc = uv_fileno(asHandle(handle_), &fd); rc != 0) {
    return std::unexpected(UvError{"uv_fileno", rc});
  }
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    return std::unexpected(UvError{"dup", -errno});
  }
  Detached detached{copy, {}};
  const protocol::ConstBytes after = framer_.pending();
  detached.unread.reserve(frame.bytes.size() + after.size());
  detached.unread.insert(detached.unread.end(), frame.bytes.begin(), frame.bytes.end());
  detached.unread.insert(detached.unread.end(), after.begin(), after.end());
  detached.unread.insert(detached.unread.end(), unfed_.begin(), unfed_.end());
  unfed_ = {};
  closed_ = true;  // drainFrames stops; writes are dropped
  uv_read_stop(asStream(handle_));
  stopHandshakeTimer();
  // Closing takes the fd out of this loop's epoll set (libuv deletes it explicitly, so the
  // duplicate's registration in the other loop is not disturbed) and closes it.
  closeAndDelete(std::exchange(handle_, nullptr));
  return detached;
}

void TcpConnection::receiveClientHello(protocol::ConstBytes more) {
  client_hello_.insert(client_hello_.end(), more.begin(), more.end());
  const auto parsed = protocol::parseClientHello(client_hello_);
  if (parsed && !parsed->has_value()) {
    return;  // more to come (the parser bounds the size; the handshake timer the wait)
  }
  std::optional<protocol::Endpoint> backend;
  if (parsed) {
    backend = protocol::passthroughBackend(**parsed, *passthrough_);
  } else {
    // Not ours to judge: OpenSSL rejects it with the proper alert.
    TP_LOG(kDebug, "tls ", peer_.toString(), ": ", protocol::toString(parsed.error()));
  }
  if (backend) {
    startSplice(*backend);
    return;
  }
  const std::vector<std::byte> first = std::exchange(client_hello_, {});
  startTls(first);
}

void TcpConnection::startTls(protocol::ConstBytes first) {
  phase_ = Phase::kStream;
  tls_ = std::make_unique<tls::TlsSession>(pending_tls_context_);
  SSL_CTX_free(std::exchange(pending_tls_context_, nullptr));
  callbacks_.onReady(*this);
  if (!closed_ && !first.empty()) {
    receiveTls(first);  // the session copies it before flushTls() reuses tls_buffer_
  }
}

void TcpConnection::startSplice(const protocol::Endpoint& backend) {
  phase_ = Phase::kSplice;
  SSL_CTX_free(std::exchange(pending_tls_context_, nullptr));
  stopHandshakeTimer();  // the splice bounds its connect; the owner's idle check the rest
  tls_buffer_.reset();
  splice_ = std::make_unique<TcpSplice>(handle_, onAlloc, onRead,
                                        static_cast<TcpSpliceCallbacks&>(*this));
  callbacks_.onReady(*this);
  if (!closed_) {
    callbacks_.onPassthrough(*this, backend);
  }
  if (closed_) {
    return;
  }
  TP_LOG(kDebug, "tls ", peer_.toString(), ": passthrough to ", backend.toString());
  // tls_passthrough.proxy_protocol: the backend learns the client from a header sent first.
  const std::vector<std::byte> header = protocol::proxyHeaderFor(
      passthrough_->send_proxy, peer_, proxied_destination_.value_or(local_));
  client_hello_.insert(client_hello_.begin(), header.begin(), header.end());
  if (auto started = splice_->start(backend, std::exchange(client_hello_, {}), handshake_timeout_);
      !started) {
    TP_LOG(kDebug, "tls ", peer_.toString(), ": ", started.error().toString());
    close(CloseReason::kPassthroughConnectError);
  }
}

void TcpConnection::spliceTo(uv_tcp_t* peer) {
  const protocol::ConstBytes rest = framer_.pending();
  std::vector<std::byte> first(rest.begin(), rest.end());
  first.insert(first.end(), unfed_.begin(), unfed_.end());  // receive() had not fed these yet
  unfed_ = {};
  phase_ = Phase::kSplice;
  stopHandshakeTimer();
  splice_ = std::make_unique<TcpSplice>(handle_, onAlloc, onRead,
                                        static_cast<TcpSpliceCallbacks&>(*this));
  if (tls_ != nullptr) {
    // Records the session holds past the ConnectionBind go to the peer after `first`.
    splice_codec_ = std::make_unique<TlsSpliceCodec>(*tls_);
  }
  splice_->startConnected(peer, std::move(first), splice_codec_.get());
}

void TcpConnection::onSpliceEnd(End end) {
  switch (end) {
    case End::kDone:
      close(CloseReason::kPeerClosed);
      return;
    case End::kClientError:
      close(CloseReason::kReadError);
      return;
    case End::kClientCodecError:
      TP_LOG(kDebug, "tls ", peer_.toString(), ": spliced: ", tls_->errorText());
      close(CloseReason::kTlsError);
      return;
    case End::kConnectError:
      close(CloseReason::kPassthroughConnectError);
      return;
    case End::kBackendError:
      close(CloseReason::kPassthroughBackendError);
      return;
  }
}

void TcpConnection::receiveTls(protocol::ConstBytes ciphertext) {
  // The session copies the ciphertext, which frees tls_buffer_ for flushTls() below.
  auto result = tls_->receive(ciphertext);
  // Decrypt straight into the framer. Whole frames are consumed by drainFrames(), so the framer
  // always has space for more unless it failed (and closed the connection).
  while (result && !closed_) {
    const protocol::MutableBytes space = framer_.writableSpace();
    if (space.empty()) {
      close(CloseReason::kFramingError);
      break;
    }
    const auto read = tls_->readPlaintext(space);
    if (!read) {
      result = std::unexpected(read.error());
    } else if (*read == 0) {
      break;
    } else {
      framer_.commit(*read);
      drainFrames();
      if (phase_ == Phase::kSplice || tls_ == nullptr) {
        break;  // RFC 6062: the splice decrypts the rest (spliceTo), or another worker does
      }
      if (!tls_->hasBufferedInput()) {
        break;  // saves an SSL_read that would only want more (one per message)
      }
    }
  }
  if (tls_ == nullptr) {
    return;  // handed to another worker with its session (detach, takeTlsSession)
  }
  if (handshake_timer_ != nullptr && tls_->handshakeDone()) {
    stopHandshakeTimer();
  }
  // Whatever the session produced: the server's handshake flight, session tickets, an alert.
  flushTls();
  if (!result) {
    const bool peer_closed = result.error() == tls::TlsError::kClosed;
    TP_LOG(kDebug, "tls ", peer_.toString(), ": ",
           peer_closed ? std::string_view("close_notify") : tls_->errorText());
    close(peer_closed             ? CloseReason::kPeerClosed
          : tls_->handshakeDone() ? CloseReason::kTlsError
                                  : CloseReason::kTlsHandshakeError);
  }
}

void TcpConnection::flushTls() {
  if (closed_) {
    return;
  }
  tls_->drainCiphertext(*tls_buffer_, [this](protocol::ConstBytes records) {
    send(records);
    return !closed_;
  });
}

void TcpConnection::drainFrames() {
  while (!closed_ && phase_ == Phase::kStream) {  // a frame may turn it into a splice (RFC 6062)
    auto frame = framer_.next();
    if (!frame) {
      close(CloseReason::kFramingError);
      return;
    }
    if (!*frame) {
      return;
    }
    callbacks_.onFrame(*this, **frame);
  }
}

void TcpConnection::write(std::span<const protocol::ConstBytes> parts) {
  if (parts.size() == 1) {
    write(parts.front());
    return;
  }
  // Joined in a per-thread scratch buffer: it grows to the largest message once, then the
  // relay path copies a few hundred bytes instead of allocating.
  thread_local std::vector<std::byte> scratch;
  scratch.clear();
  for (const protocol::ConstBytes part : parts) {
    scratch.insert(scratch.end(), part.begin(), part.end());
  }
  write(protocol::ConstBytes(scratch));
}

void TcpConnection::write(protocol::ConstBytes data) {
  if (closed_ || data.empty()) {
    return;
  }
  if (tls_ == nullptr) {
    send(data);
    return;
  }
  if (auto written = tls_->writePlaintext(data); !written) {
    TP_LOG(kDebug, "tls ", peer_.toString(), ": write: ", tls_->errorText());
    flushTls();
    close(CloseReason::kTlsError);
    return;
  }
  flushTls();
}

void TcpConnection::send(protocol::ConstBytes data) {
  if (closed_ || data.empty()) {
    return;
  }
  uv_buf_t buffer =
      uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),  // NOLINT
                  static_cast<unsigned>(data.size()));
  std::size_t written = 0;
  if (*queued_bytes_ == 0) {  // keep order: never write around queued bytes
    const int rc = uv_try_write(asStream(handle_), &buffer, 1);
    if (rc < 0 && rc != UV_EAGAIN) {
      close(CloseReason::kWriteError);
      return;
    }
    written = rc > 0 ? static_cast<std::size_t>(rc) : 0;
  }
  if (written == data.size()) {
    return;
  }
  const protocol::ConstBytes rest = data.subspan(written);
  if (*queued_bytes_ + rest.size() > kMaxQueuedWriteBytes) {
    close(CloseReason::kWriteOverflow);
    return;
  }
  auto* queued = new QueuedWrite{{}, {rest.begin(), rest.end()}, queued_bytes_};
  *queued_bytes_ += rest.size();
  buffer = uv_buf_init(reinterpret_cast<char*>(queued->data.data()),  // NOLINT
                       static_cast<unsigned>(queued->data.size()));
  queued->request.data = queued;
  const int rc = uv_write(&queued->request, asStream(handle_), &buffer, 1,
                          [](uv_write_t* request, int status) {
                            auto* done = static_cast<QueuedWrite*>(request->data);
                            *done->queued_bytes -= done->data.size();
                            auto* owner = static_cast<TcpConnection*>(request->handle->data);
                            delete done;
                            if (status < 0 && status != UV_ECANCELED && owner != nullptr) {
                              owner->close(CloseReason::kWriteError);
                            }
                          });
  if (rc != 0) {
    *queued_bytes_ -= rest.size();
    delete queued;
    close(CloseReason::kWriteError);
  }
}

void TcpConnection::close(CloseReason reason) {
  if (closed_) {
    return;
  }
  if (tls_ != nullptr &&
      (reason == CloseReason::kLocalClose || reason == CloseReason::kFramingError)) {
    // The TLS layer is healthy: say goodbye properly (RFC 8446 section 6.1), best effort.
    tls_->sendCloseNotify();
    flushTls();
    if (closed_) {
      return;  // the flush failed and closed the connection already
    }
  }
  closed_ = true;
  uv_read_stop(asStream(handle_));
  stopHandshakeTimer();
  if (splice_ != nullptr) {
    splice_->stop();  // the backend socket goes now; the object with the connection
  }
  callbacks_.onClosed(*this, reason);
}

TcpListener::TcpListener(Loop& loop, TcpListenerCallbacks& listener_callbacks,
                         TcpConnectionCallbacks& connection_callbacks,
                         std::shared_ptr<tls::TlsContext> tls_context,
                         std::chrono::milliseconds handshake_timeout, Preamble preamble)
    : loop_(loop),
      listener_callbacks_(listener_callbacks),
      connection_callbacks_(connection_callbacks),
      tls_context_(std::move(tls_context)),
      handshake_timeout_(handshake_timeout),
      preamble_(preamble) {}

TcpListener::~TcpListener() = default;

std::expected<std::unique_ptr<TcpListener>, UvError> TcpListener::open(
    Loop& loop, const protocol::Endpoint& local, TcpListenerCallbacks& listener_callbacks,
    TcpConnectionCallbacks& connection_callbacks, std::shared_ptr<tls::TlsContext> tls_context,
    std::chrono::milliseconds handshake_timeout, Preamble preamble) {
  auto fd = openBoundSocket(SocketKind::kTcp, local);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  if (::listen(*fd, kListenBacklog) != 0) {
    const int error = -errno;
    ::close(*fd);
    return std::unexpected(UvError{"listen " + local.toString(), error});
  }
  std::unique_ptr<TcpListener> listener(
      new TcpListener(loop, listener_callbacks, connection_callbacks, std::move(tls_context),
                      handshake_timeout, preamble));
  auto acceptor = Acceptor::start(loop, *fd, *listener, {.spare = true, .backlog = kListenBacklog});
  if (!acceptor) {
    return std::unexpected(acceptor.error());
  }
  listener->acceptor_ = std::move(*acceptor);
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {   // NOLINT
    listener->local_ = fromSockaddr(reinterpret_cast<const sockaddr*>(&address));  // NOLINT
  }
  return listener;
}

void TcpListener::adopt(int fd) {
  auto* client = new uv_tcp_t;
  uv_tcp_init(loop_.get(), client);
  if (uv_tcp_open(client, fd) != 0) {
    ::close(fd);
    ++accept_errors_;
    closeAndDelete(client);
    return;
  }
  // The session takes its own reference to the context; `tls` only bridges a reload.
  const tls::TlsContext::Ref tls = tls_context_ != nullptr ? tls_context_->acquire() : nullptr;
  listener_callbacks_.onAccepted(std::make_unique<TcpConnection>(
      client, connection_callbacks_, tls.get(), handshake_timeout_, preamble_));
}

}  // namespace turnpike::server::uv

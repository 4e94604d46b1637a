#include "server/uv/dtls_listener.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "server/log.hpp"
#include "server/tls/dtls_cookie.hpp"
#include "server/tls/tls_context.hpp"

namespace turnpike::server::uv {

using Clock = std::chrono::steady_clock;

struct DtlsListener::Session {
  DtlsListener* owner = nullptr;
  SSL* ssl = nullptr;  // owns its BIO
  protocol::Endpoint client;
  std::uint64_t id = 0;
  bool established = false;
  bool wrote = false;            // a datagram went out since the flag was cleared
  protocol::ConstBytes input;    // the datagram being handled, until OpenSSL reads it
  Clock::time_point deadline{};  // handshake deadline
  Clock::time_point wake{};      // next retransmission or the deadline
  std::size_t half_open_index = 0;
};

void DtlsListener::SessionDeleter::operator()(Session* session) const {
  SSL_free(session->ssl);
  delete session;
}

// The datagram BIO: one read returns the whole datagram being handled (then "retry"), one write
// is one datagram sent to the session's client.
struct DatagramBio {
  static int write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
    auto* session = static_cast<DtlsListener::Session*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (session == nullptr) {
      return 0;
    }
    session->wrote = true;
    session->owner->transmit(session->client, protocol::asBytes(data, size));
    *written = size;
    return 1;
  }

  static int read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
    auto* session = static_cast<DtlsListener::Session*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (session == nullptr || session->input.empty()) {
      BIO_set_retry_read(bio);
      return 0;
    }
    // A datagram larger than OpenSSL's buffer is cut, and its record then fails to decrypt.
    const std::size_t n = std::min(size, session->input.size());
    std::memcpy(out, session->input.data(), n);
    session->input = {};
    *read = n;
    return 1;
  }

  static long ctrl(BIO* bio, int command, long /*number*/, void* /*pointer*/) {
    switch (command) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING: {
        const auto* session = static_cast<DtlsListener::Session*>(BIO_get_data(bio));
        return session == nullptr ? 0 : static_cast<long>(session->input.size());
      }
      default:
        return 0;  // no peer address, MTU query or timeout control: the listener does those
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static BIO_METHOD* method() {
    static BIO_METHOD* const kMethod = [] {
      BIO_METHOD* made =
          BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "turnpike dtls datagram");
      if (made != nullptr) {
        BIO_meth_set_write_ex(made, write);
        BIO_meth_set_read_ex(made, read);
        BIO_meth_set_ctrl(made, ctrl);
        BIO_meth_set_create(made, create);
      }
      return made;
    }();
    return kMethod;
  }
};

std::size_t DtlsListener::EndpointHash::operator()(const protocol::Endpoint& endpoint) const {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over the address bytes and the port
  const auto& bytes = endpoint.address.bytes();
  for (std::size_t i = 0; i < endpoint.address.size(); ++i) {
    hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  }
  hash = (hash ^ endpoint.port) * 0x100000001b3ULL;
  return static_cast<std::size_t>(hash);
}

namespace {

// RFC 6347 section 4.1: a record starts with its content type (22 = handshake) and version
// (0xFEFD for DTLS 1.2; a ClientHello's record may carry 0xFEFF, DTLS 1.0), then 11 bytes of
// epoch, sequence number and length. Anything else from a new client is not worth OpenSSL's time.
bool looksLikeClientHelloRecord(protocol::ConstBytes data) {
  constexpr std::size_t kRecordHeader = 13;
  return data.size() > kRecordHeader && data[0] == std::byte{22} && data[1] == std::byte{0xFE};
}

// OpenSSL's reason for the first queued error, for debug lines: called inside TP_LOG's
// arguments, so only when debug is on (the look-up takes OpenSSL's error-string lock).
const char* firstErrorReason() {
  const char* reason = ERR_reason_error_string(ERR_peek_error());
  return reason == nullptr ? "no reason" : reason;
}

std::chrono::milliseconds dtlsTimeout(SSL* ssl) {
  timeval left{};
  if (DTLSv1_get_timeout(ssl, &left) != 1) {
    return std::chrono::milliseconds::max();
  }
  return std::chrono::milliseconds{left.tv_sec * 1000 + left.tv_usec / 1000};
}

}  // namespace

std::expected<std::unique_ptr<DtlsListener>, UvError> DtlsListener::open(
    Loop& loop, const protocol::Endpoint& local, DtlsListenerCallbacks& callbacks,
    std::shared_ptr<tls::TlsContext> context, Options options, DtlsStats& stats) {
  std::unique_ptr<DtlsListener> listener(
      new DtlsListener(loop, callbacks, std::move(context), options, stats));
  if (listener->listen_peer_ == nullptr || DatagramBio::method() == nullptr) {
    return std::unexpected(UvError{"dtls setup", UV_ENOMEM});
  }
  auto socket =
      UdpSocket::open(loop, local, *listener, SocketOptions{.buffer_bytes = kListenerBufferBytes});
  if (!socket) {
    return std::unexpected(socket.error());
  }
  listener->socket_ = std::move(*socket);
  return listener;
}

DtlsListener::DtlsListener(Loop& loop, DtlsListenerCallbacks& callbacks,
                           std::shared_ptr<tls::TlsContext> context, Options options,
                           DtlsStats& stats)
    : callbacks_(callbacks),
      context_(std::move(context)),
      options_(options),
      stats_(stats),
      timer_(new uv_timer_t),
      listen_peer_(BIO_ADDR_new()) {
  uv_timer_init(loop.get(), timer_);
  timer_->data = this;
}

DtlsListener::~DtlsListener() {
  closeAndDelete(timer_);
  for (auto& [client, session] : by_client_) {
    if (session->established) {
      (void)SSL_shutdown(session->ssl);  // close_notify, sent at once
      stats_.sessions_active.sub();
    }
  }
  ERR_clear_error();
  by_id_.clear();
  half_open_.clear();
  by_client_.clear();
  pending_.reset();
  BIO_ADDR_free(listen_peer_);
}

DtlsListener::SessionPtr DtlsListener::newSession() {
  ERR_clear_error();
  const tls::TlsContext::Ref context = context_->acquire();  // the current one (reload)
  SessionPtr session(new Session);
  session->owner = this;
  session->ssl = SSL_new(context.get());
  BIO* bio = session->ssl == nullptr ? nullptr : BIO_new(DatagramBio::method());
  if (bio == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  BIO_set_data(bio, session.get());
  SSL_set_bio(session->ssl, bio, bio);  // one BIO both ways: the SSL takes one reference
  SSL_set_mtu(session->ssl, kMtu);
  SSL_set_accept_state(session->ssl);
  return session;
}

void DtlsListener::transmit(const protocol::Endpoint& destination, protocol::ConstBytes datagram) {
  socket_->send(destination, datagram);
}

void DtlsListener::onDatagram(UdpSocket& /*socket*/, protocol::ConstBytes data,
                              const protocol::Endpoint& source) {
  const auto it = by_client_.find(source);
  if (it == by_client_.end()) {
    accept(data, source);
    return;
  }
  Session& session = *it->second;
  session.input = data;
  if (!session.established && !handshake(session)) {
    return;  // still in progress, or failed and dropped
  }
  readRecords(session);
}

void DtlsListener::accept(protocol::ConstBytes data, const protocol::Endpoint& source) {
  if (!looksLikeClientHelloRecord(data)) {
    stats_.datagrams_dropped.add();
    return;
  }
  if (half_open_.size() >= options_.half_open_limit) {
    stats_.half_open_rejected.add();  // the client retransmits; a slot may be free by then
    return;
  }
  if (!pending_ && !(pending_ = newSession())) {
    stats_.datagrams_dropped.add();
    return;
  }
  Session& candidate = *pending_;
  candidate.client = source;
  candidate.input = data;
  candidate.wrote = false;
  tls::setDtlsCookieClient(candidate.ssl, &candidate.client);
  ERR_clear_error();
  // RFC 6347 section 4.2.1: without a valid cookie the answer is a HelloVerifyRequest (and
  // nothing is kept); with one, the ClientHello stays buffered in the SSL for the handshake.
  const int listened = DTLSv1_listen(candidate.ssl, listen_peer_);
  if (listened < 0 || (listened == 0 && !candidate.wrote)) {
    TP_LOG(kDebug, "dtls ", source.toString(), ": not a ClientHello (", listened, ", ",
           firstErrorReason(), ")");
  }
  ERR_clear_error();
  candidate.input = {};
  if (listened <= 0) {
    if (candidate.wrote) {
      stats_.hello_verify_sent.add();
    } else {
      stats_.datagrams_dropped.add();
    }
    if (listened < 0) {
      pending_.reset();  // a fatal error leaves the SSL unusable: a fresh one next time
    }
    return;
  }
  SessionPtr session = std::move(pending_);
  const std::uint64_t id = callbacks_.onDtlsSessionStarted(*this, source);
  if (id == 0) {
    return;  // refused (connection limits); the SSL is freed
  }
  const auto now = Clock::now();
  session->id = id;
  session->deadline = now + options_.handshake_timeout;
  session->half_open_index = half_open_.size();
  Session& started = *session;
  half_open_.push_back(&started);
  by_id_.emplace(id, &started);
  by_client_.emplace(source, std::move(session));
  if (handshake(started)) {
    readRecords(started);
  }
}

bool DtlsListener::handshake(Session& session) {
  ERR_clear_error();
  const int rc = SSL_do_handshake(session.ssl);
  if (rc == 1) {
    session.established = true;
    removeHalfOpen(session);
    stats_.handshakes_ok.add();
    stats_.sessions_active.add();
    return true;
  }
  const int error = SSL_get_error(session.ssl, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    schedule(session, Clock::now());
    return false;
  }
  TP_LOG(kDebug, "dtls ", session.client.toString(), ": handshake failed: ", firstErrorReason());
  ERR_clear_error();
  stats_.handshakes_failed.add();
  drop(session, true);
  return false;
}

void DtlsListener::readRecords(Session& session) {
  // Each SSL_read takes one record of the datagram: bounded by the datagram's size. drop()
  // clears reading_ when the callback closes this session (no map look-up per record).
  reading_ = &session;
  for (;;) {
    std::size_t size = 0;
    ERR_clear_error();
    const int rc = SSL_read_ex(session.ssl, plaintext_.data(), plaintext_.size(), &size);
    if (rc == 1) {
      callbacks_.onDtlsMessage(*this, session.id, session.client,
                               protocol::ConstBytes(plaintext_).first(size));
      if (reading_ == nullptr) {
        return;  // closed by the callback
      }
      continue;
    }
    reading_ = nullptr;
    const int error = SSL_get_error(session.ssl, rc);
    ERR_clear_error();
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      // close_notify (SSL_ERROR_ZERO_RETURN), a fatal alert or a record that fails to decrypt
      // after the handshake (OpenSSL drops those silently, so this is rare).
      drop(session, true);
    }
    return;
  }
}

bool DtlsListener::send(std::uint64_t id, std::span<const protocol::ConstBytes> parts) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->established) {
    return false;
  }
  // A record holds at most 2^14 bytes of plaintext (RFC 6347 section 4.1.1, as TLS): a larger
  // message cannot be sent as one record, so it is not sent.
  constexpr std::size_t kMaxRecordPlaintext = 16384;
  std::size_t size = 0;
  for (const protocol::ConstBytes part : parts) {
    if (part.size() > kMaxRecordPlaintext - size) {
      return false;
    }
    std::memcpy(outgoing_.data() + size, part.data(), part.size());
    size += part.size();
  }
  ERR_clear_error();
  std::size_t written = 0;
  // One message per record (RFC 7350 section 4): the record goes out as one datagram.
  if (SSL_write_ex(it->second->ssl, outgoing_.data(), size, &written) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

void DtlsListener::close(std::uint64_t id) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    return;
  }
  Session& session = *it->second;
  if (session.established) {
    ERR_clear_error();
    (void)SSL_shutdown(session.ssl);
    ERR_clear_error();
  }
  drop(session, true);
}

void DtlsListener::closeAll() {
  std::vector<std::uint64_t> ids;
  ids.reserve(by_id_.size());
  for (const auto& [id, session] : by_id_) {
    ids.push_back(id);
  }
  for (const std::uint64_t id : ids) {
    close(id);
  }
}

void DtlsListener::drop(Session& session, bool notify) {
  if (reading_ == &session) {
    reading_ = nullptr;
  }
  const std::uint64_t id = session.id;
  const protocol::Endpoint client = session.client;
  if (session.established) {
    stats_.sessions_active.sub();
  } else {
    removeHalfOpen(session);
  }
  by_id_.erase(id);
  by_client_.erase(client);  // frees the session
  if (notify) {
    callbacks_.onDtlsClosed(*this, id, client);
  }
}

void DtlsListener::removeHalfOpen(Session& session) {
  // Swap-remove: the last entry takes the session's place.
  Session* last = half_open_.back();
  half_open_[session.half_open_index] = last;
  last->half_open_index = session.half_open_index;
  half_open_.pop_back();
}

void DtlsListener::schedule(Session& session, Clock::time_point now) {
  const auto retransmit = dtlsTimeout(session.ssl);
  session.wake = retransmit == std::chrono::milliseconds::max()
                     ? session.deadline
                     : std::min(session.deadline, now + retransmit);
  if (!armed_for_ || session.wake < *armed_for_) {
    armed_for_.reset();
    armTimer();
  }
}

void DtlsListener::armTimer() {
  if (half_open_.empty() || timer_ == nullptr) {
    return;
  }
  Clock::time_point earliest = Clock::time_point::max();
  for (const Session* session : half_open_) {
    earliest = std::min(earliest, session->wake);
  }
  const auto now = Clock::now();
  const auto delay = earliest > now ? std::chrono::ceil<std::chrono::milliseconds>(earliest - now)
                                    : std::chrono::milliseconds{0};
  uv_timer_start(timer_, &DtlsListener::onTimer, static_cast<std::uint64_t>(delay.count()), 0);
  armed_for_ = earliest;
}

void DtlsListener::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<DtlsListener*>(timer->data);
  if (self != nullptr) {
    self->onTimeouts();
  }
}

void DtlsListener::onTimeouts() {
  armed_for_.reset();
  const auto now = Clock::now();
  // Backwards: drop() swap-removes, which only moves entries already visited.
  for (std::size_t i = half_open_.size(); i-- > 0;) {
    Session& session = *half_open_[i];
    if (session.wake > now) {
      continue;
    }
    if (session.deadline <= now) {
      stats_.handshakes_timed_out.add();
      drop(session, true);
      continue;
    }
    ERR_clear_error();
    // Retransmits the last flight when its timer expired; -1 after too many retransmissions.
    if (DTLSv1_handle_timeout(session.ssl) < 0) {
      ERR_clear_error();
      stats_.handshakes_failed.add();
      drop(session, true);
      continue;
    }
    const auto retransmit = dtlsTimeout(session.ssl);
    session.wake =
        retransmit == std::chrono::milliseconds::max()
            ? session.deadline
            : std::min(session.deadline, now + std::max(retransmit, std::chrono::milliseconds{1}));
  }
  armTimer();
}

}  // namespace turnpike::server::uv

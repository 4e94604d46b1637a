// A dtls listener (RFC 7350: STUN/TURN over DTLS): one UDP socket per worker (SO_REUSEPORT, like
// the udp listeners), its datagrams demultiplexed by client address and port to per-client DTLS
// 1.2 sessions. OpenSSL works on a datagram BIO that this file implements over the socket: a
// received datagram is handed to the session as one read, and every BIO write is sent at once as
// one datagram, so record boundaries survive and nothing blocks the loop.
//
//   new client -> cookie exchange (DTLSv1_listen on one shared SSL, HelloVerifyRequest only;
//                 no per-client state before a valid cookie, dtls_cookie.hpp)
//              -> half-open session (at most Options::half_open_limit; over it, new clients'
//                 ClientHellos are dropped and counted) with retransmission timers and a
//                 handshake deadline, all driven by one libuv timer
//              -> established: every record is one STUN/TURN message or ChannelData
//                 (DtlsListenerCallbacks::onDtlsMessage); send() encrypts one message per record
#pragma once

#include <openssl/bio.h>
#include <openssl/types.h>
#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/turn/stats.hpp"
#include "server/uv/loop.hpp"
#include "server/uv/udp_socket.hpp"

namespace turnpike::server::tls {
class TlsContext;
}

namespace turnpike::server::uv {

// Written by the worker thread, read by the metrics thread.
struct DtlsStats {
  protocol::StatCounter hello_verify_sent;     // HelloVerifyRequests (cookie exchanges)
  protocol::StatCounter handshakes_ok;         // sessions established
  protocol::StatCounter handshakes_failed;     // alert, bad record, refused version or cipher
  protocol::StatCounter handshakes_timed_out;  // limits.tls_handshake_timeout passed
  protocol::StatCounter half_open_rejected;    // new clients' ClientHellos over the half-open cap
  protocol::StatCounter datagrams_dropped;     // from new clients and not a DTLS ClientHello
  protocol::StatCounter sessions_active;       // established sessions now
};

class DtlsListener;

class DtlsListenerCallbacks {
 public:
  // A client passed the cookie exchange and its handshake starts: the id its messages carry
  // (unique within the worker), or 0 to refuse it (the caller counts why).
  [[nodiscard]] virtual std::uint64_t onDtlsSessionStarted(DtlsListener& listener,
                                                           const protocol::Endpoint& client) = 0;
  // One decrypted record. `message` is valid during the call only.
  virtual void onDtlsMessage(DtlsListener& listener, std::uint64_t id,
                             const protocol::Endpoint& client, protocol::ConstBytes message) = 0;
  // A started session is gone: handshake failure or timeout, close_notify, a fatal alert, or
  // close(). Not called by the destructor.
  virtual void onDtlsClosed(DtlsListener& listener, std::uint64_t id,
                            const protocol::Endpoint& client) = 0;

 protected:
  ~DtlsListenerCallbacks() = default;
};

class DtlsListener final : private UdpSocketCallbacks {
 public:
  struct Options {
    std::size_t half_open_limit = 1000;
    std::chrono::milliseconds handshake_timeout{10'000};
  };
  // DTLS records are sent in datagrams of at most this many bytes during the handshake (the
  // certificate flight is fragmented to fit); application records hold one whole message.
  static constexpr long kMtu = 1200;

  // Binds local and starts receiving. `context` must be a Protocol::kDtls TlsContext.
  [[nodiscard]] static std::expected<std::unique_ptr<DtlsListener>, UvError> open(
      Loop& loop, const protocol::Endpoint& local, DtlsListenerCallbacks& callbacks,
      std::shared_ptr<tls::TlsContext> context, Options options, DtlsStats& stats);

  // Sends close_notify to every established session; calls no callback.
  ~DtlsListener();
  DtlsListener(const DtlsListener&) = delete;
  DtlsListener& operator=(const DtlsListener&) = delete;

  // Encrypts the parts as one record (one message) to session id; false when this listener has
  // no established session with that id (nothing sent).
  bool send(std::uint64_t id, std::span<const protocol::ConstBytes> parts);
  // Sends close_notify (when established), ends the session and calls onDtlsClosed.
  void close(std::uint64_t id);
  // Closes every session (close()), e.g. at shutdown.
  void closeAll();

  [[nodiscard]] const protocol::Endpoint& localEndpoint() const { return socket_->localEndpoint(); }
  [[nodiscard]] std::size_t halfOpen() const { return half_open_.size(); }
  [[nodiscard]] std::size_t sessionCount() const { return by_id_.size(); }

 private:
  struct Session;
  struct SessionDeleter {
    void operator()(Session* session) const;
  };
  using SessionPtr = std::unique_ptr<Session, SessionDeleter>;
  struct EndpointHash {
    std::size_t operator()(const protocol::Endpoint& endpoint) const;
  };

  DtlsListener(Loop& loop, DtlsListenerCallbacks& callbacks,
               std::shared_ptr<tls::TlsContext> context, Options options, DtlsStats& stats);

  void onDatagram(UdpSocket& socket, protocol::ConstBytes data,
                  const protocol::Endpoint& source) override;
  // A datagram from an address with no session: the cookie exchange.
  void accept(protocol::ConstBytes data, const protocol::Endpoint& source);
  // Advances the handshake; true once established.
  bool handshake(Session& session);
  void readRecords(Session& session);
  void drop(Session& session, bool notify);
  void removeHalfOpen(Session& session);
  [[nodiscard]] SessionPtr newSession();
  // Arms the timer for the earliest retransmission or handshake deadline of the half-open ones.
  void schedule(Session& session, std::chrono::steady_clock::time_point now);
  void armTimer();
  static void onTimer(uv_timer_t* timer);
  void onTimeouts();

  friend struct DatagramBio;
  void transmit(const protocol::Endpoint& destination, protocol::ConstBytes datagram);

  DtlsListenerCallbacks& callbacks_;
  std::shared_ptr<tls::TlsContext> context_;
  Options options_;
  DtlsStats& stats_;
  std::unique_ptr<UdpSocket> socket_;
  uv_timer_t* timer_ = nullptr;
  std::optional<std::chrono::steady_clock::time_point> armed_for_;
  // The SSL that runs DTLSv1_listen for new clients; it becomes their session on a valid cookie.
  SessionPtr pending_;
  BIO_ADDR* listen_peer_ = nullptr;
  std::unordered_map<protocol::Endpoint, SessionPtr, EndpointHash> by_client_;
  std::unordered_map<std::uint64_t, Session*> by_id_;
  std::vector<Session*> half_open_;  // each knows its index (swap-removed)
  Session* reading_ = nullptr;       // the session readRecords() hands messages of
  // One decrypted record, and one plaintext message to encrypt.
  std::array<std::byte, 65536> plaintext_{};
  std::array<std::byte, 16384> outgoing_{};  // a record's most plaintext
};

}  // namespace turnpike::server::uv
